//! Bearer tokens: issue, list, revoke, verify.
//!
//! A token reads `scimd_<id>_<secret>`: a 16-hex-digit id to find its row and a 256-bit random
//! secret (64 hex digits) of which only an argon2id PHC hash is stored. A verified token is
//! remembered in memory, keyed by a SHA-256 digest of the whole token, so argon2 runs once per
//! token per process; revoking drops it from memory at once. Issuing, listing and revoking
//! work on a `Store` directly, so the CLI uses the same code when the server is stopped.
//!
//! A token that is not remembered costs one argon2 verification (about 21 ms of CPU) when its id
//! is known, so an attacker who knows an id could keep the CPU busy guessing secrets. The
//! running server bounds that work (`Service::authenticate`): argon2 runs on at most
//! [`ARGON2_PERMITS`] blocking threads at once; each token id allows [`FAILURE_BURST`] argon2
//! attempts, refilled one per [`FAILURE_REFILL`], and answers `429` with `Retry-After` beyond
//! that; a token refused after argon2 (wrong secret, revoked, expired) is remembered for
//! [`REFUSED_TTL`], so presenting it again is refused without argon2. None of this is consulted
//! for a remembered (verified) token, so guessing secrets for an id never slows or refuses the
//! token already in use. A token not yet verified by this process (the first request after a
//! restart) does share its id's allowance with the guesses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{LogEntry, ReadQueries, Store, StoreError, StoredToken, TokenScope};

use super::{Principal, now_unix};

const PREFIX: &str = "scimd_";
const ID_HEX_LEN: usize = 16;
const SECRET_HEX_LEN: usize = 64;

/// How many argon2 verifications may run at once: one core of a small VM at most, whatever
/// the number of clients presenting unknown secrets.
pub const ARGON2_PERMITS: usize = 1;
/// argon2 attempts a token id allows before `429` (the first use of the real token counts as
/// one, and is given back when it succeeds).
pub const FAILURE_BURST: u32 = 10;
/// After the burst, one more attempt per this long and per id: a sustained guesser costs one
/// argon2 (about 2% of a core) each time.
pub const FAILURE_REFILL: Duration = Duration::from_secs(6);
/// How long a token refused after argon2 is refused again without argon2.
pub const REFUSED_TTL: Duration = Duration::from_secs(600);
/// At most this many refused tokens are remembered; beyond it the expired ones are dropped,
/// and if none is, all of them (they are only a shortcut).
const REFUSED_MAX: usize = 4096;

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
    /// Too many wrong secrets for this token id lately: 429 with `Retry-After`.
    #[error(
        "too many failed attempts with this token id; retry in {retry_after} s with the right token"
    )]
    TooManyFailures { retry_after: u64 },
    #[error("internal error while checking the token: {0}")]
    Internal(String),
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token name must not be empty")]
    EmptyName,
    #[error(
        "--events {0:?}: a receiver name is 1 to 64 characters of a-z, 0-9 and - (the name of a \
         [[events.receivers]] entry with delivery = \"poll\")"
    )]
    ReceiverName(String),
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
    issue_logged(store, name, scope, expires_in_days, None)
}

/// [`issue`], appending `log` (the console's record of who made it) in the same write.
fn issue_logged(
    store: &Store,
    name: &str,
    scope: TokenScope,
    expires_in_days: Option<u32>,
    log: Option<LogEntry>,
) -> Result<IssuedToken, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::EmptyName);
    }
    if let TokenScope::Events { receiver } = &scope
        && !crate::config::is_receiver_name(receiver)
    {
        return Err(TokenError::ReceiverName(receiver.clone()));
    }
    let id = random_hex(ID_HEX_LEN / 2)?;
    let secret = random_hex(SECRET_HEX_LEN / 2)?;
    let hash = hash_secret(&secret)?;
    let now = now_unix();
    let expires = expires_in_days.map(|d| now + i64::from(d) * 86_400);
    let row = StoredToken {
        id: id.clone(),
        name: name.to_string(),
        scope: scope.clone(),
        hash,
        created: now,
        expires,
        last_used: None,
        revoked: None,
    };
    store.write(|w| {
        w.put_token(&row)?;
        if let Some(entry) = log.clone() {
            w.append_log(with_resource(entry, &id, name))?;
        }
        Ok::<(), StoreError>(())
    })?;
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
    revoke_logged(store, id, None)
}

