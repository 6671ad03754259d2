//! The test harness: a real scimd (store, TLS, accept loop) started in-process on
//! `127.0.0.1:0` with its own temporary data directory, and an HTTPS client that trusts the
//! server's generated certificate.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use scimd::config::Config;
use scimd::server::Server;
use scimd::service::tokens;
use scimd::store::{Store, TokenScope};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SCIM_JSON: &str = "application/scim+json";

/// A running server and a client for it.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The Tenant URL, `https://127.0.0.1:<port>/scim/v2`.
    pub base: String,
    /// A read-write token.
    pub token: String,
    pub client: reqwest::Client,
    extra_config: String,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

/// A response: status, headers and the body parsed as JSON (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts the status and, for errors, the SCIM error shape.
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        if status >= 400 {
            assert_eq!(
                self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
                "{}",
                self.text
            );
            assert_eq!(self.body["status"], status.to_string(), "{}", self.text);
            assert!(self.content_type().starts_with(SCIM_JSON), "{}", self.content_type());
        }
        self
    }

    pub fn scim_type(&self) -> &str {
        self.body["scimType"].as_str().unwrap_or("")
    }
}

fn config_text(dir: &Path, port: u16, extra: &str) -> String {
    format!(
        "listen = \"127.0.0.1:{port}\"\npublic_url = \"https://127.0.0.1:{port}\"\n\
         data_dir = {dir:?}\n{extra}\n",
        dir = dir.display().to_string()
    )
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with("").await
    }

    /// Starts with extra TOML appended to the generated config (sections like `[scim]`).
    pub async fn start_with(extra: &str) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = issue_token(&dir.path().join("data"), "test", TokenScope::ReadWrite);
        TestServer::boot(dir, token, extra.to_string(), None).await
    }

    /// Starts on `dir/data` as it is (a restored directory, say), with `token`.
    pub async fn start_in(dir: tempfile::TempDir, token: String) -> TestServer {
        TestServer::boot(dir, token, String::new(), None).await
    }

    async fn boot(
        dir: tempfile::TempDir,
        token: String,
        extra: String,
        port: Option<u16>,
    ) -> TestServer {
        let listener = match port {
            Some(p) => bind_retry(p).await,
            None => TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        };
        let port = listener.local_addr().expect("addr").port();
        let config = Config::parse(&config_text(&dir.path().join("data"), port, &extra), None)
            .expect("test config");
        let server = Server::open(config).expect("server opens");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            server
                .run(listener, async {
                    let _ = rx.await;
                })
                .await
                .expect("server runs");
        });
        let cert = std::fs::read(dir.path().join("data/tls/cert.pem")).expect("generated cert");
        let client = client_trusting(&cert);
        let server = TestServer {
            base: format!("https://127.0.0.1:{port}/scim/v2"),
            dir,
            port,
            token,
            client,
            extra_config: extra,
            shutdown: Some(tx),
            handle: Some(handle),
        };
        // Served /healthz means the accept loop (and so the admin socket) is up.
        server.ready().await;
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The config file a CLI process would use to reach this server's data directory.
    pub fn write_config_file(&self) -> PathBuf {
        let path = self.dir.path().join("config.toml");
        std::fs::write(&path, config_text(&self.data_dir(), self.port, &self.extra_config))
            .expect("write config");
        path
    }

    /// Stops gracefully and waits until the data file is released.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), h).await;
        }
    }

    /// Stops and starts again on the same data directory and port.
    pub async fn restart(mut self) -> TestServer {
        self.stop().await;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let (token, extra, port) = (self.token.clone(), self.extra_config.clone(), self.port);
        TestServer::boot(dir, token, extra, Some(port)).await
    }

    /// Stops and starts again on the same data directory and port with `extra` as the extra
    /// config (an admin editing config.toml between runs).
    pub async fn restart_with(mut self, extra: &str) -> TestServer {
        self.extra_config = extra.to_string();
        self.restart().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        self.call_with_headers(token, method, path, body, &[]).await
    }

    /// [`Self::call_as`] with extra request headers (`If-Match` and the like).
    pub async fn call_with_headers(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(token);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.header("content-type", SCIM_JSON).body(serde_json::to_vec(b).expect("json"));
        }
        send(req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }
    /// PATCH with a PatchOp body whose `Operations` are `ops`.
    pub async fn patch(&self, path: &str, ops: Value) -> Reply {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops
        });
        self.call(Method::PATCH, path, Some(&body)).await
    }
    /// PATCH with a literal body, as an IdP sent it.
    pub async fn patch_raw(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body);
        send(req).await
    }

    /// Creates a user with `userName` and returns its id.
    /// Entra's deactivate or reactivate: one `Replace` of `active` with a string boolean
    /// (`"False"`/`"True"`), answered 200.
    pub async fn entra_set_active(&self, path: &str, active: bool) {
        let value = if active { "True" } else { "False" };
        self.patch(path, serde_json::json!([{"op": "Replace", "path": "active", "value": value}]))
            .await
            .expect(200);
    }

    pub async fn create_user(&self, user_name: &str) -> String {
        id_of(&self.post("/Users", &user_body(user_name, Value::Null)).await.expect(201))
    }

    /// Creates a group and returns its id.
    pub async fn create_group(&self, display_name: &str, members: &[&str]) -> String {
        id_of(&self.post("/Groups", &group_body(display_name, members)).await.expect(201))
    }

    /// Issues another token directly in the store (the server must be stopped) — or, while
    /// running, through the service.
    pub async fn issue_token(
        &self,
        name: &str,
        scope: TokenScope,
        expires_in_days: Option<u32>,
    ) -> String {
        self.client_issue(name, scope, expires_in_days).await
    }

    async fn client_issue(&self, name: &str, scope: TokenScope, days: Option<u32>) -> String {
        let socket = self.data_dir().join("scimd.sock");
        let request = scimd::admin::AdminRequest::TokenCreate {
            name: name.to_string(),
            read_only: scope == TokenScope::ReadOnly,
            expires_in_days: days,
            events: match scope {
                TokenScope::Events { receiver } => Some(receiver),
                _ => None,
            },
        };
        let response = scimd::admin::call(&socket, &request).await.expect("admin socket");
        response.result.expect("token")["token"].as_str().expect("token").to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn bind_retry(port: u16) -> TcpListener {
    for _ in 0..50 {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("port {port} did not become free");
}

/// Issues a token into a data directory while no server runs.
pub fn issue_token(data_dir: &Path, name: &str, scope: TokenScope) -> String {
    std::fs::create_dir_all(data_dir).expect("data dir");
    let store = Store::open(&data_dir.join("scimd.redb")).expect("store");
    tokens::issue(&store, name, scope, None).expect("token").token
}

/// An HTTPS client that trusts exactly `cert_pem`.
pub fn client_trusting(cert_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem).expect("pem"))
        .use_rustls_tls()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    Reply { status, headers, body, text }
}

