//! Turning stored rows into SCIM resources: `schemas`, `id`, the stored attributes, the
//! relations (`members` of a group, `groups` of a user) and `meta`.
//!
//! Relations are read only when asked for (`with_relations`), so a response that excludes
//! `members` never reads a membership row.
//!
//! Two renderers build the same document. [`render`] builds a `serde_json::Value`, which
//! filters, projections and writes work on. [`write_view`] writes JSON text straight from a
//! row read in place ([`StoredView`]), copying each stored attribute's text; reads with the
//! default projection (lists, `GET` by id) use it, and a test keeps the two byte-identical.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::domain::{Kind, ResourceId};
use crate::scim::schema::{self, resource_type};
use crate::store::{MemberRow, ReadQueries, StoreError, StoredResource, StoredView};

/// A response body already serialised as JSON.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Vec<u8>);

impl JsonBody {
    pub fn from_value(value: &Value) -> JsonBody {
        // Serialising a Value into a Vec cannot fail.
        JsonBody(serde_json::to_vec(value).unwrap_or_default())
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
    lookup: &impl ReadQueries,
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
    lookup: &impl ReadQueries,
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
    lookup: &impl ReadQueries,
    base_url: &str,
    group: ResourceId,
) -> Result<Vec<Value>, StoreError> {
    Ok(lookup.members_of(group)?.into_iter().map(|row| member_element(base_url, row)).collect())
}

/// One element of a group's `members`: `value`, `$ref` and `type`, from the row alone (no
/// `display`: that would read every member's row).
pub fn member_element(base_url: &str, row: MemberRow) -> Value {
    let kind = row.kind.kind();
    json!({
        "value": row.id.to_string(),
        "$ref": location(base_url, kind, row.id),
        "type": kind.resource_type(),
    })
}

/// `manager` is stored as `{"value": id}`; when the id is a scimd user id its `$ref` is the
/// user's URL (the manager need not exist: Entra links managers after creating them).
fn add_manager_ref(base_url: &str, attributes: &mut Map<String, Value>) {
    if let Some(ext) = attributes.get_mut(schema::ENTERPRISE_USER) {
        add_manager_ref_in(base_url, ext);
    }
}

/// [`add_manager_ref`] on the enterprise extension object itself.
fn add_manager_ref_in(base_url: &str, extension: &mut Value) {
    let manager = extension.get_mut("manager").and_then(Value::as_object_mut);
    if let Some(manager) = manager
        && let Some(id) = manager.get("value").and_then(Value::as_str).and_then(ResourceId::parse)
    {
        manager.insert("$ref".into(), Value::from(location(base_url, Kind::User, id)));
    }
}

fn render_groups(
    lookup: &impl ReadQueries,
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
        if let Some(name) = lookup.name_of(Kind::Group, group)? {
            entry["display"] = Value::from(name);
        }
        out.push(entry);
    }
    Ok(out)
}

/// A JSON string, escaped as serde_json escapes it.
fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Writes a UUID, hyphenated, without allocating.
fn write_id(out: &mut Vec<u8>, id: ResourceId) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(
        uuid::Uuid::from_u128(id.0).hyphenated().encode_lower(&mut buf).as_bytes(),
    );
}

/// Writes `"<base>/Users/<id>"` (or `/Groups/`) as a JSON string.
fn write_location(out: &mut Vec<u8>, base_url: &str, kind: Kind, id: ResourceId) {
    if base_url.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return write_str(out, &location(base_url, kind, id));
    }
    out.push(b'"');
    out.extend_from_slice(base_url.as_bytes());
    out.extend_from_slice(endpoint(kind).as_bytes());
    out.push(b'/');
    write_id(out, id);
    out.push(b'"');
}

