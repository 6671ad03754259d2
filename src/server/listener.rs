//! The accept loop and the per-connection handler, split the mini-redis way.
//!
//! [`Listener`] owns the listening socket and the connection cap: it accepts (waiting and
//! retrying when `accept` fails, e.g. out of file descriptors, instead of ending the server) and
//! hands each connection a permit. [`Handler::run`] owns one connection in its own task: the TLS
//! handshake (with a timeout, so one stalled client never blocks others), then hyper-util's auto
//! HTTP/1.1 + HTTP/2 builder with a timer (so the header-read timeout really fires). On shutdown
//! the listener stops accepting and open connections drain for at most `shutdown_grace`.
//!
//! This file must not know about SCIM: it serves whatever axum `Router` it is given.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

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
}

impl Shared {
    fn new(tls: Option<Arc<ServerConfig>>, app: Router, limits: &Limits) -> Shared {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
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
        }
    }
}

/// The listening socket and the connection cap.
struct Listener {
    listener: TcpListener,
    /// One permit per open connection: when none is left, accepting waits (new connections
    /// queue in the kernel) until a connection ends.
    permits: Arc<Semaphore>,
    graceful: GracefulShutdown,
    shared: Arc<Shared>,
}

impl Listener {
    /// Accepts connections forever, each served by its own [`Handler`] task. Returns only if
    /// the semaphore is closed (it never is); shutdown is the caller dropping this future.
    async fn run(&mut self) {
        loop {
            let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
                return;
            };
            let (tcp, peer) = self.accept().await;
            let handler = Handler {
                tcp,
                peer,
                shared: Arc::clone(&self.shared),
                watcher: self.graceful.watcher(),
                _permit: permit,
            };
            tokio::spawn(handler.run());
        }
    }

    /// The next connection. An `accept` error (out of file descriptors and the like) is
    /// waited out rather than ending the server.
    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    return (tcp, peer);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// One accepted connection, served in its own task.
struct Handler {
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    watcher: Watcher,
    /// Held until the connection ends, which frees its place under the cap.
    _permit: OwnedSemaphorePermit,
}

impl Handler {
    /// Does the TLS handshake (if any), then serves HTTP until the connection ends.
    async fn run(self) {
        let Handler { tcp, peer, shared, watcher, _permit } = self;
        let app = shared.app.clone();
        let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let Some(acceptor) = shared.acceptor.clone() else {
            let io = TokioIo::new(QuoteTolerant::new(tcp, true));
            let conn = shared.builder.serve_connection_with_upgrades(io, service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
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
        let io = TokioIo::new(QuoteTolerant::new(stream, http1));
        let conn = shared.builder.serve_connection_with_upgrades(io, service);
        if let Err(e) = watcher.watch(conn.into_owned()).await {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}
