//! The event signing keys as a running scimd serves them: `GET /.well-known/jwks.json` without
//! a token, the key file (mode 0600) made at the first start and kept across restarts,
//! `scimd events rotate-key` on a running server (the JWKS changes at once) and on a stopped
//! one (the CLI writes the file), keys superseded over 7 days ago dropped at start, and a key
//! file others can read stopping `serve`. SETs signed
//! with the file's keys are verified by `jsonwebtoken` against the JWKS the server served.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use serde_json::{Value, json};

use crate::common::{Reply, TestServer, issue_token, scimd_at as scimd, send};
use scimd::signing::{KEY_FILE, KeyRing};
use scimd::store::TokenScope;

const DAY: Duration = Duration::from_secs(86_400);

impl TestServer {
    /// `GET /.well-known/jwks.json` with no `Authorization` header.
    async fn fetch_jwks(&self) -> Reply {
        send(self.client.get(format!("https://127.0.0.1:{}/.well-known/jwks.json", self.port)))
            .await
    }

    /// The published `kid`s, oldest first, from a JWKS that must be served.
    async fn published_kids(&self) -> Vec<String> {
        let jwks = self.fetch_jwks().await;
        assert_eq!(jwks.status.as_u16(), 200, "{}", jwks.text);
        kids(&jwks.body)
    }
}

fn kids(jwks: &Value) -> Vec<String> {
    let keys = jwks["keys"].as_array().unwrap_or_else(|| panic!("no keys in {jwks}"));
    keys.iter().map(|k| k["kid"].as_str().expect("kid").to_string()).collect()
}

/// Signs a SET with the newest key of the key file in `s`'s data directory and checks that
/// `jsonwebtoken` verifies it with the matching key of `jwks`; returns the header's kid.
fn sign_and_verify(s: &TestServer, jwks: &Value) -> String {
    let ring = KeyRing::open(&s.data_dir()).expect("the server's key file");
    let claims = json!({
        "iss": format!("https://127.0.0.1:{}", s.port),
        "iat": 1_767_225_600,
        "jti": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "txn": "7d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a",
        "sub_id": {"format": "scim", "uri": "/Users/2819c223-7f76-453a-919d-413861904646"},
        "events": {"urn:ietf:params:scim:event:prov:delete": {}}
    });
    let jws = ring.sign(&claims).expect("signed");
    let kid = jsonwebtoken::decode_header(&jws).expect("a JWS header").kid.expect("kid");
    assert_eq!(crate::event_receiver::verify_with(jwks, &jws), claims);
    kid
}

fn key_file_mode(s: &TestServer) -> u32 {
    let path = s.data_dir().join(KEY_FILE);
    std::fs::metadata(&path).expect("the key file").permissions().mode() & 0o777
}

#[tokio::test]
async fn the_jwks_is_served_without_a_token_and_keeps_its_key_across_restarts() {
    let s = TestServer::start().await;
    let reply = s.fetch_jwks().await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.headers.get("cache-control").expect("Cache-Control"), "max-age=300");
    let keys = reply.body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{}", reply.text);
    let key = &keys[0];
    let members: Vec<&str> = key.as_object().expect("a JWK").keys().map(String::as_str).collect();
    assert_eq!(members, ["kty", "crv", "x", "y", "kid", "use", "alg"], "{key}");
    assert_eq!(
        (&key["kty"], &key["crv"], &key["use"], &key["alg"]),
        (&json!("EC"), &json!("P-256"), &json!("sig"), &json!("ES256"))
    );
    let jwk: Jwk = serde_json::from_value(key.clone()).expect("jsonwebtoken reads the JWK");
    assert_eq!(key["kid"], jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint"));
    assert!(!reply.text.contains("\"d\""), "a private key member in {}", reply.text);

    assert_eq!(key_file_mode(&s), 0o600);
    let kid = sign_and_verify(&s, &reply.body);
    assert_eq!(json!(kid), key["kid"]);

    let s = s.restart().await;
    let after = s.fetch_jwks().await;
    assert_eq!(after.body, reply.body, "the restarted server publishes other keys");
    assert_eq!(key_file_mode(&s), 0o600);
}

#[tokio::test]
async fn rotate_key_adds_a_key_on_a_running_server_at_once_and_on_a_stopped_one() {
    let mut s = TestServer::start().await;
    let config = s.write_config_file();
    let first = s.published_kids().await;
    assert_eq!(first.len(), 1);

    let out = scimd(&config, &["events", "rotate-key"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let second = out.stdout.trim().to_string();
    assert_eq!(out.stdout.lines().count(), 1, "stdout is the kid alone: {out:?}");
    assert_ne!(second, first[0]);
    assert!(out.stderr.contains(&format!("Added event signing key {second}")), "{}", out.stderr);
    assert!(out.stderr.contains("2 keys are published"), "{}", out.stderr);
    // The running server's ring changed: no restart, no cache to wait for.
    let jwks = s.fetch_jwks().await.body;
    assert_eq!(kids(&jwks), [first[0].clone(), second.clone()]);
    assert_eq!(sign_and_verify(&s, &jwks), second, "new SETs are signed with the new key");
    assert_eq!(key_file_mode(&s), 0o600);

    // Stopped: the CLI rotates the key file itself.
    s.stop().await;
    let out = scimd(&config, &["events", "rotate-key"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let third = out.stdout.trim().to_string();
    assert!(out.stderr.contains("3 keys are published"), "{}", out.stderr);
    assert!(!first.contains(&third) && third != second, "{third}");

    let s = s.restart().await;
    let jwks = s.fetch_jwks().await.body;
    assert_eq!(kids(&jwks), [first[0].clone(), second, third.clone()]);
    assert_eq!(sign_and_verify(&s, &jwks), third);
    assert_eq!(key_file_mode(&s), 0o600);
}

#[tokio::test]
async fn keys_superseded_more_than_seven_days_ago_are_no_longer_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let token = issue_token(&data, "test", TokenScope::ReadWrite);
    let now = SystemTime::now();
    let mut ring = KeyRing::open(&data).expect("a key file");
    let superseded_long_ago = ring.newest_kid().to_string();
    let superseded_yesterday = ring.rotate(now - 20 * DAY).expect("rotated");
    let newest = ring.rotate(now - DAY).expect("rotated");
    drop(ring);

    // The server prunes at start, in the background: wait for it, a bounded while.
    let s = TestServer::start_in(dir, token).await;
    let mut published = s.published_kids().await;
    for _ in 0..100 {
        if published.len() < 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        published = s.published_kids().await;
    }
    assert_eq!(published, [superseded_yesterday.clone(), newest.clone()]);
    assert!(!published.contains(&superseded_long_ago));
    let file = KeyRing::open(&s.data_dir()).expect("the pruned key file");
    assert_eq!(file.kids().collect::<Vec<_>>(), [superseded_yesterday.as_str(), newest.as_str()]);
    assert_eq!(key_file_mode(&s), 0o600);
}

#[tokio::test]
async fn serve_refuses_a_key_file_others_can_read() {
    let mut s = TestServer::start().await;
    let config = s.write_config_file();
    s.stop().await;
    let path = s.data_dir().join(KEY_FILE);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let out = scimd(&config, &["serve"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains(&path.display().to_string()), "{}", out.stderr);
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
    // Nor does an offline rotation touch it.
    let out = scimd(&config, &["events", "rotate-key"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
    assert_eq!(std::fs::metadata(&path).expect("key file").permissions().mode() & 0o777, 0o644);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let s = s.restart().await;
    assert_eq!(s.published_kids().await.len(), 1);
}
