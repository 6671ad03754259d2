//! The static schema model: RFC 7643 User (§4.1), Group (§4.2), the Enterprise User
//! extension (§4.3), the common attributes (§3.1) and their `/Schemas` and `/ResourceTypes`
//! representations (§6, §7).
//!
//! Owns what scimd *truthfully* supports: every flag here (caseExact, mutability, returned,
//! uniqueness) is what the rest of scimd enforces, because Entra and the validators read
//! `/Schemas` and act on it. It must not hold per-resource data or any I/O. It does hold the
//! model in force for the process ([`model`]): the built-in one, or the one with the config's
//! extension schemas (`extensions::install`).
//!
//! The common attributes `id`, `externalId` and `meta` are listed inside the User and Group
//! schemas (RFC 7643 leaves them out of the schema representation) so that one lookup finds
//! them and so Entra's schema discovery, which checks every mapped attribute (including
//! `externalId`) against `/Schemas`, finds them too.

use serde_json::{Map, Value, json};

/// The enterprise extension's URN: the directory's vocabulary (`domain`), as the store indexes
/// its `manager`.
pub use crate::domain::ENTERPRISE_USER;
use crate::domain::Kind;

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const SERVICE_PROVIDER_CONFIG: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(&self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }

    /// Types whose JSON form is a string compared as text (dateTime is a string on the wire
    /// but compares as an instant).
    pub fn is_textual(&self) -> bool {
        matches!(self, AttrType::String | AttrType::Reference | AttrType::Binary)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(&self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(&self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7). Sub-attributes are never complex.
#[derive(Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    /// Whether a value outside `canonical_values` is refused. Off for the RFC's own lists
    /// (Entra sends `"type": "other"` and worse); on for a declared attribute that lists them.
    pub canonical_only: bool,
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttrDef],
}

impl AttrDef {
    /// Case-insensitive lookup of a sub-attribute (`emails.Value` is `emails.value`).
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    // Const builders keep the tables below readable: each line states only what differs from
    // the RFC 7643 §2.2 defaults (single-valued, optional, case-insensitive, readWrite,
    // returned by default, not unique).
    pub(super) const fn new(
        name: &'static str,
        ty: AttrType,
        description: &'static str,
    ) -> AttrDef {
        AttrDef {
            name,
            ty,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            canonical_only: false,
            reference_types: &[],
            sub_attributes: &[],
        }
    }
    pub(super) const fn multi(self) -> AttrDef {
        AttrDef { multi_valued: true, ..self }
    }
    pub(super) const fn required(self) -> AttrDef {
        AttrDef { required: true, ..self }
    }
    pub(super) const fn case_exact(self) -> AttrDef {
        AttrDef { case_exact: true, ..self }
    }
    pub(super) const fn mutability(self, mutability: Mutability) -> AttrDef {
        AttrDef { mutability, ..self }
    }
    pub(super) const fn returned(self, returned: Returned) -> AttrDef {
        AttrDef { returned, ..self }
    }
    pub(super) const fn unique(self) -> AttrDef {
        AttrDef { uniqueness: Uniqueness::Server, ..self }
    }
    pub(super) const fn canonical(self, canonical_values: &'static [&'static str]) -> AttrDef {
        AttrDef { canonical_values, ..self }
    }
    pub(super) const fn refs(self, reference_types: &'static [&'static str]) -> AttrDef {
        AttrDef { reference_types, ..self }
    }
    pub(super) const fn subs(self, sub_attributes: &'static [AttrDef]) -> AttrDef {
        AttrDef { sub_attributes, ..self }
    }
}

/// A schema (RFC 7643 §7): a URN and its attributes.
#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

/// A resource type (RFC 7643 §6): endpoint, core schema and schema extensions.
#[derive(Debug)]
pub struct ResourceType {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static SchemaDef,
    pub extensions: &'static [&'static SchemaDef],
    /// The URNs of the extensions every resource of the type must carry.
    pub required_extensions: &'static [&'static str],
}

