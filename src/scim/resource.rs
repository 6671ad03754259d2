//! Canonicalisation of a client-sent User or Group body (POST, PUT) before the service
//! applies business rules.
//!
//! Owns the single place where what Entra ID and Okta really send is turned into one strict
//! shape: attribute names in canonical case, extension attributes under their canonical URN
//! key, `null`, `""`, `[]` and `{}` meaning absent, `"True"`/`"False"` turned into booleans, a
//! lone value where a list is expected wrapped in a list, `"manager": "id"` turned into
//! `{"value": "id"}`, and readOnly attributes the client echoed back (`id`, `meta`, `groups`,
//! `manager.displayName`) dropped. It must not decide business rules (uniqueness, roles,
//! allowed domains, whether a sent `id` matches) or look anything up: that is the service's.
//!
//! Passwords: `password` is accepted and dropped. scimd authenticates nobody with it and
//! never stores it, so an IdP that sends one (Okta does) is not refused, and nothing secret
//! reaches the database or the provisioning log.
//!
//! Strictness: an attribute scimd does not know, with a non-null value, is refused with
//! `invalidValue` naming it, so an admin whose IdP maps to a missing attribute sees why in
//! the provisioning log rather than losing the value silently. Unknown URNs inside `schemas`
//! are tolerated (Entra sends misspelled ones); `canonicalValues` are not enforced.

use serde_json::{Map, Value, json};

use super::datetime;
use super::error::{ScimError, quote};
use super::path::parse_attr_path;
use super::schema::{AttrDef, AttrType, Mutability, ResourceType, SchemaDef};

/// Canonicalises a request body for `rt`. The result is an object whose `schemas` lists the
/// core URN and the URNs of the extensions that have attributes.
pub fn canonicalize(rt: &ResourceType, body: Value) -> Result<Value, ScimError> {
    let Value::Object(fields) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "the request body must be a JSON object (a {} resource), not {}",
            rt.name,
            describe(&body)
        )));
    };
    let mut out = Output {
        core: Map::new(),
        extensions: rt.extensions.iter().map(|&e| (e, Map::new())).collect(),
    };
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(&value)?;
        } else if value.is_null() {
            // Absent: Entra sends `"addresses": null`, even for attributes we do not have.
        } else if let Some(ext) = rt.extension(&key) {
            let Value::Object(attrs) = value else {
                return Err(ScimError::invalid_value(format!(
                    "{} must be a JSON object holding that extension's attributes, not {}",
                    quote(ext.id),
                    describe(&value)
                )));
            };
            for (name, v) in attrs {
                // scim2-tester nests the extension's URN list inside it: not an attribute.
                if v.is_null() || name.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let def = ext
                    .attributes
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(&name))
                    .ok_or_else(|| unknown_attribute(rt, &format!("{}:{name}", ext.id)))?;
                out.place(rt, ext, def, None, v)?;
            }
        } else {
            // A plain name, or a dotted or URN-qualified path such as Entra's pathless PATCH
            // values carry; an unqualified extension name (`department`) finds its extension.
            let resolved = parse_attr_path(&key)
                .and_then(|p| p.resolve(rt))
                .map_err(|_| unknown_attribute(rt, &key))?;
            out.place(rt, resolved.schema, resolved.attr, resolved.sub, value)?;
        }
    }
    out.finish(rt)
}

/// The canonical attributes collected so far: core ones, and one object per extension.
struct Output {
    core: Map<String, Value>,
    extensions: Vec<(&'static SchemaDef, Map<String, Value>)>,
}

impl Output {
    /// The object attributes of `schema` go into.
    fn container(&mut self, schema: &SchemaDef) -> &mut Map<String, Value> {
        match self.extensions.iter_mut().find(|(e, _)| std::ptr::eq(*e, schema)) {
            Some((_, m)) => m,
            None => &mut self.core,
        }
    }

