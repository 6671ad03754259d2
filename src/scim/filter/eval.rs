//! Evaluation: whether a resource (or one element of a complex attribute) matches a filter.
//!
//! Owns the comparison rules: caseExact text compared as is and other text under `text::fold`,
//! numbers exactly for integers, dateTime as instants, a multi-valued attribute matching when
//! any value does, `ne` as the negation of `eq`. It must not know how resources are stored or
//! indexed; a name the schema does not have never matches (`check.rs` reports it first).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::scim::datetime;
use crate::scim::path::flatten;
use crate::scim::schema::{AttrDef, AttrType, ResourceType};
use crate::scim::text;

use super::check::{Scope, comparable, value_bool, value_number};
use super::parse::{CompValue, CompareOp, Filter};

/// Whether `resource` (canonical JSON: canonical key case, extensions under their URN key)
/// matches the filter. Unknown attributes never match; run
/// [`validate`](super::check::validate) first to report them.
pub fn matches(f: &Filter, resource: &Value, rt: &ResourceType) -> bool {
    eval(f, resource, Scope::Resource(rt))
}

/// Whether one element of `parent` (for example one of a user's `emails`) matches a value
/// filter such as a PATCH path's `[type eq "work"]`.
pub fn matches_value_filter(f: &Filter, element: &Value, parent: &'static AttrDef) -> bool {
    eval(f, element, Scope::Element(parent))
}

fn eval(f: &Filter, json: &Value, scope: Scope<'_>) -> bool {
    match f {
        Filter::And(a, b) => eval(a, json, scope) && eval(b, json, scope),
        Filter::Or(a, b) => eval(a, json, scope) || eval(b, json, scope),
        Filter::Not(a) => !eval(a, json, scope),
        Filter::Present(path) => {
            scope.values(path, json).is_some_and(|(_, vals)| vals.into_iter().any(is_present))
        }
        Filter::Compare { path, op, value } => match scope.values(path, json) {
            Some((def, vals)) => compare_values(def, &vals, *op, value),
            None => false,
        },
        Filter::ValuePath { attr, filter } => {
            let Scope::Resource(rt) = scope else {
                return false;
            };
            let Ok(resolved) = attr.resolve(rt) else {
                return false;
            };
            let def = resolved.attr;
            resolved
                .attr_value(json)
                .map(flatten)
                .unwrap_or_default()
                .into_iter()
                .any(|element| element.is_object() && eval(filter, element, Scope::Element(def)))
        }
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(m) => m.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_values(
    def: &'static AttrDef,
    vals: &[&Value],
    op: CompareOp,
    value: &CompValue,
) -> bool {
    if op == CompareOp::Ne {
        return !compare_values(def, vals, CompareOp::Eq, value);
    }
    if *value == CompValue::Null {
        return op == CompareOp::Eq && !vals.iter().any(|v| is_present(v));
    }
    match comparable(def) {
        // A complex attribute: compare each element's `value`.
        Some(leaf) if !std::ptr::eq(leaf, def) => {
            vals.iter().filter_map(|v| v.get(leaf.name)).any(|v| compare_one(leaf, v, op, value))
        }
        Some(_) => vals.iter().any(|v| compare_one(def, v, op, value)),
        None => false,
    }
}

fn compare_one(def: &AttrDef, v: &Value, op: CompareOp, value: &CompValue) -> bool {
    match def.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let (Some(a), Some(b)) = (v.as_str(), value_text(value)) else {
                return false;
            };
            if def.case_exact {
                compare_text(a, &b, op)
            } else {
                // The same key the name indexes use, so an index candidate set and the
                // evaluator agree (`userName eq "STRASSE"` finds `straße`).
                compare_text(&text::fold(a), &text::fold(&b), op)
            }
        }
        AttrType::Boolean => {
            op == CompareOp::Eq && v.as_bool().is_some_and(|a| Some(a) == value_bool(value))
        }
        AttrType::Integer | AttrType::Decimal => match (v, value_number(value)) {
            (Value::Number(a), Some(b)) => {
                compare_numbers(a, &b).is_some_and(|o| ordering_holds(o, op))
            }
            _ => false,
        },
        AttrType::DateTime => {
            let a = v.as_str().and_then(datetime::parse);
            let b = match value {
                CompValue::Str(s) => datetime::parse(s),
                _ => None,
            };
            match (a, b) {
                (Some(a), Some(b)) => ordering_holds(a.cmp(&b), op),
                _ => false,
            }
        }
        AttrType::Complex => false,
    }
}

fn compare_text(a: &str, b: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordering_holds(a.cmp(b), op),
    }
}

/// Eq/ordering operators against an ordering; substring operators never hold for
/// non-text types.
fn ordering_holds(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// A value compared as text. An unquoted number or boolean against a string attribute
/// (`externalId eq 1234`) compares as the text the client typed.
fn value_text(value: &CompValue) -> Option<Cow<'_, str>> {
    match value {
        CompValue::Str(s) => Some(Cow::Borrowed(s)),
        CompValue::Num(n) => Some(Cow::Owned(n.to_string())),
        CompValue::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        CompValue::Null => None,
    }
}

/// Numeric ordering that stays exact for integers and falls back to f64 otherwise.
pub(in crate::scim) fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}