impl ResourceType {
    /// Case-insensitive lookup of a top-level attribute.
    ///
    /// `schema_urn` None means the core schema (which includes the common attributes and the
    /// `schemas` pseudo-attribute filters may name); when core has no such name the extensions
    /// are tried in order, because Entra writes `manager` without its URN in PATCH paths and
    /// legacy filters. `Some(urn)` (matched case-insensitively) means exactly that schema.
    pub fn attribute(
        &self,
        schema_urn: Option<&str>,
        name: &str,
    ) -> Option<(&'static SchemaDef, &'static AttrDef)> {
        let find = |s: &'static SchemaDef| {
            s.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name)).map(|a| (s, a))
        };
        match schema_urn {
            Some(urn) => self.schema_by_urn(urn).and_then(find),
            None => {
                if name.eq_ignore_ascii_case(SCHEMAS_ATTR.name) {
                    return Some((self.schema, &SCHEMAS_ATTR));
                }
                find(self.schema).or_else(|| self.extensions.iter().find_map(|s| find(s)))
            }
        }
    }

    /// The extension schema with this URN (case-insensitive), if the type has it.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions.iter().copied().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The core schema or an extension, by URN (case-insensitive).
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static SchemaDef> {
        if self.schema.id.eq_ignore_ascii_case(urn) {
            Some(self.schema)
        } else {
            self.extension(urn)
        }
    }

    /// The declared extension attributes with `uniqueness = "server"`: each has an index
    /// (`store::unique`) and refuses a value another resource holds.
    pub fn unique_extension_attributes(
        &self,
    ) -> impl Iterator<Item = (&'static SchemaDef, &'static AttrDef)> + '_ {
        self.extensions.iter().flat_map(|s| {
            s.attributes.iter().filter(|a| a.uniqueness == Uniqueness::Server).map(move |a| (*s, a))
        })
    }

    /// Whether `schema` is an extension of this type (its attributes live under its URN key).
    pub fn is_extension(&self, schema: &SchemaDef) -> bool {
        !std::ptr::eq(schema, self.schema)
    }
}

use AttrType::{Binary, Boolean, Complex, DateTime, Reference, String as Str};
use Mutability::{Immutable, ReadOnly, WriteOnly};

/// `schemas` is not an attribute of any schema, but RFC 7644 §3.4.2.2 filters on it
/// (`schemas eq "urn:…:enterprise:2.0:User"`), so lookups resolve it to this definition.
pub static SCHEMAS_ATTR: AttrDef =
    AttrDef::new("schemas", Str, "The schema URNs the resource conforms to.")
        .multi()
        .mutability(ReadOnly)
        .returned(Returned::Always);

const ID: AttrDef = AttrDef::new("id", Str, "Unique identifier assigned by scimd.")
    .case_exact()
    .mutability(ReadOnly)
    .returned(Returned::Always)
    .unique();

const EXTERNAL_ID: AttrDef =
    AttrDef::new("externalId", Str, "Identifier of the resource in the provisioning client.")
        .case_exact();

const META: AttrDef = AttrDef::new("meta", Complex, "Resource metadata maintained by scimd.")
    .mutability(ReadOnly)
    .subs(&[
        AttrDef::new("resourceType", Str, "The resource type name.")
            .case_exact()
            .mutability(ReadOnly),
        AttrDef::new("created", DateTime, "When the resource was added.").mutability(ReadOnly),
        AttrDef::new("lastModified", DateTime, "When the resource was last changed.")
            .mutability(ReadOnly),
        AttrDef::new("location", Reference, "The URI of the resource.")
            .refs(&["uri"])
            .mutability(ReadOnly),
        AttrDef::new("version", Str, "The entity tag of the resource's current version.")
            .case_exact()
            .mutability(ReadOnly),
    ]);

/// The `value`/`display`/`type`/`primary` shape shared by most multi-valued attributes.
macro_rules! multi_sub {
    ($value_desc:expr, $ty:expr, $types:expr) => {
        &[
            AttrDef::new("value", $ty, $value_desc),
            AttrDef::new("display", Str, "A human-readable name, for display only."),
            AttrDef::new("type", Str, "A label for the value's function.").canonical($types),
            AttrDef::new("primary", Boolean, "Whether this is the preferred value."),
        ]
    };
}

