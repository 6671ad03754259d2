//! The HTTP application: the axum router for `/scim/v2`, `/healthz`,
//! `/.well-known/jwks.json` and the change-event poll endpoint `/events/{receiver}` (with the
//! admin console's routes merged in, built by `console`), its middleware, and the translation
//! between HTTP and service calls.
//!
//! This module never names hyper, rustls or redb: `server` feeds it connections and `service`
//! does the work. Layer order (outermost first): access log, the `Host` check, panic guard,
//! request timeout; authentication is a route layer on the SCIM routes, and the poll handler
//! checks its own token.

mod auth;
mod discovery;
mod error;
mod events;
mod query;
mod resources;
mod response;
mod scim_json;
mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;

use crate::delivery::Poller;
use crate::domain::text;
use crate::metrics::Metrics;
use crate::service::{self, Service};

pub use error::HttpError;
use resources::{groups, users};
use state::AppState;

/// The client's address, put in each request's extensions by the listener (the console's
/// `allowed_networks` and its sign-in throttle read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// Builds the application; `poller` serves `/events/{receiver}` (absent: that endpoint
/// answers 404), and `console` the admin console's routes under `/admin/` (absent:
/// `[console] enabled = false`).
pub fn router(
    service: Service,
    metrics: Arc<Metrics>,
    max_body_bytes: usize,
    request_timeout: Duration,
    poller: Option<Arc<Poller>>,
    console: Option<Router>,
) -> Router {
    let state = AppState { service, max_body_bytes, poller };
    let scim = Router::new()
        .route("/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{name}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route(
            "/Users/{id}",
            get(users::get_one).put(users::replace).delete(users::delete).patch(users::patch),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/", get(groups::list).post(groups::create))
        .route("/Groups/.search", post(groups::search))
        .route(
            "/Groups/{id}",
            get(groups::get_one).put(groups::replace).delete(groups::delete).patch(groups::patch),
        )
        .route("/.search", post(resources::search_all))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_token))
        .route_layer(middleware::from_fn(name_route));

    let app = Router::new()
        .route("/healthz", get(health).route_layer(middleware::from_fn(name_route)))
        .route("/.well-known/jwks.json", get(jwks).route_layer(middleware::from_fn(name_route)))
        .route(
            "/events/{receiver}",
            post(events::poll).route_layer(middleware::from_fn(name_route)),
        )
        .nest("/scim/v2", scim)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .merge(console.unwrap_or_default().route_layer(middleware::from_fn(name_route)))
        .layer(middleware::from_fn_with_state(request_timeout, deadline))
        .layer(CatchPanicLayer::custom(|_| {
            HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "internal error; see scimd's log",
            )
            .into_response()
        }))
        .layer(middleware::from_fn(one_host))
        .layer(middleware::from_fn_with_state(metrics, access_log));
    // Routing is exact; the endpoint's case is made canonical before it.
    Router::new()
        .fallback_service(tower::ServiceBuilder::new().map_request(canonical_endpoint).service(app))
}

/// The SCIM endpoints, as routed.
const ENDPOINTS: [&str; 5] =
    ["Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas"];

/// Spells the endpoint after `/scim/v2/` as it is routed when the request spells it in
/// another case (`/scim/v2/users`: Microsoft's SCIM Validator and some IdPs' test tooling
/// send that; RFC 7644 names them in CamelCase, and a client that lower-cases them means the
/// same thing). Anything else is left as it is.
fn canonical_endpoint(mut req: Request) -> Request {
    let uri = req.uri();
    let Some(rest) = uri.path().strip_prefix("/scim/v2/") else { return req };
    let (segment, tail) = rest.split_once('/').map_or((rest, None), |(s, t)| (s, Some(t)));
    let Some(canonical) =
        ENDPOINTS.iter().find(|e| e.eq_ignore_ascii_case(segment) && **e != segment)
    else {
        return req;
    };
    let mut path_and_query = format!("/scim/v2/{canonical}");
    if let Some(tail) = tail {
        path_and_query.push('/');
        path_and_query.push_str(tail);
    }
    if let Some(query) = uri.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return req,
    }
    if let Ok(rewritten) = http::Uri::from_parts(parts) {
        *req.uri_mut() = rewritten;
    }
    req
}

