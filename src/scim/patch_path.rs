//! PATCH paths (RFC 7644 §3.5.2: `attrPath` or `valuePath [ "." subAttr ]`, such as
//! `members`, `name.givenName`, `emails[type eq "work"].value`) and their resolution.
//!
//! The one path that needs both attribute paths (`path.rs`) and filters (`filter/`): it sits
//! above both, so neither of them imports the other back. It must not apply operations
//! (`patch.rs` does) or evaluate the filter on a resource (the engine calls
//! [`filter::matches_value_filter`] on each element).

use super::error::{ScimError, quote};
use super::filter::{self, Filter};
use super::path::{AttrPath, ResolvedPath, is_attr_name, parse_attr_path, resolve_sub};
use super::schema::{AttrType, ResourceType};

/// A PATCH `path`: `members`, `name.givenName`, `emails[type eq "work"]`,
/// `emails[type eq "work"].value`. With a filter, `attr` has no sub-attribute and the filter's
/// attribute names are relative to `attr` (use [`filter::matches_value_filter`] on elements).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

/// Parses a PATCH path. Every error, including one in an embedded filter, is `invalidPath`.
pub fn parse_patch_path(s: &str) -> Result<PatchPath, ScimError> {
    let s = s.trim();
    let Some((head, rest)) = s.split_once('[') else {
        if s.contains(']') {
            return Err(ScimError::invalid_path(format!(
                "PATCH path {} has ']' without a matching '['",
                quote(s)
            )));
        }
        return Ok(PatchPath { attr: parse_attr_path(s)?, filter: None, sub: None });
    };
    let attr = parse_attr_path(head.trim_end())?;
    if attr.sub.is_some() {
        return Err(ScimError::invalid_path(format!(
            "PATCH path {}: a [filter] must follow a multi-valued attribute such as emails, \
             not a sub-attribute",
            quote(s)
        )));
    }
    let close = closing_bracket(rest).ok_or_else(|| {
        ScimError::invalid_path(format!("PATCH path {} has '[' without a matching ']'", quote(s)))
    })?;
    let (inner, tail) = (rest.get(..close).unwrap_or(""), rest.get(close + 1..).unwrap_or(""));
    let filter = filter::parse_value_filter(inner)
        .map_err(|e| ScimError::invalid_path(format!("PATCH path {}: {}", quote(s), e.detail)))?;
    let sub = match tail {
        "" => None,
        t => match t.strip_prefix('.') {
            Some(name) if is_attr_name(name) => Some(name.to_string()),
            _ => {
                return Err(ScimError::invalid_path(format!(
                    "PATCH path {}: only '.subAttribute' may follow ']', found {}",
                    quote(s),
                    quote(t)
                )));
            }
        },
    };
    Ok(PatchPath { attr, filter: Some(filter), sub })
}

/// The byte index of the `]` closing a value filter, skipping quoted strings (a value may
/// contain `]`). Nested `[` is not part of the grammar and yields None.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (true, false, _) => {}
            (false, _, '"') => in_string = true,
            (false, _, ']') => return Some(i),
            (false, _, '[') => return None,
            (false, _, _) => {}
        }
    }
    None
}

impl PatchPath {
    /// Checks the path against `rt`: the attribute, the filter (relative to it) and the
    /// trailing sub-attribute. The result's `sub` is the sub-attribute the path ends at.
    pub fn resolve(&self, rt: &ResourceType) -> Result<ResolvedPath, ScimError> {
        let mut resolved = self.attr.resolve(rt)?;
        if let Some(f) = &self.filter {
            if resolved.attr.ty != AttrType::Complex {
                return Err(ScimError::invalid_path(format!(
                    "{} is not complex, so it cannot be filtered with [...]",
                    quote(resolved.attr.name)
                )));
            }
            filter::validate_value_filter(f, resolved.attr)
                .map_err(|e| ScimError::invalid_path(e.detail))?;
            if let Some(sub) = &self.sub {
                resolved.sub = Some(resolve_sub(resolved.attr, sub)?);
            }
        }
        Ok(resolved)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::super::ScimType;
    use super::super::error::assert_each_refused;
    use super::super::filter::{CompValue, CompareOp};
    use super::super::path::tests::ap;
    use super::super::schema::{ENTERPRISE_USER, USER};
    use super::*;

    #[test]
    fn parses_patch_paths() {
        let p = parse_patch_path("members").unwrap();
        assert_eq!((p.attr, p.filter, p.sub), (ap(None, "members", None), None, None));
        let p = parse_patch_path("name.givenName").unwrap();
        assert_eq!(p.attr, ap(None, "name", Some("givenName")));

        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr, ap(None, "emails", None));
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(
            p.filter,
            Some(Filter::Compare {
                path: ap(None, "type", None),
                op: CompareOp::Eq,
                value: CompValue::Str("work".into()),
            })
        );
        let p = parse_patch_path(r#"members[value eq "a]b"]"#).unwrap();
        assert!(
            matches!(p.filter, Some(Filter::Compare { value: CompValue::Str(ref v), .. }) if v == "a]b")
        );
        assert!(p.sub.is_none());
        let p = parse_patch_path(r#"addresses[type eq "other"].Formatted"#).unwrap();
        assert_eq!(p.sub.as_deref(), Some("Formatted"));
        let p = parse_patch_path(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "x"]"#,
        )
        .unwrap();
        assert_eq!(p.attr.schema.as_deref(), Some(ENTERPRISE_USER));
    }

    #[test]
    fn patch_path_errors_are_invalid_path() {
        assert_each_refused(
            ScimType::InvalidPath,
            parse_patch_path,
            &[
                "emails[type eq \"work\"",
                "emails]",
                "emails[type eq]",
                "emails[type eq \"work\"]value",
                "emails[type eq \"work\"].",
                "name.givenName[value eq \"x\"]",
                "emails[type[value eq \"x\"]]",
                "emails[]",
                "",
            ],
        );
    }

    #[test]
    fn resolves_patch_paths() {
        let r =
            parse_patch_path(r#"emails[type eq "work"].Value"#).unwrap().resolve(&USER).unwrap();
        assert_eq!(r.to_path(), ap(None, "emails", Some("value")));
        let r = parse_patch_path(r#"roles[primary eq "True"].display"#).unwrap().resolve(&USER);
        assert!(r.is_ok());
        let e = parse_patch_path(r#"emails[foo eq "work"]"#).unwrap().resolve(&USER).unwrap_err();
        assert_eq!(e.scim_type, ScimType::InvalidPath);
        assert!(e.detail.contains("emails.foo"), "{e}");
        let e = parse_patch_path(r#"userName[value eq "x"]"#).unwrap().resolve(&USER).unwrap_err();
        assert!(e.detail.contains("not complex"), "{e}");
        let e = parse_patch_path(r#"emails[type eq "work"].nope"#).unwrap().resolve(&USER);
        assert!(e.is_err());
    }
}