    /// Canonicalises one attribute (or one sub-attribute of a single-valued complex
    /// attribute) and stores it.
    fn place(
        &mut self,
        rt: &ResourceType,
        schema: &SchemaDef,
        def: &'static AttrDef,
        sub: Option<&'static AttrDef>,
        value: Value,
    ) -> Result<(), ScimError> {
        if !client_writable(def) || sub.is_some_and(|s| !client_writable(s)) {
            return Ok(());
        }
        let value = match sub {
            None => canon(rt, def, def.name, value)?,
            Some(s) => {
                let label = format!("{}.{}", def.name, s.name);
                if def.multi_valued {
                    return Err(ScimError::invalid_value(format!(
                        "{} cannot be set on its own: {} is a list, so send it as \
                         [{{\"{}\": ...}}]",
                        quote(&label),
                        quote(def.name),
                        s.name
                    )));
                }
                canon(rt, s, &label, value)?.map(|v| json!({ s.name: v }))
            }
        };
        let Some(value) = value else {
            return Ok(());
        };
        let container = self.container(schema);
        // `name` and `name.givenName` may both appear (a body built from PATCH-style keys):
        // merge objects rather than let the later key erase the earlier.
        match (container.get_mut(def.name), value) {
            (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
            (_, value) => {
                container.insert(def.name.to_string(), value);
            }
        }
        Ok(())
    }

    /// Checks required attributes and assembles `schemas`, core attributes, then the
    /// extensions that have attributes.
    fn finish(self, rt: &ResourceType) -> Result<Value, ScimError> {
        let present = self.extensions.into_iter().filter(|(_, m)| !m.is_empty());
        let present: Vec<(&SchemaDef, Map<String, Value>)> = present.collect();
        let schemas =
            std::iter::once((rt.schema, &self.core)).chain(present.iter().map(|(s, m)| (*s, m)));
        for (schema, attrs) in schemas {
            if let Some(missing) =
                schema.attributes.iter().find(|a| a.required && !attrs.contains_key(a.name))
            {
                return Err(ScimError::invalid_value(format!(
                    "missing required attribute {} for {}",
                    quote(missing.name),
                    rt.name
                )));
            }
        }
        if let Some(missing) =
            rt.required_extensions.iter().find(|urn| !present.iter().any(|(s, _)| s.id == **urn))
        {
            return Err(ScimError::invalid_value(format!(
                "missing the extension {missing}: every {} must carry it (the config declares it \
                 required)",
                rt.name
            )));
        }
        let mut urns = vec![Value::from(rt.schema.id)];
        urns.extend(present.iter().map(|(s, _)| Value::from(s.id)));
        let mut result = Map::new();
        result.insert("schemas".into(), Value::Array(urns));
        result.extend(self.core);
        for (schema, attrs) in present {
            result.insert(schema.id.to_string(), Value::Object(attrs));
        }
        Ok(Value::Object(result))
    }
}

fn check_schemas(value: &Value) -> Result<(), ScimError> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
        other => Err(ScimError::invalid_syntax(format!(
            "'schemas' must be a list of schema URNs, not {}",
            describe(other)
        ))),
    }
}

fn unknown_attribute(rt: &ResourceType, name: &str) -> ScimError {
    let mut urns = vec![rt.schema.id];
    urns.extend(rt.extensions.iter().map(|s| s.id));
    ScimError::invalid_value(format!(
        "unknown attribute {} for {}; scimd accepts the attributes of {}. To keep it, declare \
         it in config.toml under [[schemas.extensions]]; to drop such attributes instead, set \
         [scim] unknown_attributes = \"ignore\"",
        quote(name),
        rt.name,
        urns.join(" and ")
    ))
}

/// Attributes a client may set: readOnly ones are computed by scimd and writeOnly ones
/// (`password`) are never kept.
fn client_writable(def: &AttrDef) -> bool {
    matches!(def.mutability, Mutability::ReadWrite | Mutability::Immutable)
}

