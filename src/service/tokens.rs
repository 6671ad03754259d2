//! Bearer tokens: issue, list, revoke, verify.
//!
//! A token reads `scimd_<id>_<secret>`: a 16-hex-digit id to find its row and a 256-bit random
//! secret (64 hex digits) of which only an argon2id PHC hash is stored. A verified token is
//! remembered in memory, keyed by a SHA-256 digest of the whole token, so argon2 runs once per
//! token per process; revoking drops it from memory at once. Issuing, listing and revoking
//! work on a `Store` directly, so the CLI uses the same code when the server is stopped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError, StoredToken, TokenScope};

use super::{Principal, now_unix};

const PREFIX: &str = "scimd_";
const ID_HEX_LEN: usize = 16;
const SECRET_HEX_LEN: usize = 64;

/// A token just issued: `token` is the only copy of the secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedToken {
    pub id: String,
    pub name: String,
    pub scope: TokenScope,
    pub expires: Option<i64>,
    pub token: String,
}

/// What `token list` shows: never the hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub scope: TokenScope,
    pub created: i64,
    pub expires: Option<i64>,
    pub last_used: Option<i64>,
    pub revoked: Option<i64>,
}

impl From<StoredToken> for TokenInfo {
    fn from(t: StoredToken) -> Self {
        TokenInfo {
            id: t.id,
            name: t.name,
            scope: t.scope,
            created: t.created,
            expires: t.expires,
            last_used: t.last_used,
            revoked: t.revoked,
        }
    }
}

/// Why a request is not authenticated: each becomes a 401 with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: send 'Authorization: Bearer <token>'")]
    Missing,
    #[error("the bearer token is not valid")]
    Invalid,
    #[error("the bearer token has been revoked")]
    Revoked,
    #[error("the bearer token has expired")]
    Expired,
    #[error("provisioning is disabled on this scimd ([scim] enabled = false)")]
    Disabled,
    #[error("internal error while checking the token: {0}")]
    Internal(String),
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token name must not be empty")]
    EmptyName,
    #[error("no token has the id '{0}' (see `scimd token list`)")]
    NotFound(String),
    #[error("cannot generate a random secret: {0}")]
    Random(String),
    #[error("cannot hash the secret: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn random_hex(bytes: usize) -> Result<String, TokenError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Issues a token and stores its hash. The returned `token` is the only copy of the secret.
pub fn issue(
    store: &Store,
    name: &str,
    scope: TokenScope,
    expires_in_days: Option<u32>,
) -> Result<IssuedToken, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::EmptyName);
    }
    let id = random_hex(ID_HEX_LEN / 2)?;
    let secret = random_hex(SECRET_HEX_LEN / 2)?;
    let hash = hash_secret(&secret)?;
    let now = now_unix();
    let expires = expires_in_days.map(|d| now + i64::from(d) * 86_400);
    let row = StoredToken {
        id: id.clone(),
        name: name.to_string(),
        scope,
        hash,
        created: now,
        expires,
        last_used: None,
        revoked: None,
    };
    store.write(|w| w.put_token(&row))?;
    Ok(IssuedToken {
        token: format!("{PREFIX}{id}_{secret}"),
        id,
        name: name.to_string(),
        scope,
        expires,
    })
}

/// Issues a first token named `name` if the store has no token at all (first start).
pub fn issue_first(store: &Store, name: &str) -> Result<Option<IssuedToken>, TokenError> {
    if store.write(|w| w.has_tokens())? {
        return Ok(None);
    }
    issue(store, name, TokenScope::ReadWrite, None).map(Some)
}

pub fn list(store: &Store) -> Result<Vec<TokenInfo>, TokenError> {
    Ok(store.read()?.tokens()?.into_iter().map(TokenInfo::from).collect())
}

/// Marks a token revoked. Revoking twice is not an error.
pub fn revoke(store: &Store, id: &str) -> Result<TokenInfo, TokenError> {
    store.write(|w| {
        let mut row = w.token(id)?.ok_or_else(|| TokenError::NotFound(id.to_string()))?;
        if row.revoked.is_none() {
            row.revoked = Some(now_unix());
            w.put_token(&row)?;
        }
        Ok(TokenInfo::from(row))
    })
}

fn hash_secret(secret: &str) -> Result<String, TokenError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| TokenError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| TokenError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| TokenError::Hash(e.to_string()))
}

/// Splits `scimd_<id>_<secret>`; None if the shape is wrong.
fn parse(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.strip_prefix(PREFIX)?.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, ID_HEX_LEN) && hex(secret, SECRET_HEX_LEN)).then_some((id, secret))
}

#[derive(Debug, Clone)]
struct Verified {
    principal: Principal,
    expires: Option<i64>,
    /// Unix seconds of the latest request that bore the token (shared by the cache's copies).
    last_seen: Arc<AtomicI64>,
}

/// Verified tokens, keyed by the SHA-256 of the whole token string.
#[derive(Default)]
pub struct TokenCache {
    verified: RwLock<HashMap<[u8; 32], Verified>>,
}

impl TokenCache {
    fn lookup(&self, digest: &[u8; 32]) -> Option<Verified> {
        self.verified.read().ok()?.get(digest).cloned()
    }

    fn remember(&self, digest: [u8; 32], verified: Verified) {
        if let Ok(mut map) = self.verified.write() {
            map.insert(digest, verified);
        }
    }