/// [`revoke`], appending `log` in the same write when it revokes.
fn revoke_logged(store: &Store, id: &str, log: Option<LogEntry>) -> Result<TokenInfo, TokenError> {
    store.write(|w| {
        let mut row = w.token(id)?.ok_or_else(|| TokenError::NotFound(id.to_string()))?;
        if row.revoked.is_none() {
            row.revoked = Some(now_unix());
            w.put_token(&row)?;
            if let Some(entry) = log.clone() {
                w.append_log(with_resource(entry, &row.id, &row.name))?;
            }
        }
        Ok(TokenInfo::from(row))
    })
}

/// `entry` about token `id` named `name`.
fn with_resource(mut entry: LogEntry, id: &str, name: &str) -> LogEntry {
    entry.resource_id = Some(id.to_string());
    entry.name = Some(name.to_string());
    entry
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

/// Verified tokens, keyed by the SHA-256 of the whole token string; and what bounds the argon2
/// work of the others (see the module doc).
pub struct TokenCache {
    verified: RwLock<HashMap<[u8; 32], Verified>>,
    /// Tokens refused after argon2, by digest: the answer and until when it holds.
    refused: Mutex<HashMap<[u8; 32], (AuthError, Instant)>>,
    /// The argon2 allowance of each known token id.
    attempts: Mutex<HashMap<String, Allowance>>,
    /// Permits to run argon2.
    argon2: tokio::sync::Semaphore,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            verified: RwLock::default(),
            refused: Mutex::default(),
            attempts: Mutex::default(),
            argon2: tokio::sync::Semaphore::new(ARGON2_PERMITS),
        }
    }
}

/// A token bucket of argon2 attempts for one id.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    available: f64,
    at: Instant,
}

/// The attempts `a` holds at `now`, refilled since it was last counted.
fn refilled(a: &Allowance, now: Instant) -> f64 {
    let periods = now.saturating_duration_since(a.at).as_secs_f64() / FAILURE_REFILL.as_secs_f64();
    (a.available + periods).min(f64::from(FAILURE_BURST))
}

