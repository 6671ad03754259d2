//! `/Users`, `/Users/{id}`, `/Groups`, `/Groups/{id}` and their `.search`: each handler
//! extracts, calls one service use case, and responds.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::domain::Kind;
use crate::scim::schema::resource_type;
use crate::service::{PatchRequest, Principal};

use super::error::HttpError;
use super::query::{ListParams, parse_query, projection};
use super::response::scim_bytes;
use super::scim_json::ScimBody;
use super::state::AppState;

fn with_headers(mut response: Response, etag: &str, location: Option<&str>) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if let Some(Ok(v)) = location.map(HeaderValue::from_str) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// A write whose body could not be read is refused and logged like any other refused write.
async fn body_or_log(
    state: &AppState,
    principal: &Principal,
    operation: &'static str,
    kind: Kind,
    id: Option<String>,
    body: Result<ScimBody, HttpError>,
) -> Result<Value, HttpError> {
    match body {
        Ok(ScimBody(value)) => Ok(value),
        Err(e) => {
            state
                .service
                .log_refused_write(principal.clone(), operation, kind, id, e.as_refusal())
                .await?;
            Err(e)
        }
    }
}

pub async fn list(
    state: AppState,
    kind: Kind,
    query: Option<String>,
) -> Result<Response, HttpError> {
    let pairs = parse_query(query.as_deref())?;
    let request = ListParams::from_query(&pairs).into_request(&state.service.scim(), &[kind])?;
    let body = state.service.list(vec![kind], request).await?;
    Ok(scim_bytes(StatusCode::OK, body.0))
}

pub async fn search(
    state: AppState,
    kinds: Vec<Kind>,
    body: Result<ScimBody, HttpError>,
) -> Result<Response, HttpError> {
    let ScimBody(body) = body?;
    let request =
        ListParams::from_search_body(&body)?.into_request(&state.service.scim(), &kinds)?;
    let body = state.service.list(kinds, request).await?;
    Ok(scim_bytes(StatusCode::OK, body.0))
}

pub async fn create(
    state: AppState,
    kind: Kind,
    principal: Principal,
    query: Option<String>,
    body: Result<ScimBody, HttpError>,
) -> Result<Response, HttpError> {
    let body = body_or_log(&state, &principal, "create", kind, None, body).await?;
    let projection = projection(resource_type(kind), &parse_query(query.as_deref())?)?;
    let created = state.service.create(principal, kind, body, projection).await?;
    let response = scim_bytes(StatusCode::CREATED, created.body.0);
    Ok(with_headers(response, &created.etag, Some(&created.location)))
}

pub async fn get_one(
    state: AppState,
    kind: Kind,
    id: String,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let projection = projection(resource_type(kind), &parse_query(query.as_deref())?)?;
    let found = state.service.get(kind, id, projection).await?;
    let unchanged = header_text(&headers, header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == found.etag || t.trim() == "*"));
    if unchanged {
        let response = StatusCode::NOT_MODIFIED.into_response();
        return Ok(with_headers(response, &found.etag, None));
    }
    Ok(with_headers(scim_bytes(StatusCode::OK, found.body.0), &found.etag, None))
}

pub async fn replace(
    state: AppState,
    kind: Kind,
    id: String,
    principal: Principal,
    query: Option<String>,
    headers: HeaderMap,
    body: Result<ScimBody, HttpError>,
) -> Result<Response, HttpError> {
    let body = body_or_log(&state, &principal, "replace", kind, Some(id.clone()), body).await?;
    let projection = projection(resource_type(kind), &parse_query(query.as_deref())?)?;
    let if_match = header_text(&headers, header::IF_MATCH);
    let replaced = state.service.replace(principal, kind, id, body, if_match, projection).await?;
    Ok(with_headers(scim_bytes(StatusCode::OK, replaced.body.0), &replaced.etag, None))
}

