//! The IdP tolerance layer for PATCH: turns a PatchOp body as Microsoft Entra ID and Okta
//! really send it into strict operations for the engine (`patch.rs`).
//!
//! Owns every PATCH quirk of `tests/it/payloads.rs` §3 that is about the request's
//! shape, so the engine only ever sees RFC 7644 operations:
//! - `op` in any case (`"Replace"`, `"Add"`, `"Remove"`), and any case of the body's keys;
//! - pathless `add`/`replace` whose `value` keys are attribute names, dotted paths
//!   (`name.givenName`), URN-prefixed paths, or an extension URN holding an object: one
//!   operation per key;
//! - a `path` that is a whole extension URN, treated like a pathless value under that URN;
//! - read-only attributes echoed back unchanged (`id`, `meta`, `schemas`, a user's `groups`):
//!   dropped; a different `id` or `meta.resourceType` is `mutability`;
//! - `password` (Okta's password sync): dropped, never stored;
//! - `remove` with a `value` list on a multi-valued attribute (Entra's member removal
//!   `{"op":"Remove","path":"members","value":[{"value":"id"}]}`): removes only the listed
//!   values, as the filter `members[value eq "id" or ...]` would, never all of them.
//!
//! Quirks about values (`"True"`/`"False"`, a bare-string manager, `null` and `""` meaning
//! absent) are the value canonicalisation's (`resource.rs`), shared with POST and PUT.

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::error::{ScimError, quote};
use super::filter::{CompValue, CompareOp, Filter};
use super::patch::{OpKind, Operation, Target};
use super::patch_path::parse_patch_path;
use super::path::AttrPath;
use super::schema::{AttrDef, Mutability, ResourceType};

/// The PatchOp message URN (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Parses a PatchOp body for a resource of type `rt` whose id is `resource_id` (to recognise
/// an echoed `id`). Errors: `invalidSyntax` for a body that is not a PatchOp, `invalidPath`
/// for a path that names nothing, `noTarget` for a `remove` without a path, `mutability` for
/// a changed read-only attribute.
pub fn patch_operations(
    rt: &ResourceType,
    resource_id: &str,
    body: Value,
) -> Result<PatchRequest, ScimError> {
    let Value::Object(fields) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body must be a JSON object with \"schemas\": [\"{PATCH_OP}\"] and an \
             \"Operations\" list"
        )));
    };
    let operations = take_key(fields, "Operations").ok_or_else(|| {
        ScimError::invalid_syntax(format!(
            "a PATCH body needs an \"Operations\" list (RFC 7644 §3.5.2), as in \
             {{\"schemas\": [\"{PATCH_OP}\"], \"Operations\": [{{\"op\": \"replace\", \
             \"path\": \"active\", \"value\": false}}]}}"
        ))
    })?;
    let Value::Array(items) = operations else {
        return Err(ScimError::invalid_syntax("\"Operations\" must be a list of operations"));
    };
    if items.is_empty() {
        return Err(ScimError::invalid_syntax("\"Operations\" is empty: nothing to do"));
    }
    let context = Context { rt, resource_id, echoed_groups: RefCell::new(Vec::new()) };
    let mut operations = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        context.operation(index + 1, item, &mut operations)?;
    }
    Ok(PatchRequest { operations, echoed_groups: context.echoed_groups.into_inner() })
}

/// A PatchOp body as strict operations, plus what must be checked against stored state.
#[derive(Debug, Clone)]
pub struct PatchRequest {
    pub operations: Vec<Operation>,
    /// A user's read-only `groups` echoed in pathless values (Okta sends back what it read),
    /// as group ids: accepted only if they are the user's groups, else `mutability`. The
    /// memberships are rows the caller reads, so the caller compares.
    pub echoed_groups: Vec<Vec<String>>,
}

/// The group ids of a `groups` value: `[{"value": id, ...}]`.
fn group_ids(v: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            item.get("value").and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
                ScimError::mutability(
                    "'groups' is read-only: scimd keeps it from group memberships; change \
                     membership with PATCH /Groups/{id}",
                )
            })
        })
        .collect()
}

/// The value of `key` in `fields`, matched case-insensitively (`operations`, `OP`).
fn take_key(mut fields: Map<String, Value>, key: &str) -> Option<Value> {
    let found = fields.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()?;
    fields.remove(&found)
}

struct Context<'a> {
    rt: &'a ResourceType,
    resource_id: &'a str,
    /// The `groups` values found echoed in pathless values, for the caller to compare.
    echoed_groups: RefCell<Vec<Vec<String>>>,
}

