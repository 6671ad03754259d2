//! What a push receiver's answer means for the stream (RFC 8935 §2.3, §2.4): delivered, retry
//! later, skip this one SET as malformed, or stop until an admin fixes the configuration; the
//! backoff between retries; and the `jti` of a SET, stable across retries. Pure: no I/O.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// What to do after one attempt to push one SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver has it (`202`; any other 2xx is taken as delivered too).
    Delivered,
    /// A fault that may pass (network, timeout, `5xx`, `429`): try the same SET again after
    /// the backoff, or after the receiver's `Retry-After` when it gave one.
    Retry { reason: String, after: Option<Duration> },
    /// The receiver refused this SET as malformed (`400 invalid_request`, or a `400` it did not
    /// explain): record it as failed for this receiver and go on with the next.
    Skip { reason: String },
    /// The configuration is wrong (credentials, key, audience, endpoint): stop delivering to
    /// this receiver until `scimd events retry NAME`.
    Stall { reason: String },
}

/// The RFC 8935 §2.4 error codes that say the configuration, not the SET, is wrong.
const CONFIGURATION_ERRORS: [&str; 5] =
    ["invalid_key", "invalid_issuer", "invalid_audience", "authentication_failed", "access_denied"];

/// Classifies a receiver's answer: its status, `Retry-After` header and body.
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> Outcome {
    let error = || describe_error(body);
    match status {
        200..=299 => Outcome::Delivered,
        400 => match error_code(body).as_deref() {
            Some(code) if CONFIGURATION_ERRORS.contains(&code) => {
                Outcome::Stall { reason: format!("the receiver refused the stream: {}", error()) }
            }
            _ => Outcome::Skip { reason: format!("the receiver refused this event: {}", error()) },
        },
        401 | 403 => Outcome::Stall {
            reason: format!(
                "HTTP {status}: the receiver does not accept scimd's credentials (check \
                 authorization_file){}",
                suffix(&error())
            ),
        },
        413 => Outcome::Skip {
            reason: format!("HTTP 413: the event is too large{}", suffix(&error())),
        },
        408 | 429 | 500..=599 => Outcome::Retry {
            reason: format!("HTTP {status}{}", suffix(&error())),
            after: retry_after.and_then(parse_retry_after),
        },
        _ => Outcome::Stall {
            reason: format!(
                "HTTP {status}: not an answer a SET receiver gives (check the endpoint){}",
                suffix(&error())
            ),
        },
    }
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}

/// The `err` member of an RFC 8935 error body, if the body is one.
fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("err")?.as_str().map(str::to_string)
}

/// The receiver's own words, for the journal and `scimd events status`: `err: description`
/// from an RFC 8935 body, else the start of the body as text. Bounded and escaped.
fn describe_error(body: &[u8]) -> String {
    const SHOWN: usize = 200;
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.get("err").is_some() => {
            let err = v.get("err").and_then(|e| e.as_str()).unwrap_or("");
            match v.get("description").and_then(|d| d.as_str()) {
                Some(d) => format!("{err}: {d}"),
                None => err.to_string(),
            }
        }
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let cut: String = text.trim().chars().take(SHOWN).collect();
    crate::domain::text::escape(&cut).into_owned()
}

/// `Retry-After` as seconds (RFC 9110 §10.2.3; an HTTP date is read as no hint). At most an hour.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}

/// The wait before the next retry: 1 s, doubling to 10 min, back to 1 s after a delivery.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_secs(1);
    pub const MAX: Duration = Duration::from_secs(600);

    /// The wait after one more failure; the receiver's `Retry-After`, when longer, wins.
    pub fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        let doubled = Self::FIRST.saturating_mul(1u32 << self.failures.min(20));
        self.failures = self.failures.saturating_add(1);
        doubled.min(Self::MAX).max(retry_after.unwrap_or_default())
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The `jti` of the SET telling `receiver` about event `seq` of write `txn`: the same on every
/// retry (receivers de-duplicate on it), different for every receiver and event.
pub fn jti(receiver: &str, seq: u64, txn: &str) -> String {
    let mut hash = Sha256::new();
    for part in [b"scimd-set".as_slice(), receiver.as_bytes(), &seq.to_be_bytes(), txn.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn err(code: &str) -> Vec<u8> {
        format!(r#"{{"err":"{code}","description":"because"}}"#).into_bytes()
    }

    #[test]
    fn accepted_is_delivered_and_every_other_2xx_too() {
        assert_eq!(classify(202, None, b""), Outcome::Delivered);
        assert_eq!(classify(200, None, b"ok"), Outcome::Delivered);
    }

    #[test]
    fn invalid_request_and_unexplained_400s_skip_one_set() {
        for body in [err("invalid_request"), err("no_such_code"), b"nonsense".to_vec(), vec![]] {
            assert!(matches!(classify(400, None, &body), Outcome::Skip { .. }), "{body:?}");
        }
        let Outcome::Skip { reason } = classify(400, None, &err("invalid_request")) else {
            panic!()
        };
        assert!(reason.contains("invalid_request: because"), "{reason}");
    }

    #[test]
    fn configuration_errors_stall_the_receiver() {
        for code in CONFIGURATION_ERRORS {
            let got = classify(400, None, &err(code));
            assert!(matches!(&got, Outcome::Stall { reason } if reason.contains(code)), "{got:?}");
        }
        for status in [401, 403, 404, 410, 301] {
            assert!(matches!(classify(status, None, b""), Outcome::Stall { .. }), "{status}");
        }
    }

    #[test]
    fn server_errors_and_throttling_retry_honouring_retry_after() {
        assert_eq!(
            classify(429, Some("7"), b""),
            Outcome::Retry { reason: "HTTP 429".into(), after: Some(Duration::from_secs(7)) }
        );
        assert!(matches!(classify(503, None, b""), Outcome::Retry { after: None, .. }));
        assert!(matches!(classify(500, Some("soon"), b""), Outcome::Retry { after: None, .. }));
        assert!(matches!(classify(408, None, b""), Outcome::Retry { .. }));
    }

    #[test]
    fn a_hostile_error_body_is_bounded_and_escaped() {
        let body = format!("\u{1b}[2J{}", "x".repeat(10_000));
        let Outcome::Skip { reason } = classify(400, None, body.as_bytes()) else { panic!() };
        assert!(!reason.contains('\u{1b}') && reason.len() < 400, "{reason}");
    }

    #[test]
    fn backoff_doubles_from_one_second_to_ten_minutes_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..12).map(|_| b.next(None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(b.next(Some(Duration::from_secs(900))).as_secs(), 900);
        b.reset();
        assert_eq!(b.next(Some(Duration::from_secs(3))).as_secs(), 3);
        assert_eq!(b.next(None).as_secs(), 2);
    }

    #[test]
    fn a_jti_is_stable_per_receiver_and_event() {
        assert_eq!(jti("wiki", 7, "t"), jti("wiki", 7, "t"));
        assert_ne!(jti("wiki", 7, "t"), jti("vpn", 7, "t"));
        assert_ne!(jti("wiki", 7, "t"), jti("wiki", 8, "t"));
        assert_eq!(jti("wiki", 7, "t").len(), 36);
    }
}
