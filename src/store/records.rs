//! The stored shape of users and groups.

use serde::{Deserialize, Serialize};

/// Which resource table a row lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    /// The SCIM resource type name, as in `meta.resourceType`.
    pub fn resource_type(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// The attribute that names a resource of this kind and is unique case-insensitively.
    pub fn name_attribute(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
        }
    }
}

/// A resource id: a random UUID, stored as u128 and shown hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceId(pub u128);

impl ResourceId {
    pub fn new_random() -> ResourceId {
        ResourceId(uuid::Uuid::new_v4().as_u128())
    }

    /// Parses a hyphenated or simple UUID; anything else names no resource.
    pub fn parse(s: &str) -> Option<ResourceId> {
        uuid::Uuid::try_parse(s).ok().map(|u| ResourceId(u.as_u128()))
    }

    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        uuid::Uuid::from_u128(self.0).hyphenated().fmt(f)
    }
}

/// One user or group as stored. `attributes` holds the canonical client-writable SCIM
/// attributes (no `id`, `meta`, `groups` or `members`: those are derived when rendered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResource {
    pub id: ResourceId,
    /// Increases on every change; rendered as `meta.version` and the `ETag`.
    pub version: u64,
    pub created: String,
    pub last_modified: String,
    pub attributes: serde_json::Value,
    /// True when `roles` were filled from the `[roles]` mapping rather than sent by the IdP.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub roles_derived: bool,
}

impl StoredResource {
    /// The value of the naming attribute (`userName` / `displayName`), if any.
    pub fn name(&self, kind: Kind) -> Option<&str> {
        self.attributes.get(kind.name_attribute()).and_then(|v| v.as_str())
    }

    pub fn external_id(&self) -> Option<&str> {
        self.attributes.get("externalId").and_then(|v| v.as_str())
    }

    /// The enterprise extension's `manager.value`, for users.
    pub fn manager(&self) -> Option<&str> {
        self.attributes
            .get(crate::scim::schema::ENTERPRISE_USER)
            .and_then(|ext| ext.get("manager"))
            .and_then(|m| m.get("value"))
            .and_then(|v| v.as_str())
    }
}

/// A stored row read in place: the fields a response needs, borrowed from the row's bytes,
/// and the attributes as raw JSON, one slice per top-level attribute. Rendering a list page
/// from views copies attribute text into the response instead of building and serialising a
/// `serde_json::Value` tree per resource.
#[derive(Debug, Deserialize)]
pub struct StoredView<'a> {
    pub id: ResourceId,
    pub version: u64,
    #[serde(borrow)]
    pub created: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub last_modified: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub attributes: RawAttributes<'a>,
}

/// The top-level attributes of a stored row, in stored order, each value as raw JSON text.
#[derive(Debug, Default)]
pub struct RawAttributes<'a>(pub Vec<(std::borrow::Cow<'a, str>, &'a serde_json::value::RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawAttributes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = RawAttributes<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of attributes")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(KeyText(key)) = map.next_key()? {
                    fields.push((key, map.next_value()?));
                }
                Ok(RawAttributes(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// A map key borrowed from the row when it has no escapes, copied when it has.
struct KeyText<'a>(std::borrow::Cow<'a, str>);

impl<'de> Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyText(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyText(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}
