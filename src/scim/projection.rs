//! Which attributes a response carries: `attributes` / `excludedAttributes` (RFC 7644
//! §3.4.2.5, §3.9) combined with each attribute's `returned` characteristic (RFC 7643 §7).
//!
//! Owns the decision per attribute, and answers it *before* the service reads anything
//! ([`Projection::wants`]), so `excludedAttributes=members` never loads a group's member rows.
//! It must not fetch or compute attribute values; it only trims a canonical resource.
//!
//! Choices the RFC leaves open:
//! - a name that is not a valid attribute path (`a..b`, `user name`) is `invalidValue`;
//! - `attributes` may name a multi-valued complex attribute with a value filter
//!   (`emails[type eq "work"]`, `emails[type eq "work"].value`): the attribute is returned
//!   with only the elements that match (RFC 7644 does not define the form; Microsoft's test
//!   tooling sends it). `excludedAttributes` takes plain names only;
//! - a well-formed name that the resource type does not have is ignored, in both lists: the
//!   response stays well-formed, and a client asking for another vendor's attribute should
//!   not have its whole read refused (excluding something absent is trivially satisfied);
//! - `returned: always` attributes (`id`, `schemas`) survive both lists; `returned: never`
//!   (`password`) never appears; `returned: request` appears only when named in `attributes`;
//! - when both lists are given, `attributes` selects and `excludedAttributes` then removes.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, Filter};
use super::patch_path::parse_patch_path;
use super::path::{self, AttrPath};
use super::schema::{AttrDef, ResourceType, Returned, SchemaDef};

/// A parsed pair of `attributes` / `excludedAttributes` parameters. The default projection
/// (neither given) returns every `returned: default` attribute.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// None when `attributes` was absent or blank; Some (possibly empty, when every name was
    /// unknown) when the client asked for a whitelist.
    include: Option<Vec<Selector>>,
    exclude: Vec<Selector>,
}

/// One resolved name: schema URN, attribute and optional sub-attribute, canonical spelling.
#[derive(Debug, Clone, PartialEq)]
struct Selector {
    schema: &'static str,
    attr: &'static str,
    sub: Option<&'static str>,
    /// Only the elements that match (`attributes=emails[type eq "work"]`).
    elements: Option<Filter>,
}

/// What survives of one attribute, and of its elements.
struct Decision<'a> {
    keep: Keep,
    /// The element filters the attribute was named with; None keeps every element.
    elements: Option<Vec<&'a Filter>>,
}

