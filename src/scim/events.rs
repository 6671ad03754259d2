//! RFC 9967 shapes, pure: which attributes a change touched (a notice event's `attributes`),
//! the PatchOp that replays a patch (a full patch event's `data`), and the claims of the SET
//! that tells one receiver about one [`ChangeEvent`] (RFC 8417 envelope, RFC 9967 `sub_id` and
//! `events`). Signing and sending are elsewhere.
//!
//! What a `full` event carries, decided here and documented in the README: for a create or a
//! put, `data` is the resource as a GET returned it right after the change (RFC 9967 §2.4:
//! the final representation); for a patch, `data` is a PatchOp message (RFC 9967 Figure 6)
//! whose operations take the previous state to the new one: a `replace` for every attribute
//! set or changed, a `remove` for every attribute removed, and member `add`/`remove`s for
//! groups. It is computed from the states, not copied from the request, so it is the same
//! whichever IdP dialect the request was in.

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::schema::{PATCH_OP, ResourceType};
use crate::domain::ResourceId;
use crate::domain::events::{Activation, Change, ChangeEvent};

/// The event URIs scimd sends (RFC 9967 §7.4), for `ServiceProviderConfig`'s
/// `securityEvents.eventUris`.
pub const EVENT_URIS: [&str; 10] = [
    "urn:ietf:params:scim:event:prov:create:notice",
    "urn:ietf:params:scim:event:prov:create:full",
    "urn:ietf:params:scim:event:prov:put:notice",
    "urn:ietf:params:scim:event:prov:put:full",
    "urn:ietf:params:scim:event:prov:patch:notice",
    "urn:ietf:params:scim:event:prov:patch:full",
    "urn:ietf:params:scim:event:prov:delete",
    "urn:ietf:params:scim:event:prov:activate",
    "urn:ietf:params:scim:event:prov:deactivate",
    FEED_ADD,
];

/// Sent once per existing resource to a receiver that starts from the beginning.
pub const FEED_ADD: &str = "urn:ietf:params:scim:event:feed:add";

const PREFIX: &str = "urn:ietf:params:scim:event:";

/// What a receiver asked events to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// The names of the attributes changed; the receiver GETs the resource if it wants values.
    Notice,
    /// The values too (see the module doc).
    Full,
}

/// The attributes that differ between two stored states (canonical attributes, extension
/// objects under their URN), as SCIM paths: a core attribute by name, an extension's by
/// `urn:…:name`. Attributes set, changed and removed alike; in the new state's order, then the
/// removed ones.
pub fn changed_paths(rt: &ResourceType, old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    each_change(rt, old, new, |path, _| out.push(path));
    out
}

