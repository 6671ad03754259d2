//! The accept loop and the per-connection handler, split the mini-redis way.
//!
//! [`Listener`] owns the listening socket and the connection cap: it accepts (waiting and
//! retrying with backoff when `accept` fails, e.g. out of file descriptors, instead of ending
//! the server) and hands each connection a permit. At the cap it does not make the new client
//! wait: it sheds a connection that holds a place without using it (see `connections.rs`).
//! [`Handler::run`] owns one connection in its own task: the deadlines every transport gets
//! from accept (a first byte within `first_byte_timeout`, the first request's headers within
//! `header_read_timeout`, then no more than `idle_timeout` without a request), the TLS
//! handshake (with its own timeout), then hyper-util's auto HTTP/1.1 + HTTP/2 builder with a
//! timer. On shutdown the listener stops accepting and open connections drain for at most
//! `shutdown_grace`.
//!
//! This file must not know about SCIM: it serves whatever axum `Router` it is given.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, oneshot};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::connections::{ConnState, Registration, Registry, RequestGuard};
use super::request_line::QuoteTolerant;
use crate::config::Limits;

/// Serves `app` on `listener` until `shutdown` completes, then drains open connections for at
/// most `limits.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let shared = Arc::new(Shared::new(tls, app, &limits));
    let mut server = Listener {
        listener,
        permits: Arc::new(Semaphore::new(limits.max_connections)),
        permits_total: limits.max_connections,
        registry: Registry::new(limits.max_connections_per_address),
        shed_report: ShedReport::default(),
        graceful: GracefulShutdown::new(),
        shared,
    };
    tokio::select! {
        () = server.run() => {}
        () = shutdown => {}
    }
    let Listener { listener, graceful, .. } = server;
    drop(listener);
    tracing::info!("stopped accepting; draining open connections");
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            grace_secs = limits.shutdown_grace.as_secs(),
            "connections still open after the shutdown grace period; closing them"
        );
    }
    Ok(())
}

/// What every connection's handler needs, built once.
struct Shared {
    acceptor: Option<TlsAcceptor>,
    app: Router,
    builder: auto::Builder<TokioExecutor>,
    tls_handshake_timeout: Duration,
    first_byte_timeout: Duration,
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

impl Shared {
    fn new(tls: Option<Arc<ServerConfig>>, app: Router, limits: &Limits) -> Shared {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            // hyper starts this timer when a connection goes idle, so it bounds the wait for
            // the next request's headers as well; the handler's own deadlines are the tighter
            // ones (the first request from accept, later ones `idle_timeout` after the last
            // response), and this stays as hyper's backstop.
            .header_read_timeout(limits.header_read_timeout.max(limits.idle_timeout))
            .max_buf_size(64 * 1024);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(30))
            .max_concurrent_streams(64);
        Shared {
            acceptor: tls.map(TlsAcceptor::from),
            app,
            builder,
            tls_handshake_timeout: limits.tls_handshake_timeout,
            first_byte_timeout: limits.first_byte_timeout,
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
        }
    }
}

/// The listening socket, the connection cap and the registry of live connections.
struct Listener {
    listener: TcpListener,
    /// One permit per open connection. At the cap, a connection is shed to free one; only when
    /// every connection has a request in progress does accepting wait for one to end.
    permits: Arc<Semaphore>,
    permits_total: usize,
    registry: Arc<Registry>,
    shed_report: ShedReport,
    graceful: GracefulShutdown,
    shared: Arc<Shared>,
}

/// Shedding in the journal: at most one line a minute, so an attack (or a cap set too low)
/// is visible without a line per connection.
#[derive(Default)]
struct ShedReport {
    since_last: u64,
    last: Option<Instant>,
}

