//! A real headless browser for the console's tests: Debian's `chromium`, driven through
//! `chromedriver` (package `chromium-driver`) over WebDriver with fantoccini.
//!
//! [`Browser::start`] runs `chromedriver --port=P` on a port from
//! [`ports_for_children`](crate::common::ports_for_children), in a process group of its own,
//! waits until it answers `GET /status`, and opens a session with headless chromium. The
//! browser trusts exactly one certificate, the test server's self-signed one: its key is
//! passed as `--ignore-certificate-errors-spki-list` (the base64 SHA-256 of the
//! certificate's DER SubjectPublicKeyInfo), so any other certificate still gets chromium's
//! interstitial. The profile lives in a temporary directory of the browser's own.
//!
//! Every method panics with the selector, the page's URL and what WebDriver said, like the
//! rest of tests/it. [`Browser::close`] ends the session (chromium quits); dropping a
//! `Browser`, closed or not (a panicking test), kills chromedriver's whole process group,
//! chromium and its helpers with it.
//!
//! Screenshots go to `<CARGO_TARGET_DIR or target>/console-screenshots/<name>.png`.

#![allow(dead_code)] // The harness: the console tests use the rest.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::{TestServer, ports_for_children};

/// How long [`Browser::wait_for`] waits for an element.
const WAIT: Duration = Duration::from_secs(10);

/// A cookie as the browser holds it.
#[derive(Debug, Clone)]
pub struct BrowserCookie {
    pub name: String,
    pub value: String,
    pub secure: bool,
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`, when chromedriver reports it.
    pub same_site: Option<String>,
    pub path: Option<String>,
}

/// A chromedriver with one headless-chromium session.
pub struct Browser {
    client: Option<Client>,
    chromedriver: Child,
    /// chromedriver's log, chromium's stderr included (`--enable-chrome-logs`).
    log: PathBuf,
    /// The chromium profile and the log; removed after chromedriver's group is killed.
    dir: tempfile::TempDir,
}

/// The full path of `name` on PATH, or a panic that says how to install it.
fn on_path(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()).unwrap_or_else(
        || {
            panic!(
                "`{name}` is not on PATH: the console's browser tests drive Debian's headless \
                 chromium through chromedriver. Install them with `apt-get install chromium \
                 chromium-driver` (scripts/setup does; `{name}` is in package `{package}`)"
            )
        },
    )
}

/// The base64 SHA-256 of the SubjectPublicKeyInfo (DER) of the first certificate in
/// `cert_pem`: what chromium's `--ignore-certificate-errors-spki-list` takes.
pub fn spki_sha256_base64(cert_pem: &[u8]) -> String {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem).expect("a PEM certificate");
    let cert = pem.parse_x509().expect("an X.509 certificate");
    let spki_der = cert.tbs_certificate.subject_pki.raw;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(spki_der))
}

/// Where screenshots go: `<CARGO_TARGET_DIR or target>/console-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        // The target directory this test binary was built into (target/tmp's parent).
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target")),
    };
    target.join("console-screenshots")
}

impl Browser {
    /// A browser that trusts `server`'s certificate (and no other self-signed one).
    pub async fn for_server(server: &TestServer) -> Browser {
        Browser::start(&server.data_dir().join("tls/cert.pem")).await
    }

    /// Starts chromedriver and a headless chromium that trusts exactly the certificate in
    /// the PEM file `trusted_cert`.
    pub async fn start(trusted_cert: &Path) -> Browser {
        let chromium = on_path("chromium", "chromium");
        let chromedriver = on_path("chromedriver", "chromium-driver");
        let pem = std::fs::read(trusted_cert)
            .unwrap_or_else(|e| panic!("read {}: {e}", trusted_cert.display()));
        let spki = spki_sha256_base64(&pem);

        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("chromedriver.log");
        let profile = dir.path().join("profile");
        let [port] = ports_for_children::<1>();
        let child = {
            use std::os::unix::process::CommandExt as _;
            Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .arg("--enable-chrome-logs")
                // chromium's scratch directories (and, with --disable-dev-shm-usage, its
                // shared memory) go into the browser's own directory, removed even after a kill.
                .env("TMPDIR", dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own group, so that Drop kills chromium and its helpers with it.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()))
        };
        let mut browser = Browser { client: None, chromedriver: child, log, dir };
        let webdriver = format!("http://127.0.0.1:{port}");
        browser.wait_until_ready(&webdriver).await;