/// The PatchOp message that takes `old` to `new` (see the module doc), with member changes.
pub fn replay_patch(
    rt: &ResourceType,
    old: &Value,
    new: &Value,
    members_added: &[ResourceId],
    members_removed: &[ResourceId],
) -> Value {
    let mut operations = Vec::new();
    each_change(rt, old, new, |path, value| {
        operations.push(match value {
            Some(v) => json!({"op": "replace", "path": path, "value": v}),
            None => json!({"op": "remove", "path": path}),
        })
    });
    if !members_added.is_empty() {
        let values: Vec<Value> =
            members_added.iter().map(|id| json!({"value": id.to_string()})).collect();
        operations.push(json!({"op": "add", "path": "members", "value": values}));
    }
    for id in members_removed {
        operations.push(json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")}));
    }
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// Calls `found(path, new value)` for every attribute that differs (`None`: removed).
fn each_change(
    rt: &ResourceType,
    old: &Value,
    new: &Value,
    mut found: impl FnMut(String, Option<&Value>),
) {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let is_extension = |key: &str| rt.extension(key).is_some();
    for (key, value) in new {
        match old.get(key) {
            Some(before) if before == value => {}
            before if is_extension(key) => {
                let before = before.and_then(Value::as_object).unwrap_or(&empty);
                let after = value.as_object().unwrap_or(&empty);
                for (sub, v) in after {
                    if before.get(sub) != Some(v) {
                        found(format!("{key}:{sub}"), Some(v));
                    }
                }
                for sub in before.keys().filter(|s| !after.contains_key(*s)) {
                    found(format!("{key}:{sub}"), None);
                }
            }
            _ => found(key.clone(), Some(value)),
        }
    }
    for (key, before) in old.iter().filter(|(k, _)| !new.contains_key(*k)) {
        match before.as_object() {
            Some(subs) if is_extension(key) => {
                for sub in subs.keys() {
                    found(format!("{key}:{sub}"), None);
                }
            }
            _ => found(key.clone(), None),
        }
    }
}

/// Who a SET is for and what it carries.
#[derive(Debug, Clone, Copy)]
pub struct SetAddress<'a> {
    /// `iss`: scimd's public URL.
    pub issuer: &'a str,
    /// `aud`: the receiver's endpoint (push) or name (poll).
    pub audience: &'a str,
    /// `jti`: unique to this event and receiver, the same on every retry.
    pub jti: &'a str,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    pub payload: Payload,
}

/// The claims of the SET telling `to` about `event` (RFC 8417 §2.2, RFC 9967 §2), as the
/// JSON text that is signed. Written straight from the event: a full event's `data` is copied
/// in as the text it was stored as.
pub fn set_claims(
    event: &ChangeEvent,
    rt: &ResourceType,
    to: &SetAddress<'_>,
) -> Result<String, serde_json::Error> {
    let version = event.version.map(|v| format!("W/\"{v}\""));
    let empty_data = RawValue::from_string("{}".to_string())?;
    let mut events = Vec::with_capacity(2);
    let change = match event.change {
        Change::Create => "create",
        Change::Put => "put",
        Change::Patch => "patch",
        Change::Delete => {
            events.push((format!("{PREFIX}prov:delete"), Body::default()));
            ""
        }
        Change::FeedAdd => {
            events.push((FEED_ADD.to_string(), Body::default()));
            ""
        }
    };
    if !change.is_empty() {
        let version = version.as_deref();
        events.push(match to.payload {
            Payload::Full => (
                format!("{PREFIX}prov:{change}:full"),
                Body {
                    version,
                    data: Some(event.data.as_deref().unwrap_or(&empty_data)),
                    attributes: None,
                },
            ),
            Payload::Notice => (
                format!("{PREFIX}prov:{change}:notice"),
                Body { version, data: None, attributes: Some(&event.attributes) },
            ),
        });
    }
    match event.activation {
        Some(Activation::Activate) => {
            events.push((format!("{PREFIX}prov:activate"), Body::default()))
        }
        Some(Activation::Deactivate) => {
            events.push((format!("{PREFIX}prov:deactivate"), Body::default()))
        }
        None => {}
    }
    let claims = Claims {
        iss: to.issuer,
        aud: to.audience,
        iat: to.issued_at,
        toe: event.toe_millis.div_euclid(1000),
        jti: to.jti,
        txn: &event.txn,
        sub_id: SubjectId {
            format: "scim",
            uri: format!("{}/{}", rt.endpoint, event.id),
            id: event.id.to_string(),
            external_id: event.external_id.as_deref(),
        },
        events: Events(events),
    };
    serde_json::to_string(&claims)
}

/// A SET's claims, in the order they are written.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    toe: i64,
    jti: &'a str,
    txn: &'a str,
    sub_id: SubjectId<'a>,
    events: Events<'a>,
}

/// RFC 9967 §2.2's `sub_id` of format `scim`: the resource's relative URI, id and externalId.
#[derive(Serialize)]
struct SubjectId<'a> {
    format: &'static str,
    uri: String,
    id: String,
    #[serde(rename = "externalId", skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
}

/// `events`: event URI -> its payload, in order.
struct Events<'a>(Vec<(String, Body<'a>)>);

impl Serialize for Events<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (uri, body) in &self.0 {
            map.serialize_entry(uri, body)?;
        }
        map.end()
    }
}

