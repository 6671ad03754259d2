//! Attribute paths and PATCH paths (`scim::path`, `scim::patch_path`). Input: a path, as text.
//!
//! Invariants beyond "no panic": an attribute path and a PATCH path, printed back, parse to
//! the same value; a path that resolves for a resource type resolves, in its canonical
//! spelling, to the same definitions; an attribute list is the paths between its commas.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::patch_path::parse_patch_path;
use scimd::scim::path::{self, ResolvedPath};
use scimd::scim::schema::{GROUP, USER};
use scimd_fuzz::print_patch_path;

fn same_target(a: &ResolvedPath, b: &ResolvedPath) -> bool {
    std::ptr::eq(a.schema, b.schema)
        && std::ptr::eq(a.attr, b.attr)
        && a.sub.map(|s| s as *const _) == b.sub.map(|s| s as *const _)
        && a.in_extension == b.in_extension
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = path::parse_attr_path(text) {
        let printed = p.to_string();
        assert_eq!(path::parse_attr_path(&printed).ok().as_ref(), Some(&p), "{text:?}");
        for rt in [&USER, &GROUP] {
            if let Ok(resolved) = p.resolve(rt) {
                let canonical = resolved.to_path();
                let again = path::parse_attr_path(&canonical.to_string())
                    .and_then(|c| c.resolve(rt))
                    .unwrap_or_else(|e| panic!("{text:?} as {canonical}: {e}"));
                assert!(same_target(&resolved, &again), "{text:?} as {canonical}");
            }
        }
    }
    if let Ok(list) = path::parse_attr_list(text) {
        assert!(list.len() <= text.split(',').count(), "{text:?}");
    }
    if let Ok(p) = parse_patch_path(text) {
        let printed = print_patch_path(&p);
        match parse_patch_path(&printed) {
            Ok(q) => assert_eq!(p, q, "{text:?} printed as {printed:?}"),
            Err(e) => {
                // Printing quotes bare values, so only a path at the filter length limit
                // may grow past it.
                assert!(
                    printed.len() > scimd::scim::filter::MAX_FILTER_LEN,
                    "{text:?} printed as {printed:?} does not parse: {e}"
                );
            }
        }
        for rt in [&USER, &GROUP] {
            let _ = p.resolve(rt);
        }
    }
});