impl Context<'_> {
    fn operation(&self, n: usize, item: Value, out: &mut Vec<Operation>) -> Result<(), ScimError> {
        let Value::Object(fields) = item else {
            return Err(ScimError::invalid_syntax(format!(
                "operation {n} must be a JSON object with \"op\", and \"path\" and/or \"value\""
            )));
        };
        let mut op = None;
        let mut path = None;
        let mut value = None;
        // Other keys (Microsoft's Postman collection sends "name") are ignored.
        for (key, v) in fields {
            if key.eq_ignore_ascii_case("op") {
                op = Some(v);
            } else if key.eq_ignore_ascii_case("path") {
                path = Some(v);
            } else if key.eq_ignore_ascii_case("value") {
                value = Some(v);
            }
        }
        let kind = match op.as_ref().and_then(Value::as_str).map(str::to_ascii_lowercase) {
            Some(s) if s == "add" => OpKind::Add,
            Some(s) if s == "replace" => OpKind::Replace,
            Some(s) if s == "remove" => OpKind::Remove,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "operation {n}: \"op\" must be \"add\", \"replace\" or \"remove\" (any \
                     case), not {}",
                    op.map_or("missing".to_string(), |v| v.to_string())
                )));
            }
        };
        if kind != OpKind::Remove && value.is_none() {
            // RFC 7644 §3.5.2.1/§3.5.2.3: add and replace MUST carry a value. An explicit
            // `"value": null` (or "") is a value: it clears the attribute.
            return Err(ScimError::invalid_syntax(format!(
                "operation {n}: \"{}\" needs a \"value\" (send \"value\": null to clear an \
                 attribute, or use \"remove\")",
                kind.as_str()
            )));
        }
        let path = match path {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(other) => {
                return Err(ScimError::invalid_path(format!(
                    "operation {n}: \"path\" must be a string, not {other}"
                )));
            }
        };
        match path {
            Some(p) if kind == OpKind::Remove && self.rt.extension(&p).is_some() => {
                // Removing a whole extension removes each of its attributes.
                let ext = self.rt.extension(&p).map_or(&[][..], |e| e.attributes);
                for attr in ext.iter().filter(|a| a.mutability != Mutability::ReadOnly) {
                    self.with_path(kind, &format!("{p}:{}", attr.name), None, false, out)?;
                }
                Ok(())
            }
            Some(p) if self.rt.extension(&p).is_some() => {
                // A whole extension as the path: its value holds that extension's attributes.
                let mut wrapped = Map::new();
                wrapped.insert(p, value.unwrap_or(Value::Null));
                self.pathless(n, kind, Some(Value::Object(wrapped)), out)
            }
            Some(p) => self.with_path(kind, &p, value, false, out),
            None => self.pathless(n, kind, value, out),
        }
    }

    /// `{"op": "replace", "value": {"active": false, "name.givenName": "Kkom", ...}}`.
    fn pathless(
        &self,
        n: usize,
        kind: OpKind,
        value: Option<Value>,
        out: &mut Vec<Operation>,
    ) -> Result<(), ScimError> {
        if kind == OpKind::Remove {
            return Err(ScimError::no_target(format!(
                "operation {n}: \"remove\" needs a \"path\" naming what to remove"
            )));
        }
        let Some(Value::Object(attrs)) = value else {
            return Err(ScimError::invalid_syntax(format!(
                "operation {n}: without a \"path\", \"value\" must be a JSON object of the \
                 attributes to {}",
                kind.as_str()
            )));
        };
        for (key, v) in attrs {
            if let Some(ext) = self.rt.extension(&key) {
                let Value::Object(inner) = v else {
                    if v.is_null() {
                        continue;
                    }
                    return Err(ScimError::invalid_value(format!(
                        "{} must be a JSON object holding that extension's attributes",
                        quote(ext.id)
                    )));
                };
                for (name, v) in inner {
                    if name.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    self.with_path(kind, &format!("{}:{name}", ext.id), Some(v), true, out)?;
                }
            } else if key.eq_ignore_ascii_case("schemas") {
                // The resource's own `schemas`, echoed: scimd computes it.
            } else {
                self.with_path(kind, &key, Some(v), true, out)?;
            }
        }
        Ok(())
    }

    /// One operation on `text`. `in_resource_value` says the path is a key of a pathless
    /// value, i.e. part of a resource representation the client may have echoed whole.
    fn with_path(
        &self,
        kind: OpKind,
        text: &str,
        value: Option<Value>,
        in_resource_value: bool,
        out: &mut Vec<Operation>,
    ) -> Result<(), ScimError> {
        let parsed = parse_patch_path(text)?;
        let path = parsed.resolve(self.rt)?;
        if path.attr.mutability == Mutability::WriteOnly {
            // `password`: accepted so Okta's password sync succeeds, and never kept.
            return Ok(());
        }
        if path.attr.mutability == Mutability::ReadOnly
            && parsed.filter.is_none()
            && kind != OpKind::Remove
            && self.is_unchanged_echo(path.attr, path.sub, value.as_ref(), in_resource_value)?
        {
            return Ok(());
        }
        let value = match kind {
            OpKind::Remove => value.filter(|v| !v.is_null()),
            _ => Some(value.unwrap_or(Value::Null)),
        };
        let filter = match (kind, parsed.filter, &value) {
            // Entra's member removal by value list: only the listed values go.
            (OpKind::Remove, None, Some(listed))
                if path.attr.multi_valued && path.sub.is_none() =>
            {
                Some(listed_values_filter(text, listed)?)
            }
            (_, filter, _) => filter,
        };
        let value = if kind == OpKind::Remove { None } else { value };
        out.push(Operation {
            kind,
            target: Target { path, filter, text: text.to_string() },
            value,
        });
        Ok(())
    }

    /// Whether a read-only attribute sent with a value is scimd's own value echoed back: the
    /// resource's `id` (with or without a path), and inside a pathless value also `meta` of
    /// this resource type, `schemas` and a user's `groups` (Okta sends back what it read). A
    /// different `id` or `meta.resourceType` is an attempt to change it: `mutability`; other
    /// read-only targets are refused by the engine.
    fn is_unchanged_echo(
        &self,
        attr: &AttrDef,
        sub: Option<&AttrDef>,
        value: Option<&Value>,
        in_resource_value: bool,
    ) -> Result<bool, ScimError> {
        let changed = |what: &str, sent: &Value| {
            ScimError::mutability(format!(
                "{} is read-only and cannot be changed (sent {sent}; it is {what})",
                quote(attr.name)
            ))
        };
        match (attr.name, sub.map(|s| s.name), value) {
            ("id", None, Some(v)) => match v.as_str() {
                Some(s) if same_id(s, self.resource_id) => Ok(true),
                _ => Err(changed(&quote(self.resource_id), v)),
            },
            _ if !in_resource_value => Ok(false),
            (_, _, None) => Ok(true),
            ("meta", None, Some(v)) => {
                let sent = v.as_object().and_then(|m| {
                    m.iter().find(|(k, _)| k.eq_ignore_ascii_case("resourceType")).map(|(_, t)| t)
                });
                match sent {
                    Some(t) if t.as_str() != Some(self.rt.name) => {
                        Err(changed(&quote(self.rt.name), t))
                    }
                    // The timestamps and version are scimd's; a client's copy may be stale.
                    _ => Ok(true),
                }
            }
            ("meta", Some("resourceType"), Some(v)) if v.as_str() == Some(self.rt.name) => Ok(true),
            ("meta", Some(_), Some(_)) => Ok(false),
            ("groups", None, Some(v)) if self.rt.name == "User" => {
                self.echoed_groups.borrow_mut().push(group_ids(v)?);
                Ok(true)
            }
            ("schemas", _, _) => Ok(true),
            _ => Ok(false),
        }
    }
}

