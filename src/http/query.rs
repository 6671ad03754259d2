//! Query parameters of list requests (`filter`, `attributes`, `excludedAttributes`, `sortBy`,
//! `sortOrder`, `startIndex`, `count`) and the same fields of a `.search` body, turned into a
//! `ListRequest`. Parameter names match case-insensitively; unknown ones (Entra's
//! `aadOptscim062020`) are ignored. `+` decodes to a space and quotes may come raw or encoded.

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::config::ScimConfig;
use crate::domain::Kind;
use crate::scim::ScimError;
use crate::scim::list::{Paging, SortOrder};
use crate::scim::path::parse_attr_path;
use crate::scim::projection::Projection;
use crate::scim::schema::{ResourceType, resource_type};
use crate::service::{CheckedFilter, ListRequest};

use super::error::HttpError;

/// The list parameters as sent, before parsing.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub filter: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
}

/// Decodes one `application/x-www-form-urlencoded` component.
fn decode(component: &str) -> Result<String, HttpError> {
    let bytes = component.as_bytes();
    let escapes_ok =
        bytes.iter().enumerate().filter(|(_, b)| **b == b'%').all(|(i, _)| {
            bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        });
    if !escapes_ok {
        return Err(ScimError::invalid_value(
            "a query parameter has a '%' not followed by two hex digits; write a literal % as %25"
                .to_string(),
        )
        .into());
    }
    let spaced = component.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8().map(|s| s.into_owned()).map_err(|_| {
        ScimError::invalid_value("a query parameter is not valid UTF-8 once decoded".to_string())
            .into()
    })
}

/// The query parameters of a request, decoded, as (name, value) pairs.
pub fn parse_query(query: Option<&str>) -> Result<Vec<(String, String)>, HttpError> {
    let mut out = Vec::new();
    for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        out.push((decode(name)?, decode(value)?));
    }
    Ok(out)
}

/// Decoded query parameter `name` (case-insensitive), if present.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

impl ListParams {
    pub fn from_query(pairs: &[(String, String)]) -> ListParams {
        let get = |name: &str| param(pairs, name).map(str::to_string);
        ListParams {
            filter: get("filter"),
            attributes: get("attributes"),
            excluded_attributes: get("excludedAttributes"),
            sort_by: get("sortBy"),
            sort_order: get("sortOrder"),
            start_index: get("startIndex"),
            count: get("count"),
        }
    }

    /// Reads a `SearchRequest` body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> Result<ListParams, HttpError> {
        let obj = body.as_object().ok_or_else(|| {
            HttpError::from(ScimError::invalid_syntax(
                "a search request body must be a JSON object".to_string(),
            ))
        })?;
        let field =
            |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let text = |name: &str| -> Result<Option<String>, HttpError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Array(items)) => {
                    let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    names.map(|n| Some(n.join(","))).ok_or_else(|| {
                        ScimError::invalid_value(format!(
                            "'{name}' must be a list of attribute names"
                        ))
                        .into()
                    })
                }
                Some(_) => {
                    Err(ScimError::invalid_value(format!("'{name}' has the wrong type")).into())
                }
            }
        };
        Ok(ListParams {
            filter: text("filter")?,
            attributes: text("attributes")?,
            excluded_attributes: text("excludedAttributes")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: text("startIndex")?,
            count: text("count")?,
        })
    }

    /// Parses everything for a request that searches `kinds`: the filter is checked against
    /// their schemas, the projection is read against each resource type's schema.
    pub fn into_request(self, scim: &ScimConfig, kinds: &[Kind]) -> Result<ListRequest, HttpError> {
        let number = |name: &str, value: Option<String>| -> Result<Option<i64>, HttpError> {
            value
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| {
                        HttpError::from(ScimError::invalid_value(format!(
                            "{name} must be an integer, not {v:?}"
                        )))
                    })
                })
                .transpose()
        };
        let paging = Paging::from_query(
            number("startIndex", self.start_index)?,
            number("count", self.count)?,
            scim.default_page_size,
            scim.max_page_size,
        );
        let filter = CheckedFilter::parse(self.filter.as_deref(), kinds)?;
        let sort_by = match self.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(parse_attr_path(s)?),
        };
        let sort_order = match self.sort_order.as_deref().map(|s| s.trim().to_ascii_lowercase()) {
            None => SortOrder::Ascending,
            Some(s) if s.is_empty() || s == "ascending" => SortOrder::Ascending,
            Some(s) if s == "descending" => SortOrder::Descending,
            Some(s) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be \"ascending\" or \"descending\", not {s:?}"
                ))
                .into());
            }
        };
        let (attributes, excluded) =
            (self.attributes.as_deref(), self.excluded_attributes.as_deref());
        Ok(ListRequest {
            filter,
            sort_by,
            sort_order,
            start_index: paging.start_index,
            count: paging.count,
            user_projection: Projection::parse(resource_type(Kind::User), attributes, excluded)?,
            group_projection: Projection::parse(resource_type(Kind::Group), attributes, excluded)?,
        })
    }
}

/// The projection of a single-resource request (`attributes`/`excludedAttributes`).
pub fn projection(rt: &ResourceType, pairs: &[(String, String)]) -> Result<Projection, HttpError> {
    Ok(Projection::parse(rt, param(pairs, "attributes"), param(pairs, "excludedAttributes"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_percent_and_raw_quotes() {
        let pairs = parse_query(Some("filter=userName+eq+%22a%40b.c%22&aadOptscim062020")).unwrap();
        assert_eq!(param(&pairs, "FILTER"), Some("userName eq \"a@b.c\""));
        let pairs = parse_query(Some("filter=externalId+eq+\"x\"")).unwrap();
        assert_eq!(param(&pairs, "filter"), Some("externalId eq \"x\""));
        assert!(parse_query(Some("filter=%FF")).is_err());
    }
}