/// Canonicalises one attribute's value for `def` (a top-level attribute or a sub-attribute)
/// the way a POST body's would be: for PATCH, which sets attributes one path at a time.
/// `label` names the attribute in errors. None means absent (`null`, `""`, empty objects).
pub fn canonical_value(
    rt: &ResourceType,
    def: &AttrDef,
    label: &str,
    value: Value,
) -> Result<Option<Value>, ScimError> {
    canon(rt, def, label, value)
}

/// Canonicalises one element of a multi-valued complex attribute (`{"type": "work", ...}`),
/// or the value of a single-valued one. None means absent.
pub fn canonical_element(
    rt: &ResourceType,
    def: &AttrDef,
    label: &str,
    value: Value,
) -> Result<Option<Value>, ScimError> {
    canon_single(rt, def, label, value)
}

/// Canonicalises a value for `def`; None means absent.
fn canon(
    rt: &ResourceType,
    def: &AttrDef,
    label: &str,
    value: Value,
) -> Result<Option<Value>, ScimError> {
    if def.multi_valued {
        let items = match value {
            Value::Array(items) => items,
            // No list at all: absent, as for a single value.
            Value::Null => return Ok(None),
            Value::String(s) if s.is_empty() => return Ok(None),
            // A lone value where a list is expected: `"emails": {"value": ...}`.
            single => vec![single],
        };
        let members = is_member_list(def);
        let mut out = Vec::with_capacity(items.len());
        for (n, item) in items.into_iter().enumerate() {
            // A member that canonicalises to nothing (`{}`, `{"display": "x"}`,
            // `{"value": ""}`, `{"value": null}`) names no one: refused, not dropped, so the
            // IdP learns its membership change did not happen.
            let sent = members.then(|| item.to_string());
            match (canon_single(rt, def, label, item)?, sent) {
                (Some(v), _) => out.push(v),
                (None, Some(sent)) => return Err(member_without_value(label, n + 1, &sent)),
                (None, None) => {}
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    match value {
        // A one-element list where one value is expected: Entra's
        // `"manager": [{"value": ..., "$ref": ...}]`.
        Value::Array(items) => match <[Value; 1]>::try_from(items) {
            Ok([item]) => canon_single(rt, def, label, item),
            Err(items) if items.is_empty() => Ok(None),
            Err(items) => Err(ScimError::invalid_value(format!(
                "{} takes a single value, but a list of {} was sent",
                quote(label),
                items.len()
            ))),
        },
        single => canon_single(rt, def, label, single),
    }
}

/// Whether a bare string may stand for `{"value": string}`: only for attributes whose
/// `value` is a resource id (`manager`, `members`), where IdPs are known to send it bare.
fn accepts_bare_id(def: &AttrDef) -> bool {
    matches!(def.name, "manager" | "members") && def.sub_attribute("value").is_some()
}

/// Whether `def` is a group's `members` list, whose every element must name a member.
fn is_member_list(def: &AttrDef) -> bool {
    def.name == "members" && def.multi_valued && accepts_bare_id(def)
}

fn member_without_value(label: &str, n: usize, sent: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "element {n} of {} has no 'value' (sent {}): every member needs a 'value' holding the \
         id of a user or group in scimd",
        quote(label),
        quote(sent)
    ))
}

fn canon_single(
    rt: &ResourceType,
    def: &AttrDef,
    label: &str,
    value: Value,
) -> Result<Option<Value>, ScimError> {
    let value = match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        v => v,
    };
    let ok = match (def.ty, value) {
        (AttrType::Complex, Value::Object(fields)) => {
            let mut out = Map::new();
            for (name, v) in fields {
                if v.is_null() {
                    continue;
                }
                let sub = def.sub_attribute(&name).ok_or_else(|| {
                    let known: Vec<&str> = def.sub_attributes.iter().map(|s| s.name).collect();
                    ScimError::invalid_value(format!(
                        "unknown sub-attribute {} for {}; {} has {}",
                        quote(&format!("{label}.{name}")),
                        rt.name,
                        quote(label),
                        known.join(", ")
                    ))
                })?;
                if !client_writable(sub) {
                    continue;
                }
                if let Some(v) = canon(rt, sub, &format!("{label}.{}", sub.name), v)? {
                    out.insert(sub.name.to_string(), v);
                }
            }
            if accepts_bare_id(def) {
                // scimd stores the id alone and renders `$ref` from it: a client's `$ref`
                // (Entra sends its own URL, or null) is never what GET should return.
                out.remove("$ref");
            }
            return Ok((!out.is_empty()).then_some(Value::Object(out)));
        }
        // A bare id for a reference-holding complex attribute: Entra's `"manager": "id"`,
        // Microsoft's `"members": ["id"]`. Other attributes (`"emails": "x"`) stay errors.
        (AttrType::Complex, v @ Value::String(_)) if accepts_bare_id(def) => {
            json!({ "value": v })
        }
        (AttrType::String, Value::String(s)) if def.canonical_only => {
            let same =
                |c: &&&str| if def.case_exact { **c == s } else { c.eq_ignore_ascii_case(&s) };
            match def.canonical_values.iter().find(same) {
                Some(canonical) => Value::from(*canonical),
                None => {
                    return Err(ScimError::invalid_value(format!(
                        "attribute {} must be one of {}, not {}",
                        quote(label),
                        def.canonical_values
                            .iter()
                            .map(|c| quote(c))
                            .collect::<Vec<_>>()
                            .join(", "),
                        describe(&Value::String(s))
                    )));
                }
            }
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, v @ Value::String(_)) => v,
        (AttrType::Boolean, v @ Value::Bool(_)) => v,
        // Entra sends `"active": "False"` and `"primary": "True"`.
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => true.into(),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => false.into(),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n),
        (AttrType::Decimal, v @ Value::Number(_)) => v,
        (AttrType::DateTime, Value::String(s)) if datetime::parse(&s).is_some() => s.into(),
        (_, other) => {
            return Err(ScimError::invalid_value(format!(
                "attribute {} must be {}, not {}",
                quote(label),
                expected(def),
                describe(&other)
            )));
        }
    };
    Ok(Some(ok))
}

