//! A change-event receiver for the tests: RFC 8935 push over HTTPS on loopback with a
//! certificate from its own CA, answering from a script, and the check of a SET against
//! scimd's published JWKS with an independent JOSE library (jsonwebtoken).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::common::*;

/// One answer the receiver gives: status, `Retry-After`, body. Status [`HANG`] answers
/// nothing for two minutes (a receiver that stopped responding).
pub type Answer = (u16, Option<&'static str>, &'static str);

/// The status of an [`Answer`] that holds the request unanswered.
pub const HANG: u16 = 0;

/// What the receiver saw and will answer.
#[derive(Default)]
pub struct Inbox {
    /// Every request: its SET, Content-Type, Authorization.
    received: Vec<(String, String, String)>,
    /// Answers to give, in order; `202` once they run out.
    script: VecDeque<Answer>,
}

/// An RFC 8935 receiver over HTTPS with a certificate from its own CA.
pub struct Receiver {
    pub endpoint: String,
    ca_file: std::path::PathBuf,
    inbox: Arc<Mutex<Inbox>>,
    _dir: tempfile::TempDir,
}

impl Receiver {
    pub async fn start() -> Receiver {
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
                            if status == HANG {
                                tokio::time::sleep(Duration::from_secs(120)).await;
                            }
                            let status = if status == HANG { 503 } else { status };
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
    pub fn script(&self, answers: &[Answer]) {
        self.inbox.lock().expect("inbox").script.extend(answers.iter().copied());
    }

    pub fn received(&self) -> Vec<(String, String, String)> {
        self.inbox.lock().expect("inbox").received.clone()
    }

    /// Waits until the receiver has been sent `n` requests.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<(String, String, String)> {
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
    pub fn config(&self, dir: &std::path::Path, name: &str, payload: &str) -> String {
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
pub async fn scimd_with(receivers: &str) -> TestServer {
    TestServer::start_with(receivers).await
}

/// Verifies `set` against `s`'s JWKS with jsonwebtoken and returns its claims.
pub async fn verified(s: &TestServer, set: &str) -> Value {
    let jwks = send(s.client.get(format!("https://127.0.0.1:{}/.well-known/jwks.json", s.port)))
        .await
        .expect(200)
        .body;
    verify_with(&jwks, set)
}

/// Verifies `set` against `jwks` and returns its claims.
pub fn verify_with(jwks: &Value, set: &str) -> Value {
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

/// The receiver's SETs, verified, first arrivals only (a resend must be the same SET), and
/// how many were resends.
pub fn first_arrivals(receiver: &Receiver, jwks: &Value) -> (Vec<Value>, usize) {
    let mut seen: HashMap<String, Value> = HashMap::new();
    let mut firsts = Vec::new();
    let received = receiver.received();
    for (set, _, _) in &received {
        let claims = verify_with(jwks, set);
        let jti = claims["jti"].as_str().expect("jti").to_string();
        match seen.get(&jti) {
            Some(earlier) => {
                assert_eq!(earlier["sub_id"], claims["sub_id"], "one jti, two subjects");
                assert_eq!(earlier["events"], claims["events"], "one jti, two payloads");
            }
            None => {
                seen.insert(jti, claims.clone());
                firsts.push(claims);
            }
        }
    }
    let resent = received.len() - firsts.len();
    (firsts, resent)
}

/// `GET /.well-known/jwks.json` of a plain-HTTP scimd on `port`.
pub async fn fetch_jwks(port: u16) -> Value {
    reqwest::get(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json")
}
