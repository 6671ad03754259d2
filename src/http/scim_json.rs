//! SCIM JSON in: reading a request body (content type, size limit, UTF-8, JSON) into a
//! `serde_json::Value` (responses are written by `response.rs`).
//!
//! Bodies are read here rather than with axum's `Json` so that every failure is a SCIM error:
//! 413 for a body over the limit, 415 for a foreign content type, 400 invalidSyntax for the rest.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

use super::error::HttpError;
use super::response::SCIM_JSON;
use super::state::AppState;

/// A request body parsed as JSON.
pub struct ScimBody(pub Value);

fn content_type_ok(req: &Request) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        // Some clients omit it; the body is still tried as JSON.
        return true;
    };
    let Ok(value) = value.to_str() else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence == SCIM_JSON || essence.is_empty()
}

impl FromRequest<AppState> for ScimBody {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !content_type_ok(&req) {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("invalidSyntax"),
                "send the body as application/scim+json or application/json",
            ));
        }
        let limit = state.max_body_bytes;
        let too_large = || {
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!("the request body is larger than {limit} bytes ([limits] max_body_bytes)"),
            )
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let bytes: Bytes = match Limited::new(req.into_body(), limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => return Err(too_large()),
            Err(e) => {
                return Err(HttpError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidSyntax"),
                    format!("could not read the request body: {e}"),
                ));
            }
        };
        parse_json(&bytes).map(ScimBody)
    }
}

/// Parses a body as JSON, with an error that says where it went wrong.
pub fn parse_json(bytes: &[u8]) -> Result<Value, HttpError> {
    let bad =
        |detail: String| HttpError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        bad(format!("the request body is not valid UTF-8 (at byte {})", e.valid_up_to()))
    })?;
    if text.trim().is_empty() {
        return Err(bad("the request body is empty; a JSON object was expected".into()));
    }
    serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "the request body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}
