//! What the use cases on one resource share: finding it (404), `If-Match` against its version
//! (412), its name present, printable and free (409), and resolving the members a group body
//! or PATCH names before adding them.
//!
//! Create, replace and delete (`resources.rs`) and PATCH (`patch.rs`) call these inside their
//! write transaction; reads call [`existing`] on a snapshot. Nothing here writes except
//! [`add_members`], and nothing here logs: the use case's `write_logged` does.

use serde_json::Value;

use crate::domain::text::escape;
use crate::domain::{Kind, ResourceId};
use crate::scim::{ScimError, text};
use crate::store::{MemberKind, ReadQueries, StoredResource, Writer};

use super::ServiceError;
use super::render::etag;

pub(super) fn not_found(kind: Kind, id: &str) -> ServiceError {
    ServiceError::NotFound(format!("{} {id} not found", kind.resource_type()))
}

/// The resource `id` names (any spelling of its UUID), or 404.
pub(super) fn existing(
    lookup: &impl ReadQueries,
    kind: Kind,
    id: &str,
) -> Result<(ResourceId, StoredResource), ServiceError> {
    let rid = ResourceId::parse(id).ok_or_else(|| not_found(kind, id))?;
    let stored = lookup.get(kind, rid)?.ok_or_else(|| not_found(kind, id))?;
    Ok((rid, stored))
}

/// Whether `If-Match` (absent, `*`, or a list of ETags, weak or strong) lets a write change
/// `current`; 412 naming its version otherwise.
pub(super) fn check_if_match(
    if_match: Option<&str>,
    current: &StoredResource,
) -> Result<(), ServiceError> {
    match if_match {
        None => Ok(()),
        Some(tags) if tags.trim() == "*" => Ok(()),
        Some(tags) => {
            let current_tag = etag(current.version);
            let strong = current_tag.trim_start_matches("W/");
            if tags
                .split(',')
                .map(str::trim)
                .any(|t| t == current_tag || t.trim_start_matches("W/") == strong)
            {
                Ok(())
            } else {
                Err(ServiceError::PreconditionFailed(format!(
                    "the resource has changed: its version is now {current_tag}"
                )))
            }
        }
    }
}

/// The value of the naming attribute (`userName`, `displayName`), unless absent or blank.
pub(super) fn naming_value(kind: Kind, attributes: &Value) -> Option<String> {
    attributes
        .get(kind.name_attribute())
        .and_then(Value::as_str)
        .filter(|name| !name.trim().is_empty())
        .map(str::to_string)
}

/// Refuses control and bidirectional formatting characters (`text::check_name`) in the names
/// a person reads, `userName` and `displayName`, when a write sets or changes them. A name
/// stored by an older scimd and sent back unchanged is let through, so the IdP can still
/// deactivate or update that resource (and the output escapes it).
pub(super) fn check_names(kind: Kind, new: &Value, old: Option<&Value>) -> Result<(), ScimError> {
    let names: &[&str] = match kind {
        Kind::User => &["userName", "displayName"],
        Kind::Group => &["displayName"],
    };
    for &attribute in names {
        let Some(value) = new.get(attribute).and_then(Value::as_str) else {
            continue;
        };
        if old.and_then(|o| o.get(attribute)).and_then(Value::as_str) != Some(value) {
            text::check_name(attribute, value)?;
        }
    }
    Ok(())
}

/// 409 when `name` (under the name index's folding) belongs to a resource other than `owner`,
/// the resource being written (None for a create).
pub(super) fn ensure_name_free(
    lookup: &impl ReadQueries,
    kind: Kind,
    name: &str,
    owner: Option<ResourceId>,
) -> Result<(), ServiceError> {
    match lookup.id_by_name(kind, name)?.filter(|holder| Some(*holder) != owner) {
        Some(holder) => Err(ServiceError::Conflict(format!(
            "{} '{}' is already taken by {} {holder} (names are compared ignoring case, width \
             and Unicode normalisation)",
            kind.name_attribute(),
            escape(name),
            kind.resource_type()
        ))),
        None => Ok(()),
    }
}

/// Refuses values of declared unique attributes (`uniqueness = "server"`) that another
/// resource of `kind` holds, compared as the attribute declares (`409 uniqueness`).
pub(super) fn ensure_unique_values_free(
    lookup: &impl ReadQueries,
    kind: Kind,
    attributes: &serde_json::Value,
    owner: Option<ResourceId>,
) -> Result<(), ServiceError> {
    let rt = crate::scim::schema::resource_type(kind);
    for (schema, attr) in rt.unique_extension_attributes() {
        let Some(value) = crate::store::unique_value(attributes, schema, attr) else {
            continue;
        };
        let holder = lookup.unique_owner(kind, schema, attr, value)?;
        if let Some(holder) = holder.filter(|holder| Some(*holder) != owner) {
            return Err(ServiceError::Conflict(format!(
                "{}:{} '{}' is already taken by {} {holder} (declared uniqueness = \"server\")",
                schema.id,
                attr.name,
                escape(value),
                kind.resource_type()
            )));
        }
    }
    Ok(())
}

/// Adds the members named in a group body or PATCH; each must be an existing user or group.
/// Returns those that were not members before.
pub(super) fn add_members(
    w: &mut Writer,
    group: ResourceId,
    members: &[String],
) -> Result<Vec<ResourceId>, ServiceError> {
    let mut added = Vec::new();
    for value in members {
        let unknown = || {
            ServiceError::Invalid(ScimError::invalid_value(format!(
                "member '{value}' is not the id of a user or group in scimd"
            )))
        };
        let id = ResourceId::parse(value).ok_or_else(unknown)?;
        if id == group {
            return Err(ScimError::invalid_value(
                "a group cannot be a member of itself".to_string(),
            )
            .into());
        }
        let kind = if w.get(Kind::User, id)?.is_some() {
            MemberKind::User
        } else if w.get(Kind::Group, id)?.is_some() {
            MemberKind::Group
        } else {
            return Err(unknown());
        };
        if w.add_member(group, id, kind)? {
            added.push(id);
        }
    }
    Ok(added)
}
