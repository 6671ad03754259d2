//! The frame every console page shares (head, navigation, sign-out), error pages, and the
//! small formatting helpers the pages use (times, badges, query strings).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use crate::service::ServiceError;

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Connect,
    Users,
    Groups,
    Log,
    Tokens,
    Settings,
}

const NAV: [(Nav, &str, &str); 7] = [
    (Nav::Overview, "/admin/", "Overview"),
    (Nav::Connect, "/admin/connect", "Connect"),
    (Nav::Users, "/admin/users", "Users"),
    (Nav::Groups, "/admin/groups", "Groups"),
    (Nav::Log, "/admin/log", "Log"),
    (Nav::Tokens, "/admin/tokens", "Tokens"),
    (Nav::Settings, "/admin/settings", "Settings"),
];

/// A signed-in page: navigation, the sign-out button (a POST with `csrf`), and `body`.
pub fn page(title: &str, nav: Nav, csrf: &str, body: Markup) -> Response {
    document(
        title,
        html! {
            header.top {
                a.brand href="/admin/" { span.logo { "◆" } " scimd" }
                nav.main {
                    @for (entry, href, label) in NAV {
                        @if entry == nav {
                            a.current href=(href) aria-current="page" { (label) }
                        } @else {
                            a href=(href) { (label) }
                        }
                    }
                }
                form.signout method="post" action="/admin/logout" {
                    input type="hidden" name="csrf" value=(csrf);
                    button.link type="submit" { "Sign out" }
                }
            }
            main { h1 { (title) } (body) }
        },
    )
}

/// A page without navigation (sign-in, errors before sign-in).
pub fn bare(title: &str, body: Markup) -> Response {
    document(
        title,
        html! {
            header.top { a.brand href="/admin/" { span.logo { "◆" } " scimd" } }
            main.narrow { h1 { (title) } (body) }
        },
    )
}

fn document(title: &str, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · scimd" }
                link rel="stylesheet" href="/admin/static/style.css";
                script src="/admin/static/console.js" defer {}
            }
            body { (content) }
        }
    };
    Html(markup.into_string()).into_response()
}

/// An error page with `status`.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut response = bare(title, html! { p.notice.bad { (message) } });
    *response.status_mut() = status;
    response
}

/// A use case's failure as a page: 404 for what does not exist, 400 for bad input, 503/507
/// for a server that cannot answer now, 500 for a fault.
pub fn service_error(error: &ServiceError) -> Response {
    let (status, title) = match error {
        ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
        ServiceError::Invalid(_) | ServiceError::Conflict(_) => {
            (StatusCode::BAD_REQUEST, "Not accepted")
        }
        ServiceError::Busy(_) | ServiceError::Unavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "Busy")
        }
        ServiceError::InsufficientStorage(_) => (StatusCode::INSUFFICIENT_STORAGE, "Disk full"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
    };
    error_page(status, title, &error.to_string())
}

/// Unix seconds as `2026-12-06 21:05 UTC`.
pub fn unix_time(secs: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    let text = humantime::format_rfc3339_seconds(time).to_string();
    format!("{} {} UTC", &text[..10], &text[11..16])
}

/// A log entry's RFC 3339 time (`2026-12-06T21:05:46.123Z`) as `2026-12-06 21:05:46`.
pub fn log_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(day), Some(clock)) => format!("{day} {clock}"),
        _ => rfc3339.to_string(),
    }
}

/// How long ago `secs` was, roughly: `just now`, `5 min ago`, `3 h ago`, `2 days ago`.
pub fn ago(secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let delta = now - secs;
    match delta {
        d if d < 0 => "in the future".into(),
        d if d < 60 => "just now".into(),
        d if d < 3600 => format!("{} min ago", d / 60),
        d if d < 86_400 => format!("{} h ago", d / 3600),
        d => format!("{} days ago", d / 86_400),
    }
}

/// A count with thousands separators: `100,000`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as `12.3 MB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A log entry's outcome as a badge: `ok 201` or `refused 400`.
pub fn outcome(status: u16) -> Markup {
    html! {
        @if status < 400 {
            span.badge.ok { "ok " (status) }
        } @else {
            span.badge.bad { "refused " (status) }
        }
    }
}

/// A log entry's "what happened" cell: its SCIM error type, message, and how roles were
/// decided.
pub fn what_happened(e: &crate::service::LogEntry) -> Markup {
    html! {
        @if let Some(t) = &e.scim_type { code { (t) } " " }
        @if let Some(d) = &e.detail { (d) }
        @if let Some(r) = &e.roles { div.muted { "roles " (r) } }
    }
}

/// A query string from `pairs`, leaving out empty values: `?q=ann&after=x`.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            out.append_pair(k, v);
        }
    }
    let text = out.finish();
    if text.is_empty() { text } else { format!("?{text}") }
}

/// A "copy" button for `value` (console.js copies it; without script the value is selectable).
pub fn copy_button(value: &str) -> Markup {
    html! { button.copy type="button" data-copy=(value) { "Copy" } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes_read_like_a_person_writes_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(12_300_000), "12.3 MB");
        assert_eq!(unix_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(log_time("2026-12-06T21:05:46.123Z"), "2026-12-06 21:05:46");
        assert_eq!(query(&[("q", "a b&c"), ("after", "")]), "?q=a+b%26c");
    }
}
