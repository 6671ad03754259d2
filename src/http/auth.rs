//! Bearer authentication for every `/scim/v2` route.
//!
//! The middleware reads `Authorization: Bearer <token>` (scheme case-insensitive), asks the
//! service to verify it, and puts the `Principal` into the request for the handlers. It also
//! copies the token's name into the response so the access log can say who asked, never what
//! the token was.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;

use super::error::HttpError;
use super::state::AppState;

/// The token name of an authenticated request, for the access log.
#[derive(Debug, Clone)]
pub struct TokenName(pub String);

fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
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
    match state.service.authenticate(bearer(&req)).await {
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
