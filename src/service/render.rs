//! Turning stored rows into SCIM resources: `schemas`, `id`, the stored attributes, the
//! relations (`members` of a group, `groups` of a user) and `meta`.
//!
//! Relations are read only when asked for (`with_relations`), so a response that excludes
//! `members` never reads a membership row.

use serde_json::{Map, Value, json};

use crate::scim::schema::{self, ResourceType};
use crate::store::{
    Kind, MemberKind, MemberRow, Reader, ResourceId, StoreError, StoredResource, Writer,
};

/// Read access shared by read and write transactions, for rendering inside either.
pub trait Lookup {
    fn get(&self, kind: Kind, id: ResourceId) -> Result<Option<StoredResource>, StoreError>;
    fn members_of(&self, group: ResourceId) -> Result<Vec<MemberRow>, StoreError>;
    fn groups_of(&self, member: ResourceId) -> Result<Vec<ResourceId>, StoreError>;
}

impl Lookup for Reader {
    fn get(&self, kind: Kind, id: ResourceId) -> Result<Option<StoredResource>, StoreError> {
        Reader::get(self, kind, id)
    }
    fn members_of(&self, group: ResourceId) -> Result<Vec<MemberRow>, StoreError> {
        Reader::members_of(self, group)
    }
    fn groups_of(&self, member: ResourceId) -> Result<Vec<ResourceId>, StoreError> {
        Reader::groups_of(self, member)
    }
}

impl Lookup for Writer {
    fn get(&self, kind: Kind, id: ResourceId) -> Result<Option<StoredResource>, StoreError> {
        Writer::get(self, kind, id)
    }
    fn members_of(&self, group: ResourceId) -> Result<Vec<MemberRow>, StoreError> {
        Writer::members_of(self, group)
    }
    fn groups_of(&self, member: ResourceId) -> Result<Vec<ResourceId>, StoreError> {
        Writer::groups_of(self, member)
    }
}

pub fn resource_type(kind: Kind) -> &'static ResourceType {
    match kind {
        Kind::User => &schema::USER,
        Kind::Group => &schema::GROUP,
    }
}

/// The attribute rendered from membership rows: `members` of a group, `groups` of a user.
pub fn relation(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "groups",
        Kind::Group => "members",
    }
}

fn endpoint(kind: Kind) -> &'static str {
    resource_type(kind).endpoint
}

/// `<base>/Users/<id>` or `<base>/Groups/<id>`.
pub fn location(base_url: &str, kind: Kind, id: ResourceId) -> String {
    format!("{base_url}{}/{id}", endpoint(kind))
}

/// The weak ETag of a version, as in `meta.version` and the `ETag` header.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// Renders a stored resource. With `with_relations`, a group gets `members` and a user gets
/// `groups` from the membership rows.
pub fn render(
    lookup: &impl Lookup,
    base_url: &str,
    kind: Kind,
    stored: &StoredResource,
    with_relations: bool,
) -> Result<Value, StoreError> {
    render_owned(lookup, base_url, kind, stored.clone(), with_relations)
}

/// [`render`], consuming the row: its attributes move into the result instead of being
/// copied (lists render many rows they no longer need).
pub fn render_owned(
    lookup: &impl Lookup,
    base_url: &str,
    kind: Kind,
    stored: StoredResource,
    with_relations: bool,
) -> Result<Value, StoreError> {
    let rt = resource_type(kind);
    let attrs = match stored.attributes {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut out = Map::with_capacity(attrs.len() + 5);
    let mut schemas = vec![Value::from(rt.schema.id)];
    for ext in rt.extensions {
        if attrs.contains_key(ext.id) {
            schemas.push(Value::from(ext.id));
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::from(stored.id.to_string()));
    // Core attributes first, extension objects (keyed by their URN) after them.
    let (core, extensions): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .filter(|(k, _)| k != "schemas")
        .partition(|(k, _)| !k.starts_with("urn:"));
    out.extend(core);
    out.extend(extensions);
    if kind == Kind::User {
        add_manager_ref(base_url, &mut out);
    }
    if with_relations {
        match kind {
            Kind::Group => {
                let members = render_members(lookup, base_url, stored.id)?;
                out.insert("members".into(), Value::Array(members));
            }
            Kind::User => {
                let groups = render_groups(lookup, base_url, stored.id)?;
                if !groups.is_empty() {
                    out.insert("groups".into(), Value::Array(groups));
                }
            }
        }
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.resource_type(),
            "created": stored.created,
            "lastModified": stored.last_modified,
            "location": location(base_url, kind, stored.id),
            "version": etag(stored.version),
        }),
    );
    Ok(Value::Object(out))
}

fn render_members(
    lookup: &impl Lookup,
    base_url: &str,
    group: ResourceId,
) -> Result<Vec<Value>, StoreError> {
    Ok(lookup.members_of(group)?.into_iter().map(|row| member_element(base_url, row)).collect())
}

/// One element of a group's `members`: `value`, `$ref` and `type`, from the row alone (no
/// `display`: that would read every member's row).
pub fn member_element(base_url: &str, row: MemberRow) -> Value {
    let kind = match row.kind {
        MemberKind::User => Kind::User,
        MemberKind::Group => Kind::Group,
    };
    json!({
        "value": row.id.to_string(),
        "$ref": location(base_url, kind, row.id),
        "type": kind.resource_type(),
    })
}

/// `manager` is stored as `{"value": id}`; when the id is a scimd user id its `$ref` is the
/// user's URL (the manager need not exist: Entra links managers after creating them).
fn add_manager_ref(base_url: &str, attributes: &mut Map<String, Value>) {
    let manager = attributes
        .get_mut(schema::ENTERPRISE_USER)
        .and_then(|ext| ext.get_mut("manager"))
        .and_then(Value::as_object_mut);
    if let Some(manager) = manager
        && let Some(id) = manager.get("value").and_then(Value::as_str).and_then(ResourceId::parse)
    {
        manager.insert("$ref".into(), Value::from(location(base_url, Kind::User, id)));
    }
}

fn render_groups(
    lookup: &impl Lookup,
    base_url: &str,
    member: ResourceId,
) -> Result<Vec<Value>, StoreError> {
    let mut out = Vec::new();
    for group in lookup.groups_of(member)? {
        let mut entry = json!({
            "value": group.to_string(),
            "$ref": location(base_url, Kind::Group, group),
            "type": "direct",
        });
        if let Some(name) = lookup
            .get(Kind::Group, group)?
            .as_ref()
            .and_then(|g| g.name(Kind::Group).map(String::from))
        {
            entry["display"] = Value::from(name);
        }
        out.push(entry);
    }
    Ok(out)
}
