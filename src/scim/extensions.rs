//! Extension schemas an admin declares (`[[schemas.extensions]]` in the config): their
//! description ([`ExtensionDecl`]), the rules a declaration must follow ([`check`]), and the
//! schema model with them added ([`build`]), which [`install`] puts in force for the whole
//! process at start-up and on reload: every layer that reads the schema (validation, paths,
//! filters, projection, `/Schemas`) then sees them.
//!
//! The model in force lives in `schema` ([`set_model`]); this module keeps only the
//! declarations it was built from, to rebuild nothing when a reload leaves them alone. Those
//! two are `scim`'s only process state. A model is built once per distinct declaration and
//! never freed (`&'static`, like the built-in one): a reload that changes the declarations
//! leaks the previous model, a few KiB, so that a request still holding it stays valid.

use std::sync::{PoisonError, RwLock};

use crate::domain::Kind;

use super::schema::{
    AttrDef, AttrType, BUILT_IN, CORE_GROUP, CORE_USER, ENTERPRISE_USER, GROUP, Model, Mutability,
    ResourceType, Returned, SchemaDef, USER, Uniqueness, set_model,
};

/// One declared extension schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExtensionDecl {
    /// Its URN, as declared (matched case-insensitively).
    pub id: String,
    pub resource_type: Kind,
    /// Shown as the schema's `name` in `/Schemas`.
    pub name: String,
    /// Whether every resource of the type must carry it (`schemaExtensions.required`).
    pub required: bool,
    pub attributes: Vec<AttributeDecl>,
}

/// One declared attribute (or sub-attribute of a complex one).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttributeDecl {
    pub name: String,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub uniqueness: Uniqueness,
    /// When not empty, the only values accepted (compared as `case_exact` says).
    pub canonical_values: Vec<String>,
    pub description: String,
    /// Only for `complex`; never complex themselves.
    pub sub_attributes: Vec<AttributeDecl>,
}

/// The types a declared attribute may have.
pub const DECLARABLE_TYPES: [(&str, AttrType); 7] = [
    ("string", AttrType::String),
    ("boolean", AttrType::Boolean),
    ("integer", AttrType::Integer),
    ("decimal", AttrType::Decimal),
    ("dateTime", AttrType::DateTime),
    ("reference", AttrType::Reference),
    ("complex", AttrType::Complex),
];

/// The prefix every declared URN must have (RFC 7643 §3.3 names extensions so; Entra requires
/// it of custom attributes).
pub const EXTENSION_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:extension:";

/// Why a declaration cannot be used: the message names the schema or attribute and the rule.
pub type DeclError = String;

/// Checks one extension against the built-in schemas and the extensions declared before it.
pub fn check(decl: &ExtensionDecl, earlier: &[ExtensionDecl]) -> Result<(), DeclError> {
    check_urn(&decl.id)?;
    let taken = [CORE_USER, CORE_GROUP, ENTERPRISE_USER];
    if taken.iter().any(|t| t.eq_ignore_ascii_case(&decl.id)) {
        return Err(format!("{} is a built-in schema; declare a URN of your own", decl.id));
    }
    if earlier.iter().any(|e| e.id.eq_ignore_ascii_case(&decl.id)) {
        return Err(format!("{} is declared twice; each extension needs its own URN", decl.id));
    }
    if decl.attributes.is_empty() {
        return Err(format!(
            "{} declares no attributes; add [[schemas.extensions.attributes]]",
            decl.id
        ));
    }
    let built_in = built_in(decl.resource_type);
    for (i, a) in decl.attributes.iter().enumerate() {
        let context = format!("attribute {:?} of {}", a.name, decl.id);
        check_attribute(a, &context, false)?;
        if decl.attributes[..i].iter().any(|b| b.name.eq_ignore_ascii_case(&a.name)) {
            return Err(format!("{context} is declared twice (names are case-insensitive)"));
        }
        // An unqualified path or filter finds the core or enterprise attribute first: one of
        // the same name here could only be reached with its URN, which is a trap.
        let clash = std::iter::once(built_in.schema)
            .chain(built_in.extensions.iter().copied())
            .find(|s| s.attributes.iter().any(|b| b.name.eq_ignore_ascii_case(&a.name)));
        if let Some(schema) = clash {
            return Err(format!(
                "{context} has the name of an attribute of {}; choose another name",
                schema.id
            ));
        }
        for e in earlier.iter().filter(|e| e.resource_type == decl.resource_type) {
            if e.attributes.iter().any(|b| b.name.eq_ignore_ascii_case(&a.name)) {
                return Err(format!(
                    "{context} is also an attribute of {}; choose another name",
                    e.id
                ));
            }
        }
    }
    Ok(())
}

