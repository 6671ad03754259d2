//! The README's change-event receiver example, run for real: its Python code is taken verbatim
//! from README.md (between the `receiver-example` markers), run with the `.venv` interpreter
//! that `scripts/setup` fills from `conformance/requirements.txt` (PyJWT, cryptography), and
//! pointed at by a scimd push receiver over plain HTTP on loopback. The example must print the
//! verified event of a provisioned user, acknowledge it, and refuse a SET whose signature is
//! not scimd's. Without that `.venv` the test fails and names the command that makes it, as
//! the ACME test does without pebble.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::*;

const START_MARKER: &str = "<!-- receiver-example:start -->\n";
const END_MARKER: &str = "<!-- receiver-example:end -->";
const PROV: &str = "urn:ietf:params:scim:event:prov:";

/// The Python code of the README's receiver example, exactly as the README shows it.
fn receiver_example() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let (_, from_start) = readme.split_once(START_MARKER).expect("README.md has the start marker");
    let (block, _) = from_start.split_once(END_MARKER).expect("README.md has the end marker");
    let code = block
        .strip_prefix("```python\n")
        .and_then(|b| b.strip_suffix("```\n"))
        .expect("the markers enclose one ```python block");
    code.to_string()
}

/// The `.venv` interpreter with PyJWT and cryptography, or a failure saying how to get it.
fn python_with_pyjwt() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    let check = Command::new(&python)
        .args(["-c", "import jwt, cryptography; print(jwt.__version__)"])
        .output();
    let why = match check {
        Ok(out) if out.status.success() => return python,
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
        Err(e) => e.to_string(),
    };
    panic!(
        "the README's receiver example needs Python 3 with PyJWT and cryptography in {} ({why}). \
         Run `scripts/setup` from {}: it installs them into .venv from \
         conformance/requirements.txt (scripts/test runs it first)",
        python.display(),
        root.display()
    );
}

/// The example, running; killed when dropped.
struct Example {
    child: Child,
    port: u16,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Example {
    /// Starts `script` on `port`, trusting `s`'s certificate for its JWKS requests, and waits
    /// until it accepts connections.
    async fn start(script: &Path, port: u16, s: &TestServer, endpoint: &str) -> Example {
        let mut child = Command::new(python_with_pyjwt())
            .arg(script)
            .env("SCIMD_URL", format!("https://127.0.0.1:{}", s.port))
            .env("RECEIVER_URL", endpoint)
            .env("PORT", port.to_string())
            // urllib, under PyJWKClient, trusts what OpenSSL's default verify paths name.
            .env("SSL_CERT_FILE", s.data_dir().join("tls/cert.pem"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let sink = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().expect("stdout").push(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock().expect("stderr").push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut example = Example { child, port, stdout, stderr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Ok(Some(status)) = example.child.try_wait() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!("the example exited ({status}) before listening: {}", example.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "the example is not listening: {}",
                example.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        example
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    fn printed(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout").clone()
    }

    /// Waits until the example has printed `n` lines, and returns them.
    async fn wait_for_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let printed = self.printed();
            if printed.len() >= n {
                return printed;
            }
            assert!(
                Instant::now() < deadline,
                "the example printed {printed:?}, not {n} lines; its stderr: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `receiver` has acknowledged `n` events, per `scimd events status`.
async fn wait_acked(s: &TestServer, receiver: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = s.admin(scimd::admin::AdminRequest::EventsStatus).await;
        let entry = status
            .as_array()
            .expect("receivers")
            .iter()
            .find(|r| r["name"] == receiver)
            .expect("the receiver is listed")
            .clone();
        if entry["cursor"]["acked"].as_u64() == Some(n) {
            return;
        }
        assert!(Instant::now() < deadline, "not {n} acknowledged: {entry}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A SET for `endpoint` shaped like scimd's, with the `kid` of scimd's key, signed by another
/// P-256 key: only its signature is wrong.
fn forged_set(s: &TestServer, endpoint: &str, kid: &str) -> String {
    let forger = rcgen::KeyPair::generate().expect("P-256 key");
    let key = EncodingKey::from_ec_der(&forger.serialize_der());
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("secevent+jwt".to_string());
    header.kid = Some(kid.to_string());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = json!({
        "iss": format!("https://127.0.0.1:{}", s.port),
        "aud": endpoint,
        "jti": "forged-0001",
        "txn": "forged-txn",
        "iat": now,
        "toe": now,
        "sub_id": {"format": "scim", "uri": "/Users/forged", "id": "forged"},
        "events": {format!("{PROV}delete"): {}},
    });
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

#[tokio::test]
async fn the_readme_receiver_example_verifies_scimds_events_and_refuses_a_forged_one() {
    python_with_pyjwt();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("receiver.py");
    std::fs::write(&script, receiver_example()).expect("write receiver.py");
    let [port] = ports_for_children::<1>();
    let endpoint = format!("http://127.0.0.1:{port}/scim-events");
    let auth = dir.path().join("example.auth");
    std::fs::write(&auth, "Bearer example-secret\n").expect("auth file");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let receivers = format!(
        "[[events.receivers]]\nname = \"example\"\ndelivery = \"push\"\nendpoint = \"{endpoint}\"\n\
         authorization_file = {:?}\n",
        auth.display().to_string()
    );
    let mut s = TestServer::start_with(&receivers).await;
    let example = Example::start(&script, port, &s, &endpoint).await;

    // A provisioned user: the example verifies the SET against the JWKS and prints it.
    let user = s.create_user("ada.lovelace@example.org").await;
    let printed = example.wait_for_lines(1).await;
    assert_eq!(printed, [format!("/Users/{user} {PROV}create:notice")], "{}", example.stderr());
    wait_acked(&s, "example", 1).await;

    // A SET signed with another key under scimd's kid: refused as RFC 8935 says, not printed.
    let jwks = send(s.client.get(format!("https://127.0.0.1:{}/.well-known/jwks.json", s.port)))
        .await
        .expect(200)
        .body;
    let kid = jwks["keys"][0]["kid"].as_str().expect("kid");
    let forged = forged_set(&s, &endpoint, kid);
    let refused = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/scim-events", example.port))
        .header("content-type", "application/secevent+jwt")
        .body(forged)
        .send()
        .await
        .expect("the example answers");
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.expect("a JSON error body");
    assert_eq!(body["err"], "invalid_request", "{body}");
    let description = body["description"].as_str().unwrap_or_default();
    assert!(description.contains("Signature verification failed"), "{body}");

    // The stream goes on: the delete reaches it, and the forged SET was never taken.
    s.delete(&upath(&user)).await.expect(204);
    let printed = example.wait_for_lines(2).await;
    assert_eq!(printed[1], format!("/Users/{user} {PROV}delete"), "{}", example.stderr());
    assert!(printed.iter().all(|line| !line.contains("forged")), "{printed:?}");
    wait_acked(&s, "example", 2).await;
    drop(example);
    s.stop().await;
}
