//! The metrics listener: `GET /metrics` over plain HTTP on `[metrics] listen`, apart from the
//! SCIM port so that a scraper needs no bearer token and the IdP-facing port shows nothing
//! more. Keep it on loopback or a private network: it names tokens and the directory's size.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::metrics::{self, Metrics};
use crate::service::Service;

/// Scrapes served at once; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 16;

/// Answers scrapes on `listener` until the task is dropped, which also ends the scrapes in
/// progress (they hold the service, and so the data file).
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, service: Service) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let (tcp, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (metrics, service) = (Arc::clone(&metrics), service.clone());
        connections.spawn(async move {
            let _permit = permit;
            let answer = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (metrics, service) = (Arc::clone(&metrics), service.clone());
                async move { Ok::<_, Infallible>(respond(&req, metrics, service).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(tcp), answer)
                .await;
        });
    }
}

async fn respond(
    req: &Request<Incoming>,
    metrics: Arc<Metrics>,
    service: Service,
) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return text(StatusCode::NOT_FOUND, "only /metrics is served here\n".into());
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into());
    }
    let rendered = tokio::task::spawn_blocking(move || metrics.render(&service)).await;
    match rendered {
        Ok(Ok(body)) => {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            response
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read the store for /metrics");
            text(StatusCode::SERVICE_UNAVAILABLE, format!("cannot read the store: {e}\n"))
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("metrics task failed: {e}\n")),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain"));
    response
}
