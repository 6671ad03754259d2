//! Input canonicalisation: a POST/PUT body (`scim::resource::canonicalize`) and a PatchOp body
//! through the IdP tolerance layer (`scim::tolerance::patch_operations`). Input: a selector
//! byte (even: User, odd: Group) and a JSON body.
//!
//! Invariants beyond "no panic": canonicalising is idempotent (a canonical body is its own
//! canonical form); every operation the tolerance layer produces names a path that resolves,
//! in its canonical spelling, for the resource type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::{resource, tolerance};
use scimd_fuzz::resource_type;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let rt = resource_type(selector);
    if let Ok(canonical) = resource::canonicalize(rt, body.clone()) {
        assert!(canonical.is_object(), "{canonical}");
        match resource::canonicalize(rt, canonical.clone()) {
            Ok(again) => assert_eq!(canonical, again, "not idempotent for {body}"),
            Err(e) => panic!("the canonical form {canonical} of {body} is refused: {e}"),
        }
    }
    if let Ok(request) = tolerance::patch_operations(rt, "2819c223", body) {
        for op in &request.operations {
            let canonical = op.target.path.to_path();
            let resolved = canonical.resolve(rt);
            assert!(resolved.is_ok(), "operation on {:?} as {canonical}", op.target.text);
        }
    }
});