fn expected(def: &AttrDef) -> &'static str {
    match def.ty {
        AttrType::String => "a string",
        AttrType::Reference => "a string holding a URI",
        AttrType::Binary => "a base64-encoded string",
        AttrType::Boolean => "true or false",
        AttrType::Integer => "a whole number",
        AttrType::Decimal => "a number",
        AttrType::DateTime => "a date and time such as \"2011-05-13T04:42:34Z\"",
        AttrType::Complex if def.sub_attribute("value").is_some() => {
            "a JSON object such as {\"value\": \"...\"}"
        }
        AttrType::Complex => "a JSON object of its sub-attributes",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quote(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a JSON object".into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::super::ScimType;
    use super::super::schema::{CORE_GROUP, CORE_USER, ENTERPRISE_USER, GROUP, USER};
    use super::*;

    fn user(body: Value) -> Value {
        canonicalize(&USER, body).unwrap_or_else(|e| panic!("{e}"))
    }

    fn user_err(body: Value) -> ScimError {
        canonicalize(&USER, body).unwrap_err()
    }

    #[test]
    fn entra_create_user_body() {
        let out = user(json!({
            "schemas": [CORE_USER, ENTERPRISE_USER],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []
        }));
        assert_eq!(
            out,
            json!({
                "schemas": [CORE_USER],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb@testuser.com"}],
                "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}
            })
        );
    }

    #[test]
    fn entra_legacy_body_with_nulls_and_typo_urn() {
        let out = user(json!({
            "schemas": [CORE_USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "externalId": "jyoung", "userName": "jyoung@testuser.com", "active": true,
            "addresses": null, "displayName": "Joy Young",
            "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
            "meta": {"resourceType": "User"},
            "name": {"familyName": "Young", "givenName": "Joy"},
            "phoneNumbers": null, "preferredLanguage": null, "title": null,
            "department": null, "manager": null
        }));
        assert_eq!(
            out,
            json!({
                "schemas": [CORE_USER],
                "externalId": "jyoung", "userName": "jyoung@testuser.com", "active": true,
                "displayName": "Joy Young",
                "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
                "name": {"familyName": "Young", "givenName": "Joy"}
            })
        );
    }

    #[test]
    fn validator_body_with_string_booleans_and_enterprise() {
        let out = user(json!({
            "userName": "julien@ondricka.us", "active": "True",
            "roles": [{"primary": "True", "display": "MRONY", "value": "WDEII", "type": "XVTUO"}],
            "addresses": [{"type": "work", "primary": "false", "country": "Sierra Leone"}],
            "locale": "RJWNTUNNOHNZ", "timezone": "America/Guayaquil",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "1", "department": "D", "costCenter": "C",
                "organization": "O", "division": "V", "manager": {"value": "XYMKVVRYDIOO"}
            },
            "schemas": [CORE_USER, ENTERPRISE_USER]
        }));
        assert_eq!(out["active"], json!(true));
        assert_eq!(out["roles"][0]["primary"], json!(true));
        assert_eq!(out["addresses"][0]["primary"], json!(false));
        assert_eq!(out["schemas"], json!([CORE_USER, ENTERPRISE_USER]));
        assert_eq!(out[ENTERPRISE_USER]["manager"], json!({"value": "XYMKVVRYDIOO"}));
        assert_eq!(out[ENTERPRISE_USER]["employeeNumber"], json!("1"));
    }

    #[test]
    fn okta_body_with_password_and_groups() {
        let out = user(json!({
            "schemas": [CORE_USER], "userName": "u@x.io", "password": "1mz050nq",
            "groups": [], "id": "abc", "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"primary": true, "value": "u@x.io", "type": "work", "display": "u"}]
        }));
        assert!(out.get("password").is_none() && out.get("groups").is_none());
        assert!(out.get("id").is_none());
        assert_eq!(out["emails"][0]["display"], json!("u"));
    }

    #[test]
    fn manager_quirks() {
        let mgr = |m: Value| {
            let out = user(json!({"userName": "u", ENTERPRISE_USER: {"manager": m}}));
            out.get(ENTERPRISE_USER).map(|e| e["manager"].clone())
        };
        assert_eq!(mgr(json!("abc")), Some(json!({"value": "abc"})));
        assert_eq!(
            mgr(json!([{"value": "abc", "$ref": "https://x/Users/abc"}])),
            Some(json!({"value": "abc"}))
        );
        assert_eq!(
            mgr(json!({"value": "abc", "displayName": "Boss"})),
            Some(json!({"value": "abc"}))
        );
        assert_eq!(mgr(json!("")), None);
        assert_eq!(mgr(json!({"value": ""})), None);
        assert_eq!(mgr(json!([])), None);
        assert_eq!(mgr(json!({"displayName": "only read-only"})), None);
        let e = user_err(
            json!({"userName": "u", ENTERPRISE_USER: {"manager": [{"value": "a"}, {"value": "b"}]}}),
        );
        assert!(e.detail.contains("'manager' takes a single value"), "{e}");
        let e = user_err(json!({"userName": "u", ENTERPRISE_USER: {"manager": 5}}));
        assert!(e.detail.contains("{\"value\""), "{e}");
        // No extension attributes left: no extension URN in `schemas`.
        let out = user(
            json!({"userName": "u", "schemas": [CORE_USER, ENTERPRISE_USER], ENTERPRISE_USER: {"manager": ""}}),
        );
        assert_eq!(out, json!({"schemas": [CORE_USER], "userName": "u"}));
    }

    #[test]
    fn keys_are_matched_case_insensitively_and_canonicalised() {
        let out = user(json!({
            "USERNAME": "u", "Name": {"GivenName": "A"}, "Emails": [{"VALUE": "a@x", "Type": "work"}],
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Department": "D"}
        }));
        assert_eq!(
            out,
            json!({
                "schemas": [CORE_USER, ENTERPRISE_USER],
                "userName": "u", "name": {"givenName": "A"},
                "emails": [{"value": "a@x", "type": "work"}],
                ENTERPRISE_USER: {"department": "D"}
            })
        );
    }

    #[test]
    fn path_keys_and_unqualified_extension_attributes() {
        let out = user(json!({
            "userName": "u",
            "name.givenName": "Kkom",
            "name": {"familyName": "F"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
            "department": "Sales",
            "manager": "m1"
        }));
        assert_eq!(out["name"], json!({"givenName": "Kkom", "familyName": "F"}));
        assert_eq!(
            out[ENTERPRISE_USER],
            json!({"employeeNumber": "Aklq", "department": "Sales", "manager": {"value": "m1"}})
        );
        let e = user_err(json!({"userName": "u", "emails.value": "a@x"}));
        assert!(e.detail.contains("'emails.value' cannot be set on its own"), "{e}");
    }

    #[test]
    fn nulls_empties_and_wrapping() {
        let out = user(json!({
            "userName": "u", "title": "", "nickName": null,
            "name": {"givenName": null, "familyName": ""},
            "emails": {"value": "a@x", "primary": "TRUE"},
            "phoneNumbers": [null, {"value": null}, {"value": "1", "type": null}],
            "ims": [], "photos": [{}],
            "x509Certificates": [{"value": "TUlJ"}]
        }));
        assert_eq!(
            out,
            json!({
                "schemas": [CORE_USER], "userName": "u",
                "emails": [{"value": "a@x", "primary": true}],
                "phoneNumbers": [{"value": "1"}],
                "x509Certificates": [{"value": "TUlJ"}]
            })
        );
        // A single-valued attribute sent as a one-element list is unwrapped.
        assert_eq!(user(json!({"userName": ["u"]}))["userName"], json!("u"));
    }

    #[test]
    fn unknown_attributes_are_refused_by_name() {
        let e = user_err(json!({"userName": "u", "fooBar": 1}));
        assert_eq!(e.scim_type, ScimType::InvalidValue);
        assert!(e.detail.starts_with("unknown attribute 'fooBar' for User"), "{e}");
        let e = user_err(json!({"userName": "u", "name": {"nickName": "x"}}));
        assert!(e.detail.contains("unknown sub-attribute 'name.nickName'"), "{e}");
        assert!(e.detail.contains("givenName"), "{e}");
        let e = user_err(json!({"userName": "u", "emails": [{"value": "a", "label": "x"}]}));
        assert!(e.detail.contains("'emails.label'"), "{e}");
        let e = user_err(json!({"userName": "u", ENTERPRISE_USER: {"badge": "1"}}));
        assert!(e.detail.contains(&format!("'{ENTERPRISE_USER}:badge'")), "{e}");
        let custom = "urn:ietf:params:scim:schemas:extension:Custom:2.0:User";
        let e = user_err(json!({"userName": "u", custom: {"x": "1"}}));
        assert!(
            e.detail.contains("unknown attribute 'urn:ietf:params:scim:schemas:extension:Custom"),
            "{e}"
        );
        // Unknown but null, and unknown sub-attributes set to null, are simply absent.
        assert!(
            canonicalize(&USER, json!({"userName": "u", "fooBar": null, "name": {"x": null}}))
                .is_ok()
        );
        // A Group attribute is unknown on a User.
        assert!(user_err(json!({"userName": "u", "members": []})).detail.contains("'members'"));
    }

    #[test]
    fn type_errors_name_attribute_and_expectation() {
        let cases = [
            (json!({"userName": 5}), "attribute 'userName' must be a string, not the number 5"),
            (
                json!({"userName": "u", "active": "yes"}),
                "attribute 'active' must be true or false, not the string 'yes'",
            ),
            (json!({"userName": "u", "active": 1}), "attribute 'active' must be true or false"),
            (
                json!({"userName": "u", "name": "Joy"}),
                "attribute 'name' must be a JSON object of its sub-attributes",
            ),
            (
                json!({"userName": "u", "emails": [5]}),
                "attribute 'emails' must be a JSON object such as",
            ),
            (
                json!({"userName": "u", "emails": [{"primary": "maybe"}]}),
                "'emails.primary' must be true or false",
            ),
            (
                json!({"userName": "u", "profileUrl": true}),
                "'profileUrl' must be a string holding a URI",
            ),
            (
                json!({"userName": "u", "title": ["a", "b"]}),
                "'title' takes a single value, but a list of 2",
            ),
            (
                json!({"userName": "u", "name": {"givenName": {"x": 1}}}),
                "'name.givenName' must be a string, not a JSON object",
            ),
        ];
        for (body, detail) in cases {
            let e = user_err(body);
            assert_eq!(e.scim_type, ScimType::InvalidValue);
            assert!(e.detail.contains(detail), "{} does not contain {detail}", e.detail);
        }
    }

    #[test]
    fn required_attributes() {
        for body in [
            json!({}),
            json!({"userName": ""}),
            json!({"userName": null}),
            json!({"displayName": "x"}),
        ] {
            let e = user_err(body);
            assert_eq!(e.scim_type, ScimType::InvalidValue);
            assert_eq!(e.detail, "missing required attribute 'userName' for User");
        }
        let e = canonicalize(&GROUP, json!({"externalId": "x"})).unwrap_err();
        assert_eq!(e.detail, "missing required attribute 'displayName' for Group");
    }

    #[test]
    fn body_and_schemas_shape() {
        for body in [json!([]), json!("x"), json!(null)] {
            assert_eq!(user_err(body).scim_type, ScimType::InvalidSyntax);
        }
        for schemas in [json!("urn"), json!([1]), json!({})] {
            let e = user_err(json!({"userName": "u", "schemas": schemas}));
            assert_eq!(e.scim_type, ScimType::InvalidSyntax);
        }
        assert!(canonicalize(&USER, json!({"userName": "u", "schemas": null})).is_ok());
        let e = user_err(json!({"userName": "u", ENTERPRISE_USER: "x"}));
        assert_eq!(e.scim_type, ScimType::InvalidValue);
    }

    #[test]
    fn group_bodies() {
        let out = canonicalize(
            &GROUP,
            json!({
                "schemas": [CORE_GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "displayName": "Admins", "externalId": "e1",
                "members": [
                    {"$ref": null, "value": "f648f8d5ea4e4cd38e9c"},
                    {"value": "u2", "display": "test.user@okta.local", "type": "User"},
                    "u3"
                ],
                "meta": {"resourceType": "Group"}, "id": "g1"
            }),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "schemas": [CORE_GROUP],
                "displayName": "Admins", "externalId": "e1",
                "members": [{"value": "f648f8d5ea4e4cd38e9c"}, {"value": "u2", "type": "User"}, {"value": "u3"}]
            })
        );
        let e = canonicalize(&GROUP, json!({"displayName": "g", "userName": "u"})).unwrap_err();
        assert!(e.detail.contains("unknown attribute 'userName' for Group"), "{e}");
        // A member without a value names no one: refused, never dropped.
        for member in [
            json!({}),
            json!({"display": "x"}),
            json!({"value": ""}),
            json!({"value": null}),
            json!(""),
        ] {
            let body = json!({"displayName": "g", "members": [{"value": "u1"}, member]});
            let e = canonicalize(&GROUP, body).unwrap_err();
            assert_eq!(e.scim_type, ScimType::InvalidValue, "{member}");
            assert!(e.detail.contains("element 2 of 'members' has no 'value'"), "{e}");
        }
        // No list at all is no members.
        for none in [json!(null), json!([]), json!("")] {
            assert!(canonicalize(&GROUP, json!({"displayName": "g", "members": none})).is_ok());
        }
    }
}
