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

    /// Whether a user is deactivated (`active` false; a user without `active` is active).
    pub fn is_inactive(&self) -> bool {
        self.attributes.get("active").and_then(|v| v.as_bool()) == Some(false)
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
