//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, built from `scim::schema` and
//! the running config so they advertise exactly what works.

use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use crate::scim::events::EVENT_URIS;
use crate::scim::list::list_response;
use crate::scim::schema::{self, SERVICE_PROVIDER_CONFIG, resource_type_json, schema_json};

use super::error::HttpError;
use super::response::{scim_bytes, scim_response};
use super::state::AppState;

pub async fn service_provider_config(State(state): State<AppState>) -> Response {
    let settings = state.service.settings();
    let base = &settings.base_url;
    let mut body = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/scimd/scimd#readme",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": state.service.scim().max_page_size},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A scimd bearer token (scimd token create), sent as 'Authorization: Bearer <token>'",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        }
    });
    if settings.security_events {
        // RFC 9967 §4: change events are sent as SETs; requests are always answered
        // synchronously.
        body["securityEvents"] = json!({"asyncRequest": "none", "eventUris": EVENT_URIS});
    }
    scim_response(StatusCode::OK, &body)
}

pub async fn resource_types(State(state): State<AppState>) -> Response {
    let base = &state.service.settings().base_url;
    let items: Vec<Value> =
        schema::resource_types().iter().map(|rt| resource_type_json(rt, base)).collect();
    scim_bytes(StatusCode::OK, list_response(items.len() as u64, 1, &items))
}

pub async fn resource_type(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, HttpError> {
    let base = &state.service.settings().base_url;
    let rt = schema::resource_types()
        .into_iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| {
            HttpError::not_found(format!("no resource type '{name}'; scimd has User and Group"))
        })?;
    Ok(scim_response(StatusCode::OK, &resource_type_json(rt, base)))
}

pub async fn schemas(State(state): State<AppState>) -> Response {
    let base = &state.service.settings().base_url;
    let items: Vec<Value> = schema::schemas().iter().map(|s| schema_json(s, base)).collect();
    scim_bytes(StatusCode::OK, list_response(items.len() as u64, 1, &items))
}

pub async fn schema(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let base = &state.service.settings().base_url;
    let found = schema::schemas()
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| HttpError::not_found(format!("no schema '{id}'")))?;
    Ok(scim_response(StatusCode::OK, &schema_json(found, base)))
}
