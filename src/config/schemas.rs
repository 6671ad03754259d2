//! The `[schemas]` section: extension schemas an admin declares so that the custom attributes
//! mapped in Entra ID or Okta are kept (`[[schemas.extensions]]`, each with its
//! `[[schemas.extensions.attributes]]`, complex ones with `sub_attributes`).
//!
//! Every key is checked here with its span for `file:line`; the rules about the schema model
//! itself (a legal URN, no clash with core or enterprise names, sub-attributes only for complex
//! ones) are `scim::extensions::check`'s, reported at the extension's or attribute's line.

use serde::Deserialize;
use toml::{Spanned, Value};

use super::SpannedError;
use crate::domain::Kind;
use crate::scim::extensions::{AttributeDecl, DECLARABLE_TYPES, ExtensionDecl, check};
use crate::scim::schema::{AttrType, Uniqueness};

/// `[schemas]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchemas {
    #[serde(default)]
    extensions: Vec<Spanned<RawExtension>>,
}

/// One `[[schemas.extensions]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtension {
    id: Option<Spanned<Value>>,
    resource_type: Option<Spanned<Value>>,
    name: Option<Spanned<Value>>,
    required: Option<Spanned<Value>>,
    #[serde(default)]
    attributes: Vec<Spanned<RawAttribute>>,
}

/// One `[[schemas.extensions.attributes]]` (or `sub_attributes`) table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    name: Option<Spanned<Value>>,
    #[serde(rename = "type")]
    ty: Option<Spanned<Value>>,
    multi_valued: Option<Spanned<Value>>,
    required: Option<Spanned<Value>>,
    case_exact: Option<Spanned<Value>>,
    uniqueness: Option<Spanned<Value>>,
    canonical_values: Option<Spanned<Value>>,
    description: Option<Spanned<Value>>,
    #[serde(default)]
    sub_attributes: Vec<Spanned<RawAttribute>>,
}

/// Checks `[schemas]` into the declarations `scim::extensions` builds the schema model from.
pub(super) fn validate_schemas(raw: &RawSchemas) -> Result<Vec<ExtensionDecl>, SpannedError> {
    let mut out: Vec<ExtensionDecl> = Vec::new();
    for raw_ext in &raw.extensions {
        let ext = raw_ext.get_ref();
        let header = Some(raw_ext.span());
        let id = match &ext.id {
            Some(v) => text("schemas.extensions.id", v)?.to_string(),
            None => {
                return Err((
                    header,
                    "schemas.extensions needs an id, the extension's URN (for example \
                     \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\")"
                        .into(),
                ));
            }
        };
        let key = |k: &str| format!("schemas.extensions.{k} (extension {id:?})");
        let resource_type = match &ext.resource_type {
            None => Kind::User,
            Some(v) => match text(&key("resource_type"), v)? {
                "User" => Kind::User,
                "Group" => Kind::Group,
                other => {
                    return Err((
                        Some(v.span()),
                        format!(
                            "{} = {other:?} must be \"User\" or \"Group\"",
                            key("resource_type")
                        ),
                    ));
                }
            },
        };
        let name = match &ext.name {
            Some(v) => text(&key("name"), v)?.to_string(),
            None => default_name(&id),
        };
        let required = flag(&key("required"), ext.required.as_ref())?;
        let mut attributes = Vec::new();
        for a in &ext.attributes {
            attributes.push(attribute(&id, a, "attributes")?);
        }
        let decl = ExtensionDecl { id, resource_type, name, required, attributes };
        if let Err(rule) = check(&decl, &out) {
            // Point at the attribute the rule names when there is one.
            let span = ext
                .attributes
                .iter()
                .find(|a| {
                    a.get_ref()
                        .name
                        .as_ref()
                        .and_then(|n| n.get_ref().as_str())
                        .is_some_and(|n| rule.contains(&format!("attribute {n:?}")))
                })
                .map(Spanned::span)
                .or(ext.id.as_ref().map(Spanned::span))
                .or(header);
            return Err((span, format!("schemas.extensions: {rule}")));
        }
        out.push(decl);
    }
    Ok(out)
}

/// The `/Schemas` name of an extension declared without one: its URN's part before `:2.0`.
fn default_name(id: &str) -> String {
    let parts: Vec<&str> = id.split(':').collect();
    parts
        .iter()
        .position(|p| p.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| parts.get(i))
        .map_or_else(|| id.to_string(), |p| format!("{p} extension"))
}

