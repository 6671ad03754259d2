//! `tls.mode = "acme"`: scimd obtains a publicly trusted certificate from an ACME CA (RFC 8555,
//! Let's Encrypt by default), keeps it, renews it before it expires and swaps it in while
//! serving.
//!
//! The CA checks control of each name with TLS-ALPN-01 (RFC 8737): it connects to port 443 of
//! the name, offering only the ALPN protocol `acme-tls/1`, and expects a self-signed certificate
//! carrying a digest of the challenge. scimd's own HTTPS listener answers it: [`Resolver`] hands
//! out the challenge certificate for such a handshake and the server's certificate for every
//! other, and the accept loop closes an `acme-tls/1` connection right after its handshake. No
//! second listener, and nothing to configure beyond the names.
//!
//! What is kept in `<data_dir>/acme/` (directory 0700, files 0600, each written to a temporary
//! file, fsynced and renamed into place):
//! - `account.json`: the ACME account (its key and URL) and the directory it belongs to;
//! - `key.pem` and `cert.pem`: the certificate's private key and chain (leaf first). The key is
//!   written first; a crash between the two leaves a pair that does not match, which start-up
//!   treats as no certificate (and orders a new one).
//!
//! At start-up a stored certificate that is unexpired and covers the names is served at once;
//! otherwise a temporary self-signed one is, while [`Acme::maintain`] orders. That task then
//! checks every `tls.acme_check_interval_secs` whether fewer than `tls.acme_renew_days` days
//! remain, and if so orders a new certificate and swaps it into the `CertSlot`: new handshakes
//! get it, open connections keep theirs. A failure is logged and retried with a growing delay;
//! it never stops the server.
//!
//! This module speaks ACME (through instant-acme, over hyper-rustls with the `ring` provider)
//! and nothing else: it does not serve HTTP, and it never touches the directory's data file.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client_tls::RootsError;
use bytes::Bytes;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    HttpClient, Identifier, NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};
use rustls::crypto::ring;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use super::cert_slot::CertSlot;
use crate::config::AcmeConfig;

/// The ALPN protocol of a TLS-ALPN-01 validation handshake (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// How long one request to the CA may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the CA to validate the names, and then to issue.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);
/// The first retry after a failure; doubled after each further failure, up to [`MAX_RETRY`] (and
/// never more than the check interval).
const FIRST_RETRY: Duration = Duration::from_secs(60);
const MAX_RETRY: Duration = Duration::from_secs(3600);
/// The most one check may take from start to a stored certificate: a CA that answers and then
/// stalls (a body that never ends) counts as a failure and is retried, not waited on for ever.
const CHECK_DEADLINE: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("cannot read tls.acme_ca_root {path}: {reason}")]
    CaRoot { path: PathBuf, reason: String },
    #[error(
        "no root certificate to check the ACME directory's certificate with ({0}); install the \
         system's CA certificates (Debian: apt-get install ca-certificates) or set \
         tls.acme_ca_root"
    )]
    NoRoots(String),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the ACME CA: {0}")]
    Protocol(#[from] instant_acme::Error),
    #[error("the ACME CA offers no tls-alpn-01 challenge for {0}; scimd answers only that one")]
    NoTlsAlpnChallenge(String),
    #[error("the ACME CA could not validate {0}")]
    Invalid(String),
    #[error("cannot make a key or certificate: {0}")]
    Certificate(String),
    #[error("cannot store the ACME state: {0}")]
    Store(String),
    #[error("the order took longer than {} s; the CA stopped answering", CHECK_DEADLINE.as_secs())]
    Deadline,
}

impl AcmeError {
    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AcmeError {
        let path = path.to_path_buf();
        move |source| AcmeError::Io { what, path, source }
    }
}

/// The server's certificate resolver in ACME mode: the TLS-ALPN-01 challenge certificate for
/// a validation handshake, the `CertSlot`'s certificate for every other.
#[derive(Debug)]
pub struct Resolver {
    cert: Arc<CertSlot>,
    /// Lower-cased DNS name -> its challenge certificate, while an order waits for validation.
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl Resolver {
    fn set_challenge(&self, name: &str, key: Arc<CertifiedKey>) {
        let mut map = self.challenges.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(name.to_ascii_lowercase(), key);
    }

    fn clear_challenge(&self, name: &str) {
        let mut map = self.challenges.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(&name.to_ascii_lowercase());
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validation =
            hello.alpn().is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        if validation {
            // No challenge for this name: no certificate, so the handshake fails.
            let name = hello.server_name()?.to_ascii_lowercase();
            let map = self.challenges.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            return map.get(&name).cloned();
        }
        self.cert.resolve(hello)
    }
}

/// Removes the challenge certificates it names when dropped: after an order, whatever its end
/// (a failure, or the task being stopped).
struct ChallengeGuard<'a> {
    resolver: &'a Resolver,
    names: Vec<String>,
}