/// Percent-encodes a query value (every byte but RFC 3986's unreserved ones).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Percent-encodes a filter the way Entra does (`+` for spaces, `%22` for quotes).
pub fn entra_encode(filter: &str) -> String {
    let mut out = String::new();
    for b in filter.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---- Helpers for the auth, roles/domains, durability, CLI and bad-input tests. ----

/// The JSON for a user with `userName` (also its work email) and optional extra attributes.
pub fn user_body(user_name: &str, extra: Value) -> Value {
    let mut body = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    });
    if let (Some(obj), Value::Object(more)) = (body.as_object_mut(), extra) {
        obj.extend(more);
    }
    body
}

impl TestServer {
    /// Waits until the server answers HTTPS, which it does only after binding its admin
    /// socket: `start()` returns before the spawned server task has run, so an admin request
    /// (`issue_token`, `admin`) made at once can find no socket yet.
    pub async fn ready(&self) {
        let url = format!("https://127.0.0.1:{}/healthz", self.port);
        let r = send(self.client.get(url)).await;
        assert_eq!(r.status.as_u16(), 200, "healthz: {}", r.text);
    }

    /// Sends `request` over this server's admin socket and returns its result; the request
    /// must succeed.
    pub async fn admin(&self, request: scimd::admin::AdminRequest) -> Value {
        self.ready().await;
        let socket = self.data_dir().join("scimd.sock");
        let response = scimd::admin::call(&socket, &request).await.expect("admin socket");
        assert!(response.ok, "admin request {request:?} failed: {:?}", response.error);
        response.result.unwrap_or(Value::Null)
    }

