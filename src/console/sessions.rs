//! Console sign-in without passwords: one-time sign-in codes (made by `scimd console login`
//! over the admin socket) and the browser sessions they start, held in memory only.
//!
//! A code is 32 random bytes, valid for at most 10 minutes and for one sign-in; a session is
//! another 32 random bytes in a cookie, with its own CSRF token, ending after 30 minutes idle,
//! 12 hours in all, at sign-out, at `console logout-all`, or when scimd restarts (nothing is
//! on disk). Only SHA-256 digests of codes and session ids are kept, so a memory dump or a
//! debug print shows no secret that opens the console. Failed sign-ins are counted per client
//! address and refused for a while once there are too many.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// How long a sign-in code is valid at most (and by default).
pub const CODE_TTL: Duration = Duration::from_secs(600);
/// A session unused this long ends.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// Sign-in codes waiting at once; the oldest goes when another is made.
const MAX_CODES: usize = 16;
/// Sessions at once; the least recently used goes when another starts.
const MAX_SESSIONS: usize = 64;
/// Failed sign-ins one address may make per [`FAILURE_WINDOW`] before it is refused.
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses whose failures are remembered; beyond it the oldest window is forgotten.
const MAX_TRACKED_ADDRESSES: usize = 4096;

type Digest32 = [u8; 32];

/// Why a sign-in did not start a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefused {
    /// Unknown, used, or expired: the same answer for all three, so a guess learns nothing.
    InvalidCode,
    /// Too many failures from this address lately.
    Throttled,
}

/// A session as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The token every state-changing form of this session must carry.
    pub csrf: String,
}

/// A session just started: the cookie value to set (the only copy of the session id).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie_value: String,
    pub csrf: String,
}

#[derive(Debug)]
struct Session {
    csrf: String,
    started: Instant,
    last_used: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    codes: HashMap<Digest32, Instant>,
    sessions: HashMap<Digest32, Session>,
    failures: HashMap<IpAddr, (u32, Instant)>,
}

/// The sign-in codes and sessions of one running server.
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

fn digest(secret: &str) -> Digest32 {
    Sha256::digest(secret.as_bytes()).into()
}

/// 32 random bytes, base64url without padding (43 characters).
fn random_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Sessions {
    pub fn new() -> Sessions {
        Sessions::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes a sign-in code valid for `valid_for` (at most [`CODE_TTL`]).
    pub fn issue_code(&self, valid_for: Duration) -> Result<String, getrandom::Error> {
        let code = random_secret()?;
        let now = Instant::now();
        let mut inner = self.lock();
        inner.codes.retain(|_, expires| *expires > now);
        if inner.codes.len() >= MAX_CODES
            && let Some(oldest) = inner.codes.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k)
        {
            inner.codes.remove(&oldest);
        }
        inner.codes.insert(digest(&code), now + valid_for.min(CODE_TTL));
        Ok(code)
    }

    /// Whether `code` would sign in now, without using it (the sign-in page asks before
    /// showing its button). A wrong code counts as a failure.
    pub fn check_code(&self, code: &str, client: IpAddr) -> Result<(), SignInRefused> {
        let now = Instant::now();
        let mut inner = self.lock();
        throttled(&mut inner, client, now)?;
        match inner.codes.get(&digest(code)) {
            Some(expires) if *expires > now => Ok(()),
            _ => Err(failed(&mut inner, client, now)),
        }
    }

    /// Uses `code` and starts a session.
    pub fn sign_in(&self, code: &str, client: IpAddr) -> Result<NewSession, SignInRefused> {
        let now = Instant::now();
        let mut inner = self.lock();
        throttled(&mut inner, client, now)?;
        match inner.codes.remove(&digest(code)) {
            Some(expires) if expires > now => {}
            _ => return Err(failed(&mut inner, client, now)),
        }
        let (Ok(cookie_value), Ok(csrf)) = (random_secret(), random_secret()) else {
            return Err(SignInRefused::InvalidCode);
        };
        inner.sessions.retain(|_, s| alive(s, now));
        if inner.sessions.len() >= MAX_SESSIONS
            && let Some(lru) =
                inner.sessions.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| *k)
        {
            inner.sessions.remove(&lru);
        }
        let session = Session { csrf: csrf.clone(), started: now, last_used: now };
        inner.sessions.insert(digest(&cookie_value), session);
        Ok(NewSession { cookie_value, csrf })
    }

    /// The live session whose cookie is `cookie_value`, marked used now.
    pub fn session(&self, cookie_value: &str) -> Option<SessionView> {
        let now = Instant::now();
        let key = digest(cookie_value);
        let mut inner = self.lock();
        let session = inner.sessions.get_mut(&key)?;
        if !alive(session, now) {
            inner.sessions.remove(&key);
            return None;
        }
        session.last_used = now;
        Some(SessionView { csrf: session.csrf.clone() })
    }

    /// Ends one session (sign-out).
    pub fn end(&self, cookie_value: &str) {
        self.lock().sessions.remove(&digest(cookie_value));
    }

    /// Ends every session and forgets every unused code; returns how many sessions ended.
    pub fn end_all(&self) -> usize {
        let mut inner = self.lock();
        inner.codes.clear();
        let ended = inner.sessions.len();
        inner.sessions.clear();
        ended
    }
}

