//! Bearer authentication for every `/scim/v2` route and for the change-event poll endpoint.
//!
//! The middleware reads `Authorization: Bearer <token>` (scheme case-insensitive), asks the
//! service to verify it, and puts the `Principal` into the request for the handlers. It also
//! copies the token's name into the response so the access log can say who asked, never what
//! the token was. A token made for polling one receiver's events (`token create --events`)
//! is refused with 403 on every SCIM route, and only such a token, for that receiver, may
//! poll ([`poll_principal`]).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;

use super::error::HttpError;
use super::state::AppState;
use crate::service::{Principal, TokenScope};

/// The token name of an authenticated request, for the access log.
#[derive(Debug, Clone)]
pub struct TokenName(pub String);

fn bearer(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    match state.service.authenticate(bearer(req.headers())).await {
        Ok(Principal { scope: TokenScope::Events { receiver }, token_name, .. }) => {
            let detail = format!(
                "token '{token_name}' may only poll change events (POST /events/{receiver}); \
                 SCIM endpoints need a read-write or read-only token"
            );
            let mut response =
                HttpError::new(http::StatusCode::FORBIDDEN, None, detail).into_response();
            response.extensions_mut().insert(TokenName(token_name));
            response
        }
        Ok(principal) => {
            let name = TokenName(principal.token_name.clone());
            req.extensions_mut().insert(principal);
            let mut response = next.run(req).await;
            response.extensions_mut().insert(name);
            response
        }
        Err(e) => HttpError::from(e).into_response(),
    }
}

/// The principal of a request to poll `receiver`'s events: 401 without a valid token, 403
/// for any token not made for polling `receiver`. `[scim] enabled` does not apply here.
pub async fn poll_principal(
    state: &AppState,
    headers: &http::HeaderMap,
    receiver: &str,
) -> Result<Principal, HttpError> {
    // Not `authenticate`: `[scim] enabled = false` stops the SCIM API, not event delivery.
    let principal =
        state.service.authenticate_token(bearer(headers)).await.map_err(HttpError::from)?;
    match &principal.scope {
        TokenScope::Events { receiver: allowed } if allowed == receiver => Ok(principal),
        TokenScope::Events { receiver: allowed } => Err(HttpError::new(
            http::StatusCode::FORBIDDEN,
            None,
            format!(
                "token '{}' may only poll the events of receiver '{allowed}', not '{receiver}'",
                principal.token_name
            ),
        )),
        _ => Err(HttpError::new(
            http::StatusCode::FORBIDDEN,
            None,
            format!(
                "token '{}' is a SCIM token; polling change events needs a token made for the \
                 receiver: scimd token create --name {receiver}-poll --events {receiver}",
                principal.token_name
            ),
        )),
    }
}
