//! A change-event sink for the benchmark (`bench/events.py`): an RFC 8935 push receiver over
//! plain HTTP on loopback that answers `202` to every well-formed SET as fast as it can and
//! records, for each, when it arrived, the resource id in its `sub_id` and its `jti`.
//!
//! It does not verify signatures (the integration tests do, against the JWKS, with an
//! independent library); it only decodes the payload to find `sub_id.id` and `jti`. It is not
//! part of scimd and must never face a network: it binds where it is told, loopback in the
//! benchmark.
//!
//! ```text
//! cargo build --release --example event_sink
//! target/release/examples/event_sink --listen 127.0.0.1:0 --out sets.tsv [--threads 1]
//! ```
//!
//! The first line on stdout is `listening <address>`. Every POST whose `Content-Type` is
//! `application/secevent+jwt` and whose body is a compact JWS with `jti` and `sub_id.id` in its
//! payload gets `202` and one line in `--out`: `<arrival, ns since the Unix epoch>\t<request
//! path>\t<sub_id.id>\t<jti>`; anything else gets `400` with an RFC 8935 `invalid_request` body
//! naming what was wrong. `GET /stats` answers
//! `{"received":N,"written":N,"first_ns":T,"last_ns":T,"paths":{"/path":N,…}}`, where
//! `written` counts the lines already flushed to `--out`. SIGTERM or SIGINT stops it after the
//! lines received are flushed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// A SET larger than this is refused (scimd's are a few KB, `payload = "full"` included).
const MAX_SET_BYTES: usize = 1024 * 1024;

/// The command line.
struct Options {
    listen: SocketAddr,
    out: PathBuf,
    threads: usize,
}