/// Whole seconds (at least 1) until an allowance holding `available` has one attempt.
fn wait_secs(available: f64) -> u64 {
    (((1.0 - available) * FAILURE_REFILL.as_secs_f64()).ceil() as u64).max(1)
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

    /// The answer given to this exact token after argon2, if it still holds.
    fn refused(&self, digest: &[u8; 32], now: Instant) -> Option<AuthError> {
        let map = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(digest).filter(|(_, until)| *until > now).map(|(e, _)| e.clone())
    }

    fn remember_refusal(&self, digest: [u8; 32], error: AuthError, now: Instant) {
        let mut map = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= REFUSED_MAX {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= REFUSED_MAX {
                map.clear();
            }
        }
        map.insert(digest, (error, now + REFUSED_TTL));
    }

    /// Takes one argon2 attempt from `id`'s allowance, or says in how many seconds one is back.
    fn take_attempt(&self, id: &str, now: Instant) -> Result<(), u64> {
        let mut map = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let full = Allowance { available: f64::from(FAILURE_BURST), at: now };
        let a = map.entry(id.to_string()).or_insert(full);
        a.available = refilled(a, now);
        a.at = now;
        if a.available >= 1.0 {
            a.available -= 1.0;
            Ok(())
        } else {
            Err(wait_secs(a.available))
        }
    }

    /// How long until `id` has an attempt again; None if it has one now.
    fn attempt_wait(&self, id: &str, now: Instant) -> Option<u64> {
        let map = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let a = map.get(id)?;
        let available = refilled(a, now);
        (available < 1.0).then(|| wait_secs(available))
    }

    /// Gives back an attempt that was not a guess (the secret was right).
    fn give_back_attempt(&self, id: &str) {
        let mut map = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(a) = map.get_mut(id) {
            a.available = (a.available + 1.0).min(f64::from(FAILURE_BURST));
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
/// from a blocking thread on a cache miss. It does not bound argon2 work; the server's
/// [`super::Service::authenticate`] does.
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
    let row = stored_row(store, id)?;
    check_secret(&row, secret)?;
    accept(store, cache, &row, digest)
}

/// The row of token `id`; an unknown id is `Invalid`.
fn stored_row(store: &Store, id: &str) -> Result<StoredToken, AuthError> {
    let internal = |e: StoreError| AuthError::Internal(e.to_string());
    store.read().map_err(internal)?.token(id).map_err(internal)?.ok_or(AuthError::Invalid)
}

/// The argon2 verification of `secret` against the row's hash.
fn check_secret(row: &StoredToken, secret: &str) -> Result<(), AuthError> {
    let hash = PasswordHash::new(&row.hash).map_err(|e| AuthError::Internal(e.to_string()))?;
    Argon2::default().verify_password(secret.as_bytes(), &hash).map_err(|_| AuthError::Invalid)
}

/// After a right secret: refuses a revoked or expired token, else records the first use and
/// remembers the token.
fn accept(
    store: &Store,
    cache: &TokenCache,
    row: &StoredToken,
    digest: [u8; 32],
) -> Result<Principal, AuthError> {
    let now = now_unix();
    if row.revoked.is_some() {
        return Err(AuthError::Revoked);
    }
    if row.expires.is_some_and(|e| e <= now) {
        return Err(AuthError::Expired);
    }
    let principal = Principal {
        token_id: row.id.clone(),
        token_name: row.name.clone(),
        scope: row.scope.clone(),
    };
    // Record the first use in this process; a failure here must not refuse a valid token.
    let _ = store.write(|w| {
        if let Some(mut current) = w.token(&row.id)? {
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
    /// Authenticates a SCIM request's bearer token: refused while `[scim] enabled = false`,
    /// else [`Self::authenticate_token`].
    pub async fn authenticate(&self, token: Option<String>) -> Result<Principal, AuthError> {
        if !self.scim().enabled {
            return Err(AuthError::Disabled);
        }
        self.authenticate_token(token).await
    }

    /// Authenticates a bearer token whatever `[scim] enabled` says: for the change-event poll
    /// endpoint, which is not the SCIM API (push delivery goes on while provisioning is off,
    /// and so does polling). A remembered token is answered at once; any other pays argon2 at
    /// most once, within the bounds of the module doc.
    pub async fn authenticate_token(&self, token: Option<String>) -> Result<Principal, AuthError> {
        let token = token.ok_or(AuthError::Missing)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.tokens.lookup(&digest)
            && hit.expires.is_none_or(|e| e > now_unix())
        {
            return Ok(hit.principal);
        }
        let cache = Arc::clone(&self.tokens);
        if let Some(refused) = cache.refused(&digest, Instant::now()) {
            return Err(refused);
        }
        let (id, secret) = parse(&token).ok_or(AuthError::Invalid)?;
        let (id, secret) = (id.to_string(), secret.to_string());
        let store = Arc::clone(&self.store);
        let lookup = id.clone();
        // An unknown id costs a read, not argon2, and gets no allowance of its own (random ids
        // must not grow the map).
        let row = blocking(move || stored_row(&store, &lookup)).await?;
        let too_many = |retry_after| AuthError::TooManyFailures { retry_after };
        // A spent allowance is refused at once, without queueing for argon2.
        cache.attempt_wait(&id, Instant::now()).map_or(Ok(()), |wait| Err(too_many(wait)))?;
        let _permit =
            self.tokens.argon2.acquire().await.map_err(|e| AuthError::Internal(e.to_string()))?;
        // Concurrent first requests with one token wait here together: the first verifies
        // it, the others find it remembered and neither pay argon2 nor spend the allowance.
        if let Some(hit) = self.tokens.lookup(&digest)
            && hit.expires.is_none_or(|e| e > now_unix())
        {
            return Ok(hit.principal);
        }
        cache.take_attempt(&id, Instant::now()).map_err(too_many)?;
        let store = Arc::clone(&self.store);
        blocking(move || {
            let result = check_secret(&row, &secret).and_then(|()| {
                // The secret was right: not a guess, whatever comes next.
                cache.give_back_attempt(&id);
                accept(&store, &cache, &row, digest)
            });
            if let Err(e @ (AuthError::Invalid | AuthError::Revoked | AuthError::Expired)) = &result
            {
                cache.remember_refusal(digest, e.clone(), Instant::now());
            }
            result
        })
        .await
    }

    /// Issues a token ([`issue`]). Blocking: for the admin requests, which run on a blocking
    /// thread (or in the CLI, over a stopped server's file).
    pub fn issue_token_blocking(
        &self,
        name: &str,
        scope: TokenScope,
        expires_in_days: Option<u32>,
    ) -> Result<IssuedToken, TokenError> {
        issue(&self.store, name, scope, expires_in_days)
    }

    /// On the very first start (no token stored at all), issues a read-write token named
    /// `name` ([`issue_first`]). Blocking.
    pub fn issue_first_token(&self, name: &str) -> Result<Option<IssuedToken>, TokenError> {
        issue_first(&self.store, name)
    }

    /// Every token, never its secret. Blocking.
    pub fn list_tokens_blocking(&self) -> Result<Vec<TokenInfo>, TokenError> {
        list(&self.store)
    }

    /// Revokes a token and forgets it if remembered, so the next request bearing it is
    /// refused. Blocking.
    pub fn revoke_token_blocking(&self, id: &str) -> Result<TokenInfo, TokenError> {
        let info = revoke(&self.store, id)?;
        self.tokens.forget(id);
        Ok(info)
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

    /// Issues a token on behalf of `actor` (the console), its provisioning-log entry
    /// (operation `token-create`) committed with it.
    pub async fn issue_token_as(
        &self,
        actor: &'static str,
        name: String,
        scope: TokenScope,
        expires_in_days: Option<u32>,
    ) -> Result<IssuedToken, TokenError> {
        let store = self.store.clone();
        let log = super::audit::action_entry(actor, "token-create", "Token");
        spawn(move || issue_logged(&store, &name, scope, expires_in_days, Some(log))).await
    }

    /// Revokes a token on behalf of `actor`, logged (`token-revoke`) in the same write.
    pub async fn revoke_token_as(
        &self,
        actor: &'static str,
        id: String,
    ) -> Result<TokenInfo, TokenError> {
        self.revoke_and_forget(id, Some(super::audit::action_entry(actor, "token-revoke", "Token")))
            .await
    }

    /// Revokes, appending `log` with the change, and forgets the token if remembered.
    async fn revoke_and_forget(
        &self,
        id: String,
        log: Option<LogEntry>,
    ) -> Result<TokenInfo, TokenError> {
        let (store, cache) = (self.store.clone(), self.tokens.clone());
        spawn(move || {
            let info = revoke_logged(&store, &id, log)?;
            cache.forget(&id);
            Ok(info)
        })
        .await
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, TokenError> {
        let store = self.store.clone();
        spawn(move || list(&store)).await
    }

    /// Revokes a token; the next request bearing it is refused.
    pub async fn revoke_token(&self, id: String) -> Result<TokenInfo, TokenError> {
        self.revoke_and_forget(id, None).await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| AuthError::Internal(e.to_string()))?
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

    #[test]
    fn an_id_allows_a_burst_of_attempts_then_one_per_refill() {
        let cache = TokenCache::default();
        let start = Instant::now();
        for _ in 0..FAILURE_BURST {
            assert_eq!(cache.take_attempt("a", start), Ok(()));
        }
        let wait = cache.take_attempt("a", start).unwrap_err();
        assert_eq!(wait, FAILURE_REFILL.as_secs());
        // Another id has its own allowance; a right secret gives its attempt back.
        assert_eq!(cache.take_attempt("b", start), Ok(()));
        cache.give_back_attempt("a");
        assert_eq!(cache.take_attempt("a", start), Ok(()));
        assert!(cache.take_attempt("a", start).is_err());
        // One attempt comes back per refill period, never more than the burst.
        let later = start + FAILURE_REFILL;
        assert_eq!(cache.take_attempt("a", later), Ok(()));
        assert!(cache.take_attempt("a", later).is_err());
        let much_later = start + FAILURE_REFILL * 1000;
        for _ in 0..FAILURE_BURST {
            assert_eq!(cache.take_attempt("a", much_later), Ok(()));
        }
        assert!(cache.take_attempt("a", much_later).is_err());
    }

    #[test]
    fn refused_tokens_are_remembered_for_a_while_and_bounded() {
        let cache = TokenCache::default();
        let now = Instant::now();
        cache.remember_refusal([1; 32], AuthError::Revoked, now);
        assert_eq!(cache.refused(&[1; 32], now), Some(AuthError::Revoked));
        assert_eq!(cache.refused(&[2; 32], now), None);
        assert_eq!(cache.refused(&[1; 32], now + REFUSED_TTL), None);
        for i in 0..REFUSED_MAX * 2 {
            let mut digest = [0u8; 32];
            digest[..8].copy_from_slice(&(i as u64).to_le_bytes());
            cache.remember_refusal(digest, AuthError::Invalid, now);
        }
        assert!(cache.refused.lock().unwrap().len() <= REFUSED_MAX);
    }
}
