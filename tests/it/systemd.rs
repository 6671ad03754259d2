//! Running under systemd, with the real binary: the `sd_notify` protocol (READY, RELOADING with
//! its monotonic time, STOPPING) read from a datagram socket as systemd would, SIGHUP swapping
//! the certificate and the role mapping while an open connection keeps working, a bad file on
//! reload changing nothing (a broken key, an invalid `[events]` receiver), and the shipped unit
//! checked by `systemd-analyze`. A reload also applies `[roles]` and `[scim]`.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use serde_json::json;
use tokio_rustls::client::TlsStream;

use crate::common::{
    ServeProcess, client_trusting, health_on, issue_token, scimd_command, send, tls_connect,
    user_body,
};

/// A certificate for 127.0.0.1 written as PEM files; returns its DER and PEM.
fn write_certificate(dir: &Path, label: &str) -> (CertificateDer<'static>, String) {
    let key = rcgen::KeyPair::generate().expect("key pair");
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("certificate params");
    params.distinguished_name.push(rcgen::DnType::CommonName, label);
    let cert = params.self_signed(&key).expect("self-signed certificate");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write key");
    (cert.der().clone(), cert.pem())
}

fn config(dir: &Path, contractor_roles: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {data:?}\n\
         [tls]\nmode = \"files\"\ncert = {cert:?}\nkey = {key:?}\n\
         [roles]\ndefault = [\"member\"]\nunknown_user_type = \"default\"\n\
         [roles.user_types]\ncontractor = {contractor_roles}\n",
        data = dir.join("data").display().to_string(),
        cert = dir.join("tls/cert.pem").display().to_string(),
        key = dir.join("tls/key.pem").display().to_string(),
    )
}

/// The next notification scimd sent to the socket systemd would own.
fn notification(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("a notification within 60 s");
    String::from_utf8_lossy(&buf[..n]).trim_end().to_string()
}

