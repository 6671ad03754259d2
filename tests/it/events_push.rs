//! Push delivery of change events (RFC 8935) to a real HTTPS receiver on loopback, started in
//! the test with its own CA: every SET it gets is verified against scimd's published JWKS with
//! an independent JOSE library, and its claims checked.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::*;

const PROV: &str = "urn:ietf:params:scim:event:prov:";

/// One answer the receiver gives: status, `Retry-After`, body.
type Answer = (u16, Option<&'static str>, &'static str);

/// What the receiver saw and will answer.
#[derive(Default)]
struct Inbox {
    /// Every request: its SET, Content-Type, Authorization.
    received: Vec<(String, String, String)>,
    /// Answers to give, in order; `202` once they run out.
    script: VecDeque<Answer>,
}

/// An RFC 8935 receiver over HTTPS with a certificate from its own CA.
struct Receiver {
    endpoint: String,
    ca_file: std::path::PathBuf,
    inbox: Arc<Mutex<Inbox>>,
    _dir: tempfile::TempDir,
}

impl Receiver {
    async fn start() -> Receiver {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "test receiver CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf");
        let ca_file = dir.path().join("receiver-ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).expect("write CA");
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let shared = Arc::clone(&inbox);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, inbox) = (acceptor.clone(), Arc::clone(&shared));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let inbox = Arc::clone(&inbox);
                        async move {
                            let header = |name: &str| {
                                req.headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string()
                            };
                            let (ct, auth) = (header("content-type"), header("authorization"));
                            let body = req.into_body().collect().await.map(|b| b.to_bytes());
                            let set =
                                String::from_utf8_lossy(&body.unwrap_or_default()).to_string();
                            let (status, retry_after, text) = {
                                let mut inbox = inbox.lock().expect("inbox");
                                inbox.received.push((set, ct, auth));
                                inbox.script.pop_front().unwrap_or((202, None, ""))
                            };
                            let mut response = hyper::Response::builder().status(status);
                            if let Some(after) = retry_after {
                                response = response.header("retry-after", after);
                            }
                            if !text.is_empty() {
                                response = response
                                    .header("content-type", "application/json")
                                    .header("content-language", "en");
                            }
                            Ok::<_, std::convert::Infallible>(
                                response.body(Full::new(Bytes::from(text))).expect("response"),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Receiver {
            endpoint: format!("https://127.0.0.1:{port}/scim-events"),
            ca_file,
            inbox,
            _dir: dir,
        }
    }

    /// The answers to give before the default `202`.
    fn script(&self, answers: &[Answer]) {
        self.inbox.lock().expect("inbox").script.extend(answers.iter().copied());
    }

    fn received(&self) -> Vec<(String, String, String)> {
        self.inbox.lock().expect("inbox").received.clone()
    }

    /// Waits until the receiver has been sent `n` requests.
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<(String, String, String)> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The `[[events.receivers]]` entry for this receiver, its authorization file written.
    fn config(&self, dir: &std::path::Path, name: &str, payload: &str) -> String {
        let auth = dir.join(format!("{name}.auth"));
        std::fs::write(&auth, "Bearer receiver-secret\n").expect("auth file");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        format!(
            "[[events.receivers]]\nname = \"{name}\"\ndelivery = \"push\"\nendpoint = \"{}\"\n\
             authorization_file = {:?}\nca_file = {:?}\npayload = \"{payload}\"\n",
            self.endpoint,
            auth.display().to_string(),
            self.ca_file.display().to_string()
        )
    }
}

/// Starts scimd with `receivers` (TOML) in its config.
async fn scimd_with(receivers: &str) -> TestServer {
    TestServer::start_with(receivers).await
}

/// Verifies `set` against `s`'s JWKS with jsonwebtoken and returns its claims.
async fn verified(s: &TestServer, set: &str) -> Value {
    let jwks = send(s.client.get(format!("https://127.0.0.1:{}/.well-known/jwks.json", s.port)))
        .await
        .expect(200)
        .body;
    let header = jsonwebtoken::decode_header(set).expect("a JWS header");
    assert_eq!(header.typ.as_deref(), Some("secevent+jwt"));
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("kid");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the signing key is published")
        .clone();
    let key = DecodingKey::from_ec_components(
        jwk["x"].as_str().expect("x"),
        jwk["y"].as_str().expect("y"),
    )
    .expect("key");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(set, &key, &validation).expect("the SET verifies").claims
}

/// The event URIs of each SET, in order, after verifying every one.
async fn event_uris(s: &TestServer, received: &[(String, String, String)]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (set, _, _) in received {
        let claims = verified(s, set).await;
        let mut uris: Vec<String> =
            claims["events"].as_object().expect("events").keys().cloned().collect();
        uris.sort();
        out.push(uris.iter().map(|u| u.trim_start_matches(PROV).to_string()).collect());
    }
    out
}

#[tokio::test]
async fn an_entra_lifecycle_reaches_the_receiver_signed_in_order() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = scimd_with(&receiver.config(dir.path(), "wiki", "notice")).await;
    let user = id_of(&s.post("/Users", &crate::payloads::ms_tut_create_user()).await.expect(201));
    let path = upath(&user);
    s.patch(&path, json!([{"op": "Replace", "path": "displayName", "value": "Pvlo"}]))
        .await
        .expect(200);
    s.patch(&path, json!([{"op": "Replace", "path": "active", "value": "False"}]))
        .await
        .expect(200);
    s.patch(&path, json!([{"op": "Replace", "path": "active", "value": "True"}])).await.expect(200);
    let group = id_of(&s.post("/Groups", &crate::payloads::entra_group()).await.expect(201));
    s.patch(&gpath(&group), json!([{"op": "Add", "path": "members", "value": [{"value": user}]}]))
        .await
        .expect(204);
    // Refused: no event.
    s.post("/Users", &crate::payloads::ms_tut_create_user()).await.expect(409);
    s.delete(&path).await.expect(204);

