//! The admin console under `/admin/` (issue 17): server-rendered pages where an admin connects
//! the IdP and sees what was provisioned, and why.
//!
//! [`router`] is merged into the main application by `http`, so the console shares its TLS,
//! access log (which logs paths, never query strings: a sign-in code stays out of it), `Host`
//! check, panic guard and request deadline. Its own layers: [`guard::edge`] (the
//! `allowed_networks` check, the same-origin check on every POST, and the security headers on
//! every response) and [`guard::require_session`] (a session cookie, and the CSRF token on
//! every POST). Pages call `service` and never name `store`; templates are `maud` macros,
//! so every interpolation is HTML-escaped.

mod directory;
mod guard;
mod layout;
mod log_page;
mod overview;
pub mod sessions;
mod sign_in;
mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, header};

use crate::config::Config;
use crate::service::Service;
pub use sessions::Sessions;

/// When the certificate served now expires (Unix seconds); `None` without TLS.
pub type CertificateExpiry = Arc<dyn Fn() -> Option<i64> + Send + Sync>;

/// What the console's pages need: the use cases, the sessions, and the config at start
/// (the role mapping and `[scim]` are read from `service`, which a reload updates).
#[derive(Clone)]
pub struct Console {
    pub service: Service,
    pub sessions: Arc<Sessions>,
    pub config: Arc<Config>,
    pub certificate: Option<CertificateExpiry>,
}

impl Console {
    /// The session cookie's name: `__Host-` prefixed (Secure, Path=/, no Domain, so no other
    /// host or path can set or shadow it) when the console is reached over HTTPS.
    fn cookie_name(&self) -> &'static str {
        if self.https() { "__Host-scimd_console" } else { "scimd_console" }
    }

    fn https(&self) -> bool {
        self.config.public_url.starts_with("https://")
    }

    /// `scheme://host[:port]` of `public_url`: what a same-origin POST's `Origin` says.
    fn origin(&self) -> &str {
        let url = self.config.public_url.as_str();
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        match url[after_scheme..].find('/') {
            Some(i) => &url[..after_scheme + i],
            None => url,
        }
    }
}

/// The console's routes, for `http::router` to merge.
pub fn router(console: Console) -> Router {
    let signed_in = Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(overview::overview))
        .route("/admin/connect", get(overview::connect))
        .route("/admin/connect/last-seen", get(overview::last_seen))
        .route("/admin/users", get(directory::users))
        .route("/admin/users/{id}", get(directory::user))
        .route("/admin/groups", get(directory::groups))
        .route("/admin/groups/{id}", get(directory::group))
        .route("/admin/log", get(log_page::log))
        .route("/admin/tokens", get(tokens::list).post(tokens::create))
        .route("/admin/tokens/{id}/revoke", get(tokens::confirm_revoke).post(tokens::revoke))
        .route("/admin/settings", get(overview::settings))
        .route("/admin/logout", get(sign_in::sign_out_page).post(sign_in::sign_out))
        .route_layer(from_fn_with_state(console.clone(), guard::require_session));
    Router::new()
        .route("/admin/login", get(sign_in::page).post(sign_in::sign_in))
        .route("/admin/static/style.css", get(style))
        .route("/admin/static/console.js", get(script))
        .merge(signed_in)
        // A form body larger than any console form is refused before a handler reads it.
        .route_layer(DefaultBodyLimit::max(guard::MAX_FORM_BYTES))
        .route_layer(from_fn_with_state(console.clone(), guard::edge))
        .with_state(console)
}

const STYLE: &str = include_str!("static/style.css");
const SCRIPT: &str = include_str!("static/console.js");

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
