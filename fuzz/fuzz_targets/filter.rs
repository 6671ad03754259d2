//! The filter parser and evaluator (`scim::filter`). Input: a filter, optionally followed by a
//! NUL byte, a resource-type selector byte and a JSON resource to evaluate it on.
//!
//! Invariants beyond "no panic": a parsed filter, printed back, parses to the same tree (unless
//! the printed form is over the length limit: a bare `x` prints as `"x"`); a filter that
//! validates for a resource type evaluates on any canonical resource of that type, the same
//! way before and after the round trip; `not f` is the negation of `f`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::filter::{self, Filter, MAX_FILTER_LEN};
use scimd::scim::resource;
use scimd_fuzz::{print_filter, resource_type, sample_resources, split_at_byte};

fuzz_target!(|data: &[u8]| {
    let (text, rest) = split_at_byte(data, 0);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let mut resources = sample_resources();
    if let Some((&selector, json)) = rest.split_first()
        && let Ok(body) = serde_json::from_slice(json)
    {
        let rt = resource_type(selector);
        if let Ok(canonical) = resource::canonicalize(rt, body) {
            resources.push((rt, canonical));
        }
    }
    for value_filter in [false, true] {
        let parsed =
            if value_filter { filter::parse_value_filter(text) } else { filter::parse(text) };
        let Ok(f) = parsed else {
            continue;
        };
        let _ = f.attributes();
        let printed = print_filter(&f);
        if printed.len() <= MAX_FILTER_LEN {
            let again = if value_filter {
                filter::parse_value_filter(&printed)
            } else {
                filter::parse(&printed)
            };
            match again {
                Ok(g) => assert_eq!(f, g, "{text:?} printed as {printed:?}"),
                Err(e) => panic!("{text:?} printed as {printed:?} does not parse: {e}"),
            }
        }
        if value_filter {
            continue;
        }
        let negated = Filter::Not(Box::new(f.clone()));
        for (rt, resource) in &resources {
            if filter::validate(&f, rt).is_err() {
                continue;
            }
            let yes = filter::matches(&f, resource, rt);
            assert_eq!(filter::matches(&negated, resource, rt), !yes, "{text:?}");
        }
    }
});
