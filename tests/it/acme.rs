//! `tls.mode = "acme"` against a real ACME CA: Debian's `pebble` on loopback, with the real
//! scimd binary. Pebble validates `localhost` with TLS-ALPN-01 on scimd's own HTTPS port (its
//! `tlsPort` is scimd's port, and it resolves names with the system resolver), so the test
//! sees what an admin would: issuance, a verified HTTPS connection serving SCIM, renewal
//! without a restart (an open keep-alive connection carries on), and a restart that serves the
//! stored certificate without ordering again (nor on a SIGHUP, which leaves the ACME
//! certificate alone). `check-config` accepts and reports the mode first.
//!
//! Pebble issues certificates valid for 20 days here. The first run renews when fewer than 30
//! days remain, so every check (each second) renews; the restart renews at 10 days, so the
//! stored certificate is kept.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::client::TlsStream;

use crate::common::{
    ServeProcess, health_on, issue_token, ports_for_children, run_scimd, scimd_command, send,
    tls_connect,
};

const PEBBLE: &str = "/usr/bin/pebble";
/// The name certified: pebble's VA resolves it through /etc/hosts.
const DOMAIN: &str = "localhost";

/// A running pebble; killed when dropped.
struct Pebble {
    child: Child,
    log: PathBuf,
    /// The root pebble issues under (it makes a new one at every start).
    root: CertificateDer<'static>,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// How many certificates pebble has issued so far, by its log.
    fn issued(&self) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines().filter(|l| l.contains("Issued certificate serial")).count()
    }
}