fn options() -> anyhow::Result<Options> {
    let mut listen = None;
    let mut out = None;
    let mut threads = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let text = value("--listen")?;
                listen = Some(
                    text.parse::<SocketAddr>()
                        .with_context(|| format!("--listen {text:?} is not an address:port"))?,
                );
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--threads" => {
                let text = value("--threads")?;
                threads = text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("--threads {text:?} is not a positive number"))?;
            }
            "-h" | "--help" => {
                println!(
                    "usage: event_sink --listen ADDR:PORT --out FILE [--threads N]\n\
                     An RFC 8935 push receiver for the benchmark: 202 to every SET, one line \
                     per SET in FILE (arrival ns, path, sub_id.id, jti); GET /stats."
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(Options {
        listen: listen.context("--listen ADDR:PORT is required")?,
        out: out.context("--out FILE is required")?,
        threads,
    })
}

/// One SET as recorded.
struct Record {
    arrival_ns: u128,
    path: String,
    subject: String,
    jti: String,
}

/// What the connections share.
struct Sink {
    records: mpsc::UnboundedSender<Record>,
    received: AtomicU64,
    written: Arc<AtomicU64>,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
    paths: Mutex<BTreeMap<String, u64>>,
}

/// The members of a SET's payload the benchmark needs.
#[derive(serde::Deserialize)]
struct Claims {
    jti: String,
    sub_id: Subject,
}

#[derive(serde::Deserialize)]
struct Subject {
    id: String,
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let served = runtime.block_on(serve(options));
    // Connections still open end here; the writer has flushed what was received.
    runtime.shutdown_timeout(Duration::from_secs(2));
    served
}

async fn serve(options: Options) -> anyhow::Result<()> {
    let file = std::fs::File::create(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr().context("no local address")?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening {address}")?;
        stdout.flush()?;
    }
    let (records, pending) = mpsc::unbounded_channel();
    let written = Arc::new(AtomicU64::new(0));
    let writer = tokio::task::spawn_blocking({
        let written = Arc::clone(&written);
        move || write_records(file, pending, &written)
    });
    let sink = Arc::new(Sink {
        records,
        received: AtomicU64::new(0),
        written,
        first_ns: AtomicU64::new(0),
        last_ns: AtomicU64::new(0),
        paths: Mutex::new(BTreeMap::new()),
    });
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            accepted = listener.accept() => {
                let (tcp, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("event_sink: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&sink), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        }
    }
    // Let the writer catch up with what was received, then close its channel by dropping the
    // sink (connections still open hold clones; they end with the process).
    let received = sink.received.load(Ordering::SeqCst);
    for _ in 0..500 {
        if sink.written.load(Ordering::SeqCst) >= received {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let written = sink.written.load(Ordering::SeqCst);
    drop(sink);
    drop(writer);
    if written < received {
        bail!("stopped with {} of {received} SETs not written", received - written);
    }
    Ok(())
}

/// Writes records as they come: what has arrived, then a 20 ms pause to gather the next.
fn write_records(
    file: std::fs::File,
    mut pending: mpsc::UnboundedReceiver<Record>,
    written: &AtomicU64,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    while let Some(first) = pending.blocking_recv() {
        let mut n = 0u64;
        let mut next = Some(first);
        while let Some(r) = next {
            writeln!(out, "{}\t{}\t{}\t{}", r.arrival_ns, r.path, r.subject, r.jti)?;
            n += 1;
            next = pending.try_recv().ok();
        }
        out.flush()?;
        written.fetch_add(n, Ordering::SeqCst);
        // Gather what arrives meanwhile into the next write: one wake-up and one write per
        // 20 ms instead of per SET, so the sink costs the machine it shares with scimd little.
        std::thread::sleep(Duration::from_millis(20));
    }
    out.flush()
}

async fn answer(
    sink: Arc<Sink>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    if request.method() == Method::GET && path == "/stats" {
        return Ok(json(StatusCode::OK, stats(&sink)));
    }
    if request.method() != Method::POST {
        return Ok(refusal("only POST delivers a SET (and GET /stats)"));
    }
    let content_type = request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !content_type.eq_ignore_ascii_case("application/secevent+jwt") {
        return Ok(refusal(&format!(
            "Content-Type must be application/secevent+jwt, not {content_type:?}"
        )));
    }
    let body = match Limited::new(request.into_body(), MAX_SET_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return Ok(refusal(&format!("cannot read the body: {e}"))),
    };
    let arrival_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let claims = match claims_of(&body) {
        Ok(c) => c,
        Err(reason) => return Ok(refusal(&reason)),
    };
    let stamp = u64::try_from(arrival_ns).unwrap_or(u64::MAX);
    let _ = sink.first_ns.compare_exchange(0, stamp, Ordering::SeqCst, Ordering::SeqCst);
    sink.last_ns.fetch_max(stamp, Ordering::SeqCst);
    if let Ok(mut paths) = sink.paths.lock() {
        *paths.entry(path.clone()).or_insert(0) += 1;
    }
    sink.received.fetch_add(1, Ordering::SeqCst);
    let _ =
        sink.records.send(Record { arrival_ns, path, subject: claims.sub_id.id, jti: claims.jti });
    let mut accepted = Response::new(Full::new(Bytes::new()));
    *accepted.status_mut() = StatusCode::ACCEPTED;
    Ok(accepted)
}

/// `jti` and `sub_id.id` from a compact JWS's payload (the signature is not checked).
fn claims_of(body: &[u8]) -> Result<Claims, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the SET is not UTF-8".to_string())?;
    let mut parts = text.trim().split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the SET is not a compact JWS (header.payload.signature)".into());
    };
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| format!("the SET's payload is not base64url: {e}"))?;
    serde_json::from_slice(&decoded)
        .map_err(|e| format!("the SET's payload lacks jti or sub_id.id: {e}"))
}

fn stats(sink: &Sink) -> serde_json::Value {
    let paths = sink.paths.lock().map(|p| p.clone()).unwrap_or_default();
    serde_json::json!({
        "received": sink.received.load(Ordering::SeqCst),
        "written": sink.written.load(Ordering::SeqCst),
        "first_ns": sink.first_ns.load(Ordering::SeqCst),
        "last_ns": sink.last_ns.load(Ordering::SeqCst),
        "paths": paths,
    })
}

/// RFC 8935 §2.4's error answer.
fn refusal(description: &str) -> Response<Full<Bytes>> {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"err": "invalid_request", "description": description}),
    )
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