fn alive(session: &Session, now: Instant) -> bool {
    now.duration_since(session.last_used) < IDLE_TIMEOUT
        && now.duration_since(session.started) < ABSOLUTE_TIMEOUT
}

fn throttled(inner: &mut Inner, client: IpAddr, now: Instant) -> Result<(), SignInRefused> {
    match inner.failures.get(&client) {
        Some((count, since)) if now.duration_since(*since) < FAILURE_WINDOW => {
            if *count >= MAX_FAILURES { Err(SignInRefused::Throttled) } else { Ok(()) }
        }
        Some(_) => {
            inner.failures.remove(&client);
            Ok(())
        }
        None => Ok(()),
    }
}

/// Counts a failed sign-in from `client`.
fn failed(inner: &mut Inner, client: IpAddr, now: Instant) -> SignInRefused {
    if inner.failures.len() >= MAX_TRACKED_ADDRESSES && !inner.failures.contains_key(&client) {
        inner.failures.retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
        if inner.failures.len() >= MAX_TRACKED_ADDRESSES
            && let Some(oldest) =
                inner.failures.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k)
        {
            inner.failures.remove(&oldest);
        }
    }
    let entry = inner.failures.entry(client).or_insert((0, now));
    entry.0 += 1;
    SignInRefused::InvalidCode
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_code_signs_in_once() {
        let sessions = Sessions::new();
        let code = sessions.issue_code(CODE_TTL).unwrap();
        assert_eq!(sessions.check_code(&code, HOME), Ok(()));
        let started = sessions.sign_in(&code, HOME).unwrap();
        assert_eq!(sessions.sign_in(&code, HOME).unwrap_err(), SignInRefused::InvalidCode);
        let view = sessions.session(&started.cookie_value).unwrap();
        assert_eq!(view.csrf, started.csrf);
        sessions.end(&started.cookie_value);
        assert!(sessions.session(&started.cookie_value).is_none());
    }

    #[test]
    fn an_expired_code_is_refused() {
        let sessions = Sessions::new();
        let code = sessions.issue_code(Duration::ZERO).unwrap();
        assert_eq!(sessions.sign_in(&code, HOME).unwrap_err(), SignInRefused::InvalidCode);
    }

    #[test]
    fn repeated_failures_from_one_address_are_throttled_and_others_are_not() {
        let sessions = Sessions::new();
        for _ in 0..MAX_FAILURES {
            assert_eq!(sessions.sign_in("guess", HOME).unwrap_err(), SignInRefused::InvalidCode);
        }
        let code = sessions.issue_code(CODE_TTL).unwrap();
        assert_eq!(sessions.sign_in(&code, HOME).unwrap_err(), SignInRefused::Throttled);
        let elsewhere: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(sessions.sign_in(&code, elsewhere).is_ok());
    }

    #[test]
    fn end_all_ends_every_session_and_code() {
        let sessions = Sessions::new();
        let a = sessions.sign_in(&sessions.issue_code(CODE_TTL).unwrap(), HOME).unwrap();
        let code = sessions.issue_code(CODE_TTL).unwrap();
        assert_eq!(sessions.end_all(), 1);
        assert!(sessions.session(&a.cookie_value).is_none());
        assert!(sessions.sign_in(&code, HOME).is_err());
    }

    #[test]
    fn nothing_secret_is_kept_in_the_clear() {
        let sessions = Sessions::new();
        let code = sessions.issue_code(CODE_TTL).unwrap();
        let started = sessions.sign_in(&sessions.issue_code(CODE_TTL).unwrap(), HOME).unwrap();
        let shown = format!("{sessions:?}");
        assert!(!shown.contains(&code) && !shown.contains(&started.cookie_value));
    }
}