static USER_ATTRIBUTES: [AttrDef; 24] = [
    ID,
    EXTERNAL_ID,
    META,
    AttrDef::new("userName", Str, "Unique identifier of the user, used to sign in.")
        .required()
        .unique(),
    AttrDef::new("name", Complex, "The components of the user's name.").subs(&[
        AttrDef::new("formatted", Str, "The full name, formatted for display."),
        AttrDef::new("familyName", Str, "The family (last) name."),
        AttrDef::new("givenName", Str, "The given (first) name."),
        AttrDef::new("middleName", Str, "The middle name(s)."),
        AttrDef::new("honorificPrefix", Str, "Title prefix, such as 'Ms.'."),
        AttrDef::new("honorificSuffix", Str, "Suffix, such as 'III'."),
    ]),
    AttrDef::new("displayName", Str, "The name of the user, for display."),
    AttrDef::new("nickName", Str, "The casual name of the user."),
    AttrDef::new("profileUrl", Reference, "A URI of the user's online profile.")
        .refs(&["external"]),
    AttrDef::new("title", Str, "The user's job title."),
    AttrDef::new("userType", Str, "The relationship of the user to the organisation."),
    AttrDef::new("preferredLanguage", Str, "Preferred written or spoken language."),
    AttrDef::new("locale", Str, "Default location for localisation."),
    AttrDef::new("timezone", Str, "Time zone, in IANA 'America/Los_Angeles' form."),
    AttrDef::new("active", Boolean, "Whether the user may use the service."),
    AttrDef::new("password", Str, "Accepted for compatibility; never stored or returned.")
        .mutability(WriteOnly)
        .returned(Returned::Never),
    AttrDef::new("emails", Complex, "Email addresses.").multi().subs(multi_sub!(
        "The email address.",
        Str,
        &["work", "home", "other"]
    )),
    AttrDef::new("phoneNumbers", Complex, "Phone numbers.").multi().subs(multi_sub!(
        "The phone number.",
        Str,
        &["work", "home", "mobile", "fax", "pager", "other"]
    )),
    AttrDef::new("ims", Complex, "Instant messaging addresses.").multi().subs(multi_sub!(
        "The instant messaging address.",
        Str,
        &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
    )),
    AttrDef::new("photos", Complex, "URLs of images of the user.").multi().subs(&[
        AttrDef::new("value", Reference, "The URL of the image.").refs(&["external"]),
        AttrDef::new("display", Str, "A human-readable name, for display only."),
        AttrDef::new("type", Str, "A label for the image's function.")
            .canonical(&["photo", "thumbnail"]),
        AttrDef::new("primary", Boolean, "Whether this is the preferred image."),
    ]),
    AttrDef::new("addresses", Complex, "Physical mailing addresses.").multi().subs(&[
        AttrDef::new("formatted", Str, "The full address, formatted for display."),
        AttrDef::new("streetAddress", Str, "Street address and house number."),
        AttrDef::new("locality", Str, "City or locality."),
        AttrDef::new("region", Str, "State or region."),
        AttrDef::new("postalCode", Str, "Postal code."),
        AttrDef::new("country", Str, "Country, as an ISO 3166-1 alpha-2 code."),
        AttrDef::new("type", Str, "A label for the address's function.")
            .canonical(&["work", "home", "other"]),
        AttrDef::new("primary", Boolean, "Whether this is the preferred address."),
    ]),
    AttrDef::new("groups", Complex, "The groups the user belongs to, maintained by scimd.")
        .multi()
        .mutability(ReadOnly)
        .subs(&[
            AttrDef::new("value", Str, "The id of the group.").mutability(ReadOnly),
            AttrDef::new("$ref", Reference, "The URI of the group.")
                .refs(&["User", "Group"])
                .mutability(ReadOnly),
            AttrDef::new("display", Str, "The group's displayName.").mutability(ReadOnly),
            AttrDef::new("type", Str, "How the membership was obtained.")
                .canonical(&["direct", "indirect"])
                .mutability(ReadOnly),
        ]),
    AttrDef::new("entitlements", Complex, "Entitlements held by the user.")
        .multi()
        .subs(multi_sub!("The entitlement.", Str, &[])),
    AttrDef::new("roles", Complex, "Roles held by the user.").multi().subs(multi_sub!(
        "The role.",
        Str,
        &[]
    )),
    AttrDef::new("x509Certificates", Complex, "X.509 certificates of the user.")
        .multi()
        .subs(multi_sub!("The DER-encoded certificate, base64.", Binary, &[])),
];