fn attribute(
    ext: &str,
    raw: &Spanned<RawAttribute>,
    list: &str,
) -> Result<AttributeDecl, SpannedError> {
    let a = raw.get_ref();
    let name = match &a.name {
        Some(v) => text(&format!("schemas.extensions.{list}.name (extension {ext:?})"), v)?,
        None => {
            return Err((
                Some(raw.span()),
                format!("schemas.extensions.{list} (extension {ext:?}) needs a name"),
            ));
        }
    };
    let key = |k: &str| format!("schemas.extensions.{list}.{k} (attribute {name:?} of {ext})");
    let ty = match &a.ty {
        None => AttrType::String,
        Some(v) => {
            let written = text(&key("type"), v)?;
            match DECLARABLE_TYPES.iter().find(|(n, _)| *n == written) {
                Some((_, ty)) => *ty,
                None => {
                    let names: Vec<&str> = DECLARABLE_TYPES.iter().map(|(n, _)| *n).collect();
                    return Err((
                        Some(v.span()),
                        format!(
                            "{} = {written:?} must be one of {}",
                            key("type"),
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    let uniqueness = match &a.uniqueness {
        None => Uniqueness::None,
        Some(v) => match text(&key("uniqueness"), v)? {
            "none" => Uniqueness::None,
            "server" => Uniqueness::Server,
            other => {
                return Err((
                    Some(v.span()),
                    format!("{} = {other:?} must be \"none\" or \"server\"", key("uniqueness")),
                ));
            }
        },
    };
    let canonical_values = match &a.canonical_values {
        None => Vec::new(),
        Some(v) => {
            let items = v.get_ref().as_array().and_then(|items| {
                items.iter().map(|i| i.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()
            });
            items.ok_or_else(|| {
                (Some(v.span()), format!("{} must be a list of strings", key("canonical_values")))
            })?
        }
    };
    let description = match &a.description {
        Some(v) => text(&key("description"), v)?.to_string(),
        None => String::new(),
    };
    let mut sub_attributes = Vec::new();
    for sub in &a.sub_attributes {
        sub_attributes.push(attribute(ext, sub, &format!("{list}.sub_attributes"))?);
    }
    Ok(AttributeDecl {
        name: name.to_string(),
        ty,
        multi_valued: flag(&key("multi_valued"), a.multi_valued.as_ref())?,
        required: flag(&key("required"), a.required.as_ref())?,
        case_exact: flag(&key("case_exact"), a.case_exact.as_ref())?,
        uniqueness,
        canonical_values,
        description,
        sub_attributes,
    })
}

fn text<'v>(key: &str, value: &'v Spanned<Value>) -> Result<&'v str, SpannedError> {
    value.get_ref().as_str().ok_or_else(|| {
        (Some(value.span()), format!("{key} = {} must be a string", value.get_ref()))
    })
}

fn flag(key: &str, value: Option<&Spanned<Value>>) -> Result<bool, SpannedError> {
    match value {
        None => Ok(false),
        Some(v) => v.get_ref().as_bool().ok_or_else(|| {
            (Some(v.span()), format!("{key} = {} must be true or false", v.get_ref()))
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use crate::config::Config;
    use crate::domain::Kind;
    use crate::scim::schema::{AttrType, Uniqueness};

    const ACME: &str = r#"
[[schemas.extensions]]
id = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
name = "Acme user"

[[schemas.extensions.attributes]]
name = "badgeNumber"
uniqueness = "server"

[[schemas.extensions.attributes]]
name = "clearance"
canonical_values = ["low", "high"]

[[schemas.extensions.attributes]]
name = "desk"
type = "complex"

[[schemas.extensions.attributes.sub_attributes]]
name = "building"

[[schemas.extensions.attributes.sub_attributes]]
name = "floor"
type = "integer"
"#;

    fn refused(text: &str) -> String {
        Config::parse(text, Some("/etc/scimd/config.toml".as_ref())).unwrap_err().to_string()
    }

    #[test]
    fn an_extension_is_typed_with_its_attributes_and_defaults() {
        let config = Config::parse(ACME, None).unwrap();
        let [ext] = config.schemas.as_slice() else { panic!("{:?}", config.schemas) };
        assert_eq!(ext.id, "urn:ietf:params:scim:schemas:extension:acme:2.0:User");
        assert_eq!(
            (ext.resource_type, ext.name.as_str(), ext.required),
            (Kind::User, "Acme user", false)
        );
        let badge = &ext.attributes[0];
        assert_eq!(
            (badge.ty, badge.uniqueness, badge.multi_valued),
            (AttrType::String, Uniqueness::Server, false)
        );
        assert_eq!(ext.attributes[1].canonical_values, ["low", "high"]);
        let desk = &ext.attributes[2];
        assert_eq!(desk.ty, AttrType::Complex);
        assert_eq!(desk.sub_attributes[1].ty, AttrType::Integer);
    }

    #[test]
    fn a_missing_name_defaults_to_the_urns_name_part() {
        let text = "[[schemas.extensions]]\nid = \"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User\"\n[[schemas.extensions.attributes]]\nname = \"x\"\n";
        assert_eq!(Config::parse(text, None).unwrap().schemas[0].name, "Contoso extension");
    }

    #[test]
    fn each_rule_is_reported_at_its_line() {
        let cases = [
            ("id = \"acme\"", 2, "must start with urn:ietf:params:scim:schemas:extension:"),
            (
                "id = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
                2,
                "built-in schema",
            ),
            ("id = \"urn:ietf:params:scim:schemas:extension:a b:2.0:User\"", 2, "contains ' '"),
        ];
        for (line, at, says) in cases {
            let text = format!(
                "[[schemas.extensions]]\n{line}\n[[schemas.extensions.attributes]]\nname = \"x\"\n"
            );
            let e = refused(&text);
            assert!(e.starts_with(&format!("/etc/scimd/config.toml:{at}:")), "{e}");
            assert!(e.contains(says), "{e}");
        }
        let with = |attr: &str| {
            format!(
                "[[schemas.extensions]]\nid = \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\"\n[[schemas.extensions.attributes]]\n{attr}\n"
            )
        };
        let cases = [
            (
                "name = \"userName\"",
                "has the name of an attribute of urn:ietf:params:scim:schemas:core:2.0:User",
            ),
            ("name = \"department\"", "enterprise"),
            ("name = \"9lives\"", "starts with a letter"),
            ("name = \"x\"\ntype = \"binary\"", "must be one of string, boolean"),
            ("name = \"x\"\ntype = \"complex\"", "declares no sub_attributes"),
            (
                "name = \"x\"\ncanonical_values = [\"a\"]\ntype = \"integer\"",
                "canonical_values are for string",
            ),
            ("name = \"x\"\nuniqueness = \"server\"\nmulti_valued = true", "single-valued string"),
            ("name = \"x\"\nuniqueness = \"global\"", "must be \"none\" or \"server\""),
            ("name = \"x\"\nrequired = \"yes\"", "must be true or false"),
            ("name = \"x\"\ncolour = \"red\"", "unknown field `colour`"),
        ];
        for (attr, says) in cases {
            let e = refused(&with(attr));
            assert!(e.starts_with("/etc/scimd/config.toml:"), "{e}");
            assert!(e.contains(says), "{attr}: {e}");
        }
        let sub = with(
            "name = \"x\"\ntype = \"complex\"\n[[schemas.extensions.attributes.sub_attributes]]\nname = \"y\"\ntype = \"complex\"",
        );
        assert!(refused(&sub).contains("a sub-attribute cannot be complex"), "{}", refused(&sub));
        let plain_with_subs =
            with("name = \"x\"\n[[schemas.extensions.attributes.sub_attributes]]\nname = \"y\"");
        assert!(refused(&plain_with_subs).contains("only complex attributes have them"));
    }

    /// The extension `config.example.toml` shows commented out is a valid one, uncommented.
    #[test]
    fn the_example_files_extension_parses_when_uncommented() {
        let example = include_str!("../../config.example.toml");
        let section = example.split("\n# [schemas]\n").nth(1).unwrap();
        let text: String = section
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .filter(|l| {
                l.starts_with('[')
                    || l.split_once(" = ").is_some_and(|(k, _)| {
                        k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    })
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let config = Config::parse(&text, None).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let [ext] = config.schemas.as_slice() else { panic!("{text}") };
        let names: Vec<&str> = ext.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["badgeNumber", "desk"]);
        assert_eq!(ext.attributes[1].sub_attributes.len(), 2);
    }

    #[test]
    fn two_extensions_may_not_share_a_urn_or_an_attribute_name() {
        let twice = format!("{ACME}\n{}", ACME.replace("Acme user", "again"));
        assert!(refused(&twice).contains("is declared twice"), "{}", refused(&twice));
        let other = ACME.replace("acme:2.0:User", "other:2.0:User");
        let both = format!("{ACME}\n{other}");
        assert!(refused(&both).contains("is also an attribute of"), "{}", refused(&both));
        // A Group extension may reuse a User extension's attribute name.
        let group =
            other.replace("name = \"Acme user\"", "name = \"g\"\nresource_type = \"Group\"");
        let config = Config::parse(&format!("{ACME}\n{group}"), None).unwrap();
        assert_eq!(config.schemas[1].resource_type, Kind::Group);
    }
}