    /// The newest `limit` provisioning-log rows, newest first, read through the admin socket.
    pub async fn provisioning_log(&self, limit: usize) -> Vec<Value> {
        let request = scimd::admin::AdminRequest::Log {
            limit,
            filter: scimd::admin::LogFilter::default(),
            after: None,
        };
        let page = self.admin(request).await;
        page["entries"].as_array().expect("log rows").clone()
    }

    /// `totalResults` of a list request such as `/Users` or `/Groups?filter=...`.
    pub async fn total(&self, path: &str) -> u64 {
        let r = self.get(path).await.expect(200);
        r.body["totalResults"].as_u64().expect("totalResults")
    }

    /// How many users a `userName eq` filter finds.
    pub async fn users_named(&self, user_name: &str) -> u64 {
        let filter = entra_encode(&format!("userName eq \"{user_name}\""));
        self.total(&format!("/Users?filter={filter}")).await
    }
}

/// The id part of a `scimd_<id>_<secret>` token.
pub fn token_id(token: &str) -> String {
    token.split('_').nth(1).expect("token id").to_string()
}

/// Whether `s` has the shape `scimd_<16 hex>_<64 hex>`.
pub fn is_token(s: &str) -> bool {
    let hex = |p: &str, n: usize| {
        p.len() == n && p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match s.strip_prefix("scimd_").and_then(|rest| rest.split_once('_')) {
        Some((id, secret)) => hex(id, 16) && hex(secret, 64),
        None => false,
    }
}

/// The scimd binary, with no config from the environment and plain, info-level logs.
pub fn scimd_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"));
    cmd.env_remove(scimd::config::ENV_CONFIG)
        .env_remove("JOURNAL_STREAM")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    cmd
}

/// The output of a finished command, as text.
#[derive(Debug)]
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a scimd command to completion off the async runtime (an in-process server keeps
/// answering meanwhile). A command still running after two minutes is killed and fails the
/// test rather than hanging it.
pub async fn run_scimd(mut cmd: std::process::Command) -> CliOutput {
    let shown = format!("{cmd:?}");
    tokio::task::spawn_blocking(move || {
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let child = cmd.spawn().expect("spawn scimd");
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(output) => {
                let output = output.expect("scimd output");
                CliOutput {
                    code: output.status.code(),
                    stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                }
            }
            Err(_) => {
                let _ =
                    std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                panic!("{shown} did not finish");
            }
        }
    })
    .await
    .expect("scimd command task")
}

/// Removes ANSI colour sequences from a log line.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes `dir/config.toml`: plain HTTP on a free loopback port, data in `dir/data`, and
/// `extra` (TOML sections) appended; returns its path.
pub fn write_plain_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n[tls]\nmode = \"off\"\n{extra}",
        dir.join("data").display().to_string()
    );
    std::fs::write(&path, text).expect("config");
    path
}

/// Starts `scimd --config CONFIG serve` and waits until it serves.
pub async fn serve_process(config: &Path) -> ServeProcess {
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(config).arg("serve");
    ServeProcess::start(cmd).await
}

/// A `scimd serve` child process. Killed (SIGKILL) when dropped.
pub struct ServeProcess {
    pub child: std::process::Child,
    /// The port from the `scimd is serving … listen=127.0.0.1:PORT` log line.
    pub port: u16,
    /// Every stdout line read so far.
    pub stdout: Vec<String>,
    /// Every stderr line read so far (ANSI removed).
    pub stderr: Vec<String>,
    /// Lines not read yet: (from stdout, line). The reader threads never block on it, so the
    /// child never blocks on a full pipe.
    lines: std::sync::mpsc::Receiver<(bool, String)>,
}