impl Drop for ChallengeGuard<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            self.resolver.clear_challenge(name);
        }
    }
}

/// The certificate to serve from start-up until the CA issues one: the stored certificate when
/// it is usable, else a temporary self-signed one for the names (kept in memory only).
pub fn initial_certificate(
    settings: &AcmeConfig,
    data_dir: &Path,
) -> Result<Arc<CertifiedKey>, AcmeError> {
    let dir = data_dir.join("acme");
    match read_stored(&dir, &settings.domains) {
        Ok(Some(stored)) => {
            tracing::info!(
                domains = ?settings.domains,
                serial = %stored.serial,
                valid_until = %unix_to_text(stored.not_after),
                "ACME: serving the stored certificate"
            );
            return Ok(stored.key);
        }
        Ok(None) => {}
        Err(reason) => tracing::warn!(%reason, "ACME: the stored certificate is not usable"),
    }
    tracing::info!(
        domains = ?settings.domains,
        "ACME: no usable stored certificate; serving a temporary self-signed one until the CA \
         issues one"
    );
    temporary_certificate(&settings.domains)
}

/// Checks what `scimd check-config` can check without contacting the CA: the roots the
/// directory connection would trust (system store and `tls.acme_ca_root`).
pub fn check_settings(settings: &AcmeConfig) -> Result<usize, AcmeError> {
    root_store(settings.ca_root.as_deref()).map(|roots| roots.len())
}

/// Keeps the certificate for `tls.mode = "acme"`: run [`Acme::maintain`] on its own task.
pub struct Acme {
    settings: AcmeConfig,
    /// `<data_dir>/acme`.
    dir: PathBuf,
    http: AcmeHttp,
    cert: Arc<CertSlot>,
    resolver: Arc<Resolver>,
    account: Option<Account>,
}

impl Acme {
    /// Prepares to keep `cert` (already holding the [`initial_certificate`]); fails when the
    /// roots to trust cannot be read.
    pub fn new(
        settings: &AcmeConfig,
        data_dir: &Path,
        cert: Arc<CertSlot>,
    ) -> Result<Acme, AcmeError> {
        let http = AcmeHttp::new(root_store(settings.ca_root.as_deref())?)?;
        let resolver =
            Arc::new(Resolver { cert: Arc::clone(&cert), challenges: RwLock::new(HashMap::new()) });
        Ok(Acme {
            settings: settings.clone(),
            dir: data_dir.join("acme"),
            http,
            cert,
            resolver,
            account: None,
        })
    }

    /// The certificate resolver for the server config.
    pub fn resolver(&self) -> Arc<Resolver> {
        Arc::clone(&self.resolver)
    }