/// A TLS connection to 127.0.0.1:`port` trusting the given certificates.
async fn connect(
    port: u16,
    trusted: &[&CertificateDer<'static>],
) -> TlsStream<tokio::net::TcpStream> {
    tls_connect(port, "127.0.0.1", trusted).await
}

/// The leaf certificate a new handshake gets.
async fn served_certificate(
    port: u16,
    trusted: &[&CertificateDer<'static>],
) -> CertificateDer<'static> {
    let tls = connect(port, trusted).await;
    let (_, session) = tls.get_ref();
    session.peer_certificates().expect("peer certificates")[0].clone()
}

fn signal(process: &ServeProcess, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &process.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

#[tokio::test]
async fn notifies_systemd_and_reloads_certificate_and_roles_on_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir_all(&tls_dir).expect("tls dir");
    let (first, _) = write_certificate(&tls_dir, "first");
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config(dir.path(), "[\"member\"]")).expect("config");
    let token = issue_token(&dir.path().join("data"), "entra", scimd::store::TokenScope::ReadWrite);
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    notify.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");

    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config_path).arg("serve").env("NOTIFY_SOCKET", &notify_path);
    let mut process = ServeProcess::start(cmd).await;
    assert_eq!(notification(&notify), "READY=1");
    let port = process.port;
    assert_eq!(served_certificate(port, &[&first]).await, first);
    let mut open = connect(port, &[&first]).await;
    assert_eq!(health_on(&mut open, "127.0.0.1").await, 200);

    // A new certificate, a new role mapping and allowed domains, then `systemctl reload`.
    let (second, second_pem) = write_certificate(&tls_dir, "second");
    let reloaded = config(dir.path(), "[\"member\", \"contractors\"]")
        + "[scim]\nallowed_domains = [\"contoso.example\"]\n";
    std::fs::write(&config_path, reloaded).expect("config");
    signal(&process, "HUP");
    let reloading = notification(&notify);
    let mut lines = reloading.lines();
    assert_eq!(lines.next(), Some("RELOADING=1"), "{reloading}");
    let usec = lines.next().and_then(|l| l.strip_prefix("MONOTONIC_USEC=")).expect(&reloading);
    assert!(usec.parse::<u64>().expect("a number") > 0);
    assert_eq!(notification(&notify), "READY=1");
    process.stderr_line("config reloaded");

    // New handshakes get the new certificate; the connection opened before keeps working.
    assert_eq!(served_certificate(port, &[&first, &second]).await, second);
    assert_eq!(health_on(&mut open, "127.0.0.1").await, 200);
    let client = client_trusting(second_pem.as_bytes());
    let base = process.base();
    let body = user_body("kim@contoso.example", json!({"userType": "Contractor"}));
    let created = send(client.post(format!("{base}/Users")).bearer_auth(&token).json(&body)).await;
    let created = created.expect(201);
    let roles: Vec<&str> = created.body["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["value"].as_str())
        .collect();
    assert_eq!(roles, ["member", "contractors"]);
    let outside = user_body("lee@fabrikam.example", json!({}));
    let refused = send(client.post(format!("{base}/Users")).bearer_auth(&token).json(&outside));
    assert_eq!(refused.await.expect(400).scim_type(), "invalidValue");

    // A broken key: the reload fails, says why, and the certificate in use stays.
    std::fs::write(tls_dir.join("key.pem"), "not a key").expect("break key");
    signal(&process, "HUP");
    assert!(notification(&notify).starts_with("RELOADING=1"));
    assert_eq!(notification(&notify), "READY=1");
    let failed = process.stderr_line("reload failed");
    assert!(failed.contains("key.pem"), "{failed}");
    assert_eq!(served_certificate(port, &[&first, &second]).await, second);

    // A setting that needs a restart is named, and the rest still applies.
    let (_, third_pem) = write_certificate(&tls_dir, "third");
    let moved = config(dir.path(), "[\"member\"]").replace("127.0.0.1:0", "127.0.0.1:1");
    std::fs::write(&config_path, moved).expect("config");
    signal(&process, "HUP");
    assert!(notification(&notify).starts_with("RELOADING=1"));
    assert_eq!(notification(&notify), "READY=1");
    let warned = process.stderr_line("takes effect after a restart");
    assert!(warned.contains("listen"), "{warned}");
    process.stderr_line("config reloaded");

    // An invalid [events] receiver is refused like any other mistake: the reload names the
    // line and the key, and the running config (here the role mapping) stays as it was.
    let invalid = config(dir.path(), "[\"member\", \"interns\"]")
        + "[[events.receivers]]\nname = \"Wiki\"\ndelivery = \"poll\"\n";
    std::fs::write(&config_path, invalid).expect("config");
    signal(&process, "HUP");
    assert!(notification(&notify).starts_with("RELOADING=1"));
    assert_eq!(notification(&notify), "READY=1");
    let failed = process.stderr_line("reload failed");
    let at = format!("{}:13: events.receivers.name", config_path.display());
    assert!(failed.contains(&at), "{failed}");
    let client = client_trusting(third_pem.as_bytes());
    let body = user_body("pat@contoso.example", json!({"userType": "Contractor"}));
    let created = send(client.post(format!("{base}/Users")).bearer_auth(&token).json(&body)).await;
    let created = created.expect(201);
    assert_eq!(created.body["roles"][0]["value"], "member", "{}", created.text);
    assert_eq!(created.body["roles"].as_array().map(Vec::len), Some(1), "{}", created.text);

    let stop = std::time::Instant::now();
    signal(&process, "TERM");
    assert_eq!(notification(&notify), "STOPPING=1");
    // Wait without blocking this runtime: the client's connection tasks must run to answer
    // the server's HTTP/2 GOAWAY and close, as a live IdP would.
    let status = loop {
        if let Some(status) = process.child.try_wait().expect("wait") {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    let took = stop.elapsed();
    assert!(took < Duration::from_secs(10), "open connections held the stop for {took:?}");
}

/// The unit as shipped, with ExecStart pointing at this build (verify checks that the
/// program exists).
fn unit_for_this_build(dir: &Path) -> PathBuf {
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/scimd.service"))
            .expect("packaging/scimd.service");
    let path = dir.join("scimd.service");
    std::fs::write(&path, unit.replace("/usr/bin/scimd", env!("CARGO_BIN_EXE_scimd")))
        .expect("unit");
    path
}

fn systemd_analyze(args: &[&str], unit: &Path) -> Option<std::process::Output> {
    let out = std::process::Command::new("systemd-analyze").args(args).arg(unit).output();
    match out {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: systemd-analyze is not installed");
            None
        }
        Err(e) => panic!("systemd-analyze: {e}"),
    }
}

#[test]
fn the_unit_verifies_and_rates_ok_or_better() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_for_this_build(dir.path());
    let Some(verify) = systemd_analyze(&["verify"], &unit) else { return };
    let said = String::from_utf8_lossy(&verify.stderr).to_string();
    assert!(verify.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");

    let Some(security) = systemd_analyze(&["security", "--offline=true", "--no-pager"], &unit)
    else {
        return;
    };
    let report = String::from_utf8_lossy(&security.stdout).to_string();
    let overall = report.lines().find(|l| l.contains("Overall exposure level")).expect(&report);
    let score: f64 = overall
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect(overall);
    println!("{overall}");
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{report}");
}