impl ServeProcess {
    /// Spawns `cmd` (a `serve` command) and waits until it logs that it is serving. Fails the
    /// test if the process exits or says nothing within two minutes.
    pub async fn start(cmd: std::process::Command) -> ServeProcess {
        let mut process = ServeProcess::spawn(cmd);
        tokio::task::spawn_blocking(move || {
            let line = process.stderr_line("scimd is serving");
            let port = line.split_once("listen=127.0.0.1:").and_then(|(_, rest)| {
                rest.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u16>().ok()
            });
            process.port = port.unwrap_or_else(|| panic!("no port in {line:?}"));
            process.stderr.push(line);
            process
        })
        .await
        .expect("serve task")
    }

    /// Spawns any long-running scimd command (`serve`, `log --follow`) with its output read
    /// line by line; `port` stays 0.
    pub fn spawn(mut cmd: std::process::Command) -> ServeProcess {
        use std::io::BufRead;
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn scimd");
        let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx2.send((true, line));
            }
        });
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send((false, strip_ansi(&line)));
            }
        });
        ServeProcess { child, port: 0, stdout: Vec::new(), stderr: Vec::new(), lines: rx }
    }

    /// Reads output until a stdout line contains `needle` (stdout and stderr are read by two
    /// threads, so stdout printed before the serving log line may arrive after it) and returns
    /// that line. Fails the test if the process ends or stays silent for two minutes.
    pub fn stdout_line(&mut self, needle: &str) -> String {
        self.line(true, needle)
    }

    /// Reads output until a stderr (log) line not returned before contains `needle`.
    pub fn stderr_line(&mut self, needle: &str) -> String {
        self.line(false, needle)
    }

    fn line(&mut self, want_stdout: bool, needle: &str) -> String {
        let seen = if want_stdout { &mut self.stdout } else { &mut self.stderr };
        if let Some(i) = seen.iter().position(|l| l.contains(needle)) {
            // Returned once: a later call waits for a later line.
            return seen.remove(i);
        }
        loop {
            match self.lines.recv_timeout(Duration::from_secs(120)) {
                Ok((is_stdout, line)) if is_stdout == want_stdout && line.contains(needle) => {
                    return line;
                }
                Ok((true, line)) => self.stdout.push(line),
                Ok((false, line)) => self.stderr.push(line),
                Err(_) => panic!(
                    "no {} line with {needle:?}; stdout: {:?} stderr: {:?}",
                    if want_stdout { "stdout" } else { "stderr" },
                    self.stdout,
                    self.stderr
                ),
            }
        }
    }

    /// Moves every line printed so far into `stdout` and `stderr`, without waiting.
    pub fn read_printed(&mut self) {
        while let Ok((is_stdout, line)) = self.lines.try_recv() {
            if is_stdout { self.stdout.push(line) } else { self.stderr.push(line) }
        }
    }

    /// Kills the process with SIGKILL (no graceful shutdown) and reaps it.
    pub fn kill(&mut self) -> std::process::ExitStatus {
        self.child.kill().expect("kill scimd");
        self.child.wait().expect("wait for scimd")
    }

    /// The Tenant URL of this process.
    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}/scim/v2", self.port)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- Helpers for the users, groups, filters, paging, discovery and IdP-payload tests. ----

impl TestServer {
    /// Sends `method` with `target` (a path under `/scim/v2`, query included) written into
    /// the request line byte for byte. reqwest re-encodes URLs (a raw `"` becomes `%22`), so
    /// this is the only way to send what Entra's legacy engine sends:
    /// `?filter=externalId+eq+"x"`. HTTP/1.1 over TLS, one request per connection.
    pub async fn raw_target(&self, method: &str, target: &str) -> Reply {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let pem = std::fs::read(self.data_dir().join("tls/cert.pem")).expect("generated cert");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&pem).map(|c| c.expect("pem certificate")).collect();
        let trusted: Vec<&CertificateDer<'static>> = certs.iter().collect();
        let mut tls = tls_connect(self.port, "127.0.0.1", &trusted).await;
        let request = format!(
            "{method} /scim/v2{target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Authorization: Bearer {token}\r\nAccept: application/scim+json\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            port = self.port,
            token = self.token
        );
        tls.write_all(request.as_bytes()).await.expect("write request");
        tls.flush().await.expect("flush request");
        let mut raw = Vec::new();
        // A peer that closes without close_notify gives an error after the data: keep the data.
        let read = tls.read_to_end(&mut raw).await;
        assert!(!raw.is_empty(), "no response to {method} {target}: {read:?}");
        parse_http1_response(&raw)
    }
}