    /// Checks now and then every check interval; orders a certificate when none is stored or
    /// the stored one is due for renewal. Runs until the task is dropped.
    pub async fn maintain(mut self) {
        let mut failures: u32 = 0;
        loop {
            let checked = tokio::time::timeout(CHECK_DEADLINE, self.check()).await;
            let wait = match checked.unwrap_or(Err(AcmeError::Deadline)) {
                Ok(()) => {
                    failures = 0;
                    self.settings.check_interval
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = retry_delay(failures).min(self.settings.check_interval);
                    tracing::error!(
                        error = %e,
                        domains = ?self.settings.domains,
                        directory = %self.settings.directory,
                        retry_in_secs = wait.as_secs(),
                        "ACME: could not obtain a certificate; the one in use stays"
                    );
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One check: order when needed, then store and serve the new certificate.
    async fn check(&mut self) -> Result<(), AcmeError> {
        let (dir, domains) = (self.dir.clone(), self.settings.domains.clone());
        let found = tokio::task::spawn_blocking(move || read_stored(&dir, &domains))
            .await
            .map_err(|e| AcmeError::Store(format!("the reading task failed: {e}")))?;
        let renewal = match found {
            Ok(Some(stored)) => {
                let left = stored.not_after.saturating_sub(now_unix());
                let ahead = i64::from(self.settings.renew_days) * 86_400;
                if ahead >= stored.not_after.saturating_sub(stored.not_before) {
                    tracing::warn!(
                        renew_days = self.settings.renew_days,
                        lifetime_days = (stored.not_after - stored.not_before) / 86_400,
                        "ACME: tls.acme_renew_days is not shorter than the CA's certificates \
                         live, so every check renews; lower it (CAs limit repeated orders)"
                    );
                }
                let renew_at = stored.not_after.saturating_sub(ahead);
                if now_unix() < renew_at {
                    tracing::debug!(
                        serial = %stored.serial,
                        renew_after = %unix_to_text(renew_at),
                        "ACME: the certificate is not due for renewal"
                    );
                    return Ok(());
                }
                tracing::info!(
                    serial = %stored.serial,
                    days_left = left / 86_400,
                    "ACME: the certificate is due for renewal; ordering a new one"
                );
                true
            }
            Ok(None) => {
                tracing::info!(domains = ?self.settings.domains, "ACME: ordering a certificate");
                false
            }
            Err(reason) => {
                tracing::warn!(%reason, "ACME: the stored certificate is not usable; ordering a new one");
                false
            }
        };
        let account = self.account().await?;
        let (chain_pem, key_pem) = self.order(&account).await?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| AcmeError::Certificate(format!("the CA's chain is not PEM: {e}")))?;
        let stored = stored_certificate(chain, key_pem.as_bytes())
            .map_err(|e| AcmeError::Certificate(format!("the CA's certificate: {e}")))?;

        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            // The new key waits beside the old one until its chain is in place, so a crash
            // between the two leaves a pair that start-up can put together again
            // ([`read_stored`]), never an unusable one.
            write_atomic(&dir, NEXT_KEY, key_pem.as_bytes())?;
            write_atomic(&dir, "cert.pem", chain_pem.as_bytes())?;
            promote_next_key(&dir)
        })
        .await
        .map_err(|e| AcmeError::Store(format!("the writing task failed: {e}")))??;
        self.cert.set(Arc::clone(&stored.key));
        tracing::info!(
            domains = ?self.settings.domains,
            serial = %stored.serial,
            valid_until = %unix_to_text(stored.not_after),
            "ACME: certificate {}; new connections get it",
            if renewal { "renewed" } else { "issued" }
        );
        Ok(())
    }

    /// The stored account for the configured directory, or a new one (then stored).
    async fn account(&mut self) -> Result<Account, AcmeError> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let path = self.dir.join("account.json");
        let stored = match tokio::fs::read(&path).await {
            Ok(bytes) => match serde_json::from_slice::<StoredAccount>(&bytes) {
                Ok(stored) if stored.directory == self.settings.directory => Some(stored),
                Ok(stored) => {
                    tracing::info!(
                        old = %stored.directory,
                        new = %self.settings.directory,
                        "ACME: tls.acme_directory changed; creating an account with the new CA"
                    );
                    None
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e,
                        "ACME: the stored account is unreadable; creating a new account");
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(AcmeError::io("cannot read the ACME account", &path)(e)),
        };
        let builder = Account::builder_with_http(Box::new(self.http.clone()));
        let account = match stored {
            Some(stored) => builder.from_credentials(stored.credentials).await?,
            None => {
                let contact = self.settings.email.as_ref().map(|e| format!("mailto:{e}"));
                let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
                // Ordering from a CA means agreeing to its terms; the README says so.
                let new = NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                };
                let (account, credentials) =
                    builder.create(&new, self.settings.directory.clone(), None).await?;
                let stored =
                    StoredAccount { directory: self.settings.directory.clone(), credentials };
                let json = serde_json::to_vec_pretty(&stored)
                    .map_err(|e| AcmeError::Store(format!("account credentials: {e}")))?;
                let dir = self.dir.clone();
                tokio::task::spawn_blocking(move || write_atomic(&dir, "account.json", &json))
                    .await
                    .map_err(|e| AcmeError::Store(format!("the writing task failed: {e}")))??;
                tracing::info!(
                    directory = %self.settings.directory,
                    account = %account.id(),
                    "ACME: account created"
                );
                account
            }
        };
        self.account = Some(account.clone());
        Ok(account)
    }

