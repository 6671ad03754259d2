//! Request size limits (`[limits]` `max_operations_per_patch`, `max_values_per_attribute`,
//! `max_members_per_request`, `max_string_bytes`, `max_member_filters_per_patch`): the checks that bound what one request can
//! make the writer do, run on the body before any other work and on a PATCH's result.
//!
//! Owns the limits' meaning and their error messages, which name the limit's key so an admin
//! reading Entra's provisioning log knows what to raise. Pure: it only reads JSON; the values
//! come from the config, through the service.

use serde_json::Value;

use super::error::{ScimError, ScimType, quote};
use super::filter::Filter;
use super::patch::{OpKind, Operation, value_eq_ids};
use super::schema::ResourceType;

/// The limits, validated (each at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Operations in one PATCH body.
    pub max_operations_per_patch: usize,
    /// Values of one multi-valued attribute (`emails`, `phoneNumbers`, `roles`, ...) in a body
    /// and in a resource a PATCH leaves; a group's `members` are counted by the next one.
    pub max_values_per_attribute: usize,
    /// Members one request (POST, PUT or PATCH of a group) adds, replaces or lists for removal.
    pub max_members_per_request: usize,
    /// Bytes of one string value anywhere in a body.
    pub max_string_bytes: usize,
    /// Member removals in one PATCH by a filter that is not a list of ids
    /// (`members[type eq "Group"]`): each reads every member row of the group.
    pub max_member_filters_per_patch: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_operations_per_patch: 1000,
            max_values_per_attribute: 100,
            max_members_per_request: 1000,
            max_string_bytes: 16384,
            max_member_filters_per_patch: 1,
        }
    }
}

/// Every string value in a body is at most `max_string_bytes` long (a 900 KB `userName`
/// would otherwise be stored, indexed and logged).
pub fn check_strings(body: &Value, limits: &RequestLimits) -> Result<(), ScimError> {
    fn walk<'a>(
        v: &'a Value,
        key: Option<&'a str>,
        limit: usize,
    ) -> Result<(), (Option<&'a str>, usize)> {
        match v {
            Value::String(s) if s.len() > limit => Err((key, s.len())),
            Value::Array(items) => items.iter().try_for_each(|item| walk(item, key, limit)),
            Value::Object(fields) => {
                fields.iter().try_for_each(|(k, item)| walk(item, Some(k.as_str()), limit))
            }
            _ => Ok(()),
        }
    }
    walk(body, None, limits.max_string_bytes).map_err(|(key, len)| {
        let what = key.map_or_else(|| "a string value".to_string(), |k| quote(k).to_string());
        ScimError::invalid_value(format!(
            "{what} is a string of {len} bytes; at most {} are accepted ([limits] \
             max_string_bytes)",
            limits.max_string_bytes
        ))
    })
}

/// A PATCH body's `Operations` list has at most `max_operations_per_patch` items (counted as
/// sent, before a pathless operation is split into one per attribute), and its strings pass
/// [`check_strings`].
pub fn check_patch_body(body: &Value, limits: &RequestLimits) -> Result<(), ScimError> {
    let count = body
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case("Operations")))
        .and_then(|(_, v)| v.as_array())
        .map_or(0, Vec::len);
    if count > limits.max_operations_per_patch {
        return Err(ScimError::new(
            ScimType::TooMany,
            format!(
                "the PATCH has {count} operations; at most {} are accepted in one request \
                 ([limits] max_operations_per_patch): send them in several PATCH requests",
                limits.max_operations_per_patch
            ),
        ));
    }
    check_strings(body, limits)
}