    let got = receiver.wait_for(8, Duration::from_secs(20)).await;
    let uris = event_uris(&s, &got).await;
    let want: Vec<Vec<&str>> = vec![
        vec!["create:notice"],
        vec!["patch:notice"],
        vec!["deactivate", "patch:notice"],
        vec!["activate", "patch:notice"],
        vec!["create:notice"],
        vec!["patch:notice"],
        vec!["delete"],
        vec!["patch:notice"],
    ];
    assert_eq!(uris, want);
    // The envelope: issuer, audience, subject, stable fields; RFC 8935 request headers.
    let first = verified(&s, &got[0].0).await;
    assert_eq!(first["iss"], format!("https://127.0.0.1:{}", s.port));
    assert_eq!(first["aud"], receiver.endpoint);
    assert_eq!(first["sub_id"]["format"], "scim");
    assert_eq!(first["sub_id"]["uri"], format!("/Users/{user}"));
    assert_eq!(first["sub_id"]["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert!(first.get("sub").is_none() && first.get("exp").is_none());
    assert!(first["txn"].is_string() && first["jti"].is_string() && first["toe"].is_i64());
    let created = &first["events"][format!("{PROV}create:notice")];
    assert!(created["attributes"].as_array().expect("attributes").contains(&json!("userName")));
    assert_eq!(got[0].1, "application/secevent+jwt");
    assert_eq!(got[0].2, "Bearer receiver-secret");
    let deleted = verified(&s, &got[6].0).await;
    assert_eq!(deleted["sub_id"]["uri"], format!("/Users/{user}"));
    let left = verified(&s, &got[7].0).await;
    assert_eq!(left["sub_id"]["uri"], format!("/Groups/{group}"));
    assert_eq!(left["txn"], deleted["txn"], "one delete, one txn");
    let jtis: std::collections::HashSet<String> =
        got.iter().map(|(set, _, _)| set.clone()).collect();
    assert_eq!(jtis.len(), got.len());
    s.stop().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_backlog_in_order_once_it_is_up() {
    let receiver = Receiver::start().await;
    // Down for three attempts (503, then throttled with Retry-After, then 500).
    receiver.script(&[(503, None, ""), (429, Some("1"), ""), (500, None, "")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = scimd_with(&receiver.config(dir.path(), "vpn", "full")).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(s.create_user(&format!("u{i}@example.org")).await);
    }
    let got = receiver.wait_for(8, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 8, "3 refused attempts, then 5 SETs");
    // The first SET was retried as it was (same jti), then the rest followed in commit order.
    let claims: Vec<Value> = {
        let mut v = Vec::new();
        for (set, _, _) in &got {
            v.push(verified(&s, set).await);
        }
        v
    };
    assert!(claims[..4].iter().all(|c| c["jti"] == claims[0]["jti"]));
    let order: Vec<String> = claims[3..]
        .iter()
        .map(|c| {
            c["events"][format!("{PROV}create:full")]["data"]["id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    assert_eq!(order, ids);
    s.stop().await;
}

#[tokio::test]
async fn a_poison_set_is_skipped_and_recorded_and_an_auth_failure_holds_the_stream() {
    let receiver = Receiver::start().await;
    receiver.script(&[
        (202, None, ""),
        (400, None, r#"{"err":"invalid_request","description":"cannot parse"}"#),
        (202, None, ""),
        (400, None, r#"{"err":"authentication_failed","description":"bad token"}"#),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = scimd_with(&receiver.config(dir.path(), "hr", "notice")).await;
    for i in 0..5 {
        s.create_user(&format!("p{i}@example.org")).await;
    }
    // Four answered; the fourth holds the stream, so the fifth is not sent.
    let got = receiver.wait_for(5, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 4, "the stream is held after authentication_failed");
    // `scimd events status` says so, and why.
    let status = s.admin(scimd::admin::AdminRequest::EventsStatus).await;
    let hr = &status[0];
    assert_eq!(hr["name"], "hr");
    assert_eq!((hr["cursor"]["acked"].as_u64(), hr["backlog"].as_u64()), (Some(3), Some(2)));
    assert_eq!(hr["stream"]["state"], "held");
    assert!(hr["cursor"]["stalled"].as_str().unwrap_or("").contains("bad token"), "{status}");
    assert_eq!(hr["recent_failures"][0]["seq"], 2);
    // Fixed on the receiver's side; `scimd events retry hr` resends the held SET, then the rest.
    s.admin(scimd::admin::AdminRequest::EventsRetry { name: "hr".into() }).await;
    let again = receiver.wait_for(6, Duration::from_secs(10)).await;
    assert_eq!(again.len(), 6, "the held SET again, then the fifth");
    let (held, resent) = (verified(&s, &again[3].0).await, verified(&s, &again[4].0).await);
    assert_eq!(resent["jti"], held["jti"], "the held event is resent with its jti");
    let done = s.admin(scimd::admin::AdminRequest::EventsStatus).await;
    assert_eq!(done[0]["cursor"]["acked"], 5, "{done}");
    assert!(done[0]["cursor"]["stalled"].is_null(), "{done}");
    s.stop().await;
    let store = scimd::store::Store::open(&s.data_dir().join("scimd.redb")).expect("open");
    let r = store.read().expect("read");
    use scimd::store::ReadQueries;
    let cursor = r.event_cursor("hr").expect("read").expect("a cursor");
    assert_eq!((cursor.acked, cursor.failed, cursor.stalled), (5, 1, None));
    let failures = r.event_failures("hr", 10).expect("failures");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].seq, 2);
    assert!(failures[0].error.contains("invalid_request: cannot parse"), "{failures:?}");
}
