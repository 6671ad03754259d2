//! `POST /events/{receiver}`: RFC 8936 poll delivery of change events, over HTTP. Thin: the
//! token check is in `auth`, the request's members in `delivery::poll_request`, acknowledging,
//! reading, signing and the long poll in `delivery::poll`.
//!
//! A bad body is `400 {"err":"invalid_request","description":…}` (RFC 8936 §2.4 leaves its
//! shape open; this is RFC 8935's); authentication and the other refusals are SCIM error bodies,
//! as on `/scim/v2`: 401 without a valid token, 403 for a token not made for this receiver,
//! 404 when no poll receiver has this name.

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value, json};

use crate::delivery::poll::{PollAnswer, PollError};
use crate::delivery::poll_request::PollRequest;

use super::auth::{TokenName, poll_principal};
use super::error::HttpError;
use super::state::AppState;

pub async fn poll(
    State(state): State<AppState>,
    Path(receiver): Path<String>,
    req: Request,
) -> Response {
    let principal = match poll_principal(&state, req.headers(), &receiver).await {
        Ok(principal) => principal,
        Err(e) => return e.into_response(),
    };
    let mut response = answer(&state, &receiver, req).await;
    response.extensions_mut().insert(TokenName(principal.token_name));
    response
}

async fn answer(state: &AppState, receiver: &str, req: Request) -> Response {
    let Some(poller) = state.poller.as_ref() else {
        return HttpError::not_found("this server sends no change events (no signing keys)")
            .into_response();
    };
    let limit = state.max_body_bytes;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!("the request body is larger than {limit} bytes ([limits] max_body_bytes)"),
            )
            .into_response();
        }
        Err(e) => return invalid_request(&format!("could not read the request body: {e}")),
    };
    let request = match PollRequest::parse(&body) {
        Ok(request) => request,
        Err(description) => return invalid_request(&description),
    };
    match poller.poll(receiver, request).await {
        Ok(answer) => sets(answer),
        Err(PollError::UnknownReceiver(name)) => {
            HttpError::not_found(PollError::UnknownReceiver(name).to_string()).into_response()
        }
        Err(PollError::Service(e)) => HttpError::from(e).into_response(),
        Err(e @ PollError::Store(_)) => {
            tracing::error!(receiver, error = %e, "a poll for change events failed");
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, None, e.to_string()).into_response()
        }
        Err(e @ PollError::Signing(_)) => {
            tracing::error!(receiver, error = %e, "a poll for change events failed");
            HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()).into_response()
        }
    }
}

/// `200 {"sets": {jti: SET, …}, "moreAvailable": bool}`, oldest first.
fn sets(answer: PollAnswer) -> Response {
    let mut sets = Map::with_capacity(answer.sets.len());
    for (jti, set) in answer.sets {
        sets.insert(jti, Value::String(set));
    }
    let body = json!({"sets": sets, "moreAvailable": answer.more_available});
    json_response(StatusCode::OK, body)
}

fn invalid_request(description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"err": "invalid_request", "description": description}),
    )
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (status, headers, body.to_string()).into_response()
}
