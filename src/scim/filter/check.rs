//! The schema check of a parsed filter: every name resolves in the resource type (or, inside
//! `[...]` and in PATCH paths, among one complex attribute's sub-attributes), each operator
//! suits its attribute's type and each value reads as that type. Errors are `invalidFilter`.
//!
//! Also owns what the evaluator shares with the check, so the two agree: the [`Scope`] names
//! are looked up in, a complex attribute compared through its `value`, and how a literal reads
//! as a boolean or a number. It never looks at a resource's values beyond `Scope::values`.

use serde_json::{Number, Value};

use crate::scim::datetime;
use crate::scim::error::{ScimError, quote};
use crate::scim::path::{AttrPath, flatten, resolve_sub};
use crate::scim::schema::{AttrDef, AttrType, ResourceType, Returned};

use super::parse::{CompValue, CompareOp, Filter};

/// Where a filter's attribute names are looked up: in a resource type, or (inside `[...]`
/// and in PATCH paths) among the sub-attributes of one complex attribute.
#[derive(Clone, Copy)]
pub(super) enum Scope<'a> {
    Resource(&'a ResourceType),
    Element(&'static AttrDef),
}

impl Scope<'_> {
    /// The definition a term's path ends at.
    pub(super) fn definition(&self, path: &AttrPath) -> Result<&'static AttrDef, ScimError> {
        match self {
            Scope::Resource(rt) => Ok(path.resolve(rt)?.target()),
            Scope::Element(parent) => match (&path.schema, &path.sub) {
                (None, None) => resolve_sub(parent, &path.attr),
                _ => Err(ScimError::invalid_path(format!(
                    "inside {}[...] use a plain sub-attribute name, not {}",
                    parent.name,
                    quote(&path.to_string())
                ))),
            },
        }
    }

    /// The definition and every non-null value a term's path reaches in `json`.
    pub(super) fn values<'v>(
        &self,
        path: &AttrPath,
        json: &'v Value,
    ) -> Option<(&'static AttrDef, Vec<&'v Value>)> {
        match self {
            Scope::Resource(rt) => {
                let resolved = path.resolve(rt).ok()?;
                Some((resolved.target(), resolved.values(json)))
            }
            Scope::Element(_) => {
                let def = self.definition(path).ok()?;
                Some((def, json.get(def.name).map(flatten).unwrap_or_default()))
            }
        }
    }
}

/// A complex attribute compared as a whole compares its `value` sub-attribute.
pub(super) fn comparable(def: &'static AttrDef) -> Option<&'static AttrDef> {
    match def.ty {
        AttrType::Complex => def.sub_attribute("value"),
        _ => Some(def),
    }
}

/// Checks a parsed filter against `rt`: attributes exist, operators suit their types,
/// values have the right type. Errors are `invalidFilter`.
pub fn validate(f: &Filter, rt: &ResourceType) -> Result<(), ScimError> {
    check(f, Scope::Resource(rt))
}

/// [`validate`] for a filter whose names are sub-attributes of `parent` (a PATCH path's).
pub fn validate_value_filter(f: &Filter, parent: &'static AttrDef) -> Result<(), ScimError> {
    check(f, Scope::Element(parent))
}

fn check(f: &Filter, scope: Scope<'_>) -> Result<(), ScimError> {
    let as_filter_error = |e: ScimError| ScimError::invalid_filter(e.detail);
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, scope)?;
            check(b, scope)
        }
        Filter::Not(a) => check(a, scope),
        Filter::Present(path) => {
            let def = scope.definition(path).map_err(as_filter_error)?;
            filterable(def, path)
        }
        Filter::Compare { path, op, value } => {
            let def = scope.definition(path).map_err(as_filter_error)?;
            filterable(def, path)?;
            let def = comparable(def).ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "{} is complex; compare one of its sub-attributes, such as {}.{}",
                    quote(&path.to_string()),
                    path,
                    def.sub_attributes.first().map_or("value", |s| s.name)
                ))
            })?;
            check_comparison(def, path, *op, value)
        }
        Filter::ValuePath { attr, filter } => {
            let Scope::Resource(rt) = scope else {
                return Err(ScimError::invalid_filter("[...] filters cannot be nested"));
            };
            let def = attr.resolve(rt).map_err(as_filter_error)?.attr;
            if def.ty != AttrType::Complex {
                return Err(ScimError::invalid_filter(format!(
                    "{} is not complex, so it cannot be filtered with [...]",
                    quote(&attr.to_string())
                )));
            }
            filterable(def, attr)?;
            check(filter, Scope::Element(def))
        }
    }
}

fn filterable(def: &AttrDef, path: &AttrPath) -> Result<(), ScimError> {
    if def.returned == Returned::Never {
        return Err(ScimError::invalid_filter(format!(
            "{} cannot be used in a filter: scimd never returns or stores it",
            quote(&path.to_string())
        )));
    }
    Ok(())
}

fn check_comparison(
    def: &AttrDef,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), ScimError> {
    let name = quote(&path.to_string());
    let op_name = op.as_str();
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => Err(ScimError::invalid_filter(format!(
                "'{path} {op_name} null': null can only be compared with eq or ne"
            ))),
        };
    }
    let op_ok = match def.ty {
        AttrType::String | AttrType::Reference => true,
        AttrType::Binary => !op.is_ordering(),
        AttrType::Integer | AttrType::Decimal | AttrType::DateTime => !op.is_substring(),
        AttrType::Boolean | AttrType::Complex => !op.is_ordering() && !op.is_substring(),
    };
    if !op_ok {
        return Err(ScimError::invalid_filter(format!(
            "operator '{op_name}' cannot be used on {name}, which is of type {}",
            def.ty.as_str()
        )));
    }
    let (value_ok, expected) = match def.ty {
        AttrType::Boolean => (value_bool(value).is_some(), "true or false"),
        AttrType::Integer | AttrType::Decimal => (value_number(value).is_some(), "a number"),
        AttrType::DateTime => (
            matches!(value, CompValue::Str(s) if datetime::parse(s).is_some()),
            "a date and time such as \"2011-05-13T04:42:34Z\"",
        ),
        _ => (true, ""),
    };
    if !value_ok {
        let given = match value {
            CompValue::Str(s) => quote(s),
            CompValue::Num(n) => n.to_string(),
            CompValue::Bool(b) => b.to_string(),
            CompValue::Null => "null".to_string(),
        };
        return Err(ScimError::invalid_filter(format!(
            "{name} is of type {}, so compare it with {expected}, not {given}",
            def.ty.as_str()
        )));
    }
    Ok(())
}

/// Entra writes booleans as the strings "True"/"False" (`roles[primary eq "True"]`).
pub(super) fn value_bool(value: &CompValue) -> Option<bool> {
    match value {
        CompValue::Bool(b) => Some(*b),
        CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
        CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

pub(super) fn value_number(value: &CompValue) -> Option<Number> {
    match value {
        CompValue::Num(n) => Some(n.clone()),
        CompValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}