fn check_urn(id: &str) -> Result<(), DeclError> {
    let rest = id
        .get(..EXTENSION_URN_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(EXTENSION_URN_PREFIX))
        .map(|_| &id[EXTENSION_URN_PREFIX.len()..]);
    let Some(rest) = rest else {
        return Err(format!(
            "{id:?} is not an extension URN: it must start with {EXTENSION_URN_PREFIX} \
             (for example {EXTENSION_URN_PREFIX}acme:2.0:User)"
        ));
    };
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    if rest.is_empty() || rest.starts_with(':') || rest.ends_with(':') || rest.contains("::") {
        return Err(format!(
            "{id:?} has an empty part; write {EXTENSION_URN_PREFIX}<name>:2.0:User"
        ));
    }
    if let Some(c) = rest.chars().find(|c| !legal(*c)) {
        return Err(format!(
            "{id:?} contains {c:?}; an extension URN holds letters, digits, '.', '-', '_' and ':'"
        ));
    }
    Ok(())
}

fn check_attribute(a: &AttributeDecl, context: &str, is_sub: bool) -> Result<(), DeclError> {
    if !is_attribute_name(&a.name) {
        return Err(format!(
            "{context}: an attribute name starts with a letter and holds letters, digits, '-' \
             and '_' (RFC 7643 §2.1)"
        ));
    }
    match (a.ty, a.sub_attributes.is_empty()) {
        (AttrType::Complex, _) if is_sub => {
            return Err(format!("{context}: a sub-attribute cannot be complex (RFC 7643 §2.3.8)"));
        }
        (AttrType::Complex, true) => {
            return Err(format!("{context} is complex but declares no sub_attributes"));
        }
        (ty, false) if ty != AttrType::Complex => {
            return Err(format!(
                "{context} has sub_attributes but is of type {}; only complex attributes have them",
                ty.as_str()
            ));
        }
        _ => {}
    }
    if !a.canonical_values.is_empty() && a.ty != AttrType::String {
        return Err(format!(
            "{context}: canonical_values are for string attributes, not {}",
            a.ty.as_str()
        ));
    }
    if a.uniqueness == Uniqueness::Server && (is_sub || a.multi_valued || a.ty != AttrType::String)
    {
        return Err(format!(
            "{context}: uniqueness = \"server\" is for a single-valued string attribute at the \
             top of its schema"
        ));
    }
    for (i, sub) in a.sub_attributes.iter().enumerate() {
        let sub_context = format!("{context}, sub-attribute {:?}", sub.name);
        check_attribute(sub, &sub_context, true)?;
        if a.sub_attributes[..i].iter().any(|b| b.name.eq_ignore_ascii_case(&sub.name)) {
            return Err(format!("{sub_context} is declared twice"));
        }
    }
    Ok(())
}

/// RFC 7643 §2.1 ATTRNAME: ALPHA *(nameChar).
pub fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The built-in resource type of `kind`.
fn built_in(kind: Kind) -> &'static ResourceType {
    match kind {
        Kind::User => &USER,
        Kind::Group => &GROUP,
    }
}

