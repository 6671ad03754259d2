//! The keys that sign change events (RFC 8417 Security Event Tokens) and the JWKS that
//! publishes them: [`KeyRing`] holds every P-256 key still published, newest last, signs with
//! the newest (ES256, compact JWS), adds a key on rotation and drops superseded keys once they
//! are old enough that no SET signed with them is still in flight.
//!
//! The keys live in `<data_dir>/event-signing-keys.json`, mode 0600 (`key_file.rs`). Each key's
//! `kid` is its RFC 7638 JWK thumbprint, so it follows from the key alone and is stable across
//! restarts. Signing and the JWKS are built on `ring`; this module imports nothing of scimd's.

mod key_file;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "event-signing-keys.json";

/// The ring as the running server shares it: `sign` and `jwks` take the read lock, rotation
/// and pruning the write lock.
pub type SharedKeyRing = Arc<RwLock<KeyRing>>;

/// How loading, rotating or signing fails. No message carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
    #[error(
        "{path} holds the private keys that sign change events, but its mode {mode:03o} lets \
         others read or change it; run: chmod 600 {path}"
    )]
    Exposed { path: String, mode: u32 },
    #[error(
        "{path} is not a valid event signing key file: {detail}. Fix it, or move it away to \
         have a new key generated (receivers then fetch the new JWKS)"
    )]
    Malformed { path: String, detail: String },
    #[error("cannot generate an event signing key: the system's random source failed")]
    Generate,
    #[error("cannot sign the event: {0}")]
    Sign(&'static str),
}

impl SigningError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> SigningError {
        SigningError::Io { action, path: path.display().to_string(), source }
    }

    fn malformed(path: &Path, detail: impl Into<String>) -> SigningError {
        SigningError::Malformed { path: path.display().to_string(), detail: detail.into() }
    }
}

/// One P-256 key, parsed once: signing never re-reads its PKCS#8.
struct SigningKey {
    kid: String,
    created: SystemTime,
    /// Kept to write the file again on rotation or pruning.
    pkcs8: Vec<u8>,
    pair: EcdsaKeyPair,
    /// The public point's coordinates, base64url, as the JWK's `x` and `y`.
    x: String,
    y: String,
    /// The base64url JWS header naming this key, the first part of every SET it signs.
    header: String,
}

impl SigningKey {
    /// Parses a P-256 PKCS#8 key; `None` when it is not one.
    fn parse(pkcs8: Vec<u8>, created: SystemTime, rng: &SystemRandom) -> Option<SigningKey> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, rng).ok()?;
        // An uncompressed point: 0x04, then X and Y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let (tag, coordinates) = point.split_first()?;
        if *tag != 0x04 || coordinates.len() != 64 {
            return None;
        }
        let (x, y) = coordinates.split_at(32);
        let (x, y) = (BASE64URL.encode(x), BASE64URL.encode(y));
        let kid = thumbprint(&x, &y);
        let header = json!({"alg": "ES256", "typ": "secevent+jwt", "kid": kid}).to_string();
        let header = BASE64URL.encode(header);
        Some(SigningKey { kid, created, pkcs8, pair, x, y, header })
    }

    fn generate(created: SystemTime, rng: &SystemRandom) -> Result<SigningKey, SigningError> {
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng)
            .map_err(|_| SigningError::Generate)?;
        SigningKey::parse(document.as_ref().to_vec(), created, rng).ok_or(SigningError::Generate)
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
        })
    }
}

/// The RFC 7638 thumbprint of a P-256 public key: base64url of the SHA-256 of its required
/// JWK members in lexicographic order, without whitespace.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    BASE64URL.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()))
}

/// The event signing keys: the newest, which signs, and the older ones still published.
pub struct KeyRing {
    path: PathBuf,
    /// Superseded keys still published, oldest first.
    older: Vec<SigningKey>,
    newest: SigningKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("path", &self.path)
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads `<data_dir>/event-signing-keys.json`, or when there is none generates a key and
    /// writes the file (mode 0600). Refuses a file that others may read, and a malformed one.
    pub fn open(data_dir: &Path) -> Result<KeyRing, SigningError> {
        let path = data_dir.join(KEY_FILE);
        let rng = SystemRandom::new();
        let Some(stored) = key_file::read(&path)? else {
            let key = SigningKey::generate(SystemTime::now(), &rng)?;
            key_file::write(&path, std::iter::once(entry(&key)))?;
            return Ok(KeyRing { path, older: Vec::new(), newest: key, rng });
        };
        let mut keys: Vec<SigningKey> = Vec::with_capacity(stored.len());
        for (i, stored) in stored.into_iter().enumerate() {
            let key = SigningKey::parse(stored.pkcs8, stored.created, &rng).ok_or_else(|| {
                SigningError::malformed(&path, format!("keys[{i}].pkcs8 is not a P-256 key"))
            })?;
            if key.kid != stored.kid {
                return Err(SigningError::malformed(
                    &path,
                    format!(
                        "keys[{i}].kid is {:?}, but its key's RFC 7638 thumbprint is {:?}",
                        stored.kid, key.kid
                    ),
                ));
            }
            if let Some(j) = keys.iter().position(|k| k.kid == key.kid) {
                return Err(SigningError::malformed(
                    &path,
                    format!("keys[{i}] is the same key as keys[{j}]"),
                ));
            }
            keys.push(key);
        }
        let newest = keys.pop().ok_or_else(|| SigningError::malformed(&path, "no key"))?;
        Ok(KeyRing { path, older: keys, newest, rng })
    }

