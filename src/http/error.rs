//! The one place errors become HTTP responses: a SCIM Error body (RFC 7644 §3.12), sent as
//! `application/scim+json`, with `WWW-Authenticate: Bearer` on every 401 and `Retry-After` on
//! every 429 and 503.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::scim::ScimError;
use crate::scim::schema::ERROR;
use crate::service::{AuthError, Refusal, ServiceError};

use super::response::scim_response;

/// An error response: status, optional scimType and a detail for the admin.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Seconds for `Retry-After` on a 429 or 503 (1 unless the cause knows better).
    pub retry_after: u64,
}

impl HttpError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> HttpError {
        HttpError { status, scim_type, detail: detail.into(), retry_after: 1 }
    }

    pub fn not_found(detail: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, None, detail)
    }

    /// This response as a provisioning-log refusal.
    pub fn as_refusal(&self) -> Refusal {
        Refusal {
            status: self.status.as_u16(),
            scim_type: self.scim_type,
            detail: self.detail.clone(),
        }
    }
}

impl From<ScimError> for HttpError {
    fn from(e: ScimError) -> Self {
        HttpError::new(StatusCode::BAD_REQUEST, Some(e.scim_type.as_str()), e.detail)
    }
}

impl From<ServiceError> for HttpError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(e) => e.into(),
            ServiceError::Conflict(d) => {
                HttpError::new(StatusCode::CONFLICT, Some("uniqueness"), d)
            }
            ServiceError::NotFound(d) => HttpError::not_found(d),
            ServiceError::Forbidden(d) => HttpError::new(StatusCode::FORBIDDEN, None, d),
            ServiceError::PreconditionFailed(d) => {
                HttpError::new(StatusCode::PRECONDITION_FAILED, None, d)
            }
            ServiceError::Busy(d) => HttpError::new(StatusCode::TOO_MANY_REQUESTS, None, d),
            ServiceError::Unavailable(d) => {
                HttpError::new(StatusCode::SERVICE_UNAVAILABLE, None, d)
            }
            // RFC 7644 defines no scimType for it; the detail names the cause.
            ServiceError::InsufficientStorage(d) => {
                HttpError::new(StatusCode::INSUFFICIENT_STORAGE, None, d)
            }
            ServiceError::Internal(d) => {
                tracing::error!(error = %d, "internal error");
                HttpError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "internal error; see scimd's log",
                )
            }
        }
    }
}

impl From<AuthError> for HttpError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Internal(d) => ServiceError::Internal(d).into(),
            AuthError::TooManyFailures { retry_after } => HttpError {
                retry_after,
                ..HttpError::new(StatusCode::TOO_MANY_REQUESTS, None, e.to_string())
            },
            other => HttpError::new(StatusCode::UNAUTHORIZED, None, other.to_string()),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = t.into();
        }
        let mut response = scim_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimd\""),
            );
        }
        if matches!(self.status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
            // Entra and Okta back off and retry when told when.
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        }
        response
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_write_queue_is_429_with_retry_after() {
        for (error, status) in [
            (ServiceError::Busy("the write queue is full".into()), StatusCode::TOO_MANY_REQUESTS),
            (ServiceError::Unavailable("shutting down".into()), StatusCode::SERVICE_UNAVAILABLE),
        ] {
            let response = HttpError::from(error).into_response();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
            assert!(
                response.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("application/scim+json")
            );
        }
    }

    #[test]
    fn too_many_failed_token_attempts_is_429_with_its_own_retry_after() {
        let response =
            HttpError::from(AuthError::TooManyFailures { retry_after: 6 }).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "6");
    }
}