/// What survives of one attribute.
enum Keep {
    All,
    Only(Vec<&'static str>),
    Except(Vec<&'static str>),
}

impl Projection {
    /// Parses both parameters (comma-separated, whitespace-tolerant, case-insensitive,
    /// URN-qualified names allowed).
    pub fn parse(
        rt: &ResourceType,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        let include = match attributes.map(split_names) {
            Some(names) if names.is_empty() => None,
            Some(names) => Some(included(rt, &names)?),
            None => None,
        };
        let exclude = match excluded.map(path::parse_attr_list) {
            Some(paths) => selectors(rt, "excludedAttributes", paths)?,
            None => Vec::new(),
        };
        Ok(Projection { include, exclude })
    }

    /// True when the projection changes nothing: no `attributes`, and no
    /// `excludedAttributes` naming anything scimd knows.
    pub fn is_default(&self) -> bool {
        self.include.is_none() && self.exclude.is_empty()
    }

    /// Whether the response will contain the top-level attribute `attr` (a plain or
    /// URN-qualified name). The service asks `wants(&GROUP, "members")` before reading
    /// membership rows.
    pub fn wants(&self, rt: &ResourceType, attr: &str) -> bool {
        path::parse_attr_path(attr)
            .and_then(|p| p.resolve(rt))
            .is_ok_and(|r| self.keep(r.schema, r.attr).is_some())
    }

    /// [`Projection::apply`] on a resource the caller no longer needs: the default projection
    /// returns it as it is (scimd renders only attributes returned by default), others copy
    /// what they keep.
    pub fn apply_owned(&self, rt: &ResourceType, resource: Value) -> Value {
        if self.is_default() { resource } else { self.apply(rt, &resource) }
    }

    /// Trims a canonical resource (canonical key case, extensions under their URN key) to
    /// what the response may carry. `schemas` is kept, minus the URNs of extensions whose
    /// attributes were all trimmed away.
    pub fn apply(&self, rt: &ResourceType, resource: &Value) -> Value {
        let Value::Object(fields) = resource else {
            return resource.clone();
        };
        let mut out = Map::new();
        for (key, value) in fields {
            if key == "schemas" {
                out.insert(key.clone(), value.clone());
            } else if let Some(ext) = rt.extension(key) {
                if let Some(v) = self.project_object(ext, value) {
                    out.insert(ext.id.to_string(), v);
                }
            } else if let Some((schema, def)) = rt.attribute(Some(rt.schema.id), key) {
                if let Some(v) = self.keep(schema, def).and_then(|d| d.apply(def, value)) {
                    out.insert(def.name.to_string(), v);
                }
            } else if self.include.is_none() {
                // No schema defines it, so the service added it on purpose: treat it as
                // returned by default (an `attributes` list cannot name it).
                out.insert(key.clone(), value.clone());
            }
        }
        let trimmed: Vec<&str> =
            rt.extensions.iter().map(|e| e.id).filter(|id| !out.contains_key(*id)).collect();
        if let Some(Value::Array(urns)) = out.get_mut("schemas") {
            urns.retain(|u| {
                u.as_str().is_none_or(|u| !trimmed.iter().any(|id| id.eq_ignore_ascii_case(u)))
            });
        }
        Value::Object(out)
    }

    /// Projects an extension object attribute by attribute; None when nothing is left.
    fn project_object(&self, schema: &'static SchemaDef, value: &Value) -> Option<Value> {
        let Value::Object(fields) = value else {
            return None;
        };
        let mut out = Map::new();
        for (key, v) in fields {
            let Some(def) = schema.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(key))
            else {
                continue;
            };
            if let Some(v) = self.keep(schema, def).and_then(|d| d.apply(def, v)) {
                out.insert(def.name.to_string(), v);
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    /// The decision for one top-level attribute; None drops it.
    fn keep(&self, schema: &SchemaDef, def: &AttrDef) -> Option<Decision<'_>> {
        match def.returned {
            Returned::Never => return None,
            Returned::Always => return Some(Decision { keep: Keep::All, elements: None }),
            Returned::Default | Returned::Request => {}
        }
        let same = |s: &&Selector| s.schema == schema.id && s.attr == def.name;
        let mut elements = None;
        let mut keep = match &self.include {
            None if def.returned == Returned::Request => return None,
            None => Keep::All,
            Some(include) => {
                let named: Vec<&Selector> = include.iter().filter(same).collect();
                if named.is_empty() {
                    return None;
                }
                elements = named.iter().map(|s| s.elements.as_ref()).collect();
                if named.iter().any(|s| s.sub.is_none()) {
                    Keep::All
                } else {
                    Keep::Only(named.iter().filter_map(|s| s.sub).collect())
                }
            }
        };
        for s in self.exclude.iter().filter(same) {
            // Excluding the whole attribute drops it.
            let sub = s.sub?;
            keep = match keep {
                Keep::All => Keep::Except(vec![sub]),
                Keep::Except(mut subs) => {
                    subs.push(sub);
                    Keep::Except(subs)
                }
                Keep::Only(subs) => Keep::Only(subs.into_iter().filter(|n| *n != sub).collect()),
            };
        }
        Some(Decision { keep, elements })
    }
}

impl Decision<'_> {
    /// What is left of `value`, the value of attribute `def`; None when nothing is.
    fn apply(&self, def: &'static AttrDef, value: &Value) -> Option<Value> {
        match (&self.elements, value) {
            (Some(filters), Value::Array(items)) => {
                let matching: Vec<Value> = items
                    .iter()
                    .filter(|item| {
                        filters.iter().any(|f| filter::matches_value_filter(f, item, def))
                    })
                    .cloned()
                    .collect();
                if matching.is_empty() {
                    return None;
                }
                project(&Value::Array(matching), &self.keep)
            }
            _ => project(value, &self.keep),
        }
    }
}

/// The names of an `attributes` list: split at the commas outside a value filter's brackets
/// and quotes, trimmed, blanks dropped.
fn split_names(s: &str) -> Vec<&str> {
    let (mut names, mut start, mut depth, mut quoted, mut escaped) =
        (Vec::new(), 0, 0u32, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                names.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    names.push(&s[start..]);
    names.into_iter().map(str::trim).filter(|n| !n.is_empty()).collect()
}

/// Resolves the names of `attributes`, value-filtered ones included, dropping the ones `rt`
/// does not have.
fn included(rt: &ResourceType, names: &[&str]) -> Result<Vec<Selector>, ScimError> {
    let refused = |detail: String| {
        ScimError::invalid_value(format!("attributes: {detail} (names are separated by commas)"))
    };
    let mut out = Vec::new();
    for name in names {
        if !name.contains('[') {
            out.extend(selectors(rt, "attributes", path::parse_attr_path(name).map(|p| vec![p]))?);
            continue;
        }
        let parsed = parse_patch_path(name).map_err(|e| refused(e.detail))?;
        let Ok(attr) = parsed.attr.resolve(rt) else { continue };
        if !attr.attr.multi_valued {
            return Err(refused(format!(
                "{} is not multi-valued, so it has no elements to filter with [...]",
                attr.attr.name
            )));
        }
        let resolved = parsed.resolve(rt).map_err(|e| refused(e.detail))?;
        out.push(Selector {
            schema: resolved.schema.id,
            attr: resolved.attr.name,
            sub: resolved.sub.map(|s| s.name),
            elements: parsed.filter,
        });
    }
    Ok(out)
}

/// Resolves parsed names, dropping the ones `rt` does not have.
fn selectors(
    rt: &ResourceType,
    param: &str,
    paths: Result<Vec<AttrPath>, ScimError>,
) -> Result<Vec<Selector>, ScimError> {
    let paths = paths.map_err(|e| {
        ScimError::invalid_value(format!("{param}: {} (names are separated by commas)", e.detail))
    })?;
    Ok(paths
        .iter()
        .filter_map(|p| p.resolve(rt).ok())
        .map(|r| Selector {
            schema: r.schema.id,
            attr: r.attr.name,
            sub: r.sub.map(|s| s.name),
            elements: None,
        })
        .collect())
}

/// Applies a sub-attribute decision to a complex value (each element of a multi-valued one);
/// None when nothing is left.
fn project(value: &Value, keep: &Keep) -> Option<Value> {
    let wanted = |name: &str| match keep {
        Keep::All => true,
        Keep::Only(subs) => subs.contains(&name),
        Keep::Except(subs) => !subs.contains(&name),
    };
    match (keep, value) {
        (Keep::All, v) => Some(v.clone()),
        (_, Value::Object(fields)) => {
            let m: Map<String, Value> = fields
                .iter()
                .filter(|(k, _)| wanted(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        (_, Value::Array(items)) => {
            let kept: Vec<Value> = items.iter().filter_map(|i| project(i, keep)).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        (_, v) => Some(v.clone()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::super::ScimType;
    use super::super::schema::{CORE_GROUP, CORE_USER, ENTERPRISE_USER, GROUP, USER};
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [CORE_USER, ENTERPRISE_USER],
            "id": "u1",
            "externalId": "e1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "a@x", "type": "work", "primary": true},
                {"value": "b@y", "type": "home"}
            ],
            "groups": [{"value": "g1", "display": "Admins"}],
            "password": "should never leak",
            "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00.000Z"},
            ENTERPRISE_USER: {"department": "Tour", "manager": {"value": "m1", "displayName": "Boss"}}
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [CORE_GROUP],
            "id": "g1",
            "displayName": "Admins",
            "members": [{"value": "u1", "display": "bjensen"}],
            "meta": {"resourceType": "Group"}
        })
    }

    fn proj(rt: &ResourceType, a: Option<&str>, e: Option<&str>) -> Projection {
        Projection::parse(rt, a, e).unwrap()
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn default_returns_everything_but_never_attributes() {
        let p = Projection::default();
        assert!(p.is_default());
        let out = p.apply(&USER, &user());
        let mut expected = user();
        expected.as_object_mut().unwrap().remove("password");
        assert_eq!(out, expected);
        assert!(!p.wants(&USER, "password"));
        assert!(p.wants(&USER, "groups"));
        assert!(p.wants(&GROUP, "members"));
    }

    #[test]
    fn entra_excluded_members() {
        let p = proj(&GROUP, None, Some("members"));
        assert!(!p.wants(&GROUP, "members"));
        assert!(p.wants(&GROUP, "displayName"));
        let out = p.apply(&GROUP, &group());
        assert_eq!(keys(&out), ["schemas", "id", "displayName", "meta"]);
        // Case-insensitive and padded, as query strings arrive.
        assert!(!proj(&GROUP, None, Some(" MEMBERS ")).wants(&GROUP, "members"));
        let p = proj(&GROUP, None, Some("urn:ietf:params:scim:schemas:core:2.0:Group:members"));
        assert!(!p.wants(&GROUP, "members"));
    }

    #[test]
    fn entra_attributes_id() {
        let p = proj(&USER, Some("id"), None);
        assert_eq!(p.apply(&USER, &user()), json!({"schemas": [CORE_USER], "id": "u1"}));
        assert!(!p.wants(&USER, "groups"));
    }

    #[test]
    fn attributes_whitelist_with_sub_attributes() {
        let p = proj(&USER, Some("userName, name.givenName,emails.value"), None);
        let out = p.apply(&USER, &user());
        assert_eq!(
            out,
            json!({
                "schemas": [CORE_USER],
                "id": "u1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "a@x"}, {"value": "b@y"}]
            })
        );
        assert!(p.wants(&USER, "emails"));
        assert!(!p.wants(&USER, "meta"));
        // `id` and `schemas` are returned always, even when excluded.
        let out = proj(&USER, None, Some("id,schemas,userName")).apply(&USER, &user());
        assert!(out.get("id").is_some() && out.get("schemas").is_some());
        assert!(out.get("userName").is_none());
    }

    #[test]
    fn extensions_are_projected_and_pruned_from_schemas() {
        let p = proj(&USER, Some("userName,manager.value"), None);
        let out = p.apply(&USER, &user());
        assert_eq!(out[ENTERPRISE_USER], json!({"manager": {"value": "m1"}}));
        assert_eq!(out["schemas"], json!([CORE_USER, ENTERPRISE_USER]));

        let out = proj(&USER, Some("userName"), None).apply(&USER, &user());
        assert!(out.get(ENTERPRISE_USER).is_none());
        assert_eq!(out["schemas"], json!([CORE_USER]));

        let ex = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,manager";
        let out = proj(&USER, None, Some(ex)).apply(&USER, &user());
        assert!(out.get(ENTERPRISE_USER).is_none());
        assert_eq!(out["schemas"], json!([CORE_USER]));
        assert!(!proj(&USER, None, Some(ex)).wants(&USER, "manager"));
        let manager = format!("{ENTERPRISE_USER}:manager");
        assert!(proj(&USER, Some("manager"), None).wants(&USER, &manager));
    }

    #[test]
    fn excluded_sub_attributes() {
        let p = proj(&USER, None, Some("emails.type,emails.primary,name.familyName"));
        let out = p.apply(&USER, &user());
        assert_eq!(out["emails"], json!([{"value": "a@x"}, {"value": "b@y"}]));
        assert_eq!(out["name"], json!({"givenName": "Barbara"}));
        assert!(p.wants(&USER, "emails"));
        let p = proj(&GROUP, None, Some("members.display"));
        assert!(p.wants(&GROUP, "members"));
        assert_eq!(p.apply(&GROUP, &group())["members"], json!([{"value": "u1"}]));
        // Excluding every sub-attribute present drops the attribute.
        let p = proj(&USER, None, Some("name.givenName,name.familyName"));
        assert!(p.apply(&USER, &user()).get("name").is_none());
    }

    #[test]
    fn both_lists_select_then_remove() {
        let p = proj(&USER, Some("emails,userName"), Some("emails.type,userName"));
        let out = p.apply(&USER, &user());
        assert_eq!(keys(&out), ["schemas", "id", "emails"]);
        assert_eq!(out["emails"][1], json!({"value": "b@y"}));
        let p = proj(&USER, Some("name.givenName,name.familyName"), Some("name.familyName"));
        assert_eq!(p.apply(&USER, &user())["name"], json!({"givenName": "Barbara"}));
    }

    #[test]
    fn unknown_names_are_ignored_malformed_ones_rejected() {
        let p = proj(&USER, Some("userName,fooBar,name.nope,urn:x:y:z"), Some("alsoUnknown"));
        assert_eq!(keys(&p.apply(&USER, &user())), ["schemas", "id", "userName"]);
        let p = proj(&USER, Some("fooBar"), None);
        assert_eq!(keys(&p.apply(&USER, &user())), ["schemas", "id"]);
        assert!(proj(&USER, None, Some("nope")).is_default());
        for bad in ["name..givenName", "user name", r#"emails[type eq "work""#] {
            let e = Projection::parse(&USER, Some(bad), None).unwrap_err();
            assert_eq!(e.scim_type, ScimType::InvalidValue, "{bad}");
            assert!(e.detail.starts_with("attributes:"), "{e}");
        }
        for bad in ["name..givenName", "user name", r#"emails[type eq "work"]"#] {
            let e = Projection::parse(&USER, None, Some(bad)).unwrap_err();
            assert_eq!(e.scim_type, ScimType::InvalidValue, "{bad}");
            assert!(e.detail.starts_with("excludedAttributes:"), "{e}");
        }
        // Password cannot be requested back.
        let p = proj(&USER, Some("password,userName"), None);
        assert!(p.apply(&USER, &user()).get("password").is_none());
        assert!(!p.wants(&USER, "password"));
        assert!(!p.wants(&USER, "not an attribute"));
    }

    #[test]
    fn a_value_filter_in_attributes_keeps_the_matching_elements() {
        let p = proj(&USER, Some(r#"emails[type eq "work"]"#), None);
        let out = p.apply(&USER, &user());
        assert_eq!(keys(&out), ["schemas", "id", "emails"]);
        assert_eq!(out["emails"], json!([{"value": "a@x", "type": "work", "primary": true}]));
        // With a sub-attribute, and beside other names (the comma inside quotes is a value).
        let p =
            proj(&USER, Some(r#"userName, emails[type eq "work" or value eq "x,y"].value"#), None);
        let out = p.apply(&USER, &user());
        assert_eq!(
            (out["userName"].clone(), out["emails"].clone()),
            (json!("bjensen"), json!([{"value": "a@x"}]))
        );
        // Nothing matches: the attribute is left out.
        let p = proj(&USER, Some(r#"emails[type eq "other"]"#), None);
        assert!(p.apply(&USER, &user()).get("emails").is_none());
        // Named plainly as well: every element.
        let p = proj(&USER, Some(r#"emails[type eq "work"],emails"#), None);
        assert_eq!(p.apply(&USER, &user())["emails"].as_array().map(Vec::len), Some(2));
        // An unknown attribute is ignored as without a filter; a filter on a single-valued
        // one, or naming an unknown sub-attribute, is refused.
        assert_eq!(
            keys(&proj(&USER, Some(r#"nope[type eq "x"]"#), None).apply(&USER, &user())),
            ["schemas", "id"]
        );
        for bad in [r#"name[givenName eq "x"]"#, r#"emails[nope eq "x"]"#, r#"userName[x eq "y"]"#]
        {
            let e = Projection::parse(&USER, Some(bad), None).unwrap_err();
            assert_eq!(e.scim_type, ScimType::InvalidValue, "{bad}");
            assert!(e.detail.starts_with("attributes:"), "{e}");
        }
    }

    #[test]
    fn non_object_resources_pass_through() {
        assert_eq!(Projection::default().apply(&USER, &json!("x")), json!("x"));
    }
}