impl ShedReport {
    fn shed(&mut self, max_connections: usize) {
        self.since_last += 1;
        let now = Instant::now();
        if self.last.is_none_or(|last| now >= last + Duration::from_secs(60)) {
            tracing::warn!(
                max_connections,
                shed = self.since_last,
                "connection cap reached: closed connections that held a place without a \
                 request in progress, to serve new clients (many silent or slow clients, or \
                 [limits] max_connections too low)"
            );
            self.since_last = 0;
            self.last = Some(now);
        }
    }
}

impl Listener {
    /// Accepts connections forever, each served by its own [`Handler`] task. Returns only if
    /// the semaphore is closed (it never is); shutdown is the caller dropping this future.
    async fn run(&mut self) {
        loop {
            let (tcp, peer) = self.accept().await;
            let accepted = Instant::now();
            let permit = match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => permit,
                Err(TryAcquireError::Closed) => return,
                Err(TryAcquireError::NoPermits) => {
                    // A new client is served at once rather than queued behind connections
                    // that hold a place and send nothing.
                    if self.registry.shed_one() {
                        self.shed_report.shed(self.permits_total);
                    } else {
                        tracing::debug!(
                            "connection cap reached and every connection has a request in \
                             progress; the new one waits"
                        );
                    }
                    match Arc::clone(&self.permits).acquire_owned().await {
                        Ok(permit) => permit,
                        Err(_) => return,
                    }
                }
            };
            let Ok((registration, shed)) = self.registry.register(peer.ip()) else {
                tracing::debug!(%peer, "refused: [limits] max_connections_per_address reached");
                continue;
            };
            let handler = Handler {
                tcp,
                peer,
                accepted,
                shared: Arc::clone(&self.shared),
                watcher: self.graceful.watcher(),
                registration,
                shed,
                _permit: permit,
            };
            tokio::spawn(handler.run());
        }
    }

    /// The next connection. An `accept` error (out of file descriptors and the like) is
    /// waited out, with a backoff from 10 ms to 1 s, rather than ending the server: a short
    /// first wait keeps a brief descriptor shortage from stalling every new client for 1 s.
    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        let mut backoff = Duration::from_millis(10);
        loop {
            match self.listener.accept().await {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    return (tcp, peer);
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        retry_ms = backoff.as_millis(),
                        "accept failed; retrying"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

/// One accepted connection, served in its own task.
struct Handler {
    tcp: TcpStream,
    peer: SocketAddr,
    accepted: Instant,
    shared: Arc<Shared>,
    watcher: Watcher,
    /// Its place in the registry, left when the connection ends.
    registration: Registration,
    /// Completes when the registry sheds this connection to make room.
    shed: oneshot::Receiver<()>,
    /// Held until the connection ends, which frees its place under the cap.
    _permit: OwnedSemaphorePermit,
}

/// How a connection's deadlines ended it.
#[derive(Debug)]
enum Expired {
    FirstRequest,
    Idle,
}

impl Handler {
    /// Serves the connection until it ends, is shed, or misses a deadline; each of those
    /// drops the connection, which closes the socket.
    async fn run(self) {
        let Handler { tcp, peer, accepted, shared, watcher, registration, shed, _permit } = self;
        let state = Arc::clone(&registration.state);
        tokio::select! {
            biased;
            _ = shed => {
                tracing::debug!(%peer, "shed to make room under [limits] max_connections");
            }
            expired = deadlines(&state, accepted, &shared) => {
                tracing::debug!(%peer, ?expired, "closed: deadline passed");
            }
            () = serve_connection(tcp, peer, accepted, &shared, watcher, &state) => {}
        }
        drop(registration);
    }
}

/// Completes when the connection has missed a deadline: no complete first request head
/// within `header_read_timeout` of accept (TLS handshake included), or no request for
/// `idle_timeout` after the last response. (The first-byte deadline is in
/// [`serve_connection`], which owns the socket.)
///
/// It sleeps until the next moment a deadline could pass and then looks at the connection's
/// state, rather than being woken by each request: requests cost it nothing, and a deadline is
/// still met to the timer's precision (the idle one counts from the last response).
async fn deadlines(state: &ConnState, accepted: Instant, shared: &Shared) -> Expired {
    let first_request = accepted + shared.header_read_timeout;
    let first_idle_check = accepted + shared.idle_timeout;
    loop {
        let now = Instant::now();
        let next = if !state.has_had_a_request() {
            if now >= first_request {
                return Expired::FirstRequest;
            }
            // A first request that has come and gone may reach its idle deadline earlier.
            if now < first_idle_check { first_request.min(first_idle_check) } else { first_request }
        } else {
            match state.idle_since() {
                // A request in progress is bounded by the request timeout, not here: look again
                // an idle timeout later.
                None => now + shared.idle_timeout,
                Some(since) => {
                    let deadline = Instant::from_std(since) + shared.idle_timeout;
                    if now >= deadline {
                        return Expired::Idle;
                    }
                    deadline
                }
            }
        };
        tokio::time::sleep_until(next).await;
    }
}

/// Waits for the first byte, does the TLS handshake (if any) and answers an ACME validation,
/// then serves HTTP ([`serve_http`]) on the socket or the TLS stream until the connection ends.
async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    accepted: Instant,
    shared: &Shared,
    watcher: Watcher,
    state: &Arc<ConnState>,
) {
    // A client sends at once (a ClientHello, or a request line): one that connects and stays
    // silent only holds a place. A peek, not `readable()`: readiness can be reported before
    // any byte is there. EOF or an error also ends the wait; the handshake or hyper reports it.
    let mut byte = [0u8; 1];
    let first_byte = tcp.peek(&mut byte);
    if tokio::time::timeout_at(accepted + shared.first_byte_timeout, first_byte).await.is_err() {
        tracing::debug!(%peer, "closed: no first byte within [limits] first_byte_timeout_secs");
        return;
    }
    let Some(acceptor) = shared.acceptor.clone() else {
        return serve_http(tcp, true, peer, shared, watcher, state).await;
    };
    let stream =
        match tokio::time::timeout(shared.tls_handshake_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        };
    let alpn = stream.get_ref().1.alpn_protocol();
    if alpn == Some(super::acme::ACME_TLS_ALPN) {
        // A CA validating a name (TLS-ALPN-01): the handshake was the answer, and such a
        // connection carries no HTTP.
        tracing::debug!(%peer, "answered an ACME TLS-ALPN-01 validation");
        let mut stream = stream;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
        return;
    }
    let http1 = alpn != Some(b"h2");
    serve_http(stream, http1, peer, shared, watcher, state).await;
}

/// Serves HTTP on `stream` (the socket itself, or TLS over it) until the connection ends.
/// `http1` says whether it speaks HTTP/1, whose request lines get the quote rewriter.
async fn serve_http<S>(
    stream: S,
    http1: bool,
    peer: SocketAddr,
    shared: &Shared,
    watcher: Watcher,
    state: &Arc<ConnState>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = shared.app.clone();
    let state = Arc::clone(state);
    let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        // Counted from the request head until its response body is sent, so the registry and
        // the idle deadline know the connection is in use.
        let guard = state.start_request();
        let app = app.clone();
        let mut req = req.map(Body::new);
        // The console's `allowed_networks` and its sign-in throttle read the peer address.
        req.extensions_mut().insert(crate::http::ClientAddr(peer));
        async move {
            let response = app.oneshot(req).await?;
            Ok::<_, std::convert::Infallible>(
                response.map(|body| Body::new(Tracked { body, _guard: guard })),
            )
        }
    });
    let io = TokioIo::new(QuoteTolerant::new(stream, http1));
    let conn = shared.builder.serve_connection_with_upgrades(io, service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// A response body that holds its request's [`RequestGuard`] until hyper has sent it (or
/// dropped it).
struct Tracked {
    body: Body,
    _guard: RequestGuard,
}

impl hyper::body::Body for Tracked {
    type Data = <Body as hyper::body::Body>::Data;
    type Error = <Body as hyper::body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