/// The built-in model with `decls` added (each already [`check`]ed), each extension after the
/// built-in ones of its resource type.
pub fn build(decls: &[ExtensionDecl]) -> Model {
    if decls.is_empty() {
        return BUILT_IN;
    }
    let schemas: Vec<(&ExtensionDecl, &'static SchemaDef)> =
        decls.iter().map(|d| (d, leak(schema_def(d)))).collect();
    let with = |rt: &'static ResourceType, kind: Kind| -> &'static ResourceType {
        let mine: Vec<_> = schemas.iter().filter(|(d, _)| d.resource_type == kind).collect();
        if mine.is_empty() {
            return rt;
        }
        let extensions: Vec<&'static SchemaDef> =
            rt.extensions.iter().copied().chain(mine.iter().map(|(_, s)| *s)).collect();
        let required: Vec<&'static str> = rt
            .required_extensions
            .iter()
            .copied()
            .chain(mine.iter().filter(|(d, _)| d.required).map(|(_, s)| s.id))
            .collect();
        leak(ResourceType {
            extensions: leak_slice(extensions),
            required_extensions: leak_slice(required),
            ..*rt
        })
    };
    let user = with(&USER, Kind::User);
    let group = with(&GROUP, Kind::Group);
    let all: Vec<&'static SchemaDef> =
        BUILT_IN.schemas.iter().copied().chain(schemas.iter().map(|(_, s)| *s)).collect();
    Model { user, group, schemas: leak_slice(all) }
}

fn schema_def(d: &ExtensionDecl) -> SchemaDef {
    SchemaDef {
        id: leak_str(&d.id),
        name: leak_str(&d.name),
        description: leak_str(&d.name),
        attributes: leak_slice(d.attributes.iter().map(attr_def).collect()),
    }
}

fn attr_def(a: &AttributeDecl) -> AttrDef {
    AttrDef {
        name: leak_str(&a.name),
        ty: a.ty,
        multi_valued: a.multi_valued,
        description: leak_str(&a.description),
        required: a.required,
        case_exact: a.case_exact,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: a.uniqueness,
        canonical_values: leak_slice(a.canonical_values.iter().map(|v| leak_str(v)).collect()),
        canonical_only: !a.canonical_values.is_empty(),
        reference_types: if a.ty == AttrType::Reference { &["external"] } else { &[] },
        sub_attributes: leak_slice(a.sub_attributes.iter().map(attr_def).collect()),
    }
}

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

fn leak_slice<T>(values: Vec<T>) -> &'static [T] {
    Box::leak(values.into_boxed_slice())
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// An attribute that declarations before had and the new ones lack or declare with another
/// type or cardinality: values stored for it would no longer be served as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawn {
    pub resource_type: Kind,
    /// The extension's URN, as declared before.
    pub urn: String,
    /// The attribute, then the sub-attribute if it is one.
    pub path: Vec<String>,
    /// "removed" or "retyped".
    pub how: &'static str,
}

impl std::fmt::Display for Withdrawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({})", self.urn, self.path.join("."), self.how)
    }
}

/// What moving from `old` to `new` declarations withdraws (see [`Withdrawn`]); additions
/// withdraw nothing. A whole extension removed lists each of its attributes.
pub fn withdrawn(old: &[ExtensionDecl], new: &[ExtensionDecl]) -> Vec<Withdrawn> {
    let mut out = Vec::new();
    for o in old {
        let kept = new
            .iter()
            .find(|n| n.id.eq_ignore_ascii_case(&o.id) && n.resource_type == o.resource_type);
        let empty = Vec::new();
        let attributes = kept.map_or(&empty, |n| &n.attributes);
        withdrawn_attributes(o, &[], &o.attributes, attributes, &mut out);
    }
    out
}

fn withdrawn_attributes(
    ext: &ExtensionDecl,
    parent: &[String],
    old: &[AttributeDecl],
    new: &[AttributeDecl],
    out: &mut Vec<Withdrawn>,
) {
    for o in old {
        let mut path = parent.to_vec();
        path.push(o.name.clone());
        let n = new.iter().find(|n| n.name.eq_ignore_ascii_case(&o.name));
        let how = match n {
            None => Some("removed"),
            Some(n) if (n.ty, n.multi_valued) != (o.ty, o.multi_valued) => Some("retyped"),
            Some(_) => None,
        };
        match (how, n) {
            (Some(how), _) => out.push(Withdrawn {
                resource_type: ext.resource_type,
                urn: ext.id.clone(),
                path,
                how,
            }),
            (None, Some(n)) => {
                withdrawn_attributes(ext, &path, &o.sub_attributes, &n.sub_attributes, out);
            }
            (None, None) => {}
        }
    }
}

/// Whether `resource` (stored attributes, extensions under their URN key) holds a value for
/// `w`.
pub fn holds(resource: &serde_json::Value, w: &Withdrawn) -> bool {
    use serde_json::Value;
    fn field<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
        v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
    let Some(ext) = field(resource, &w.urn) else {
        return false;
    };
    let mut current: Vec<&Value> = vec![ext];
    for name in &w.path {
        current = current
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                one => vec![one],
            })
            .filter_map(|v| field(v, name))
            .filter(|v| !v.is_null())
            .collect();
    }
    !current.is_empty()
}

