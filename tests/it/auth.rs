//! Bearer authentication as a client sees it: every way of not being let in (401 with
//! `WWW-Authenticate: Bearer` and a SCIM error), the case-insensitive scheme, revoked and
//! expired tokens, `[scim] enabled = false`, and read-only tokens.

use reqwest::Method;
use scimd::admin::AdminRequest;
use scimd::store::TokenScope;
use serde_json::json;

use crate::common::{Reply, TestServer, send, token_id, user_body};

/// GET /Users with a literal `Authorization` header (or none).
async fn get_users_with(s: &TestServer, authorization: Option<&str>) -> Reply {
    let mut req = s.client.get(s.url("/Users"));
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    send(req).await
}

/// Asserts a 401 with a Bearer challenge and a SCIM error body; returns the detail.
fn refused(r: Reply) -> String {
    let challenge =
        r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let r = r.expect(401);
    assert!(challenge.starts_with("Bearer"), "WWW-Authenticate: {challenge:?}");
    r.body["detail"].as_str().expect("detail").to_string()
}

#[tokio::test]
async fn missing_authorization_is_401_with_a_bearer_challenge() {
    let s = TestServer::start().await;
    let detail = refused(get_users_with(&s, None).await);
    assert!(detail.contains("Bearer"), "{detail}");
}

#[tokio::test]
async fn a_basic_scheme_is_401() {
    let s = TestServer::start().await;
    refused(get_users_with(&s, Some("Basic YWRtaW46c2VjcmV0")).await);
    // Even when the "credentials" are the valid token.
    refused(get_users_with(&s, Some(&format!("Basic {}", s.token))).await);
}

#[tokio::test]
async fn malformed_tokens_are_401() {
    let s = TestServer::start().await;
    for token in [
        "nonsense",
        "scimd_",
        "scimd_xyz_123",
        "scimd_0123456789abcdef",
        "scimd_0123456789abcdef_tooshort",
        &s.token[..s.token.len() - 1],
        &format!("{}0", s.token),
    ] {
        let detail = refused(get_users_with(&s, Some(&format!("Bearer {token}"))).await);
        assert!(detail.contains("not valid"), "{token}: {detail}");
    }
    // A Bearer scheme with nothing after it.
    refused(get_users_with(&s, Some("Bearer")).await);
    refused(get_users_with(&s, Some("Bearer   ")).await);
}

#[tokio::test]
async fn a_well_formed_but_unknown_token_is_401() {
    let s = TestServer::start().await;
    let unknown = format!("scimd_{}_{}", "0123456789abcdef", "ab".repeat(32));
    let detail = refused(get_users_with(&s, Some(&format!("Bearer {unknown}"))).await);
    assert!(detail.contains("not valid"), "{detail}");
    // The right id with a wrong secret.
    let wrong_secret = format!("scimd_{}_{}", token_id(&s.token), "cd".repeat(32));
    refused(get_users_with(&s, Some(&format!("Bearer {wrong_secret}"))).await);
    // Nothing was created by either.
    assert_eq!(s.total("/Users").await, 0);
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let s = TestServer::start().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = get_users_with(&s, Some(&format!("{scheme} {}", s.token))).await.expect(200);
        assert_eq!(r.body["totalResults"], 0, "{scheme}");
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_the_next_request() {
    let s = TestServer::start().await;
    s.ready().await;
    let other = s.issue_token("rotating", TokenScope::ReadWrite, None).await;
    // Used once, so a running server has verified (and remembered) it.
    s.call_as(&other, Method::GET, "/Users", None).await.expect(200);
    let revoked = s.admin(AdminRequest::TokenRevoke { id: token_id(&other) }).await;
    assert_eq!(revoked["name"], "rotating");
    assert!(revoked["revoked"].is_i64(), "{revoked}");

    let detail = refused(s.call_as(&other, Method::GET, "/Users", None).await);
    assert!(detail.contains("revoked"), "{detail}");
    let body = user_body("a@example.org", json!({}));
    refused(s.call_as(&other, Method::POST, "/Users", Some(&body)).await);
    // The other token still works, and the refused POST stored nothing.
    assert_eq!(s.users_named("a@example.org").await, 0);
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let s = TestServer::start().await;
    s.ready().await;
    let expired = s.issue_token("expired", TokenScope::ReadWrite, Some(0)).await;
    let detail = refused(s.call_as(&expired, Method::GET, "/Users", None).await);
    assert!(detail.contains("expired"), "{detail}");
    let body = user_body("a@example.org", json!({}));
    refused(s.call_as(&expired, Method::POST, "/Users", Some(&body)).await);
    assert_eq!(s.users_named("a@example.org").await, 0);
}

#[tokio::test]
async fn disabled_provisioning_refuses_every_scim_request_but_not_healthz() {
    let s = TestServer::start_with("[scim]\nenabled = false\n").await;
    let body = user_body("a@example.org", json!({}));
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
    let requests: Vec<(Method, &str, Option<&serde_json::Value>)> = vec![
        (Method::GET, "/Users", None),
        (Method::GET, "/Groups", None),
        (Method::GET, "/ServiceProviderConfig", None),
        (Method::GET, "/Schemas", None),
        (Method::GET, "/ResourceTypes", None),
        (Method::POST, "/Users", Some(&body)),
        (Method::POST, "/Users/.search", Some(&search)),
        (Method::PUT, "/Users/0123", Some(&body)),
        (Method::DELETE, "/Users/0123", None),
    ];
    for (method, path, body) in requests {
        let detail = refused(s.call(method.clone(), path, body).await);
        assert!(detail.contains("disabled"), "{method} {path}: {detail}");
    }
    // Also without any token.
    let detail = refused(get_users_with(&s, None).await);
    assert!(detail.contains("disabled"), "{detail}");

    let health = send(s.client.get(format!("https://127.0.0.1:{}/healthz", s.port))).await;
    assert_eq!(health.status.as_u16(), 200, "{}", health.text);
    assert_eq!(health.body["status"], "ok");
}

#[tokio::test]
async fn a_read_only_token_reads_but_cannot_write() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let before = s.read_user(&id).await;
    let ro = s.issue_token("ro", TokenScope::ReadOnly, None).await;

    // Reads work.
    let r = s.call_as(&ro, Method::GET, &format!("/Users/{id}"), None).await.expect(200);
    assert_eq!(r.body["userName"], "ada@example.org");
    let r = s.call_as(&ro, Method::GET, "/Users", None).await.expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"ada@example.org\""
    });
    let r = s.call_as(&ro, Method::POST, "/Users/.search", Some(&search)).await.expect(200);
    assert_eq!(r.body["totalResults"], 1);

    // Writes are 403.
    let new_user = user_body("bob@example.org", json!({}));
    let r = s.call_as(&ro, Method::POST, "/Users", Some(&new_user)).await.expect(403);
    assert!(r.body["detail"].as_str().unwrap_or("").contains("read-only"), "{}", r.text);
    let changed = user_body("ada@example.org", json!({"title": "Changed"}));
    s.call_as(&ro, Method::PUT, &format!("/Users/{id}"), Some(&changed)).await.expect(403);
    s.call_as(&ro, Method::DELETE, &format!("/Users/{id}"), None).await.expect(403);
    let group = json!({"displayName": "Staff"});
    s.call_as(&ro, Method::POST, "/Groups", Some(&group)).await.expect(403);

    // Nothing was stored or changed.
    assert_eq!(s.users_named("bob@example.org").await, 0);
    assert_eq!(s.total("/Groups").await, 0);
    let after = s.read_user(&id).await;
    assert_eq!(after, before);

    // The provisioning log records each refusal under the token's name.
    let log = s.provisioning_log(4).await;
    let ops: Vec<(&str, &str, u64)> = log
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or(""),
                e["resource_type"].as_str().unwrap_or(""),
                e["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("create", "Group", 403),
            ("delete", "User", 403),
            ("replace", "User", 403),
            ("create", "User", 403)
        ],
        "{log:#?}"
    );
    for e in &log {
        assert_eq!(e["token"], "ro", "{e}");
        assert!(e["detail"].as_str().unwrap_or("").contains("read-only"), "{e}");
    }
    assert_eq!(log[3]["name"], "bob@example.org");
    assert_eq!(log[2]["resource_id"], id.as_str());
}