static ENTERPRISE_ATTRIBUTES: [AttrDef; 6] = [
    AttrDef::new("employeeNumber", Str, "Identifier of the user within the organisation."),
    AttrDef::new("costCenter", Str, "Name of a cost center."),
    AttrDef::new("organization", Str, "Name of an organisation."),
    AttrDef::new("division", Str, "Name of a division."),
    AttrDef::new("department", Str, "Name of a department."),
    AttrDef::new("manager", Complex, "The user's manager.").subs(&[
        AttrDef::new("value", Str, "The id of the manager's User resource."),
        AttrDef::new("$ref", Reference, "The URI of the manager's User resource.").refs(&["User"]),
        AttrDef::new("displayName", Str, "The manager's displayName, filled in by scimd.")
            .mutability(ReadOnly),
    ]),
];

static GROUP_ATTRIBUTES: [AttrDef; 5] = [
    ID,
    EXTERNAL_ID,
    META,
    AttrDef::new("displayName", Str, "The name of the group.").required().unique(),
    AttrDef::new("members", Complex, "The members of the group.").multi().subs(&[
        AttrDef::new("value", Str, "The id of the member resource.").mutability(Immutable),
        AttrDef::new("$ref", Reference, "The URI of the member resource.")
            .refs(&["User", "Group"])
            .mutability(Immutable),
        // Okta sends `display`; it is accepted and ignored. scimd does not return it: a
        // group read would cost one lookup per member, and RFC 7643 §8.7.1 does not define it.
        AttrDef::new("display", Str, "Accepted from clients and ignored; never returned.")
            .mutability(ReadOnly)
            .returned(Returned::Never),
        AttrDef::new("type", Str, "The member's resource type.")
            .canonical(&["User", "Group"])
            .mutability(Immutable),
    ]),
];

pub static USER_SCHEMA: SchemaDef = SchemaDef {
    id: CORE_USER,
    name: "User",
    // Microsoft's reference tests look for a schema described as "User Account".
    description: "User Account",
    attributes: &USER_ATTRIBUTES,
};

pub static ENTERPRISE_USER_SCHEMA: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_ATTRIBUTES,
};

pub static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: CORE_GROUP,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRIBUTES,
};

pub static USER: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: &[&ENTERPRISE_USER_SCHEMA],
    required_extensions: &[],
};

pub static GROUP: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: &[],
    required_extensions: &[],
};

/// The schema model: the resource types and every schema, in `/Schemas` order.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    pub user: &'static ResourceType,
    pub group: &'static ResourceType,
    pub schemas: &'static [&'static SchemaDef],
}

/// The built-in model: RFC 7643's User with the enterprise extension, and Group.
pub static BUILT_IN: Model = Model {
    user: &USER,
    group: &GROUP,
    schemas: &[&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA],
};

/// The model in force: the built-in one until the config's extensions are installed
/// (`extensions::install`, at start-up and on reload).
static IN_FORCE: std::sync::RwLock<Model> = std::sync::RwLock::new(BUILT_IN);

/// Puts `model` in force for the process.
pub fn set_model(model: Model) {
    *IN_FORCE.write().unwrap_or_else(std::sync::PoisonError::into_inner) = model;
}

/// The model in force.
pub fn model() -> Model {
    *IN_FORCE.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The resource type of a kind of resource: its schema, extensions and endpoint, with the
/// extensions declared in the config.
pub fn resource_type(kind: Kind) -> &'static ResourceType {
    let model = model();
    match kind {
        Kind::User => model.user,
        Kind::Group => model.group,
    }
}

/// Every schema, in the order `/Schemas` lists them (declared extensions last).
pub fn schemas() -> &'static [&'static SchemaDef] {
    model().schemas
}

