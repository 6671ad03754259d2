//! Signing in with a one-time link from `scimd console login`, and signing out.
//!
//! Opening the link (`GET /admin/login?code=…`) only checks the code and shows a "Sign in"
//! button; pressing it (`POST`) uses the code. A mail or chat link scanner that fetches the URL
//! therefore cannot burn it, and the code never sits in a URL the browser keeps as the page
//! a session was started from.

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode, header};
use maud::html;
use serde::Deserialize;

use super::guard::{SignedIn, cleared_cookie, session_cookie};
use super::layout::{self, Nav};
use super::sessions::SignInRefused;
use super::{Console, sessions};
use crate::http::ClientAddr;

/// The actor console actions are logged as.
pub const ACTOR: &str = "console";

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    code: Option<String>,
    expired: Option<String>,
    signed_out: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    code: String,
}

const HOW_TO_SIGN_IN: &str = "On the server, as the user scimd runs as, run:";
const COMMAND: &str = "sudo -u scimd scimd console login";

/// `GET /admin/login`: how to get a link, or (with `code`) the button that uses it.
pub async fn page(
    State(console): State<Console>,
    Extension(ClientAddr(peer)): Extension<ClientAddr>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        let note = if query.signed_out.is_some() {
            Some("You are signed out.")
        } else if query.expired.is_some() {
            Some("Your session ended (30 minutes idle, 12 hours in all, or the server restarted).")
        } else {
            None
        };
        return layout::bare(
            "Sign in",
            html! {
                @if let Some(note) = note { p.notice { (note) } }
                p { "The console has no passwords. " (HOW_TO_SIGN_IN) }
                pre.command { (COMMAND) }
                p { "It prints a link that signs you in once, within 10 minutes." }
            },
        );
    };
    match console.sessions.check_code(&code, peer.ip()) {
        Ok(()) => layout::bare(
            "Sign in",
            html! {
                p { "This link signs you in to the scimd console at " strong { (console.config.public_url) } "." }
                form method="post" action="/admin/login" {
                    input type="hidden" name="code" value=(code);
                    button.primary type="submit" { "Sign in" }
                }
            },
        ),
        Err(refused) => refusal(refused),
    }
}

/// `POST /admin/login`: uses the code, starts a session, and goes to the overview.
pub async fn sign_in(
    State(console): State<Console>,
    Extension(ClientAddr(peer)): Extension<ClientAddr>,
    Form(form): Form<LoginForm>,
) -> Response {
    let session = match console.sessions.sign_in(&form.code, peer.ip()) {
        Ok(session) => session,
        Err(refused) => {
            if refused == SignInRefused::InvalidCode {
                let detail = format!("a sign-in link that does not work, from {}", peer.ip());
                log(&console, "console-sign-in", 403, Some(detail)).await;
            }
            return refusal(refused);
        }
    };
    log(&console, "console-sign-in", 200, Some(format!("from {}", peer.ip()))).await;
    let mut response = Redirect::to("/admin/").into_response();
    set_cookie(&mut response, &session_cookie(&console, &session.cookie_value));
    response
}

/// `GET /admin/logout`: a button (signing out is a POST with the CSRF token).
pub async fn sign_out_page(Extension(signed_in): Extension<SignedIn>) -> Response {
    layout::page(
        "Sign out",
        Nav::Overview,
        &signed_in.csrf,
        html! {
            form method="post" action="/admin/logout" {
                input type="hidden" name="csrf" value=(signed_in.csrf);
                button.primary type="submit" { "Sign out" }
            }
        },
    )
}

/// `POST /admin/logout`: ends this session and removes its cookie.
pub async fn sign_out(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    console.sessions.end(&signed_in.cookie);
    log(&console, "console-sign-out", 200, None).await;
    let mut response = Redirect::to("/admin/login?signed_out=1").into_response();
    set_cookie(&mut response, &cleared_cookie(&console));
    response
}

fn refusal(refused: SignInRefused) -> Response {
    match refused {
        SignInRefused::InvalidCode => layout::error_page(
            StatusCode::FORBIDDEN,
            "This sign-in link does not work",
            &format!(
                "It was used already, it is older than {} minutes, or it is incomplete. \
                 {HOW_TO_SIGN_IN} {COMMAND}, and open the new link it prints.",
                sessions::CODE_TTL.as_secs() / 60
            ),
        ),
        SignInRefused::Throttled => layout::error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins",
            "This address tried too many sign-in links that do not work. Wait 15 minutes, \
             then open a new link from `scimd console login`.",
        ),
    }
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Records a console action in the provisioning log; a failure to write it is logged, not
/// shown (the action itself happened).
pub async fn log(console: &Console, operation: &'static str, status: u16, detail: Option<String>) {
    if let Err(e) = console.service.log_action(ACTOR, operation, status, detail).await {
        tracing::warn!(error = %e, operation, "cannot record a console action in the log");
    }
}
