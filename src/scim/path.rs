//! Attribute paths (RFC 7644 §3.10, `[schema-URN ":"] attr ["." sub]`) and their resolution
//! against a resource type's schemas.
//!
//! Owns the syntax shared by filters, PATCH, `attributes`/`excludedAttributes` and `sortBy`,
//! and the one place that turns a client's spelling (`Name.GivenName`, a URN in any case)
//! into canonical names and schema definitions. It sits below filters: it must not parse or
//! evaluate them (a PATCH path with a `[filter]` is `patch_path.rs`'s) or touch resource
//! values beyond reading the attribute a resolved path names.

use std::fmt;

use serde_json::Value;

use super::error::{ScimError, quote};
use super::schema::{AttrDef, AttrType, ResourceType, SchemaDef, canonical_urn};

/// `[schema-URN ":"] attr ["." sub]`, as the client wrote it, except that a known schema URN
/// is stored in its canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub schema: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

/// A path checked against a resource type: the schema it lives in and its definitions.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedPath {
    pub schema: &'static SchemaDef,
    pub attr: &'static AttrDef,
    pub sub: Option<&'static AttrDef>,
    /// True when the attribute lives under its extension's URN key in resource JSON.
    pub in_extension: bool,
}

impl AttrPath {
    /// Checks that the path names a real attribute (and sub-attribute) of `rt`,
    /// case-insensitively. Errors are `invalidPath`; callers re-type them for their context.
    pub fn resolve(&self, rt: &ResourceType) -> Result<ResolvedPath, ScimError> {
        let (schema, attr) =
            rt.attribute(self.schema.as_deref(), &self.attr).ok_or_else(|| match &self.schema {
                Some(urn) if rt.schema_by_urn(urn).is_none() => ScimError::invalid_path(format!(
                    "unknown schema {} in attribute path {}; {} resources use {}",
                    quote(urn),
                    quote(&self.to_string()),
                    rt.name,
                    schema_list(rt)
                )),
                _ => ScimError::invalid_path(format!(
                    "unknown attribute {} for {}",
                    quote(&self.to_string()),
                    rt.name
                )),
            })?;
        let sub = match &self.sub {
            None => None,
            Some(name) => Some(resolve_sub(attr, name)?),
        };
        Ok(ResolvedPath { schema, attr, sub, in_extension: rt.is_extension(schema) })
    }
}

/// Looks up `parent.name`, explaining what is accepted when it does not exist.
pub(super) fn resolve_sub(parent: &AttrDef, name: &str) -> Result<&'static AttrDef, ScimError> {
    if parent.ty != AttrType::Complex {
        return Err(ScimError::invalid_path(format!(
            "{} has no sub-attributes, so {} does not exist",
            quote(parent.name),
            quote(&format!("{}.{name}", parent.name))
        )));
    }
    parent.sub_attribute(name).ok_or_else(|| {
        let known: Vec<&str> = parent.sub_attributes.iter().map(|a| a.name).collect();
        ScimError::invalid_path(format!(
            "unknown sub-attribute {}; {} has {}",
            quote(&format!("{}.{name}", parent.name)),
            quote(parent.name),
            known.join(", ")
        ))
    })
}

fn schema_list(rt: &ResourceType) -> String {
    let mut urns = vec![rt.schema.id];
    urns.extend(rt.extensions.iter().map(|s| s.id));
    urns.join(" and ")
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.schema {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl ResolvedPath {
    /// The definition the path ends at: the sub-attribute if there is one.
    pub fn target(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The canonical spelling; the URN is kept only for extension attributes, where it is
    /// also the key the attribute lives under.
    pub fn to_path(&self) -> AttrPath {
        AttrPath {
            schema: self.in_extension.then(|| self.schema.id.to_string()),
            attr: self.attr.name.to_string(),
            sub: self.sub.map(|s| s.name.to_string()),
        }
    }

    /// The attribute's value in a canonical resource (extensions under their URN key).
    pub fn attr_value<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let container = if self.in_extension { resource.get(self.schema.id)? } else { resource };
        container.get(self.attr.name)
    }

    /// Every non-null value the path reaches: the elements of a multi-valued attribute, or
    /// the named sub-attribute of each element (`emails.value` gives every address).
    pub fn values<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let Some(top) = self.attr_value(resource) else {
            return Vec::new();
        };
        let items = flatten(top);
        match self.sub {
            None => items,
            Some(sub) => {
                items.into_iter().filter_map(|i| i.get(sub.name)).flat_map(flatten).collect()
            }
        }
    }
}

/// An array's non-null elements, or a single non-null value.
pub(super) fn flatten(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().filter(|i| !i.is_null()).collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Parses `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`. The URN
/// is everything before the last `:`; the rest is `attr[.sub]`. Errors are `invalidPath`.
pub fn parse_attr_path(s: &str) -> Result<AttrPath, ScimError> {
    let bad = |why: &str| {
        ScimError::invalid_path(format!("{} is not a valid attribute path: {why}", quote(s)))
    };
    if s.is_empty() {
        return Err(ScimError::invalid_path("an attribute path is empty"));
    }
    if canonical_urn(s).is_some() {
        return Err(bad("it names a whole schema, not one of its attributes"));
    }
    let (schema, rest) = match s.rsplit_once(':') {
        Some(("", _)) => return Err(bad("the schema URN before ':' is empty")),
        Some((urn, rest)) => (Some(canonical_urn(urn).unwrap_or(urn).to_string()), rest),
        None => (None, s),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, sub)) => (a, Some(sub)),
        None => (rest, None),
    };
    if !is_attr_name(attr) {
        return Err(bad(
            "attribute names start with a letter and contain letters, digits, '-' or '_'",
        ));
    }
    if let Some(sub) = sub
        && !is_attr_name(sub)
    {
        return Err(bad("a path has at most one '.', followed by a sub-attribute name"));
    }
    Ok(AttrPath { schema, attr: attr.to_string(), sub: sub.map(str::to_string) })
}