/// Parses an HTTP/1.1 response (Content-Length or chunked body) into a [`Reply`].
fn parse_http1_response(raw: &[u8]) -> Reply {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of response headers");
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII response headers");
    let mut payload = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let code: u16 =
        status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status code");
    let mut headers = reqwest::header::HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            reqwest::header::HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    let chunked = headers
        .get("transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        let mut body = Vec::new();
        let mut rest = payload.as_slice();
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
            let size_text = std::str::from_utf8(&rest[..end]).expect("chunk size");
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .expect("hex chunk size");
            rest = &rest[end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        payload = body;
    }
    let text = String::from_utf8(payload).expect("UTF-8 body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    Reply { status: StatusCode::from_u16(code).expect("status"), headers, body, text }
}

/// The `Resources` of a ListResponse.
pub fn resources(reply: &Reply) -> Vec<Value> {
    reply.body["Resources"].as_array().expect("Resources").clone()
}

/// The `userName`s of a ListResponse's resources, sorted.
pub fn user_names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = resources(reply)
        .iter()
        .map(|r| r["userName"].as_str().expect("userName").to_string())
        .collect();
    names.sort();
    names
}

/// The `id`s of a ListResponse's resources, in response order.
pub fn ids(reply: &Reply) -> Vec<String> {
    resources(reply).iter().map(|r| r["id"].as_str().expect("id").to_string()).collect()
}

// ---- Shared vocabulary: schema URNs, paths, bodies, and how resources read back. ----------

/// The core User schema URN.
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URN.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension URN.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The ListResponse message URN.
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The PatchOp message URN.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The path of a user, `/Users/<id>`.
pub fn upath(id: &str) -> String {
    format!("/Users/{id}")
}

/// The path of a group, `/Groups/<id>`.
pub fn gpath(id: &str) -> String {
    format!("/Groups/{id}")
}

/// The `id` in a reply's body; fails the test, showing the body, when there is none.
pub fn id_of(r: &Reply) -> String {
    r.body["id"].as_str().unwrap_or_else(|| panic!("no id: {}", r.text)).to_string()
}

/// A group create body with `displayName` and one `{"value": id}` member per id.
pub fn group_body(display_name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| serde_json::json!({"value": m})).collect();
    serde_json::json!({"schemas": [GROUP], "displayName": display_name, "members": members})
}

/// The member ids of a group body; fails the test when `members` is not an array.
pub fn member_ids(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members array in {group}"))
        .iter()
        .map(|m| m["value"].as_str().expect("member value").to_string())
        .collect()
}

/// The group ids in a user's `groups` (empty when the key is absent).
pub fn group_ids(user: &Value) -> BTreeSet<String> {
    user.get("groups")
        .and_then(Value::as_array)
        .map(|gs| gs.iter().map(|g| g["value"].as_str().expect("value").to_string()).collect())
        .unwrap_or_default()
}

/// A set of ids, to compare with [`member_ids`] and [`group_ids`].
pub fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// How a member reads back: exactly `{"value", "$ref", "type"}`, `kind` "User" or "Group".
pub fn member_shape(s: &TestServer, id: &str, kind: &str) -> Value {
    let endpoint = if kind == "Group" { gpath(id) } else { upath(id) };
    serde_json::json!({"value": id, "$ref": s.url(&endpoint), "type": kind})
}

/// How a user member reads back: [`member_shape`] of kind "User".
pub fn user_member(s: &TestServer, id: &str) -> Value {
    member_shape(s, id, "User")
}

/// How a manager that is a scimd user reads back: `{"value": id, "$ref": "<base>/Users/<id>"}`.
pub fn manager_ref(s: &TestServer, id: &str) -> Value {
    serde_json::json!({"value": id, "$ref": s.url(&upath(id))})
}

/// The `roles` scimd derives, each `{"value": role, "type": "derived"}`, in this order.
pub fn derived(roles: &[&str]) -> Value {
    Value::Array(roles.iter().map(|r| serde_json::json!({"value": r, "type": "derived"})).collect())
}