/// Whether two id spellings name the same resource (UUIDs: case and hyphens vary).
fn same_id(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
    a == b || norm(a) == norm(b)
}

/// `value eq "a" or value eq "b"` for a remove whose value lists `[{"value": "a"}, "b"]`.
fn listed_values_filter(text: &str, listed: &Value) -> Result<Filter, ScimError> {
    let items: Vec<&Value> = match listed {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut terms = Vec::with_capacity(items.len());
    for item in items {
        let id = match item {
            Value::String(s) => Some(s.as_str()),
            Value::Object(m) => m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                .and_then(|(_, v)| v.as_str()),
            _ => None,
        };
        let Some(id) = id.filter(|s| !s.is_empty()) else {
            return Err(ScimError::invalid_value(format!(
                "remove {}: each listed value needs a \"value\" naming what to remove, as in \
                 [{{\"value\": \"...\"}}]",
                quote(text)
            )));
        };
        let term = Filter::Compare {
            path: AttrPath { schema: None, attr: "value".into(), sub: None },
            op: CompareOp::Eq,
            value: CompValue::Str(id.to_string()),
        };
        terms.push(term);
    }
    balanced_or(terms).ok_or_else(|| {
        ScimError::invalid_value(format!(
            "remove {}: the value list is empty; omit \"value\" to remove every value",
            quote(text)
        ))
    })
}

/// `a or b or ...` as a balanced tree: a removal listing thousands of members must not
/// become a chain that deep (matching it and dropping it recurse once per level).
fn balanced_or(mut terms: Vec<Filter>) -> Option<Filter> {
    while terms.len() > 1 {
        let mut next = Vec::with_capacity(terms.len().div_ceil(2));
        let mut pairs = terms.into_iter();
        while let Some(a) = pairs.next() {
            next.push(match pairs.next() {
                Some(b) => Filter::Or(Box::new(a), Box::new(b)),
                None => a,
            });
        }
        terms = next;
    }
    terms.pop()
}