/// Parses a comma-separated list (`attributes=`, `excludedAttributes=`), ignoring blanks
/// and spaces around names.
pub fn parse_attr_list(s: &str) -> Result<Vec<AttrPath>, ScimError> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(parse_attr_path).collect()
}

/// RFC 7643 §2.1 ATTRNAME, plus `$ref`, the one name that starts with `$`.
pub(super) fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        Some('$') => s == "$ref",
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
pub(super) mod tests {
    use super::super::ScimType;
    use super::super::error::assert_each_refused;
    use super::super::schema::{ENTERPRISE_USER, GROUP, USER};
    use super::*;
    use serde_json::json;

    /// An attribute path from its parts (also for `patch_path.rs`'s tests).
    pub(in crate::scim) fn ap(schema: Option<&str>, attr: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            schema: schema.map(str::to_string),
            attr: attr.to_string(),
            sub: sub.map(str::to_string),
        }
    }

    #[test]
    fn parses_simple_dotted_and_urn_paths() {
        assert_eq!(parse_attr_path("userName").unwrap(), ap(None, "userName", None));
        assert_eq!(parse_attr_path("name.givenName").unwrap(), ap(None, "name", Some("givenName")));
        assert_eq!(
            parse_attr_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .unwrap(),
            ap(Some(ENTERPRISE_USER), "manager", None)
        );
        assert_eq!(
            parse_attr_path(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            )
            .unwrap(),
            ap(Some(ENTERPRISE_USER), "manager", Some("value"))
        );
        assert_eq!(
            parse_attr_path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").unwrap(),
            ap(Some("urn:ietf:params:scim:schemas:core:2.0:User"), "name", Some("givenName"))
        );
        // A known URN in another case is stored canonically.
        assert_eq!(
            parse_attr_path("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:userName").unwrap().schema,
            Some("urn:ietf:params:scim:schemas:core:2.0:User".to_string())
        );
        assert_eq!(parse_attr_path("members.$ref").unwrap(), ap(None, "members", Some("$ref")));
    }

    #[test]
    fn rejects_malformed_paths() {
        assert_each_refused(
            ScimType::InvalidPath,
            parse_attr_path,
            &[
                "",
                "name..givenName",
                "name.givenName.x",
                ".value",
                "1abc",
                "user name",
                ":userName",
                "emails[type",
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "$foo",
            ],
        );
    }

    #[test]
    fn resolves_case_insensitively_to_canonical_names() {
        let r = parse_attr_path("NAME.GIVENNAME").unwrap().resolve(&USER).unwrap();
        assert_eq!(r.to_path(), ap(None, "name", Some("givenName")));
        assert!(!r.in_extension);
        let r = parse_attr_path("manager.Value").unwrap().resolve(&USER).unwrap();
        assert_eq!(r.to_path(), ap(Some(ENTERPRISE_USER), "manager", Some("value")));
        assert!(r.in_extension);
        let r = parse_attr_path("urn:ietf:params:scim:schemas:core:2.0:User:userName")
            .unwrap()
            .resolve(&USER)
            .unwrap();
        assert_eq!(r.to_path(), ap(None, "userName", None));
        assert_eq!(r.target().name, "userName");
    }

    #[test]
    fn resolve_errors_name_the_problem() {
        let e = parse_attr_path("fooBar").unwrap().resolve(&USER).unwrap_err();
        assert_eq!(e.detail, "unknown attribute 'fooBar' for User");
        let e = parse_attr_path("name.nickname").unwrap().resolve(&USER).unwrap_err();
        assert!(e.detail.contains("'name.nickname'") && e.detail.contains("givenName"), "{e}");
        let e = parse_attr_path("userName.x").unwrap().resolve(&USER).unwrap_err();
        assert!(e.detail.contains("no sub-attributes"), "{e}");
        let e = parse_attr_path("urn:x:y:userName").unwrap().resolve(&USER).unwrap_err();
        assert!(e.detail.contains("unknown schema 'urn:x:y'"), "{e}");
        assert!(parse_attr_path("userName").unwrap().resolve(&GROUP).is_err());
        let core_manager = format!("{}:manager", "urn:ietf:params:scim:schemas:core:2.0:User");
        assert!(parse_attr_path(&core_manager).unwrap().resolve(&USER).is_err());
    }

    #[test]
    fn values_flatten_multi_valued_and_extensions() {
        let user = json!({
            "userName": "bjensen",
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@y"}, {"type": "home"}],
            ENTERPRISE_USER: {"manager": {"value": "m1"}},
        });
        let vals = |p: &str| {
            parse_attr_path(p)
                .unwrap()
                .resolve(&USER)
                .unwrap()
                .values(&user)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(vals("emails.value"), vec![json!("a@x"), json!("b@y")]);
        assert_eq!(vals("emails").len(), 3);
        assert_eq!(vals("manager.value"), vec![json!("m1")]);
        assert_eq!(vals("userName"), vec![json!("bjensen")]);
        assert!(vals("title").is_empty());
    }

    #[test]
    fn attr_lists_tolerate_spaces_and_blanks() {
        let l = parse_attr_list(" userName , emails.value,,name.givenName ").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[1], ap(None, "emails", Some("value")));
        assert!(parse_attr_list("userName,bad name").is_err());
        assert!(parse_attr_list("").unwrap().is_empty());
    }
}