    /// When each token verified by this process was last presented, by token id.
    pub fn last_seen(&self) -> HashMap<String, i64> {
        let mut seen = HashMap::new();
        if let Ok(map) = self.verified.read() {
            for v in map.values() {
                let at = v.last_seen.load(Ordering::Relaxed);
                let entry = seen.entry(v.principal.token_id.clone()).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        seen
    }

    /// Forgets every cached verification of token `id`.
    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.verified.write() {
            map.retain(|_, v| v.principal.token_id != id);
        }
    }
}

/// Checks a bearer token: the cache first, else the stored hash (argon2). Blocking: call it
/// from a blocking thread on a cache miss.
pub fn verify(store: &Store, cache: &TokenCache, token: &str) -> Result<Principal, AuthError> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let now = now_unix();
    if let Some(hit) = cache.lookup(&digest) {
        if hit.expires.is_some_and(|e| e <= now) {
            cache.forget(&hit.principal.token_id);
            return Err(AuthError::Expired);
        }
        hit.last_seen.store(now, Ordering::Relaxed);
        return Ok(hit.principal);
    }
    let (id, secret) = parse(token).ok_or(AuthError::Invalid)?;
    let internal = |e: StoreError| AuthError::Internal(e.to_string());
    let row =
        store.read().map_err(internal)?.token(id).map_err(internal)?.ok_or(AuthError::Invalid)?;
    let hash = PasswordHash::new(&row.hash).map_err(|e| AuthError::Internal(e.to_string()))?;
    Argon2::default().verify_password(secret.as_bytes(), &hash).map_err(|_| AuthError::Invalid)?;
    if row.revoked.is_some() {
        return Err(AuthError::Revoked);
    }
    if row.expires.is_some_and(|e| e <= now) {
        return Err(AuthError::Expired);
    }
    let principal =
        Principal { token_id: row.id.clone(), token_name: row.name.clone(), scope: row.scope };
    // Record the first use in this process; a failure here must not refuse a valid token.
    let _ = store.write(|w| {
        if let Some(mut current) = w.token(id)? {
            current.last_used = Some(now);
            w.put_token(&current)?;
        }
        Ok::<_, StoreError>(())
    });
    let last_seen = Arc::new(AtomicI64::new(now));
    cache.remember(
        digest,
        Verified { principal: principal.clone(), expires: row.expires, last_seen },
    );
    Ok(principal)
}

impl super::Service {
    /// Authenticates a request's bearer token (argon2 on a blocking thread on a cache miss).
    pub async fn authenticate(&self, token: Option<String>) -> Result<Principal, AuthError> {
        if !self.scim().enabled {
            return Err(AuthError::Disabled);
        }
        let token = token.ok_or(AuthError::Missing)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.tokens.lookup(&digest)
            && hit.expires.is_none_or(|e| e > now_unix())
        {
            return Ok(hit.principal);
        }
        let (store, cache) = (self.store.clone(), self.tokens.clone());
        tokio::task::spawn_blocking(move || verify(&store, &cache, &token))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?
    }

    pub async fn issue_token(
        &self,
        name: String,
        scope: TokenScope,
        expires_in_days: Option<u32>,
    ) -> Result<IssuedToken, TokenError> {
        let store = self.store.clone();
        spawn(move || issue(&store, &name, scope, expires_in_days)).await
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, TokenError> {
        let store = self.store.clone();
        spawn(move || list(&store)).await
    }

    /// Revokes a token; the next request bearing it is refused.
    pub async fn revoke_token(&self, id: String) -> Result<TokenInfo, TokenError> {
        let (store, cache) = (self.store.clone(), self.tokens.clone());
        spawn(move || {
            let info = revoke(&store, &id)?;
            cache.forget(&id);
            Ok(info)
        })
        .await
    }
}

async fn spawn<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TokenError> + Send + 'static,
) -> Result<T, TokenError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TokenError::Hash(format!("task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_verify_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.redb")).unwrap();
        let cache = TokenCache::default();
        let issued = issue(&store, "entra", TokenScope::ReadWrite, None).unwrap();
        assert!(parse(&issued.token).is_some());
        let p = verify(&store, &cache, &issued.token).unwrap();
        assert_eq!(p.token_name, "entra");
        // The row holds a hash, never the secret.
        let row = store.read().unwrap().token(&issued.id).unwrap().unwrap();
        assert!(row.hash.starts_with("$argon2id$"));
        assert!(!row.hash.contains(&issued.token[PREFIX.len() + ID_HEX_LEN + 1..]));
        assert!(row.last_used.is_some());

        let mut wrong = issued.token.clone();
        wrong.pop();
        wrong.push(if issued.token.ends_with('0') { '1' } else { '0' });
        assert_eq!(verify(&store, &cache, &wrong), Err(AuthError::Invalid));
        assert_eq!(verify(&store, &cache, "Bearer nonsense"), Err(AuthError::Invalid));

        revoke(&store, &issued.id).unwrap();
        cache.forget(&issued.id);
        assert_eq!(verify(&store, &cache, &issued.token), Err(AuthError::Revoked));
        assert!(issue_first(&store, "x").unwrap().is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.redb")).unwrap();
        let issued = issue(&store, "old", TokenScope::ReadOnly, Some(0)).unwrap();
        assert_eq!(verify(&store, &TokenCache::default(), &issued.token), Err(AuthError::Expired));
    }
}