/// HTTP/1.1 requires exactly one `Host` header (RFC 9112 §3.2: a server must answer 400 to a
/// request without one or with several); hyper accepts both, so the check is here. A proxy
/// or cache in front may pick a different `Host` than ours when there are two. HTTP/1.0 has
/// no such rule and HTTP/2 carries `:authority` instead.
async fn one_host(req: Request, next: Next) -> Response {
    if req.version() != http::Version::HTTP_11 {
        return next.run(req).await;
    }
    let detail = match req.headers().get_all(http::header::HOST).iter().count() {
        1 => return next.run(req).await,
        0 => "an HTTP/1.1 request needs a Host header",
        _ => "an HTTP/1.1 request must have exactly one Host header; this one has several",
    };
    HttpError::new(StatusCode::BAD_REQUEST, None, detail).into_response()
}

/// `/healthz`: unauthenticated; answers 200 when the store can be read. While the disk is
/// full it still answers 200, with `{"status":"degraded","reason":"disk full"}`: reads work and
/// writes resume by themselves once space is freed, so a load balancer or an orchestrator
/// that pulled or restarted the (usually only) instance would turn a partial outage into a
/// full one and fix nothing; monitoring reads the body or `scimd_disk_full`.
async fn health(State(state): State<AppState>) -> Response {
    let service = &state.service;
    let (status, body) = match service.check_readable() {
        Ok(()) if service.disk_full() => {
            (StatusCode::OK, json!({"status": "degraded", "reason": "disk full"}))
        }
        Ok(_) => (StatusCode::OK, json!({"status": "ok"})),
        Err(e) => {
            tracing::error!(error = %e, "health check cannot read the store");
            (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "store unavailable"}))
        }
    };
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// `/.well-known/jwks.json`: unauthenticated, the public keys that verify scimd's change
/// events (every key still published, newest last). Receivers may cache it for 5 minutes and
/// fetch it again when a SET names a `kid` they do not have.
async fn jwks(State(state): State<AppState>) -> Response {
    let Some(keys) = state.service.signing_keys() else {
        return HttpError::not_found("this server publishes no event signing keys").into_response();
    };
    let body = keys.read().unwrap_or_else(std::sync::PoisonError::into_inner).jwks().to_string();
    let headers = [
        (http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json")),
        (http::header::CACHE_CONTROL, http::HeaderValue::from_static("max-age=300")),
    ];
    (StatusCode::OK, headers, body).into_response()
}

async fn not_found(req: Request) -> HttpError {
    HttpError::not_found(format!(
        "no such endpoint: {}; SCIM endpoints are under /scim/v2 (Users, Groups, Schemas, \
         ResourceTypes, ServiceProviderConfig)",
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// Answers 408 with a SCIM error when a request outlives `[limits] request_timeout_secs`,
/// only if it made no change: a write the writer has already taken is waited for and its
/// result answered (see `service::deadline`).
async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match service::deadline::within(limit, next.run(req)).await {
        Ok(response) => response,
        Err(service::deadline::TimedOut) => HttpError::new(
            StatusCode::REQUEST_TIMEOUT,
            None,
            format!(
                "the request took longer than {} s ([limits] request_timeout_secs); no change                  was made: retry it",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// One line per request: method, path, status, latency, token name. Never the token, never
/// the query string (it can hold user names).
async fn access_log(State(metrics): State<Arc<Metrics>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // The path is client text (an id may carry percent-decoded-looking bytes or bidi
    // characters): escaped like every line a person reads.
    let path = text::escape(req.uri().path()).into_owned();
    let route = RouteSlot::default();
    req.extensions_mut().insert(route.clone());
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let token = response.extensions().get::<auth::TokenName>().map_or("-", |t| t.0.as_str());
    // One line per request, as fields: readable in the journal, structured in JSON logs.
    let ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0;
    tracing::info!(target: "scimd::access", %method, path, status, ms, token, "request");
    let route = route.0.get().map_or("unmatched", MatchedPath::as_str);
    metrics.record_request(route, method.as_str(), status, elapsed);
    response
}

/// Where routing leaves the matched route (`/scim/v2/Users/{id}`, the metrics' label) for
/// `access_log`, which runs outside routing: filled before the handler runs, so a request cut
/// short by the deadline or a panic still counts under its route.
#[derive(Clone, Default)]
struct RouteSlot(Arc<std::sync::OnceLock<MatchedPath>>);

async fn name_route(matched: MatchedPath, req: Request, next: Next) -> Response {
    if let Some(slot) = req.extensions().get::<RouteSlot>() {
        let _ = slot.0.set(matched);
    }
    next.run(req).await
}