    /// Orders a certificate for the names, answers the challenges and returns the chain (PEM)
    /// and the new private key (PEM).
    async fn order(&self, account: &Account) -> Result<(String, String), AcmeError> {
        let identifiers: Vec<Identifier> =
            self.settings.domains.iter().cloned().map(Identifier::Dns).collect();
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
        let mut guard = ChallengeGuard { resolver: &self.resolver, names: Vec::new() };
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            let name = authorization.identifier().to_string();
            match authorization.status {
                AuthorizationStatus::Pending => {}
                // Validated recently for this account: nothing to answer.
                AuthorizationStatus::Valid => continue,
                other => {
                    return Err(AcmeError::Invalid(format!("{name}: authorization is {other:?}")));
                }
            }
            let mut challenge = authorization
                .challenge(ChallengeType::TlsAlpn01)
                .ok_or_else(|| AcmeError::NoTlsAlpnChallenge(name.clone()))?;
            let digest = challenge.key_authorization().digest();
            self.resolver.set_challenge(&name, challenge_certificate(&name, digest.as_ref())?);
            guard.names.push(name);
            challenge.set_ready().await?;
        }
        let retry =
            RetryPolicy::new().initial_delay(Duration::from_millis(500)).timeout(ORDER_TIMEOUT);
        let status = order.poll_ready(&retry).await?;
        if status != OrderStatus::Ready {
            return Err(AcmeError::Invalid(why_invalid(&mut order).await));
        }
        drop(guard);

        let key = rcgen::KeyPair::generate().map_err(|e| AcmeError::Certificate(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(self.settings.domains.clone())
            .map_err(|e| AcmeError::Certificate(e.to_string()))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr =
            params.serialize_request(&key).map_err(|e| AcmeError::Certificate(e.to_string()))?;
        order.finalize_csr(csr.der()).await?;
        let chain = order.poll_certificate(&retry).await?;
        Ok((chain, key.serialize_pem()))
    }
}

/// What the CA said about each failed challenge, for the log.
async fn why_invalid(order: &mut Order) -> String {
    let mut reasons = Vec::new();
    if let Some(problem) = &order.state().error {
        reasons.push(problem.to_string());
    }
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authorization)) = authorizations.next().await {
        let name = authorization.identifier().to_string();
        if let Ok(state) = authorization.refresh().await {
            for challenge in &state.challenges {
                if let Some(problem) = &challenge.error {
                    reasons.push(format!("{name}: {problem}"));
                }
            }
        }
    }
    if reasons.is_empty() {
        "the order became invalid without a reason".to_string()
    } else {
        reasons.join("; ")
    }
}

/// How long to wait after the `failures`-th failure in a row.
fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

/// `account.json`: the account and the directory it was created with.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// A stored (or just issued) certificate, checked and ready to serve.
struct Stored {
    key: Arc<CertifiedKey>,
    /// The leaf's notBefore and notAfter, Unix seconds.
    not_before: i64,
    not_after: i64,
    serial: String,
}