/// The ListResponse of a list or filter that finds nothing.
pub fn empty_list() -> Value {
    serde_json::json!({"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
}

impl TestServer {
    /// The user with `id` as a GET shows it (which must be 200).
    pub async fn read_user(&self, id: &str) -> Value {
        self.get(&upath(id)).await.expect(200).body
    }

    /// The group with `id` as a GET shows it (which must be 200).
    pub async fn read_group(&self, id: &str) -> Value {
        self.get(&gpath(id)).await.expect(200).body
    }
}

/// `GET /healthz` on an open keep-alive connection (HTTP/1.1, `Host: host`); returns the
/// status code.
pub async fn health_on(
    tls: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
    host: &str,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    tls.flush().await.expect("flush");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tls.read(&mut buf).await.expect("read response");
        assert!(n > 0, "the connection closed: {:?}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_string)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                return text[9..12].parse().expect("status code");
            }
        }
    }
}

/// Runs `scimd --config <config> <args…>` to completion.
pub async fn scimd_at(config: &Path, args: &[&str]) -> CliOutput {
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(config).args(args);
    run_scimd(cmd).await
}

/// A TLS connection to 127.0.0.1:`port` for `server_name`, trusting only `trusted`: the
/// handshake verifies the served chain and name as an IdP's client would.
pub async fn tls_connect(
    port: u16,
    server_name: &str,
    trusted: &[&rustls_pki_types::CertificateDer<'static>],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add((*cert).clone()).expect("root certificate");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from(server_name.to_string()).expect("name");
    connector.connect(name, tcp).await.expect("a verified TLS handshake")
}

/// A SCIM client of a `scimd serve` process over plain HTTP (`write_plain_config`).
#[derive(Clone)]
pub struct ProcessClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ProcessClient {
    pub fn new(port: u16, token: &str) -> ProcessClient {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        ProcessClient {
            http,
            base: format!("http://127.0.0.1:{port}/scim/v2"),
            token: token.to_string(),
        }
    }

    /// Sends one request, retrying a `429`; the status and the body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&self.token);
            if let Some(body) = &body {
                request =
                    request.header("content-type", "application/scim+json").body(body.to_string());
            }
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let text = response.text().await.expect("body");
            if status == 429 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            return (status, serde_json::from_str(&text).unwrap_or(Value::Null));
        }
    }

    pub async fn create(&self, user_name: &str) -> String {
        let (status, body) = self
            .send(reqwest::Method::POST, "/Users", Some(user_body(user_name, json!(null))))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// Every id of `endpoint`, paged.
    pub async fn all_ids(&self, endpoint: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut start = 1;
        loop {
            let path = format!("{endpoint}?startIndex={start}&count=1000&attributes=id");
            let (status, body) = self.send(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, 200, "{body}");
            let page = body["Resources"].as_array().cloned().unwrap_or_default();
            out.extend(page.iter().map(|r| r["id"].as_str().expect("id").to_string()));
            if page.is_empty() {
                return out;
            }
            start += page.len();
        }
    }
}

/// Distinct loopback ports for a child process (a test receiver, pebble) to bind itself,
/// chosen below the kernel's ephemeral range (`ip_local_port_range`, 32768 and up on Linux):
/// a port that `bind(…:0)` handed out and the test then released can be given again to any
/// other test's listener or outgoing connection before the child binds it, which made the
/// child fail with "Address already in use". Ports here are only ever taken by this
/// function, which probes each one (and spreads its picks by process, time and a counter).
pub fn ports_for_children<const N: usize>() -> [u16; N] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PICKS: AtomicU64 = AtomicU64::new(0);
    const LOW: u64 = 20_000;
    const SPAN: u64 = 12_000; // 20000..32000, clear of the ephemeral range
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let mut seed = nanos ^ ((std::process::id() as u64) << 20);
    let mut held: Vec<std::net::TcpListener> = Vec::with_capacity(N);
    while held.len() < N {
        let pick = PICKS.fetch_add(1, Ordering::Relaxed);
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407 + pick);
        let port = (LOW + (seed >> 33) % SPAN) as u16;
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
        }
    }
    std::array::from_fn(|i| held[i].local_addr().expect("addr").port())
}
