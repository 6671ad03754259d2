//! The stored shape of users and groups.

use serde::{Deserialize, Serialize};

use crate::domain::{ENTERPRISE_USER, Kind, ResourceId};

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
            .get(ENTERPRISE_USER)
            .and_then(|ext| ext.get("manager"))
            .and_then(|m| m.get("value"))
            .and_then(|v| v.as_str())
    }

    /// A new resource holding `attributes`, with a random id, at version 1: for unit tests
    /// of the store and of the use cases.
    #[cfg(test)]
    pub(crate) fn for_test(attributes: serde_json::Value) -> StoredResource {
        StoredResource {
            id: ResourceId::new_random(),
            version: 1,
            created: "2026-01-01T00:00:00.000Z".into(),
            last_modified: "2026-01-01T00:00:00.000Z".into(),
            attributes,
            roles_derived: false,
        }
    }
}
