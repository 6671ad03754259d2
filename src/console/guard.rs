//! The console's edge: who may reach it (`[console] allowed_networks`), which POSTs it takes
//! (same origin, and with the session's CSRF token), which session a request belongs to, and
//! the security headers on every response.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use sha2::{Digest, Sha256};

use super::Console;
use super::layout;
use crate::http::ClientAddr;

/// Form bodies the console reads at most (its largest form is a token name).
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// No script but the console's own file, no framing, no form posting elsewhere, no `<base>`.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; object-src 'none'";

/// The signed-in session a request belongs to, for the handlers behind [`require_session`].
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The cookie value (the session's only id), for sign-out.
    pub cookie: String,
    /// The token every form of this session carries.
    pub csrf: String,
}

/// The client's address, as the listener saw it.
fn client_ip(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions.get::<ClientAddr>().map(|c| c.0.ip())
}

/// Every console request: 404 outside `allowed_networks`, 403 for a POST from another origin,
/// then the security headers on whatever is answered.
pub async fn edge(State(console): State<Console>, req: Request, next: Next) -> Response {
    let allowed = client_ip(req.extensions()).is_some_and(|ip| console.config.console.allows(ip));
    if !allowed {
        // The same answer as a path that does not exist: the console is not advertised.
        return with_headers((StatusCode::NOT_FOUND, "not found\n").into_response());
    }
    if req.method() == Method::POST && !same_origin(req.headers(), console.origin()) {
        return with_headers(layout::error_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not sent from this console's own pages (its Origin is another \
             site), so it was refused. Open the console at its own address and try again.",
        ));
    }
    with_headers(next.run(req).await)
}

/// Whether a POST comes from the console's own pages. Browsers say so in `Sec-Fetch-Site`
/// (every current one sends it); its answer decides. Without it, an `Origin` must be ours.
/// (Under `Referrer-Policy: no-referrer` a browser's POST carries `Origin: null` even from
/// our own page, so `null` is refused only where `Sec-Fetch-Site` is missing.) The CSRF token
/// is checked besides, for every POST behind sign-in.
fn same_origin(headers: &HeaderMap, ours: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    headers
        .get(header::ORIGIN)
        .is_none_or(|v| v.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(ours)))
}

fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The pages behind sign-in: without a live session, to the sign-in page; a POST must carry
/// the session's CSRF token in its form (`csrf`), checked here for every handler.
pub async fn require_session(State(console): State<Console>, req: Request, next: Next) -> Response {
    let Some(cookie) = cookie(req.headers(), console.cookie_name()) else {
        return Redirect::to("/admin/login").into_response();
    };
    let Some(view) = console.sessions.session(&cookie) else {
        return Redirect::to("/admin/login?expired=1").into_response();
    };
    let signed_in = SignedIn { cookie, csrf: view.csrf };
    let mut req = if req.method() == Method::POST {
        match checked_form(req, &signed_in.csrf).await {
            Ok(req) => req,
            Err(response) => return response,
        }
    } else {
        req
    };
    req.extensions_mut().insert(signed_in);
    next.run(req).await
}

/// Reads a POST's form body, checks its `csrf` field against `expected`, and gives the request
/// back with the same body for the handler's `Form` extractor.
async fn checked_form(req: Request, expected: &str) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
        layout::error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Form too large",
            &format!("A console form is at most {MAX_FORM_BYTES} bytes."),
        )
    })?;
    let sent = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v);
    if !sent.is_some_and(|sent| same_secret(sent.as_ref(), expected)) {
        return Err(layout::error_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form has no valid CSRF token for your session (it was made by another page, \
             or before you signed in again), so nothing was changed. Reload the page and try \
             again.",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Compares two secrets through their digests, so the time taken says nothing of either.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that starts a session (no `Max-Age`: it ends with the browser, and
/// the server ends it sooner by itself).
pub fn session_cookie(console: &Console, value: &str) -> String {
    let secure = if console.https() { "; Secure" } else { "" };
    format!("{}={value}; Path=/; HttpOnly; SameSite=Strict{secure}", console.cookie_name())
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie(console: &Console) -> String {
    let secure = if console.https() { "; Secure" } else { "" };
    format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}", console.cookie_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_wants_our_origin_and_no_cross_site_fetch() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h, "https://scim.example.org"), "no Origin: the CSRF token decides");
        h.insert(header::ORIGIN, HeaderValue::from_static("https://scim.example.org"));
        assert!(same_origin(&h, "https://scim.example.org"));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h, "https://scim.example.org"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h, "https://scim.example.org"));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h, "https://scim.example.org"));
        // What chromium sends from our own page under Referrer-Policy: no-referrer.
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&h, "https://scim.example.org"));
    }

    #[test]
    fn cookie_finds_the_named_one_among_several() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; __Host-scimd_console=xyz; b=2"));
        assert_eq!(cookie(&h, "__Host-scimd_console").as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "scimd_console"), None);
    }
}