    /// This ring, ready to share with the server's tasks.
    pub fn into_shared(self) -> SharedKeyRing {
        Arc::new(RwLock::new(self))
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every published key's `kid`, oldest first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys().map(|k| k.kid.as_str())
    }

    /// The `kid` of the key that signs.
    pub fn newest_kid(&self) -> &str {
        self.newest.kid.as_str()
    }

    /// Every published key, oldest first.
    fn keys(&self) -> impl Iterator<Item = &SigningKey> {
        self.older.iter().chain(std::iter::once(&self.newest))
    }

    /// Signs `claims` with the newest key: a compact JWS (RFC 7515) whose header is exactly
    /// `{"alg":"ES256","typ":"secevent+jwt","kid":"<kid>"}`, its signature the 64-byte `r‖s`,
    /// every part base64url without padding.
    pub fn sign(&self, claims: &Value) -> Result<String, SigningError> {
        let payload = serde_json::to_vec(claims).map_err(|_| SigningError::Sign("claims"))?;
        self.sign_payload(&payload)
    }

    /// [`KeyRing::sign`] for claims already written as JSON text.
    pub fn sign_payload(&self, payload: &[u8]) -> Result<String, SigningError> {
        let key = &self.newest;
        let mut jws = String::with_capacity(key.header.len() + payload.len() * 4 / 3 + 90);
        jws.push_str(&key.header);
        jws.push('.');
        BASE64URL.encode_string(payload, &mut jws);
        let signature = key
            .pair
            .sign(&self.rng, jws.as_bytes())
            .map_err(|_| SigningError::Sign("the signature failed"))?;
        jws.push('.');
        BASE64URL.encode_string(signature.as_ref(), &mut jws);
        Ok(jws)
    }

    /// Adds a new newest key created at `now`, writes the file and returns the new `kid`. The
    /// older keys stay published. On an error nothing changes.
    pub fn rotate(&mut self, now: SystemTime) -> Result<String, SigningError> {
        let key = SigningKey::generate(now, &self.rng)?;
        key_file::write(&self.path, self.keys().chain(std::iter::once(&key)).map(entry))?;
        let kid = key.kid.clone();
        let superseded = std::mem::replace(&mut self.newest, key);
        self.older.push(superseded);
        Ok(kid)
    }

    /// Drops every key superseded (a newer key was created) more than `keep` before `now`,
    /// writes the file when it dropped any, and returns the dropped `kid`s. The newest key is
    /// never dropped. On an error nothing changes.
    pub fn prune(&mut self, now: SystemTime, keep: Duration) -> Result<Vec<String>, SigningError> {
        // An older key is superseded when the key after it was created.
        let successors = self.older.iter().skip(1).chain(std::iter::once(&self.newest));
        let expired: Vec<bool> = successors
            .map(|newer| {
                now.duration_since(newer.created).is_ok_and(|superseded| superseded > keep)
            })
            .collect();
        if !expired.contains(&true) {
            return Ok(Vec::new());
        }
        let kept = self.older.iter().zip(&expired).filter(|(_, gone)| !**gone).map(|(k, _)| k);
        key_file::write(&self.path, kept.chain(std::iter::once(&self.newest)).map(entry))?;
        let mut dropped = Vec::new();
        let mut flags = expired.into_iter();
        self.older.retain(|k| {
            let gone = flags.next().unwrap_or(false);
            if gone {
                dropped.push(k.kid.clone());
            }
            !gone
        });
        Ok(dropped)
    }

    /// The JWK Set (RFC 7517) of every published key, oldest first, as served at
    /// `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys().map(SigningKey::jwk).collect::<Vec<_>>() })
    }
}

/// What the key file stores of `key`.
fn entry(key: &SigningKey) -> (&str, SystemTime, &[u8]) {
    (key.kid.as_str(), key.created, key.pkcs8.as_slice())
}
