//! TLS: loading a PEM certificate chain and key, or generating a self-signed certificate into
//! the data directory on first start, and building the rustls server config (TLS 1.2 and 1.3
//! only, the `ring` provider, ALPN h2 and http/1.1, plus acme-tls/1 in ACME mode).
//!
//! The config takes its certificate from a `CertSlot` (`cert_slot.rs`), so a reload (SIGHUP) or a renewed ACME
//! certificate swaps the certificate for new handshakes while connections already open keep
//! theirs. In ACME mode the slot starts with the stored (or a temporary) certificate and
//! [`acme::Acme`] keeps it; see that module.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::ring;
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::acme;
use super::cert_slot::CertSlot;
use crate::config::{Config, TlsMode};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain {path} (tls.cert): {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("cannot read the private key {path} (tls.key): {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the certificate and key do not form a usable pair: {0}")]
    Config(String),
    #[error("cannot create the self-signed certificate in {path}: {reason}")]
    Generate { path: PathBuf, reason: String },
    #[error("tls.mode = \"acme\": {0}")]
    Acme(#[from] acme::AcmeError),
}

/// TLS as configured: the rustls config, the slot its certificate comes from, and in ACME mode
/// the keeper of that certificate (to run on its own task).
pub struct Tls {
    pub config: Arc<ServerConfig>,
    pub cert: Arc<CertSlot>,
    pub acme: Option<acme::Acme>,
}

/// Host names for a generated certificate: the public URL's host.
pub(crate) fn hosts_of(config: &Config) -> Vec<String> {
    let host = config.public_host();
    if host.is_empty() { Vec::new() } else { vec![host] }
}

/// The rustls config for `mode`, or None for plain HTTP. `hosts` go into a generated
/// certificate's subject alternative names.
pub fn server_config(
    mode: &TlsMode,
    data_dir: &Path,
    hosts: &[String],
) -> Result<Option<Tls>, TlsError> {
    let Some(key) = load(mode, data_dir, hosts)? else {
        return Ok(None);
    };
    let cert = Arc::new(CertSlot::new(key));
    let mut alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let (resolver, acme): (Arc<dyn ResolvesServerCert>, _) = match mode {
        TlsMode::Acme(settings) => {
            let acme = acme::Acme::new(settings, data_dir, Arc::clone(&cert))?;
            // Last: rustls picks the first of ours the client offers, and only a CA validating
            // a name offers this one.
            alpn.push(acme::ACME_TLS_ALPN.to_vec());
            (acme.resolver() as Arc<dyn ResolvesServerCert>, Some(acme))
        }
        _ => (Arc::clone(&cert) as Arc<dyn ResolvesServerCert>, None),
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn;
    Ok(Some(Tls { config: Arc::new(config), cert, acme }))
}

/// Reads (or, self-signed, first creates) the certificate chain and key `mode` names and checks
/// that they belong together. None for plain HTTP. In ACME mode: the stored certificate, or a
/// temporary one until the CA issues one.
pub fn load(
    mode: &TlsMode,
    data_dir: &Path,
    hosts: &[String],
) -> Result<Option<Arc<CertifiedKey>>, TlsError> {
    let (cert, key) = match mode {
        TlsMode::Off => return Ok(None),
        TlsMode::Acme(settings) => return Ok(Some(acme::initial_certificate(settings, data_dir)?)),
        TlsMode::Files { cert, key } => (cert.clone(), key.clone()),
        TlsMode::SelfSigned => ensure_self_signed(&data_dir.join("tls"), hosts)?,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Cert { path: cert.clone(), reason: e.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::Cert { path: cert, reason: "no PEM certificate in the file".into() });
    }
    let key_der = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| TlsError::Key { path: key.clone(), reason: e.to_string() })?;
    let certified = CertifiedKey::from_der(chain, key_der, &ring::default_provider())
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Some(Arc::new(certified)))
}

/// Paths of the generated certificate and key, created on first use.
fn ensure_self_signed(dir: &Path, hosts: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let fail = |reason: String| TlsError::Generate { path: dir.to_path_buf(), reason };
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for h in hosts {
        if !names.contains(h) {
            names.push(h.clone());
        }
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| fail(e.to_string()))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "scimd self-signed");
    let key_pair = rcgen::KeyPair::generate().map_err(|e| fail(e.to_string()))?;
    let certificate = params.self_signed(&key_pair).map_err(|e| fail(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    write_private(&key, key_pair.serialize_pem().as_bytes()).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&cert, certificate.pem()).map_err(|e| fail(e.to_string()))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed certificate");
    Ok((cert, key))
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