/// A PATCH's operations, before they are applied: no value list longer than
/// `max_values_per_attribute`, and at most `max_members_per_request` members named in all.
pub fn check_operations(
    rt: &ResourceType,
    operations: &[Operation],
    limits: &RequestLimits,
) -> Result<(), ScimError> {
    let mut members = 0usize;
    let mut member_filters = 0usize;
    for op in operations {
        let attr = op.target.path.attr;
        let listed = match &op.value {
            Some(Value::Array(items)) => items.len(),
            Some(Value::Null) | None => 0,
            Some(_) => 1,
        };
        if is_members(rt, attr.name) {
            // A removal by listed values names them in its filter, not its value.
            let in_filter = op.target.filter.as_ref().map_or(0, terms);
            members = members.saturating_add(listed).saturating_add(in_filter);
            let scans = op.kind != OpKind::Add
                && op.target.filter.as_ref().is_some_and(|f| value_eq_ids(f).is_none());
            if scans {
                member_filters += 1;
                if member_filters > limits.max_member_filters_per_patch {
                    return Err(ScimError::new(
                        ScimType::TooMany,
                        format!(
                            "the PATCH removes members by {member_filters} filters that are not lists \
                             of ids; at most {} are accepted in one request ([limits] \
                             max_member_filters_per_patch): each reads every member of the \
                             group, so send them in several requests, or remove by \
                             'value eq \"id\"'",
                            limits.max_member_filters_per_patch
                        ),
                    ));
                }
            }
        } else if attr.multi_valued {
            check_values(attr.name, listed, limits)?;
        }
    }
    check_members(members, limits)
}

/// A resource's canonical attributes (a POST or PUT body, or what a PATCH leaves): each
/// multi-valued attribute has at most `max_values_per_attribute` values, and a group body at
/// most `max_members_per_request` members. With `before` (a PATCH's stored resource), only a
/// list the PATCH grew is held to it, so lowering the limit does not lock a resource stored
/// under a higher one out of every other change.
pub fn check_resource(
    rt: &ResourceType,
    attributes: &Value,
    before: Option<&Value>,
    limits: &RequestLimits,
) -> Result<(), ScimError> {
    let schemas = std::iter::once(rt.schema).chain(rt.extensions.iter().copied());
    for schema in schemas {
        let scope = match rt.is_extension(schema) {
            true => attributes.get(schema.id),
            false => Some(attributes),
        };
        let Some(scope) = scope else { continue };
        let old_scope = match rt.is_extension(schema) {
            true => before.and_then(|b| b.get(schema.id)),
            false => before,
        };
        let count_in =
            |v: &Value, name: &str| v.get(name).and_then(Value::as_array).map_or(0, Vec::len);
        for attr in schema.attributes.iter().filter(|a| a.multi_valued) {
            let count = count_in(scope, attr.name);
            if before.is_some() && count <= old_scope.map_or(0, |o| count_in(o, attr.name)) {
                continue;
            }
            if is_members(rt, attr.name) {
                check_members(count, limits)?;
            } else {
                check_values(attr.name, count, limits)?;
            }
        }
    }
    Ok(())
}

/// The comparisons in a filter (`value eq "a" or value eq "b"` has two).
fn terms(f: &Filter) -> usize {
    let mut count = 0;
    let mut pending = vec![f];
    while let Some(f) = pending.pop() {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                pending.push(a);
                pending.push(b);
            }
            Filter::Not(inner) => pending.push(inner),
            Filter::ValuePath { filter, .. } => pending.push(filter),
            Filter::Compare { .. } | Filter::Present(_) => count += 1,
        }
    }
    count
}

fn is_members(rt: &ResourceType, name: &str) -> bool {
    rt.name == "Group" && name == "members"
}

fn check_values(name: &str, count: usize, limits: &RequestLimits) -> Result<(), ScimError> {
    if count > limits.max_values_per_attribute {
        return Err(ScimError::new(
            ScimType::TooMany,
            format!(
                "{} would have {count} values; at most {} are accepted ([limits] \
                 max_values_per_attribute)",
                quote(name),
                limits.max_values_per_attribute
            ),
        ));
    }
    Ok(())
}

fn check_members(count: usize, limits: &RequestLimits) -> Result<(), ScimError> {
    if count > limits.max_members_per_request {
        return Err(ScimError::new(
            ScimType::TooMany,
            format!(
                "the request names {count} members; at most {} are accepted in one request \
                 ([limits] max_members_per_request): add or remove them in several PATCH \
                 requests",
                limits.max_members_per_request
            ),
        ));
    }
    Ok(())
}