/// Someone who knows a token's id (say from `token list` output) guesses secrets for it: each
/// guess costs argon2 until the id's allowance is spent, then it is refused with 429 at once.
/// The token in use, already verified, is answered 200 between every guess, never 429.
#[tokio::test]
async fn guessing_secrets_for_a_token_id_is_429_and_never_refuses_the_token_in_use() {
    let s = TestServer::start().await;
    let right = format!("Bearer {}", s.token);
    get_users_with(&s, Some(&right)).await.expect(200);
    let id = token_id(&s.token);
    let guess = |i: usize| format!("Bearer scimd_{id}_{i:064x}");
    let mut statuses = Vec::new();
    for i in 0..16 {
        let r = get_users_with(&s, Some(&guess(i))).await;
        let status = r.status.as_u16();
        statuses.push(status);
        if status == 429 {
            let retry_after = r.headers.get("retry-after").and_then(|v| v.to_str().ok());
            let seconds: u64 = retry_after.and_then(|v| v.parse().ok()).unwrap_or(0);
            assert!(seconds >= 1, "Retry-After: {retry_after:?}");
            let r = r.expect(429);
            let detail = r.body["detail"].as_str().unwrap_or("");
            assert!(detail.contains("too many failed attempts"), "{detail}");
        } else {
            refused(r);
        }
        let r = get_users_with(&s, Some(&right)).await.expect(200);
        assert_eq!(r.body["totalResults"], 0);
    }
    // The allowance is 10 argon2 attempts per id, refilled one per 6 s: the first ten guesses
    // are checked (401), the last ones are refused unchecked (429).
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    // A guess already refused stays a plain 401 (remembered, no argon2 and no allowance).
    refused(get_users_with(&s, Some(&guess(0))).await);
    // Another token's id is not affected.
    let other = s.issue_token("other", TokenScope::ReadOnly, None).await;
    s.call_as(&other, Method::GET, "/Users", None).await.expect(200);
}

/// An IdP's first burst after a restart or a rotation: many concurrent requests with a token
/// the server has not verified yet. They are all let in (one argon2 check, the others find it
/// remembered); none is taken for a guess and refused with 429.
#[tokio::test]
async fn concurrent_first_requests_with_a_new_token_are_all_200() {
    let s = TestServer::start().await;
    s.ready().await;
    let fresh = s.issue_token("burst", TokenScope::ReadWrite, None).await;
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let req = s.client.get(s.url("/Users")).bearer_auth(&fresh);
            tokio::spawn(async move { send(req).await.status.as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
