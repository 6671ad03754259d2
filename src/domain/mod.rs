//! The directory's vocabulary, shared by every layer: which kinds of resource there are
//! ([`Kind`]), how a resource is named ([`ResourceId`], [`Kind::name_attribute`]), the one
//! schema extension the directory indexes ([`ENTERPRISE_USER`], for `manager`), and the text
//! rules for names (`text.rs`: how two names compare, how text is shown to a person).
//!
//! It imports nothing of scimd's own modules, so `scim` (the protocol) and `store` (redb) can
//! both use it without knowing each other. No I/O.

pub mod events;
pub mod text;

use serde::{Deserialize, Serialize};

/// The URN of the enterprise user extension (RFC 7643 §4.3). Stored users keep its object
/// under this key; the store indexes its `manager.value`.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Which kind of resource: a user or a group (each has its own table, endpoint and schema).
/// Serialised as its resource type name (`User`, `Group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