/// The stored certificate if it is there, matches its key, covers `domains` and has not
/// expired; `Ok(None)` when no certificate is stored, `Err` with the reason when one is stored
/// but not usable.
fn read_stored(dir: &Path, domains: &[String]) -> Result<Option<Stored>, String> {
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert_path.exists() && !key_path.exists() {
        return Ok(None);
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let key = std::fs::read(&key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
    let stored = match stored_certificate(chain.clone(), &key) {
        Ok(stored) => stored,
        // A renewal stopped after writing the new chain but before its key took the name.
        Err(e) => match std::fs::read(dir.join(NEXT_KEY))
            .ok()
            .map(|next| stored_certificate(chain, &next))
        {
            Some(Ok(stored)) => {
                promote_next_key(dir).map_err(|e| e.to_string())?;
                stored
            }
            _ => return Err(format!("{}: {e}", dir.display())),
        },
    };
    let leaf = stored.key.cert.first().ok_or("no certificate")?;
    let names = dns_names(leaf)?;
    if let Some(missing) = domains.iter().find(|d| !names.contains(d)) {
        return Err(format!("it does not cover {missing} (it names {})", names.join(", ")));
    }
    if stored.not_after <= now_unix() {
        return Err(format!("it expired at {}", unix_to_text(stored.not_after)));
    }
    Ok(Some(stored))
}

/// Checks a chain (leaf first) against its PEM private key and reads the leaf's expiry.
fn stored_certificate(
    chain: Vec<CertificateDer<'static>>,
    key_pem: &[u8],
) -> Result<Stored, String> {
    let leaf = chain.first().ok_or("no certificate in the chain")?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let not_before = parsed.validity().not_before.timestamp();
    let not_after = parsed.validity().not_after.timestamp();
    let serial = parsed.raw_serial_as_string();
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("the key: {e}"))?;
    let certified = CertifiedKey::from_der(chain, key, &ring::default_provider())
        .map_err(|e| format!("the certificate and key do not match: {e}"))?;
    Ok(Stored { key: Arc::new(certified), not_before, not_after, serial })
}

/// The DNS names in a certificate's subjectAltName, lower-cased.
fn dns_names(cert: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let san = parsed
        .subject_alternative_name()
        .map_err(|e| format!("its subjectAltName does not parse: {e}"))?;
    Ok(san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        Some(d.to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The TLS-ALPN-01 answer for `name`: self-signed, naming only `name`, with the critical
/// acmeIdentifier extension holding the SHA-256 digest of the key authorization.
fn challenge_certificate(name: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, AcmeError> {
    if digest.len() != 32 {
        return Err(AcmeError::Certificate(format!(
            "the key authorization digest has {} bytes, not 32",
            digest.len()
        )));
    }
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])
        .map_err(|e| AcmeError::Certificate(e.to_string()))?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    self_signed(params)
}

/// A certificate for `domains` to serve until the CA has issued the real one.
fn temporary_certificate(domains: &[String]) -> Result<Arc<CertifiedKey>, AcmeError> {
    let mut params = rcgen::CertificateParams::new(domains.to_vec())
        .map_err(|e| AcmeError::Certificate(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "scimd temporary certificate (waiting for ACME)");
    self_signed(params)
}

fn self_signed(params: rcgen::CertificateParams) -> Result<Arc<CertifiedKey>, AcmeError> {
    let fail = |e: rcgen::Error| AcmeError::Certificate(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let cert = params.self_signed(&key).map_err(fail)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    // Not CertifiedKey::from_der: its key check parses the certificate with webpki, which
    // refuses the critical acmeIdentifier extension. The pair was made together just above.
    let signing_key = ring::default_provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| AcmeError::Certificate(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing_key)))
}

/// Writes `dir/name` (mode 0600) so that a reader sees the old or the new content, never a mix:
/// a temporary file, fsynced, renamed over the old one, then the directory fsynced.
/// Where a renewal writes the new private key until its chain is stored.
const NEXT_KEY: &str = "key.pem.next";

/// Renames [`NEXT_KEY`] to `key.pem` and makes the rename durable.
fn promote_next_key(dir: &Path) -> Result<(), AcmeError> {
    let path = dir.join("key.pem");
    std::fs::rename(dir.join(NEXT_KEY), &path)
        .and_then(|()| std::fs::File::open(dir)?.sync_all())
        .map_err(AcmeError::io("cannot write", &path))
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), AcmeError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(AcmeError::io("cannot create", dir))?;
    }
    let path = dir.join(name);
    let temp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(AcmeError::io("cannot write", &path))
}

/// The roots the directory connection trusts: the system's, plus `tls.acme_ca_root`.
fn root_store(ca_root: Option<&Path>) -> Result<rustls::RootCertStore, AcmeError> {
    crate::client_tls::root_store(ca_root).map_err(|e| match e {
        RootsError::CaFile { path, reason } => AcmeError::CaRoot { path, reason },
        RootsError::NoRoots(why) => AcmeError::NoRoots(why),
    })
}

/// instant-acme's HTTP client: hyper over rustls (`ring`), HTTP/1.1, trusting `roots`, each
/// request bounded by [`REQUEST_TIMEOUT`].
#[derive(Clone)]
struct AcmeHttp(HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>);

impl AcmeHttp {
    fn new(roots: rustls::RootCertStore) -> Result<AcmeHttp, AcmeError> {
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| AcmeError::Certificate(format!("TLS client: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .enable_http1()
            .build();
        Ok(AcmeHttp(HyperClient::builder(TokioExecutor::new()).build(connector)))
    }
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let uri = req.uri().clone();
        let response = self.0.request(req);
        Box::pin(async move {
            match tokio::time::timeout(REQUEST_TIMEOUT, response).await {
                Ok(Ok(response)) => Ok(BytesResponse::from(response)),
                Ok(Err(e)) => Err(instant_acme::Error::Other(
                    format!("{uri}: {}", crate::client_tls::error_chain(&e)).into(),
                )),
                Err(_) => Err(instant_acme::Error::Other(
                    format!("{uri}: no answer within {} s", REQUEST_TIMEOUT.as_secs()).into(),
                )),
            }
        })
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn unix_to_text(secs: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a certificate for `names` (valid until `not_after`) and its key into `dir`.
    fn store(dir: &Path, names: &[&str], not_after: (i32, u8, u8)) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let cert = params.self_signed(&key).unwrap();
        write_atomic(dir, "key.pem", key.serialize_pem().as_bytes()).unwrap();
        write_atomic(dir, "cert.pem", cert.pem().as_bytes()).unwrap();
        key.serialize_pem()
    }

    #[test]
    fn a_stored_certificate_is_used_only_when_it_covers_the_names_and_is_unexpired() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("acme");
        let names = vec!["scim.example.org".to_string()];
        assert!(read_stored(&dir, &names).unwrap().is_none(), "nothing stored yet");

        store(&dir, &["scim.example.org", "other.example.org"], (2200, 1, 1));
        let stored = read_stored(&dir, &names).unwrap().expect("usable");
        assert_eq!(unix_to_text(stored.not_after), "2200-01-01T00:00:00Z");
        assert!(!stored.serial.is_empty());

        let more = vec!["scim.example.org".to_string(), "new.example.org".to_string()];
        let why = read_stored(&dir, &more).err().expect("does not cover new.example.org");
        assert!(why.contains("does not cover new.example.org"), "{why}");

        store(&dir, &["scim.example.org"], (2001, 1, 1));
        let why = read_stored(&dir, &names).err().expect("expired");
        assert!(why.contains("expired at 2001-01-01"), "{why}");

        // A key from another certificate (a crash between the two renames).
        let other = tempfile::tempdir().unwrap();
        let key = store(other.path(), &["scim.example.org"], (2200, 1, 1));
        store(&dir, &["scim.example.org"], (2200, 1, 1));
        write_atomic(&dir, "key.pem", key.as_bytes()).unwrap();
        let why = read_stored(&dir, &names).err().expect("mismatched key");
        assert!(why.contains("do not match"), "{why}");
    }

    #[test]
    fn a_renewal_cut_short_between_chain_and_key_is_put_together_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("acme");
        let names = vec!["scim.example.org".to_string()];
        let old_key = store(&dir, &["scim.example.org"], (2200, 1, 1));
        // The renewal wrote its new key aside and its new chain, then stopped.
        let new_key = store(&dir, &["scim.example.org"], (2201, 1, 1));
        write_atomic(&dir, NEXT_KEY, new_key.as_bytes()).unwrap();
        write_atomic(&dir, "key.pem", old_key.as_bytes()).unwrap();
        let stored = read_stored(&dir, &names).unwrap().expect("the new pair");
        assert_eq!(unix_to_text(stored.not_after), "2201-01-01T00:00:00Z");
        assert_eq!(std::fs::read_to_string(dir.join("key.pem")).unwrap(), new_key);
        assert!(!dir.join(NEXT_KEY).exists());
    }

    #[test]
    fn stored_files_are_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("acme");
        write_atomic(&dir, "account.json", b"first").unwrap();
        write_atomic(&dir, "account.json", b"second").unwrap();
        assert_eq!(std::fs::read(dir.join("account.json")).unwrap(), b"second");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("account.json")), 0o600);
        assert_eq!(mode(&dir), 0o700);
        let names: Vec<_> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["account.json"], "no temporary file left behind");
    }

    #[test]
    fn the_challenge_certificate_carries_the_digest_in_a_critical_acme_identifier() {
        let digest = [7u8; 32];
        let key = challenge_certificate("scim.example.org", &digest).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(key.cert[0].as_ref()).unwrap();
        let acme_identifier = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(acme_identifier.critical);
        // An OCTET STRING of the 32-byte digest.
        assert_eq!(acme_identifier.value[..2], [0x04, 32]);
        assert_eq!(acme_identifier.value[2..], digest);
        assert_eq!(dns_names(&key.cert[0]).unwrap(), ["scim.example.org"]);
        assert!(challenge_certificate("scim.example.org", &[1, 2, 3]).is_err());
    }

    #[test]
    fn retries_back_off_from_a_minute_to_an_hour() {
        let secs: Vec<u64> = (1..=8).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(secs, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(u32::MAX).as_secs(), 3600);
    }
}
