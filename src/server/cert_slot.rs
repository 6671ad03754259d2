//! The certificate served to new handshakes ([`CertSlot`]), replaceable while serving: a reload
//! (SIGHUP, `reload.rs`) or a renewed ACME certificate (`acme.rs`) swaps it, and connections
//! already open keep theirs. Its own file so `tls` (which builds the config around it) and
//! `acme` (which fills it) both use it without using each other both ways.

use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate served to new handshakes, replaceable while serving.
#[derive(Debug)]
pub struct CertSlot(RwLock<Arc<CertifiedKey>>);

impl CertSlot {
    /// A slot serving `key` until [`CertSlot::set`] replaces it.
    pub fn new(key: Arc<CertifiedKey>) -> CertSlot {
        CertSlot(RwLock::new(key))
    }

    fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// When the certificate served now expires (Unix seconds), read from its leaf.
    pub fn not_after(&self) -> Option<i64> {
        let key = self.current();
        let leaf = key.cert.first()?;
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
        Some(parsed.validity().not_after.timestamp())
    }

    /// Serves `key` to new handshakes from now on.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}