/// A test CA and, signed by it, the certificate pebble serves its API with (for 127.0.0.1).
/// Writes `api-root.pem`, `api-cert.pem`, `api-key.pem` into `dir`; returns the root's PEM.
fn pebble_api_certificate(dir: &Path) -> String {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "scimd test: pebble API root");
    let ca_cert = ca.self_signed(&ca_key).expect("root");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = leaf.signed_by(&key, &issuer).expect("leaf");
    std::fs::write(dir.join("api-root.pem"), ca_cert.pem()).expect("write");
    std::fs::write(dir.join("api-cert.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("api-key.pem"), key.serialize_pem()).expect("write");
    ca_cert.pem()
}

/// Starts pebble (its API on `api_port`, management on `mgmt_port`, validating TLS-ALPN-01 on
/// `tls_port`) and waits until it hands out its root.
async fn start_pebble(
    dir: &Path,
    api_port: u16,
    mgmt_port: u16,
    http_port: u16,
    tls_port: u16,
) -> Pebble {
    assert!(
        Path::new(PEBBLE).exists(),
        "{PEBBLE} is missing: this test runs Debian's ACME test server. Install it with \
         `apt-get install pebble` (scripts/setup does)"
    );
    let api_root = pebble_api_certificate(dir);
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{api_port}"),
        "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
        "certificate": dir.join("api-cert.pem"),
        "privateKey": dir.join("api-key.pem"),
        "httpPort": http_port,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
        "certificateValidityPeriod": 20 * 86_400
    }});
    let config_path = dir.join("pebble.json");
    std::fs::write(&config_path, config.to_string()).expect("pebble config");
    let log = dir.join("pebble.log");
    let out = std::fs::File::create(&log).expect("pebble log");
    let child = Command::new(PEBBLE)
        .arg("-config")
        .arg(&config_path)
        .current_dir(dir)
        // No artificial validation delays, no rejected nonces, and a fresh validation for
        // every order (so each renewal answers TLS-ALPN-01 again).
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start pebble");
    let mut pebble = Pebble { child, log, root: CertificateDer::from(Vec::new()) };

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(api_root.as_bytes()).expect("pem"))
        .use_rustls_tls()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(20);
    let root_pem = loop {
        let url = format!("https://127.0.0.1:{mgmt_port}/roots/0");
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            break r.text().await.expect("root");
        }
        if let Some(status) = pebble.child.try_wait().expect("wait") {
            panic!(
                "pebble exited ({status}): {}",
                std::fs::read_to_string(&pebble.log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "pebble did not start: {}",
            std::fs::read_to_string(&pebble.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    pebble.root = CertificateDer::from_pem_slice(root_pem.as_bytes()).expect("pebble root");
    pebble
}

fn scimd_config(dir: &Path, port: u16, api_port: u16, renew_days: u32) -> String {
    format!(
        "listen = \"127.0.0.1:{port}\"\npublic_url = \"https://{DOMAIN}:{port}\"\n\
         data_dir = {data:?}\n\
         [tls]\nmode = \"acme\"\nacme_directory = \"https://127.0.0.1:{api_port}/dir\"\n\
         acme_ca_root = {root:?}\nacme_email = \"admin@example.org\"\n\
         acme_renew_days = {renew_days}\nacme_check_interval_secs = 1\n",
        data = dir.join("data").display().to_string(),
        root = dir.join("api-root.pem").display().to_string(),
    )
}

/// A TLS connection to scimd for `localhost`, trusting only pebble's root: it succeeds only
/// when scimd serves a certificate pebble issued for the name.
async fn connect(port: u16, root: &CertificateDer<'static>) -> TlsStream<tokio::net::TcpStream> {
    tls_connect(port, DOMAIN, &[root]).await
}

/// The serial number of the leaf certificate of a connection.
fn serial_of(tls: &TlsStream<tokio::net::TcpStream>) -> String {
    let leaf = &tls.get_ref().1.peer_certificates().expect("peer certificates")[0];
    serial(leaf)
}

fn serial(cert: &CertificateDer<'_>) -> String {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).expect("certificate");
    parsed.raw_serial_as_string()
}

/// The serial of the certificate a new handshake gets.
async fn served_serial(port: u16, root: &CertificateDer<'static>) -> String {
    serial_of(&connect(port, root).await)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Stops scimd with SIGTERM and waits for it to exit, without blocking this runtime.
async fn terminate(process: &mut ServeProcess) {
    let status = Command::new("kill")
        .args(["-TERM", &process.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = process.child.try_wait().expect("wait") {
            assert!(status.success(), "{status:?}");
            return;
        }
        assert!(Instant::now() < deadline, "scimd did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn acme_issues_serves_renews_and_keeps_a_certificate_from_pebble() {
    let dir = tempfile::tempdir().expect("tempdir");
    let [port, api_port, mgmt_port, http_port] = ports_for_children::<4>();
    let pebble = start_pebble(dir.path(), api_port, mgmt_port, http_port, port).await;
    let token = issue_token(&dir.path().join("data"), "entra", scimd::store::TokenScope::ReadWrite);
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, scimd_config(dir.path(), port, api_port, 30)).expect("config");
    let mut check = scimd_command();
    check.arg("--config").arg(&config_path).arg("check-config");
    let checked = run_scimd(check).await;
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    assert!(checked.stderr.contains("tls         acme"), "{}", checked.stderr);
    assert!(checked.stderr.contains("domains     localhost"), "{}", checked.stderr);

    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config_path).arg("serve");
    let mut process = ServeProcess::start(cmd).await;
    assert_eq!(process.port, port);
    process.stderr_line("serving a temporary self-signed one");

    // (1) Issuance: the CA validated the name through scimd's own listener, and a client that
    // trusts only pebble's root now completes a verified handshake for the name.
    let issued = process.stderr_line("ACME: certificate issued");
    assert!(issued.contains("domains=[\"localhost\"]"), "{issued}");
    let mut open = connect(port, &pebble.root).await;
    let first = serial_of(&open);
    let chain = open.get_ref().1.peer_certificates().expect("chain").len();
    assert!(chain >= 2, "scimd serves the leaf and pebble's intermediate, not {chain}");

    // (2) What scimd keeps: account, key and chain, readable by its user only.
    let acme_dir = dir.path().join("data/acme");
    assert_eq!(mode(&acme_dir), 0o700);
    for file in ["account.json", "key.pem", "cert.pem"] {
        assert_eq!(mode(&acme_dir.join(file)), 0o600, "{file}");
    }
    let stored = std::fs::read(acme_dir.join("cert.pem")).expect("cert.pem");
    let stored_chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&stored).collect::<Result<_, _>>().expect("PEM chain");
    assert!(stored_chain.len() >= 2, "the stored chain has the intermediate");

    // (3) Serving: a SCIM request over a connection verified against pebble's root.
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(&pebble.root).expect("root"))
        .use_rustls_tls()
        .resolve(DOMAIN, ([127, 0, 0, 1], port).into())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let users =
        send(client.get(format!("https://{DOMAIN}:{port}/scim/v2/Users")).bearer_auth(&token))
            .await;
    assert_eq!(users.status.as_u16(), 200, "{}", users.text);
    assert_eq!(users.body["totalResults"], 0);
    assert_eq!(health_on(&mut open, "localhost").await, 200);

    // (4) Renewal without a restart: new handshakes get a new certificate (a new serial),
    // and the keep-alive connection opened before it keeps working.
    process.stderr_line("ACME: certificate renewed");
    let deadline = Instant::now() + Duration::from_secs(20);
    let renewed = loop {
        let now = served_serial(port, &pebble.root).await;
        if now != first {
            break now;
        }
        assert!(Instant::now() < deadline, "the served certificate never changed from {first}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(health_on(&mut open, "localhost").await, 200);
    assert_eq!(serial_of(&open), first, "the open connection keeps its certificate");
    let users =
        send(client.get(format!("https://{DOMAIN}:{port}/scim/v2/Users")).bearer_auth(&token))
            .await;
    assert_eq!(users.status.as_u16(), 200, "{}", users.text);
    drop(open);
    terminate(&mut process).await;
    assert_ne!(renewed, first);

    // (5) A restart with the certificate not yet due (10 days): the stored certificate is
    // served at once and kept; scimd orders nothing.
    let stored = std::fs::read(acme_dir.join("cert.pem")).expect("cert.pem");
    let stored_serial =
        serial(&CertificateDer::from_pem_slice(&stored).expect("stored certificate"));
    std::fs::write(&config_path, scimd_config(dir.path(), port, api_port, 10)).expect("config");
    let issued_before = pebble.issued();
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config_path).arg("serve");
    let mut process = ServeProcess::start(cmd).await;
    let reused = process.stderr_line("ACME: serving the stored certificate");
    assert!(reused.contains(&stored_serial), "{reused}");
    assert_eq!(served_serial(port, &pebble.root).await, stored_serial);
    // A reload leaves the ACME certificate alone; a changed acme setting waits for a restart
    // (renewing at 30 days would order at once).
    std::fs::write(&config_path, scimd_config(dir.path(), port, api_port, 30)).expect("config");
    let status = Command::new("kill")
        .args(["-HUP", &process.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let warned = process.stderr_line("takes effect after a restart");
    assert!(warned.contains("tls.acme_*"), "{warned}");
    let reloaded = process.stderr_line("config reloaded");
    assert!(reloaded.contains("certificate=false"), "{reloaded}");
    // Several checks (one a second) later: still the same certificate, no order.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(served_serial(port, &pebble.root).await, stored_serial);
    process.read_printed();
    let ordered: Vec<&String> = process.stderr.iter().filter(|l| l.contains("ordering")).collect();
    assert!(ordered.is_empty(), "scimd ordered again after the restart: {ordered:?}");
    assert_eq!(pebble.issued(), issued_before, "pebble issued a certificate after the restart");
    terminate(&mut process).await;
}
