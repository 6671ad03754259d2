//! scimd's outgoing HTTPS connections (the ACME directory, event receivers): the certificates
//! they trust (the system's roots, plus an optional PEM file of extra roots for a private CA),
//! and how their errors are told (with every cause).

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why the trusted roots could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    #[error("cannot use the CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("no trusted root certificates: {0}")]
    NoRoots(String),
}

/// The system's roots plus those in `ca_file`.
pub fn root_store(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, RootsError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let fail = |reason: String| RootsError::CaFile { path: path.to_path_buf(), reason };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("no PEM certificate in the file".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| fail(e.to_string()))?;
        }
    }
    if roots.is_empty() {
        let why = native.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        return Err(RootsError::NoRoots(if why.is_empty() { "none found".into() } else { why }));
    }
    Ok(roots)
}

/// `e` and each of its causes, joined with `: ` (a connection error says why it failed).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
