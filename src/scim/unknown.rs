//! Unknown attributes under `[scim] unknown_attributes = "ignore"`: what a POST or PUT body,
//! or a PATCH body, names that the schema model does not have is taken out before the usual
//! checks, and its name is returned so the provisioning log can say what was dropped. Under
//! the default `"reject"` nothing here runs and the checks answer `400` naming the attribute.
//!
//! Only names are judged here: a known attribute with a wrong value is still refused.

use serde_json::{Map, Value};

use super::patch_path::parse_patch_path;
use super::path::parse_attr_path;
use super::schema::{AttrDef, AttrType, ResourceType};

/// Removes from `body` (a resource as POST or PUT sends it) the attributes and
/// sub-attributes `rt` does not have; returns their names as sent, in order.
pub fn strip_resource(rt: &ResourceType, body: &mut Value) -> Vec<String> {
    let mut dropped = Vec::new();
    if let Value::Object(fields) = body {
        strip_fields(rt, fields, &mut dropped);
    }
    dropped
}

/// What [`strip_patch`] took out of a PATCH body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StrippedPatch {
    /// The unknown names, in order.
    pub dropped: Vec<String>,
    /// Whether every operation went with them (the PATCH then has nothing to do).
    pub emptied: bool,
}

/// Removes from a PATCH body the operations whose path names an attribute `rt` does not have,
/// and the unknown names inside operations' values.
pub fn strip_patch(rt: &ResourceType, body: &mut Value) -> StrippedPatch {
    let mut dropped = Vec::new();
    let Some(Value::Array(ops)) = body
        .as_object_mut()
        .and_then(|f| f.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case("Operations")))
        .map(|(_, v)| v)
    else {
        return StrippedPatch::default();
    };
    ops.retain_mut(|op| {
        let Value::Object(op) = op else { return true };
        let path = op.iter().find(|(k, _)| k.eq_ignore_ascii_case("path")).map(|(_, v)| v.clone());
        let value = op.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case("value")).map(|(_, v)| v);
        match path {
            Some(Value::String(path)) if !path.trim().is_empty() => {
                let Ok(resolved) = parse_patch_path(&path).and_then(|p| p.resolve(rt)) else {
                    dropped.push(path);
                    return false;
                };
                if let (None, Some(value)) = (resolved.sub, value) {
                    strip_values(resolved.attr, resolved.attr.name, value, &mut dropped);
                }
                true
            }
            // Path-less: the value's keys are attribute paths.
            _ => match value {
                Some(Value::Object(fields)) => {
                    let before = fields.len();
                    strip_fields(rt, fields, &mut dropped);
                    // An operation left with nothing to set is dropped with its names.
                    before == 0 || !fields.is_empty()
                }
                _ => true,
            },
        }
    });
    let emptied = ops.is_empty() && !dropped.is_empty();
    StrippedPatch { dropped, emptied }
}

/// A resource's (or path-less value's) top-level keys: plain names, dotted or URN-qualified
/// paths, and extension objects under their URN.
fn strip_fields(rt: &ResourceType, fields: &mut Map<String, Value>, dropped: &mut Vec<String>) {
    fields.retain(|key, value| {
        if key.eq_ignore_ascii_case("schemas") || value.is_null() {
            return true;
        }
        if let Some(ext) = rt.extension(key) {
            if let Value::Object(attrs) = value {
                attrs.retain(|name, v| {
                    if name.eq_ignore_ascii_case("schemas") || v.is_null() {
                        return true;
                    }
                    match ext.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name)) {
                        Some(def) => {
                            strip_values(def, &format!("{}:{}", ext.id, def.name), v, dropped);
                            true
                        }
                        None => {
                            dropped.push(format!("{}:{name}", ext.id));
                            false
                        }
                    }
                });
            }
            return true;
        }
        match parse_attr_path(key).and_then(|p| p.resolve(rt)) {
            Ok(resolved) => {
                if resolved.sub.is_none() {
                    strip_values(resolved.attr, key, value, dropped);
                }
                true
            }
            Err(_) => {
                dropped.push(key.clone());
                false
            }
        }
    });
}

/// Unknown sub-attributes inside the value (or the list's elements) of complex `def`.
fn strip_values(def: &AttrDef, label: &str, value: &mut Value, dropped: &mut Vec<String>) {
    if def.ty != AttrType::Complex {
        return;
    }
    let mut strip_element = |element: &mut Value| {
        if let Value::Object(fields) = element {
            fields.retain(|name, _| {
                let known = def.sub_attribute(name).is_some();
                if !known {
                    dropped.push(format!("{label}.{name}"));
                }
                known
            });
        }
    };
    match value {
        Value::Array(elements) => elements.iter_mut().for_each(&mut strip_element),
        element => strip_element(element),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER, GROUP, USER};

    #[test]
    fn a_body_loses_only_what_the_schema_does_not_have() {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "u", "shoeSize": 44, "name.nickname": "x", "name.givenName": "G",
            "emails": [{"value": "a@x", "type": "work", "colour": "red"}],
            "name": {"familyName": "F", "suffix2": "y"},
            ENTERPRISE_USER: {"department": "D", "badge": "7"},
            "urn:ietf:params:scim:schemas:extension:other:2.0:User": {"a": 1},
            "urn:ietf:params:scim:schemas:extension:other:2.0:User:b": 2,
            "addresses": null
        });
        let dropped = strip_resource(&USER, &mut body);
        assert_eq!(
            dropped,
            [
                "shoeSize".to_string(),
                "name.nickname".into(),
                "emails.colour".into(),
                "name.suffix2".into(),
                format!("{ENTERPRISE_USER}:badge"),
                "urn:ietf:params:scim:schemas:extension:other:2.0:User".into(),
                "urn:ietf:params:scim:schemas:extension:other:2.0:User:b".into(),
            ]
        );
        assert_eq!(
            body,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "u", "name.givenName": "G",
                "emails": [{"value": "a@x", "type": "work"}],
                "name": {"familyName": "F"},
                ENTERPRISE_USER: {"department": "D"},
                "addresses": null
            })
        );
    }

    #[test]
    fn a_patch_loses_the_operations_on_unknown_paths() {
        let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "shoeSize", "value": 44},
            {"op": "Replace", "path": "displayName", "value": "D"},
            {"op": "replace", "value": {"nickName": "n", "urn:x:y:hat": "z"}},
            {"op": "replace", "value": {"hat": "z"}},
            {"op": "add", "path": "emails", "value": [{"value": "a@x", "glow": true}]}
        ]});
        let stripped = strip_patch(&USER, &mut body);
        assert_eq!(stripped.dropped, ["shoeSize", "urn:x:y:hat", "hat", "emails.glow"]);
        assert!(!stripped.emptied);
        let ops = body["Operations"].as_array().unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[1]["value"], json!({"nickName": "n"}));
        assert_eq!(ops[2]["value"], json!([{"value": "a@x"}]));
        let mut group =
            json!({"Operations": [{"op": "remove", "path": "members[value eq \"1\"]"}]});
        assert_eq!(strip_patch(&GROUP, &mut group), StrippedPatch::default());
        let mut only = json!({"Operations": [{"op": "add", "path": "hat", "value": 1}]});
        assert!(strip_patch(&USER, &mut only).emptied);
    }
}