/// Writes the resource `view` as JSON into `out`: the document [`render_owned`] builds, byte
/// for byte, with the stored attribute text copied instead of parsed and re-serialised.
pub fn write_view(
    lookup: &impl ReadQueries,
    base_url: &str,
    kind: Kind,
    view: &StoredView<'_>,
    with_relations: bool,
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let rt = resource_type(kind);
    out.extend_from_slice(b"{\"schemas\":[");
    write_str(out, rt.schema.id);
    if kind == Kind::User && view.has_extension {
        out.push(b',');
        write_str(out, schema::ENTERPRISE_USER);
    }
    out.extend_from_slice(b"],\"id\":\"");
    write_id(out, view.id);
    out.push(b'"');
    // The attributes are stored in response order: copy their text, except that a manager
    // gets its `$ref`, which depends on the base URL.
    let with_manager_ref;
    let members = if kind == Kind::User && view.has_manager {
        let mut attrs: Map<String, Value> = serde_json::from_str(&view.attributes)
            .map_err(|e| StoreError::Corrupt(format!("User {}: {e}", view.id)))?;
        add_manager_ref(base_url, &mut attrs);
        with_manager_ref = Value::Object(attrs).to_string();
        with_manager_ref.get(1..with_manager_ref.len() - 1).unwrap_or("")
    } else {
        view.attribute_members()
    };
    if !members.is_empty() {
        out.push(b',');
        out.extend_from_slice(members.as_bytes());
    }
    if with_relations {
        match kind {
            Kind::Group => {
                out.extend_from_slice(b",\"members\":[");
                for (i, row) in lookup.members_of(view.id)?.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let member_kind = row.kind.kind();
                    out.extend_from_slice(b"{\"value\":\"");
                    write_id(out, row.id);
                    out.extend_from_slice(b"\",\"$ref\":");
                    write_location(out, base_url, member_kind, row.id);
                    out.extend_from_slice(b",\"type\":");
                    write_str(out, member_kind.resource_type());
                    out.push(b'}');
                }
                out.push(b']');
            }
            Kind::User => {
                let groups = render_groups(lookup, base_url, view.id)?;
                if !groups.is_empty() {
                    out.extend_from_slice(b",\"groups\":");
                    let _ = serde_json::to_writer(&mut *out, &groups);
                }
            }
        }
    }
    out.extend_from_slice(b",\"meta\":{\"resourceType\":");
    write_str(out, kind.resource_type());
    out.extend_from_slice(b",\"created\":");
    write_str(out, view.created);
    out.extend_from_slice(b",\"lastModified\":");
    write_str(out, view.last_modified);
    out.extend_from_slice(b",\"location\":");
    write_location(out, base_url, kind, view.id);
    // Writing into a Vec cannot fail.
    let _ = write!(out, ",\"version\":\"W/\\\"{}\\\"\"}}}}", view.version);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{MemberKind, Store};

    fn stored(attributes: Value) -> StoredResource {
        StoredResource {
            id: ResourceId::new_random(),
            version: 7,
            created: "2026-01-01T00:00:00.000Z".into(),
            last_modified: "2026-01-02T03:04:05.678Z".into(),
            attributes,
            roles_derived: false,
        }
    }

    /// The text renderer writes exactly what the tree renderer builds, for every shape a row
    /// can have: extensions (with and without a manager), escapes, nested values, empty
    /// attributes, a stray stored `schemas`, users in groups, groups with user and group members.
    #[test]
    fn write_view_matches_render_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("scimd.redb")).unwrap();
        let base = "https://scim.example.org/scim/v2";
        let ext = schema::ENTERPRISE_USER;
        let manager = ResourceId::new_random();
        let users = [
            stored(json!({"userName": "plain"})),
            stored(json!({})),
            stored(json!({
                "userName": "Quote \"and\" back\\slash \u{e9}\u{1F600}\n",
                "name": {"givenName": "Ann", "familyName": "O'Neil"},
                "emails": [{"value": "a@example.org", "type": "work", "primary": true}],
                "active": false,
            })),
            stored(json!({
                ext: {"department": "Sales", "manager": {"value": manager.to_string()}},
                "userName": "managed",
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "title": "Lead",
            })),
            stored(
                json!({"userName": "not-a-uuid-manager", ext: {"manager": {"value": "emp-42"}}}),
            ),
            stored(json!({"userName": "dept only", ext: {"department": "manager's"}})),
        ];
        let groups = [
            stored(json!({"displayName": "Everyone \"all\""})),
            stored(json!({"displayName": "Empty", "externalId": "g-2"})),
        ];
        store
            .write(|w| {
                for u in &users {
                    w.put(Kind::User, u, None)?;
                }
                for g in &groups {
                    w.put(Kind::Group, g, None)?;
                }
                w.add_member(groups[0].id, users[0].id, MemberKind::User)?;
                w.add_member(groups[0].id, users[2].id, MemberKind::User)?;
                w.add_member(groups[0].id, groups[1].id, MemberKind::Group)?;
                w.add_member(groups[1].id, users[2].id, MemberKind::User)?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let reader = store.read().unwrap();
        let cases =
            users.iter().map(|u| (Kind::User, u)).chain(groups.iter().map(|g| (Kind::Group, g)));
        for (kind, resource) in cases {
            for with_relations in [true, false] {
                let tree = render(&reader, base, kind, resource, with_relations).unwrap();
                let row = reader.get_raw(kind, resource.id).unwrap().unwrap();
                let mut text = Vec::new();
                write_view(&reader, base, kind, &row.view().unwrap(), with_relations, &mut text)
                    .unwrap();
                assert_eq!(
                    String::from_utf8(text).unwrap(),
                    serde_json::to_string(&tree).unwrap(),
                    "{kind:?} {} with_relations={with_relations}",
                    resource.attributes
                );
            }
        }
        // The cases above cover what they claim.
        let user = |i: usize| render(&reader, base, Kind::User, &users[i], true).unwrap();
        let groups_of_2 = user(2)["groups"].as_array().unwrap().clone();
        let displays: Vec<&str> =
            groups_of_2.iter().map(|g| g["display"].as_str().unwrap()).collect();
        assert_eq!(displays.len(), 2);
        assert!(displays.contains(&"Everyone \"all\"") && displays.contains(&"Empty"));
        assert_eq!(user(3)[ext]["manager"]["$ref"], format!("{base}/Users/{manager}"));
        assert!(user(4)[ext]["manager"].get("$ref").is_none());
        let group = render(&reader, base, Kind::Group, &groups[0], true).unwrap();
        assert_eq!(group["members"].as_array().unwrap().len(), 3);
    }
}
