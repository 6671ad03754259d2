//! Connections an attacker can hold, over the real accept loop: a silent connection is closed
//! by the first-byte and header deadlines (plain HTTP and TLS); at `[limits] max_connections`
//! a new client is served by shedding the oldest silent connection; the per-address cap;
//! an idle keep-alive connection is closed after `idle_timeout_secs`; and HTTP/1.1 requests
//! without exactly one `Host` header get 400.
//!
//! Deadlines are configured small; no test asserts how long anything took, only that the
//! close (or the answer) happened before a generous guard timeout.

use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use scimd::config::Config;
use scimd::server::Server;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::common::{TestServer, tls_connect};

/// How long a test waits for something the server must do within a second or two.
const GUARD: Duration = Duration::from_secs(20);

/// scimd over plain HTTP (`tls.mode = "off"`, the reverse-proxy setup) with `limits` as its
/// `[limits]` section.
struct Plain {
    port: u16,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

impl Plain {
    async fn start(limits: &str) -> Plain {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\n[tls]\nmode = \"off\"\n\
             [limits]\n{limits}\n",
            dir.path().join("data").display().to_string()
        );
        let server = Server::open(Config::parse(&text, None).expect("config")).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            server
                .run(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let plain = Plain { port, _dir: dir, _stop: stop };
        assert_eq!(plain.health().await, 200);
        plain
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).await.unwrap()
    }

    /// `GET /healthz` from a new client on a new connection.
    async fn health(&self) -> u16 {
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        let r = tokio::time::timeout(GUARD, client.get(url).send()).await;
        r.expect("the new client was not served").expect("healthz").status().as_u16()
    }

    /// Sends `request` on a new connection and returns the status and the JSON body.
    async fn exchange(&self, request: &str) -> (u16, Value) {
        let mut tcp = self.connect().await;
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tokio::time::timeout(GUARD, tcp.read_to_end(&mut raw)).await.unwrap().unwrap();
        let text = String::from_utf8(raw).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

/// Waits until the server closes `conn` (EOF or reset), failing after [`GUARD`].
async fn closed_by_server(conn: &mut (impl AsyncRead + Unpin)) {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(GUARD, conn.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open"),
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

/// Whether `conn` is still open: nothing to read and no EOF within a short look.
async fn still_open(conn: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1];
    tokio::time::timeout(Duration::from_millis(300), conn.peek(&mut buf)).await.is_err()
}

#[tokio::test]
async fn a_silent_plain_connection_is_closed_at_the_first_byte_deadline() {
    let s = Plain::start("first_byte_timeout_secs = 1\nheader_read_timeout_secs = 30").await;
    let mut silent = s.connect().await;
    closed_by_server(&mut silent).await;
}

#[tokio::test]
async fn a_plain_connection_that_trickles_its_first_request_is_closed_at_the_header_deadline() {
    let s = Plain::start("first_byte_timeout_secs = 1\nheader_read_timeout_secs = 2").await;
    let mut slow = s.connect().await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow.write_all(b"X").await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(GUARD, trickle).await;
    closed_by_server(&mut slow).await;
}

#[tokio::test]
async fn a_tls_connection_silent_after_its_handshake_is_closed_at_the_header_deadline() {
    let s = TestServer::start_with("[limits]\nheader_read_timeout_secs = 2\n").await;
    let pem = std::fs::read(s.data_dir().join("tls/cert.pem")).unwrap();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&pem).map(|c| c.unwrap()).collect();
    let trusted: Vec<&CertificateDer<'static>> = certs.iter().collect();
    let mut tls = tls_connect(s.port, "127.0.0.1", &trusted).await;
    closed_by_server(&mut tls).await;
}

#[tokio::test]
async fn at_the_connection_cap_a_new_client_is_served_by_shedding_the_oldest_silent_one() {
    let s = Plain::start(
        "max_connections = 8\nfirst_byte_timeout_secs = 60\nheader_read_timeout_secs = 60",
    )
    .await;
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(s.connect().await);
    }
    // Let the server accept all eight before the new client arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.health().await, 200);
    closed_by_server(&mut silent[0]).await;
    assert!(still_open(&mut silent[7]).await, "only as many are shed as needed");
    // Shedding goes on as long as clients come: a second and third are served too.
    assert_eq!(s.health().await, 200);
    assert_eq!(s.health().await, 200);
}

#[tokio::test]
async fn the_per_address_cap_closes_the_extra_connections_from_one_address() {
    let s = Plain::start(
        "max_connections_per_address = 2\nfirst_byte_timeout_secs = 60\n\
         header_read_timeout_secs = 60",
    )
    .await;
    let mut first = s.connect().await;
    let mut second = s.connect().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = s.connect().await;
    closed_by_server(&mut first).await;
    assert!(still_open(&mut second).await);
    assert!(still_open(&mut third).await);
    // A client from that address with a real request is still served.
    assert_eq!(s.health().await, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let s = Plain::start("idle_timeout_secs = 1\nheader_read_timeout_secs = 60").await;
    let mut conn = s.connect().await;
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(GUARD, conn.read(&mut buf)).await.unwrap().unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    // The response was complete (keep-alive): what follows is the close.
    assert!(!String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase().contains("connection: close"));
    closed_by_server(&mut conn).await;
}

#[tokio::test]
async fn an_http_1_1_request_without_exactly_one_host_header_is_400() {
    let s = Plain::start("").await;
    let error = "urn:ietf:params:scim:api:messages:2.0:Error";
    let (status, body) = s.exchange("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["schemas"][0], error, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Host"), "{body}");
    let (status, body) = s
        .exchange("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["schemas"][0], error, "{body}");
    let (status, _) = s
        .exchange("GET /scim/v2/Users HTTP/1.1\r\nHost: a\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 400, "two Host headers are refused before authentication too");

    let (status, _) =
        s.exchange("GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 200);
    let (status, _) = s.exchange("GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200, "HTTP/1.0 has no Host requirement");
}
