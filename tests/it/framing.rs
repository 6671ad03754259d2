//! HTTP/1 message framing at the edge (issue 13, item 1): the raw-quote tolerance must never
//! turn one request into two. A body holding a line shaped like a request line with quotes in
//! its target once grew by two bytes per quote, and its tail was answered as a second request
//! (request smuggling behind a proxy). Over TLS and plain HTTP, on the real server.

use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use scimd::config::Config;
use scimd::server::Server;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{TestServer, tls_connect};

/// The crafted request of the issue, then a well-formed `GET /healthz` that closes: a server
/// that keeps the framing answers exactly two responses.
fn crafted(token: Option<&str>) -> Vec<u8> {
    // A complete request of even length 2k, the bytes the rewrite used to push out of the body.
    let mut smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    while !(smuggled.len() + 4).is_multiple_of(2) || smuggled.len() < 60 {
        smuggled.push(b'a');
    }
    smuggled.extend_from_slice(b"\r\n\r\n");
    let k = smuggled.len() / 2;
    let mut body = b"{\nGET /".to_vec();
    body.extend(std::iter::repeat_n(b'"', k));
    body.extend_from_slice(b" x\r\n");
    body.extend_from_slice(&smuggled);
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let mut stream = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    stream.extend_from_slice(&body);
    stream.extend_from_slice(
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    stream
}

/// Sends `request` and reads until the server closes; returns the status of every response.
async fn statuses(mut io: impl AsyncRead + AsyncWrite + Unpin, request: &[u8]) -> Vec<u16> {
    io.write_all(request).await.expect("write");
    io.flush().await.expect("flush");
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), io.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    let text = String::from_utf8_lossy(&raw);
    text.match_indices("HTTP/1.1 ")
        .filter(|(i, _)| *i == 0 || text[..*i].ends_with('\n') || text[..*i].ends_with('}'))
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

async fn tls_to(s: &TestServer) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let pem = std::fs::read(s.data_dir().join("tls/cert.pem")).expect("generated cert");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&pem).map(|c| c.expect("pem")).collect();
    let trusted: Vec<&CertificateDer<'static>> = certs.iter().collect();
    tls_connect(s.port, "127.0.0.1", &trusted).await
}

#[tokio::test]
async fn a_body_shaped_like_a_request_line_is_one_request_over_tls() {
    let s = TestServer::start().await;
    // With a token: the invalid JSON is refused, and nothing else is answered.
    assert_eq!(statuses(tls_to(&s).await, &crafted(Some(&s.token))).await, [400, 200]);
    // Without one: 401, and the smuggled request is not answered either.
    assert_eq!(statuses(tls_to(&s).await, &crafted(None)).await, [401, 200]);
    // Entra's raw quotes in a real request line are still tolerated.
    let reply = s.raw_target("GET", "/Users?filter=userName+eq+\"nobody@example.org\"").await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
}

#[tokio::test]
async fn a_body_shaped_like_a_request_line_is_one_request_over_plain_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
         data_dir = {:?}\n[tls]\nmode = \"off\"\n",
        dir.path().join("data")
    );
    let server = Server::open(Config::parse(&text, None).expect("config")).expect("opens");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        server
            .run(listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("runs")
    });
    let connect =
        || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect") };
    assert_eq!(statuses(connect().await, &crafted(None)).await, [401, 200]);
    let _ = stop.send(());
    running.await.expect("server task");
}
