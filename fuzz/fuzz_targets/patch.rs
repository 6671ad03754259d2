//! PATCH parsing and application (`scim::tolerance` then `scim::patch::apply`). Input: a
//! selector byte (even: User, odd: Group) and a JSON array `[stored resource, PatchOp body]`.
//!
//! Invariants beyond "no panic": a successful patch never produces a resource the schema
//! refuses: its attributes are canonical (canonicalising them again changes nothing), carry no
//! `schemas`, keep the naming attribute (`userName`, `displayName`) a string, and the attributes it
//! reports as changed are exactly the top-level ones that differ; member changes only come
//! from groups; a failed patch is an error, never a partial result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::schema::ResourceType;
use scimd::scim::{patch, resource, tolerance};
use scimd_fuzz::resource_type;
use serde_json::Value;

/// The top-level attribute names of `rt` whose values differ between `a` and `b`.
fn differing(rt: &ResourceType, a: &Value, b: &Value) -> Vec<&'static str> {
    let mut out = Vec::new();
    for schema in std::iter::once(rt.schema).chain(rt.extensions.iter().copied()) {
        let scope = |v: &Value| {
            if rt.is_extension(schema) { v.get(schema.id).cloned() } else { Some(v.clone()) }
        };
        for attr in schema.attributes {
            let get = |v: &Value| scope(v).and_then(|v| v.get(attr.name).cloned());
            if get(a) != get(b) {
                out.push(attr.name);
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let Ok(Value::Array(parts)) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let [stored, body] = <[Value; 2]>::try_from(parts).unwrap_or([Value::Null, Value::Null]);
    let rt = resource_type(selector);
    // The stored attributes are what a POST left: canonical, without `schemas`.
    let Ok(mut current) = resource::canonicalize(rt, stored) else {
        return;
    };
    if let Some(fields) = current.as_object_mut() {
        fields.remove("schemas");
    }
    let Ok(request) = tolerance::patch_operations(rt, "2819c223", body) else {
        return;
    };
    let Ok(patched) = patch::apply(rt, &current, &request.operations) else {
        return;
    };
    let attributes = &patched.attributes;
    let Some(fields) = attributes.as_object() else {
        panic!("not an object: {attributes}");
    };
    assert!(!fields.contains_key("schemas"), "{attributes}");
    let mut with_schemas = attributes.clone();
    if let Some(fields) = with_schemas.as_object_mut() {
        fields.insert("schemas".into(), Value::Array(Vec::new()));
    }
    match resource::canonicalize(rt, with_schemas) {
        Ok(mut again) => {
            if let Some(fields) = again.as_object_mut() {
                fields.remove("schemas");
            }
            assert_eq!(&again, attributes, "the patched resource is not canonical");
        }
        Err(e) => panic!("the patched resource {attributes} is refused: {e}"),
    }
    let naming = if rt.name == "User" { "userName" } else { "displayName" };
    // Blank names are the service's to refuse; the engine must not drop the attribute.
    if current.get(naming).is_some() {
        assert!(attributes.get(naming).is_some_and(Value::is_string), "{naming}: {attributes}");
    }
    assert_eq!(patched.changed, differing(rt, &current, attributes));
    if rt.name != "Group" {
        assert!(patched.members.is_empty(), "{:?}", patched.members);
    }
});
