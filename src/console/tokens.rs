//! Bearer tokens (`/admin/tokens`): the list, creating one (its secret shown on that one
//! response only), and revoking one after a confirmation page. Both changes are logged with
//! the actor `console` in the same write as the change.

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::html;
use serde::Deserialize;

use super::Console;
use super::guard::SignedIn;
use super::layout::{self, Nav, copy_button};
use super::overview::{scope_text, token_table, tokens_seen};
use super::sign_in::ACTOR;
use crate::service::TokenScope;

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    name: String,
    /// `read-write` or `read-only`.
    #[serde(default)]
    scope: String,
    /// Days until it expires; empty for never.
    #[serde(default)]
    expires_in_days: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    revoked: String,
}

/// Days a console-made token may live at most, when an expiry is given.
const MAX_EXPIRY_DAYS: u32 = 3650;

/// `GET /admin/tokens`.
pub async fn list(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<ListQuery>,
) -> Response {
    let tokens = tokens_seen(&console).await;
    let body = html! {
        @if !query.revoked.is_empty() {
            p.notice { "Token " strong { (query.revoked) } " is revoked: requests bearing it are refused." }
        }
        section { (token_table(&tokens, true)) }
        section.card {
            h2 { "Create a token" }
            form.stack method="post" action="/admin/tokens" {
                input type="hidden" name="csrf" value=(signed_in.csrf);
                label { "Name (shown in the log) " input type="text" name="name" required maxlength="100" placeholder="entra-prod"; }
                label { "Scope "
                    select name="scope" {
                        option value="read-write" selected { "read-write (an IdP provisioning)" }
                        option value="read-only" { "read-only (reports, checks)" }
                    }
                }
                label { "Expires after (days, empty for never) " input type="number" name="expires_in_days" min="1" max=(MAX_EXPIRY_DAYS); }
                button.primary type="submit" { "Create token" }
            }
        }
    };
    layout::page("Tokens", Nav::Tokens, &signed_in.csrf, body)
}

/// `POST /admin/tokens`: issues the token and shows its secret, once.
pub async fn create(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
    Form(form): Form<CreateForm>,
) -> Response {
    let scope = match form.scope.as_str() {
        "read-only" => TokenScope::ReadOnly,
        "read-write" | "" => TokenScope::ReadWrite,
        other => {
            return not_accepted(&format!("scope '{other}' is not one of read-write, read-only"));
        }
    };
    let expires = match form.expires_in_days.trim() {
        "" => None,
        days => match days.parse::<u32>() {
            Ok(d) if (1..=MAX_EXPIRY_DAYS).contains(&d) => Some(d),
            _ => {
                return not_accepted(&format!(
                    "expires after: give a whole number of days from 1 to {MAX_EXPIRY_DAYS}, or leave it empty"
                ));
            }
        },
    };
    if form.name.trim().is_empty() || form.name.chars().count() > 100 {
        return not_accepted("a token needs a name of 1 to 100 characters");
    }
    let issued = match console.service.issue_token_as(ACTOR, form.name, scope, expires).await {
        Ok(issued) => issued,
        Err(e) => {
            return not_accepted(&e.to_string());
        }
    };
    let tenant_url = console.config.tenant_url();
    let body = html! {
        p.notice.warn { "Copy the token now. It is shown on this page only; scimd keeps a hash of it, not the token." }
        section.card {
            h2 { (issued.name) " · " (scope_text(&issued.scope)) }
            p.secret { code #token { (issued.token) } " " (copy_button(&issued.token)) }
            @if let Some(e) = issued.expires { p.muted { "Expires " (layout::unix_time(e)) "." } }
            p { "In Entra ID or Okta: Tenant URL " code { (tenant_url) } " " (copy_button(&tenant_url)) ", Secret Token: the token above." }
        }
        p { a href="/admin/tokens" { "← All tokens" } " · " a href="/admin/connect" { "Connect your IdP" } }
    };
    layout::page("Token created", Nav::Tokens, &signed_in.csrf, body)
}

/// A form the console does not accept, and why: 400.
fn not_accepted(why: &str) -> Response {
    layout::error_page(StatusCode::BAD_REQUEST, "Not accepted", why)
}

/// `GET /admin/tokens/{id}/revoke`: what revoking does, and the button that does it.
pub async fn confirm_revoke(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    let tokens = tokens_seen(&console).await;
    let Some((token, last)) = tokens.iter().find(|(t, _)| t.id == id) else {
        return layout::error_page(StatusCode::NOT_FOUND, "Not found", "no token with this id");
    };
    let body = html! {
        p.notice.warn {
            "Revoke " strong { (token.name) } " (" (scope_text(&token.scope)) ")? Every request bearing it is refused from then on"
            @if let Some(at) = last { "; its last request was " (layout::ago(*at)) }
            ". An IdP using it stops provisioning until it is given a new token."
        }
        form.inline method="post" action={ "/admin/tokens/" (token.id) "/revoke" } {
            input type="hidden" name="csrf" value=(signed_in.csrf);
            button.danger type="submit" { "Revoke " (token.name) }
            " " a href="/admin/tokens" { "Cancel" }
        }
    };
    layout::page("Revoke a token", Nav::Tokens, &signed_in.csrf, body)
}

/// `POST /admin/tokens/{id}/revoke`.
pub async fn revoke(State(console): State<Console>, Path(id): Path<String>) -> Response {
    match console.service.revoke_token_as(ACTOR, id).await {
        Ok(info) => Redirect::to(&format!(
            "/admin/tokens{}",
            layout::query(&[("revoked", info.name.as_str())])
        ))
        .into_response(),
        Err(e) => layout::error_page(StatusCode::NOT_FOUND, "Not revoked", &e.to_string()),
    }
}
