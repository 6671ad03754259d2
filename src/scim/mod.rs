//! The SCIM protocol, pure: schemas, attribute paths, the filter grammar, projection,
//! input canonicalisation and list/sort rules (RFC 7643, RFC 7644).
//!
//! This module does no I/O and knows nothing of HTTP or storage: it depends on serde and
//! serde_json, and of scimd's own modules only on `domain` (the vocabulary: kinds of resource,
//! the name rules), so every rule here is unit-tested against the RFC examples.

pub mod datetime;
pub mod error;
pub mod events;
pub mod extensions;
pub mod filter;
pub mod limits;
pub mod list;
pub mod patch;
pub mod patch_path;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod text;
pub mod tolerance;
pub mod unknown;

pub use error::{ScimError, ScimType};
