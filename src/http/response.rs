//! Writing SCIM JSON responses: a body with `Content-Type: application/scim+json`. The lowest
//! file of `http`: the error type (`error.rs`) and every handler answer through it.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

pub const SCIM_JSON: &str = "application/scim+json";

/// A response with a JSON body and `Content-Type: application/scim+json`.
pub fn scim_response(status: StatusCode, body: &Value) -> Response {
    scim_bytes(status, serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()))
}

/// [`scim_response`] with a body already serialised.
pub fn scim_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}