/// One event's payload: `{}`, or `version` with `data` (full) or `attributes` (notice).
#[derive(Default, Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<&'a [String]>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::domain::Kind;
    use crate::scim::schema::{GROUP, USER};

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn event(change: Change) -> ChangeEvent {
        ChangeEvent {
            txn: "t-1".into(),
            toe_millis: 1_779_753_611_250,
            kind: Kind::User,
            id: ResourceId(7),
            external_id: Some("ext-7".into()),
            change,
            activation: None,
            version: Some(4),
            attributes: vec!["title".into()],
            data: crate::domain::events::raw_data(&json!({"userName": "ana"})),
        }
    }

    /// The claims [`set_claims`] writes, read back.
    fn claims_of(e: &ChangeEvent, rt: &ResourceType, to: &SetAddress<'_>) -> Value {
        serde_json::from_str(&set_claims(e, rt, to).unwrap()).unwrap()
    }

    fn to(payload: Payload) -> SetAddress<'static> {
        SetAddress {
            issuer: "https://scim.example.org",
            audience: "https://wiki.example.org/events",
            jti: "j-1",
            issued_at: 1_779_753_612,
            payload,
        }
    }

    #[test]
    fn changed_paths_name_core_attributes_and_extension_sub_attributes() {
        let old = json!({"userName": "a", "title": "x", "nickName": "n",
                         ENTERPRISE: {"department": "Sales", "employeeNumber": "1"}});
        let new = json!({"userName": "a", "title": "y", "active": false,
                         ENTERPRISE: {"department": "Finance", "costCenter": "c"}});
        assert_eq!(
            changed_paths(&USER, &old, &new),
            [
                "title".to_string(),
                "active".into(),
                format!("{ENTERPRISE}:department"),
                format!("{ENTERPRISE}:costCenter"),
                format!("{ENTERPRISE}:employeeNumber"),
                "nickName".into(),
            ]
        );
        assert!(changed_paths(&USER, &old, &old).is_empty());
        // A whole extension removed names each of its attributes.
        let bare = json!({"userName": "a", "title": "x", "nickName": "n"});
        assert_eq!(
            changed_paths(&USER, &old, &bare),
            [format!("{ENTERPRISE}:department"), format!("{ENTERPRISE}:employeeNumber")]
        );
    }

    #[test]
    fn replay_patch_replaces_removes_and_changes_members() {
        let old = json!({"displayName": "Staff", "externalId": "e"});
        let new = json!({"displayName": "Team"});
        let patch = replay_patch(&GROUP, &old, &new, &[ResourceId(1)], &[ResourceId(2)]);
        assert_eq!(
            patch,
            json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Team"},
                {"op": "remove", "path": "externalId"},
                {"op": "add", "path": "members", "value": [{"value": ResourceId(1).to_string()}]},
                {"op": "remove", "path": format!("members[value eq \"{}\"]", ResourceId(2))},
            ]})
        );
    }

    #[test]
    fn a_notice_set_names_attributes_and_carries_no_values() {
        let claims = claims_of(&event(Change::Patch), &USER, &to(Payload::Notice));
        assert_eq!(
            claims,
            json!({
                "iss": "https://scim.example.org",
                "aud": "https://wiki.example.org/events",
                "iat": 1_779_753_612,
                "toe": 1_779_753_611,
                "jti": "j-1",
                "txn": "t-1",
                "sub_id": {"format": "scim", "uri": format!("/Users/{}", ResourceId(7)),
                           "id": ResourceId(7).to_string(), "externalId": "ext-7"},
                "events": {"urn:ietf:params:scim:event:prov:patch:notice":
                           {"version": "W/\"4\"", "attributes": ["title"]}}
            })
        );
        assert!(claims.get("sub").is_none() && claims.get("exp").is_none());
    }

    #[test]
    fn a_full_set_carries_data_and_an_activation_rides_along() {
        let mut e = event(Change::Put);
        e.activation = Some(Activation::Deactivate);
        let claims = claims_of(&e, &USER, &to(Payload::Full));
        let events = claims["events"].as_object().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events["urn:ietf:params:scim:event:prov:put:full"],
            json!({"version": "W/\"4\"", "data": {"userName": "ana"}})
        );
        assert_eq!(events["urn:ietf:params:scim:event:prov:deactivate"], json!({}));
    }

    #[test]
    fn a_delete_set_has_an_empty_payload_and_keeps_the_external_id() {
        let mut e = event(Change::Delete);
        e.version = None;
        let claims = claims_of(&e, &GROUP, &to(Payload::Full));
        assert_eq!(claims["events"], json!({"urn:ietf:params:scim:event:prov:delete": {}}));
        assert_eq!(claims["sub_id"]["uri"], format!("/Groups/{}", ResourceId(7)));
        assert_eq!(claims["sub_id"]["externalId"], "ext-7");
    }

    #[test]
    fn a_feed_add_set_names_the_resource_with_an_empty_payload() {
        for payload in [Payload::Notice, Payload::Full] {
            let mut e = event(Change::FeedAdd);
            (e.external_id, e.data) = (None, None);
            let claims = claims_of(&e, &USER, &to(payload));
            assert_eq!(claims["events"], json!({FEED_ADD: {}}));
            assert_eq!(claims["sub_id"]["uri"], format!("/Users/{}", ResourceId(7)));
            assert!(claims["sub_id"].get("externalId").is_none());
        }
    }
}