pub async fn delete(
    state: AppState,
    kind: Kind,
    id: String,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let if_match = header_text(&headers, header::IF_MATCH);
    state.service.delete(principal, kind, id, if_match).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// PATCH answers a user with `200` and the resource. A group gets `204` with no body unless
/// the request asks for attributes (`attributes` or `excludedAttributes`), so a one-member
/// change on a large group never serialises the group.
pub async fn patch(
    state: AppState,
    kind: Kind,
    id: String,
    principal: Principal,
    query: Option<String>,
    headers: HeaderMap,
    body: Result<ScimBody, HttpError>,
) -> Result<Response, HttpError> {
    let body = body_or_log(&state, &principal, "patch", kind, Some(id.clone()), body).await?;
    let pairs = parse_query(query.as_deref())?;
    let projection = projection(resource_type(kind), &pairs)?;
    let asks_for_body = pairs.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("attributes") || k.eq_ignore_ascii_case("excludedAttributes")
    });
    let with_body = kind == Kind::User || asks_for_body;
    let if_match = header_text(&headers, header::IF_MATCH);
    let request = PatchRequest { kind, id, body, if_match, projection, with_body };
    let patched = state.service.patch(principal, request).await?;
    Ok(match patched.body {
        Some(body) => with_headers(scim_bytes(StatusCode::OK, body.0), &patched.etag, None),
        None => with_headers(StatusCode::NO_CONTENT.into_response(), &patched.etag, None),
    })
}

/// Route glue: one function per (kind, method), so the router reads as a table.
macro_rules! kind_handlers {
    ($module:ident, $kind:expr) => {
        pub mod $module {
            use super::*;

            pub async fn list(
                State(s): State<AppState>,
                RawQuery(q): RawQuery,
            ) -> Result<Response, HttpError> {
                super::list(s, $kind, q).await
            }
            pub async fn search(
                State(s): State<AppState>,
                body: Result<ScimBody, HttpError>,
            ) -> Result<Response, HttpError> {
                super::search(s, vec![$kind], body).await
            }
            pub async fn create(
                State(s): State<AppState>,
                Extension(p): Extension<Principal>,
                RawQuery(q): RawQuery,
                body: Result<ScimBody, HttpError>,
            ) -> Result<Response, HttpError> {
                super::create(s, $kind, p, q, body).await
            }
            pub async fn get_one(
                State(s): State<AppState>,
                Path(id): Path<String>,
                RawQuery(q): RawQuery,
                headers: HeaderMap,
            ) -> Result<Response, HttpError> {
                super::get_one(s, $kind, id, q, headers).await
            }
            pub async fn replace(
                State(s): State<AppState>,
                Path(id): Path<String>,
                Extension(p): Extension<Principal>,
                RawQuery(q): RawQuery,
                headers: HeaderMap,
                body: Result<ScimBody, HttpError>,
            ) -> Result<Response, HttpError> {
                super::replace(s, $kind, id, p, q, headers, body).await
            }
            pub async fn delete(
                State(s): State<AppState>,
                Path(id): Path<String>,
                Extension(p): Extension<Principal>,
                headers: HeaderMap,
            ) -> Result<Response, HttpError> {
                super::delete(s, $kind, id, p, headers).await
            }
            pub async fn patch(
                State(s): State<AppState>,
                Path(id): Path<String>,
                Extension(p): Extension<Principal>,
                RawQuery(q): RawQuery,
                headers: HeaderMap,
                body: Result<ScimBody, HttpError>,
            ) -> Result<Response, HttpError> {
                super::patch(s, $kind, id, p, q, headers, body).await
            }
        }
    };
}

kind_handlers!(users, Kind::User);
kind_handlers!(groups, Kind::Group);

/// `POST /.search`: users and groups together.
pub async fn search_all(
    State(s): State<AppState>,
    body: Result<ScimBody, HttpError>,
) -> Result<Response, HttpError> {
    search(s, vec![Kind::User, Kind::Group], body).await
}