/// The declarations the model in force was built from.
static DECLARED: RwLock<Vec<ExtensionDecl>> = RwLock::new(Vec::new());

/// Puts the model of `decls` in force for the process (start-up and reload); nothing is built
/// when they are the ones already in force.
pub fn install(decls: &[ExtensionDecl]) {
    let mut declared = DECLARED.write().unwrap_or_else(PoisonError::into_inner);
    if *declared != decls {
        set_model(build(decls));
        *declared = decls.to_vec();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn attribute(name: &str, ty: AttrType) -> AttributeDecl {
        AttributeDecl {
            name: name.into(),
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            description: String::new(),
            sub_attributes: Vec::new(),
        }
    }

    fn acme(attributes: Vec<AttributeDecl>) -> ExtensionDecl {
        ExtensionDecl {
            id: "urn:ietf:params:scim:schemas:extension:acme:2.0:User".into(),
            resource_type: Kind::User,
            name: "Acme".into(),
            required: true,
            attributes,
        }
    }

    #[test]
    fn a_built_model_finds_declared_attributes_after_the_built_in_ones() {
        // Built, never installed: tests share the process.
        let model = build(&[acme(vec![attribute("badgeNumber", AttrType::String)])]);
        let (schema, def) = model.user.attribute(None, "BADGENUMBER").unwrap();
        assert_eq!(
            (schema.id, def.name),
            ("urn:ietf:params:scim:schemas:extension:acme:2.0:User", "badgeNumber")
        );
        assert_eq!(model.user.extensions.len(), 2, "enterprise first, then acme");
        assert_eq!(model.user.extensions[0].id, ENTERPRISE_USER);
        assert_eq!(model.user.required_extensions, [schema.id]);
        assert!(std::ptr::eq(model.group, &GROUP), "Group is untouched");
        assert_eq!(model.schemas.len(), 4);
        assert!(std::ptr::eq(build(&[]).user, &USER));
    }

    #[test]
    fn removing_or_retyping_withdraws_an_attribute_and_adding_does_not() {
        let old = [acme(vec![attribute("a", AttrType::String)])];
        let added =
            [acme(vec![attribute("a", AttrType::String), attribute("b", AttrType::Integer)])];
        assert!(withdrawn(&old, &added).is_empty());
        let gone = withdrawn(&added, &old);
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].path.as_slice(), gone[0].how), (&["b".to_string()][..], "removed"));
        let retyped = [acme(vec![attribute("a", AttrType::Integer)])];
        assert_eq!(withdrawn(&old, &retyped)[0].how, "retyped");
        assert_eq!(withdrawn(&added, &[]).len(), 2, "a removed extension withdraws each attribute");
        let mut desk = attribute("desk", AttrType::Complex);
        desk.sub_attributes = vec![attribute("floor", AttrType::Integer)];
        let mut bare = attribute("desk", AttrType::Complex);
        bare.sub_attributes = vec![attribute("room", AttrType::String)];
        let sub = withdrawn(&[acme(vec![desk])], &[acme(vec![bare])]);
        assert_eq!(
            sub[0].to_string(),
            "urn:ietf:params:scim:schemas:extension:acme:2.0:User:desk.floor (removed)"
        );
    }

    #[test]
    fn a_stored_value_is_found_under_any_case_and_inside_lists() {
        let w = |path: &[&str]| Withdrawn {
            resource_type: Kind::User,
            urn: "urn:ietf:params:scim:schemas:extension:acme:2.0:User".into(),
            path: path.iter().map(|p| p.to_string()).collect(),
            how: "removed",
        };
        let stored = serde_json::json!({"userName": "u",
            "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"badge": "1", "desks": [{"floor": 2}, {}]}});
        assert!(holds(&stored, &w(&["Badge"])));
        assert!(holds(&stored, &w(&["desks", "floor"])));
        assert!(!holds(&stored, &w(&["desks", "room"])));
        assert!(!holds(&stored, &w(&["other"])));
        assert!(!holds(&serde_json::json!({"userName": "u"}), &w(&["badge"])));
    }
}