        let args = [
            "--headless=new".to_string(),
            // CI runs as root, where chromium refuses to start with its sandbox.
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--window-size=1280,900".to_string(),
            // A container's /dev/shm can be tiny; chromium crashes when it fills up.
            "--disable-dev-shm-usage".to_string(),
            format!("--user-data-dir={}", profile.display()),
            format!("--ignore-certificate-errors-spki-list={spki}"),
            "--no-first-run".to_string(),
            "--no-default-browser-check".to_string(),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("new WebDriver session: {e}\n{}", browser.log_text()));
        browser.client = Some(client);
        browser
    }

    /// Waits until chromedriver answers `GET /status` with `ready`.
    async fn wait_until_ready(&mut self, webdriver: &str) {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{webdriver}/status")).send().await
                && let Ok(body) = r.json::<serde_json::Value>().await
                && body["value"]["ready"] == true
            {
                return;
            }
            if let Some(status) = self.chromedriver.try_wait().expect("wait") {
                panic!("chromedriver exited ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer {webdriver}/status within 20 s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last part of chromedriver's log (chromium's stderr included), for panic messages.
    pub fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.client().goto(url).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client().current_url().await.expect("current URL").to_string()
    }

    /// The one element `css` selects (the first, if more do).
    pub async fn find(&self, css: &str) -> Element {
        match self.client().find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("find {css:?} on {}: {e}", self.current_url().await),
        }
    }

    /// Every element `css` selects, none being no error.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        match self.client().find_all(Locator::Css(css)).await {
            Ok(elements) => elements,
            Err(e) => panic!("find all {css:?} on {}: {e}", self.current_url().await),
        }
    }

    /// The rendered text of the element `css` selects (as a person sees it).
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        match element.text().await {
            Ok(text) => text,
            Err(e) => panic!("text of {css:?} on {}: {e}", self.current_url().await),
        }
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        if let Err(e) = element.click().await {
            panic!("click {css:?} on {}: {e}", self.current_url().await);
        }
    }

    /// Clears the field `css` selects and types `value` into it.
    pub async fn fill(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        if let Err(e) = element.clear().await {
            panic!("clear {css:?} on {}: {e}", self.current_url().await);
        }
        if let Err(e) = element.send_keys(value).await {
            panic!("type into {css:?} on {}: {e}", self.current_url().await);
        }
    }

    /// Submits the form `css` selects with its first submit button, as a click would.
    pub async fn submit_form(&self, css: &str) {
        let form = match self.client().form(Locator::Css(css)).await {
            Ok(form) => form,
            Err(e) => panic!("find form {css:?} on {}: {e}", self.current_url().await),
        };
        if let Err(e) = form.submit().await {
            panic!("submit form {css:?} on {}: {e}", self.current_url().await);
        }
    }

    /// Resizes the window (a phone: 390 × 844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client().set_window_size(width, height).await.expect("set the window size");
    }

    /// Runs `js` in the page (`return …;` gives its value).
    pub async fn script(&self, js: &str) -> serde_json::Value {
        self.client().execute(js, vec![]).await.unwrap_or_else(|e| panic!("script {js:?}: {e}"))
    }

    /// The current DOM, serialized.
    pub async fn page_source(&self) -> String {
        self.client().source().await.expect("page source")
    }

    /// The cookies the browser holds for the current page.
    pub async fn cookies(&self) -> Vec<BrowserCookie> {
        let cookies = self.client().get_all_cookies().await.expect("cookies");
        cookies
            .iter()
            .map(|c| BrowserCookie {
                name: c.name().to_string(),
                value: c.value().to_string(),
                secure: c.secure().unwrap_or(false),
                http_only: c.http_only().unwrap_or(false),
                same_site: c.same_site().map(|s| s.to_string()),
                path: c.path().map(str::to_string),
            })
            .collect()
    }

    /// Saves a PNG of the viewport as `console-screenshots/<name>.png` under the target
    /// directory and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        assert!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !name.starts_with('.'),
            "screenshot name {name:?}: use letters, digits, '-', '_' and '.'"
        );
        let png = self.client().screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Waits up to 10 s for an element that `css` selects, and returns it.
    pub async fn wait_for(&self, css: &str) -> Element {
        match self.client().wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "no {css:?} within {} s on {}: {e}\n{}",
                WAIT.as_secs(),
                self.current_url().await,
                self.page_source().await
            ),
        }
    }

    /// Ends the session: chromium quits, then chromedriver is killed (as on drop).
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.expect("close the WebDriver session");
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Without a close(), chromium is still running: the group kill takes it along.
        let group = rustix::process::Pid::from_child(&self.chromedriver);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.chromedriver.wait();
        // Let the killed helpers go before the profile directory is removed under them.
        let deadline = Instant::now() + Duration::from_secs(2);
        while rustix::process::test_kill_process_group(group).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[tokio::test]
async fn the_harness_drives_chromium_over_https() {
    let s = TestServer::start().await;
    let other = TestServer::start().await;
    let browser = Browser::for_server(&s).await;

    let url = format!("https://127.0.0.1:{}/healthz", s.port);
    browser.goto(&url).await;
    assert_eq!(browser.current_url().await, url);
    let text = browser.text("body").await;
    assert!(text.contains(r#""status":"ok""#), "no healthz body (a certificate error?): {text}");

    let path = browser.screenshot("harness-healthz").await;
    let png = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());

    // The trust is that one key, not "ignore every certificate error": the other server's
    // certificate (another key) gets chromium's interstitial, never the page.
    let other_url = format!("https://127.0.0.1:{}/healthz", other.port);
    browser.goto(&other_url).await;
    assert_eq!(browser.current_url().await, other_url);
    let source = browser.page_source().await;
    assert!(
        !source.contains(r#""status":"ok""#),
        "an untrusted certificate was accepted: {source}"
    );
    assert!(source.contains("ERR_CERT_AUTHORITY_INVALID"), "no certificate error: {source}");

    browser.close().await;
}
