//! What a change event records: one committed change to one resource, as the outbox keeps it
//! until every receiver has it (RFC 9967 calls the message that carries it a SET; building and
//! signing that message happens at delivery, per receiver).
//!
//! A row is written in the same write transaction as the change it describes, so a change is
//! never committed without its events and a refused write has none. Plain data: no I/O.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Kind, ResourceId};

/// Which SCIM operation the change was (RFC 9967 §2.4: `prov:create`, `prov:put`,
/// `prov:patch`, `prov:delete`), or, for the feed of a receiver that starts from the
/// beginning, that the resource existed when the feed was taken (RFC 9967 §2.3 `feed:add`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Create,
    Put,
    Patch,
    Delete,
    FeedAdd,
}

/// A place in one receiver's stream. A receiver that starts from the beginning is first
/// given its feed (one `feed:add` per resource that existed in one read snapshot, numbered
/// from 1), then the outbox's events after that snapshot, by sequence number; any other
/// receiver has only the outbox part. Every feed place comes before every outbox place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    Feed(u64),
    Outbox(u64),
}

impl Position {
    /// The number within its part (feed index or outbox sequence number).
    pub fn number(self) -> u64 {
        match self {
            Position::Feed(n) | Position::Outbox(n) => n,
        }
    }
}

/// A flip of a user's `active` (a user without `active` is active), told alongside the put or
/// patch event (RFC 9967 §2.4.5/§2.4.6: `prov:activate`, `prov:deactivate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Activate,
    Deactivate,
}

/// One change to one resource. Its place in the outbox (the sequence number) is the row key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// One value for every event of one committed write (a user delete that also changes
    /// groups and managed users shares it): the SET's `txn`.
    pub txn: String,
    /// When the change was committed, Unix milliseconds: the SET's `toe`.
    pub toe_millis: i64,
    pub kind: Kind,
    pub id: ResourceId,
    /// The resource's `externalId` (before the change, for a delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub change: Change,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// The resource's version after the change (none for a delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The attributes the change set, changed or removed, as SCIM paths (`title`,
    /// `name`, `members`, `urn:…:enterprise:2.0:User:manager`): a notice event's `attributes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
    /// A full event's `data` (see `scim::events`): for a create or a put, the resource's
    /// attributes after the change; for a patch, the PatchOp operations that take the previous
    /// state to the new one; none for a delete. Kept as the JSON text it was stored as: it is
    /// copied into a SET as it is, never looked into, so reading an event does not parse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
}

impl PartialEq for ChangeEvent {
    /// Equal when every field is; `data` compared as its text.
    fn eq(&self, other: &Self) -> bool {
        let data = |e: &ChangeEvent| e.data.as_ref().map(|d| d.get().to_string());
        (&self.txn, self.toe_millis, self.kind, self.id, &self.external_id, self.change)
            == (
                &other.txn,
                other.toe_millis,
                other.kind,
                other.id,
                &other.external_id,
                other.change,
            )
            && (self.activation, self.version, &self.attributes)
                == (other.activation, other.version, &other.attributes)
            && data(self) == data(other)
    }
}

impl ChangeEvent {
    /// `data` for a reader that wants to look into it.
    pub fn data_value(&self) -> Option<Value> {
        self.data.as_ref().and_then(|raw| serde_json::from_str(raw.get()).ok())
    }
}

/// `value` as the JSON text a [`ChangeEvent`]'s `data` holds.
pub fn raw_data(value: &Value) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(value).ok()
}