/// Every resource type, in the order `/ResourceTypes` lists them.
pub fn resource_types() -> [&'static ResourceType; 2] {
    let model = model();
    [model.user, model.group]
}

/// The canonical spelling of a known schema URN, matched case-insensitively.
pub fn canonical_urn(urn: &str) -> Option<&'static str> {
    schemas().iter().map(|s| s.id).find(|id| id.eq_ignore_ascii_case(urn))
}

/// The RFC 7643 §7 representation of a schema. Absent values are omitted, never null.
pub fn schema_json(s: &SchemaDef, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        // `meta` is a common attribute (RFC 7643 §3.1) that belongs to no schema; clients
        // building models from /Schemas (scim2-client) break when a schema lists it.
        "attributes": s.attributes.iter().filter(|a| a.name != "meta").map(attr_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", base_url.trim_end_matches('/'), s.id),
        },
    })
}

fn attr_json(a: &AttrDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), a.name.into());
    m.insert("type".into(), a.ty.as_str().into());
    m.insert("multiValued".into(), a.multi_valued.into());
    m.insert("description".into(), a.description.into());
    m.insert("required".into(), a.required.into());
    m.insert("caseExact".into(), a.case_exact.into());
    m.insert("mutability".into(), a.mutability.as_str().into());
    m.insert("returned".into(), a.returned.as_str().into());
    m.insert("uniqueness".into(), a.uniqueness.as_str().into());
    if !a.canonical_values.is_empty() {
        m.insert("canonicalValues".into(), a.canonical_values.into());
    }
    if !a.reference_types.is_empty() {
        m.insert("referenceTypes".into(), a.reference_types.into());
    }
    if !a.sub_attributes.is_empty() {
        m.insert(
            "subAttributes".into(),
            a.sub_attributes.iter().map(attr_json).collect::<Vec<_>>().into(),
        );
    }
    Value::Object(m)
}

/// The RFC 7643 §6 representation of a resource type.
pub fn resource_type_json(rt: &ResourceType, base_url: &str) -> Value {
    let mut v = json!({
        "schemas": [RESOURCE_TYPE],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
    });
    if let Value::Object(m) = &mut v {
        if !rt.extensions.is_empty() {
            let required = |id: &str| rt.required_extensions.contains(&id);
            let ext: Vec<Value> = rt
                .extensions
                .iter()
                .map(|s| json!({"schema": s.id, "required": required(s.id)}))
                .collect();
            m.insert("schemaExtensions".into(), ext.into());
        }
        m.insert(
            "meta".into(),
            json!({
                "resourceType": "ResourceType",
                "location": format!("{}/ResourceTypes/{}", base_url.trim_end_matches('/'), rt.name),
            }),
        );
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive() {
        let (s, a) = USER.attribute(None, "USERNAME").unwrap();
        assert_eq!((s.id, a.name), (CORE_USER, "userName"));
        let (s, a) = USER.attribute(Some(&ENTERPRISE_USER.to_uppercase()), "Manager").unwrap();
        assert_eq!((s.id, a.name), (ENTERPRISE_USER, "manager"));
        assert_eq!(a.sub_attribute("DISPLAYNAME").unwrap().name, "displayName");
        assert_eq!(USER.attribute(Some(CORE_USER), "id").unwrap().1.name, "id");
        assert!(USER.attribute(Some(CORE_USER), "manager").is_none());
        assert!(USER.attribute(Some("urn:nope"), "userName").is_none());
        assert!(USER.attribute(None, "fooBar").is_none());
        assert!(GROUP.attribute(None, "userName").is_none());
        assert_eq!(USER.extension(&ENTERPRISE_USER.to_lowercase()).unwrap().id, ENTERPRISE_USER);
        assert!(GROUP.extension(ENTERPRISE_USER).is_none());
    }

    #[test]
    fn unqualified_extension_names_fall_back_to_extensions() {
        let (s, a) = USER.attribute(None, "manager").unwrap();
        assert_eq!((s.id, a.name), (ENTERPRISE_USER, "manager"));
        assert!(USER.is_extension(s));
        // Core wins over extensions: `displayName` is the user's, not the manager's.
        assert_eq!(USER.attribute(None, "displayName").unwrap().0.id, CORE_USER);
        assert_eq!(USER.attribute(None, "schemas").unwrap().1.name, "schemas");
    }

    #[test]
    fn flags_are_truthful() {
        let get = |rt: &ResourceType, n| rt.attribute(None, n).unwrap().1;
        let user_name = get(&USER, "userName");
        assert!(user_name.required && !user_name.case_exact);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        let id = get(&USER, "id");
        assert!(id.case_exact);
        assert_eq!((id.mutability, id.returned), (ReadOnly, Returned::Always));
        let ext = get(&USER, "externalId");
        assert!(ext.case_exact);
        assert_eq!(ext.mutability, Mutability::ReadWrite);
        let pw = get(&USER, "password");
        assert_eq!((pw.mutability, pw.returned), (WriteOnly, Returned::Never));
        assert_eq!(get(&USER, "groups").mutability, ReadOnly);
        let dn = get(&GROUP, "displayName");
        assert!(dn.required && !dn.case_exact);
        assert_eq!(dn.uniqueness, Uniqueness::Server);
        let members = get(&GROUP, "members");
        assert!(members.multi_valued);
        assert_eq!(members.sub_attribute("value").unwrap().mutability, Immutable);
        let mgr = get(&USER, "manager");
        assert_eq!(mgr.sub_attribute("displayName").unwrap().mutability, ReadOnly);
    }

    #[test]
    fn tables_are_well_formed() {
        for s in schemas() {
            let mut names: Vec<String> = Vec::new();
            for a in s.attributes {
                assert!(!names.contains(&a.name.to_lowercase()), "duplicate {}", a.name);
                names.push(a.name.to_lowercase());
                assert_eq!(a.ty == Complex, !a.sub_attributes.is_empty(), "{}", a.name);
                assert_eq!(a.ty == Reference, !a.reference_types.is_empty(), "{}", a.name);
                for sub in a.sub_attributes {
                    assert_ne!(sub.ty, Complex);
                    assert_eq!(
                        sub.ty == Reference,
                        !sub.reference_types.is_empty(),
                        "{}",
                        sub.name
                    );
                }
            }
        }
    }

    #[test]
    fn schema_json_is_rfc_shaped_and_has_no_nulls() {
        let v = schema_json(&USER_SCHEMA, "https://scim.example.com/scim/v2/");
        assert_eq!(v["id"], CORE_USER);
        assert_eq!(v["description"], "User Account");
        assert_eq!(
            v["meta"]["location"],
            format!("https://scim.example.com/scim/v2/Schemas/{CORE_USER}")
        );
        let attrs = v["attributes"].as_array().unwrap();
        let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!(user_name["mutability"], "readWrite");
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        assert!(user_name.get("subAttributes").is_none());
        assert!(user_name.get("canonicalValues").is_none());
        let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"][2]["canonicalValues"][0], "work");
        fn no_nulls(v: &Value) -> bool {
            match v {
                Value::Null => false,
                Value::Array(a) => a.iter().all(no_nulls),
                Value::Object(m) => m.values().all(no_nulls),
                _ => true,
            }
        }
        for s in schemas() {
            assert!(no_nulls(&schema_json(s, "https://x")));
        }
    }

    #[test]
    fn resource_type_json_lists_extensions() {
        let v = resource_type_json(&USER, "https://x/scim");
        assert_eq!(v["endpoint"], "/Users");
        assert_eq!(v["schema"], CORE_USER);
        assert_eq!(v["schemaExtensions"][0]["schema"], ENTERPRISE_USER);
        assert_eq!(v["schemaExtensions"][0]["required"], false);
        assert_eq!(v["meta"]["location"], "https://x/scim/ResourceTypes/User");
        let g = resource_type_json(&GROUP, "https://x/scim");
        assert!(g.get("schemaExtensions").is_none());
        assert_eq!(g["schema"], CORE_GROUP);
    }

    #[test]
    fn canonical_urn_fixes_case() {
        assert_eq!(canonical_urn(&CORE_USER.to_uppercase()), Some(CORE_USER));
        assert_eq!(
            canonical_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0User"),
            None
        );
    }
}
