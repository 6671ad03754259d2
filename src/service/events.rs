//! Which change events a committed write produces, appended to the outbox inside that write
//! (so a change and its events commit together, and a refused write has none), and what
//! delivery reads back: events after a cursor, cursors, and a wake-up after each commit.
//!
//! One [`ChangeEvents`] per run of a write: every event it appends shares its `txn` (a user
//! delete also tells the groups it left and the users it managed). Users: create, put, patch,
//! delete, plus activate/deactivate riding along when `active` flips. Groups: create, put,
//! patch (membership changes are a patch naming `members`), delete.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::events::{Activation, Change, ChangeEvent, raw_data};
use crate::domain::{Kind, ResourceId};
use crate::scim::events::{changed_paths, replay_patch};
use crate::scim::schema::resource_type;
use crate::store::{EventCursor, EventFailure, ReadQueries, StoreError, StoredResource, Writer};

use super::render::render;
use super::{Service, ServiceError};

/// What a running stream says of itself: kept in memory, shown by `scimd events status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamReport {
    pub state: StreamState,
    /// SETs the receiver took since scimd started.
    pub delivered: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivered: Option<String>,
    /// Milliseconds from the commit of the last event taken to its acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_lag_ms: Option<u64>,
    /// The last failure and when (RFC 3339), cleared by nothing: history for the admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
}

/// What a receiver's stream is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// Copying the existing resources for a receiver that starts from the beginning.
    TakingFeed,
    Delivering,
    /// Everything acknowledged; waiting for the next change.
    #[default]
    Idle,
    /// The last attempt failed; trying again after the backoff.
    Retrying,
    /// Stopped until `scimd events retry` (the receiver refused the configuration).
    Held,
}

impl std::fmt::Display for StreamState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StreamState::TakingFeed => "taking the feed of existing resources",
            StreamState::Delivering => "delivering",
            StreamState::Idle => "idle",
            StreamState::Retrying => "retrying",
            StreamState::Held => "held",
        })
    }
}

/// One receiver, as `scimd events status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiverStatus {
    pub name: String,
    pub cursor: EventCursor,
    /// Events after the cursor (of every resource type: the receiver's filter is applied as
    /// they are sent), its feed's rows not yet acknowledged included.
    pub backlog: u64,
    /// How long ago the oldest of them was committed.
    pub oldest_pending_secs: Option<u64>,
    /// The newest event's sequence number.
    pub newest_event: u64,
    pub recent_failures: Vec<EventFailure>,
    /// What the stream reports; none for a poll receiver or one not running.
    pub stream: Option<StreamReport>,
}

/// The events of one run of one write.
pub(super) struct ChangeEvents {
    txn: String,
    toe_millis: i64,
}

impl ChangeEvents {
    pub(super) fn new() -> ChangeEvents {
        ChangeEvents { txn: uuid::Uuid::new_v4().to_string(), toe_millis: now_millis() }
    }

    pub(super) fn event(&self, kind: Kind, stored: &StoredResource, change: Change) -> ChangeEvent {
        ChangeEvent {
            txn: self.txn.clone(),
            toe_millis: self.toe_millis,
            kind,
            id: stored.id,
            external_id: stored.external_id().map(str::to_string),
            change,
            activation: None,
            version: Some(stored.version),
            attributes: Vec::new(),
            data: None,
        }
    }

    /// `stored` was created, with `members` for a group: the full event carries it as a GET
    /// returns it now.
    pub(super) fn created(
        &self,
        w: &mut Writer,
        base_url: &str,
        kind: Kind,
        stored: &StoredResource,
        members: &[ResourceId],
    ) -> Result<(), StoreError> {
        let mut event = self.event(kind, stored, Change::Create);
        event.attributes = changed_paths(resource_type(kind), &Value::Null, &stored.attributes);
        if !members.is_empty() {
            event.attributes.push("members".into());
        }
        event.data = raw_data(&render(w, base_url, kind, stored, true)?);
        w.append_event(event).map(drop)
    }

    /// `old` was replaced by `new`; `members_changed` when a group's member set differs.
    pub(super) fn replaced(
        &self,
        w: &mut Writer,
        base_url: &str,
        kind: Kind,
        old: &StoredResource,
        new: &StoredResource,
        members_changed: bool,
    ) -> Result<(), StoreError> {
        let mut event = self.event(kind, new, Change::Put);
        event.attributes = changed_paths(resource_type(kind), &old.attributes, &new.attributes);
        if members_changed {
            event.attributes.push("members".into());
        }
        event.activation = activation(kind, old, new);
        event.data = raw_data(&render(w, base_url, kind, new, true)?);
        w.append_event(event).map(drop)
    }

    /// `old` became `new` by a PATCH (or as a side effect of a delete), with these members
    /// added and removed.
    pub(super) fn patched(
        &self,
        w: &mut Writer,
        kind: Kind,
        old: &StoredResource,
        new: &StoredResource,
        added: &[ResourceId],
        removed: &[ResourceId],
    ) -> Result<(), StoreError> {
        let rt = resource_type(kind);
        let mut event = self.event(kind, new, Change::Patch);
        event.attributes = changed_paths(rt, &old.attributes, &new.attributes);
        if !added.is_empty() || !removed.is_empty() {
            event.attributes.push("members".into());
        }
        event.activation = activation(kind, old, new);
        event.data = raw_data(&replay_patch(rt, &old.attributes, &new.attributes, added, removed));
        w.append_event(event).map(drop)
    }

    /// `old` was deleted.
    pub(super) fn deleted(
        &self,
        w: &mut Writer,
        kind: Kind,
        old: &StoredResource,
    ) -> Result<(), StoreError> {
        let mut event = self.event(kind, old, Change::Delete);
        event.version = None;
        w.append_event(event).map(drop)
    }
}

/// The current time in Unix milliseconds.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A user's `active` flip (absent is active); none for groups.
fn activation(kind: Kind, old: &StoredResource, new: &StoredResource) -> Option<Activation> {
    match (kind, old.is_inactive(), new.is_inactive()) {
        (Kind::User, true, false) => Some(Activation::Activate),
        (Kind::User, false, true) => Some(Activation::Deactivate),
        _ => None,
    }
}

/// Events and cursors, as delivery reads them.
impl Service {
    /// A watch whose value changes after every commit that appended events: delivery waits on
    /// it instead of polling the file.
    pub fn subscribe_events(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events_committed.subscribe()
    }

    /// Tells delivery that events were committed (called after a write's commit).
    pub(super) fn wake_delivery(&self) {
        self.events_committed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// `receiver`'s cursor, if it has one. Blocking.
    pub fn event_cursor(&self, receiver: &str) -> Result<Option<EventCursor>, StoreError> {
        self.store().read()?.event_cursor(receiver)
    }

    /// Removes the cursors (and recorded failures) of every receiver not in `keep`.
    pub async fn forget_event_receivers_except(
        &self,
        keep: Vec<String>,
    ) -> Result<(), ServiceError> {
        let job = move |w: &mut Writer| {
            for (name, _) in w.event_cursors()? {
                if !keep.contains(&name) {
                    w.remove_event_cursor(&name)?;
                    tracing::info!(receiver = %name, "forgot a removed event receiver");
                }
            }
            Ok::<_, ServiceError>(())
        };
        self.write_unlogged(job).await
    }

    /// Lifts `receiver`'s hold so its stream goes on (`scimd events retry`). False when it has
    /// no cursor. Blocking: one write, then every stream is woken.
    pub fn resume_event_receiver(&self, receiver: &str) -> Result<bool, StoreError> {
        let found = self.store().write(|w| match w.event_cursor(receiver)? {
            Some(mut cursor) => {
                cursor.stalled = None;
                w.set_event_cursor(receiver, &cursor)?;
                Ok::<_, StoreError>(true)
            }
            None => Ok(false),
        })?;
        self.wake_delivery();
        Ok(found)
    }

    /// Replaces what `receiver`'s running stream says of itself (for `scimd events status`).
    pub fn report_stream(&self, receiver: &str, update: impl FnOnce(&mut StreamReport)) {
        let mut reports =
            self.event_streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        update(reports.entry(receiver.to_string()).or_default());
    }

    /// Forgets the report of a stream that stopped.
    pub fn forget_stream(&self, receiver: &str) {
        let mut reports =
            self.event_streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        reports.remove(receiver);
    }

    /// Every receiver with a cursor: how far it is, what it lacks, what its stream reports.
    /// Blocking: one read.
    pub fn event_status(&self) -> Result<Vec<ReceiverStatus>, StoreError> {
        let reader = self.store().read()?;
        let newest = reader.last_event_seq()?;
        let now = now_millis();
        let reports =
            self.event_streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut out = Vec::new();
        for (name, cursor) in reader.event_cursors()? {
            let oldest_pending =
                self.stream_after(&name, &cursor, cursor.position(), 1)?.into_iter().next();
            out.push(ReceiverStatus {
                backlog: reader.events_pending(cursor.acked)? + cursor.feed_pending(),
                oldest_pending_secs: oldest_pending
                    .map(|(_, e)| u64::try_from((now - e.toe_millis).max(0) / 1000).unwrap_or(0)),
                newest_event: newest,
                recent_failures: reader.event_failures(&name, 3)?,
                stream: reports.get(&name).cloned(),
                name,
                cursor,
            });
        }
        Ok(out)
    }

    /// Records that `receiver` refused an event as malformed.
    pub async fn record_event_failure(
        &self,
        receiver: String,
        failure: EventFailure,
    ) -> Result<(), ServiceError> {
        let job = move |w: &mut Writer| {
            w.record_event_failure(&receiver, &failure).map_err(ServiceError::from)
        };
        self.write_unlogged(job).await
    }

    /// Deletes the events every receiver has acknowledged that are older than `keep_days`
    /// days, oldest first, a few hundred per write batch (so requests' writes never wait
    /// behind it). Events a receiver still lacks are kept however old. Returns how many.
    pub async fn prune_events(&self, keep_days: u32) -> Result<usize, ServiceError> {
        let age = std::time::Duration::from_secs(u64::from(keep_days) * 86_400);
        let cutoff = std::time::SystemTime::now()
            .checked_sub(age)
            .unwrap_or(std::time::UNIX_EPOCH)
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let acked_by_all = self
            .blocking(|s| {
                let cursors = s.store().read()?.event_cursors()?;
                Ok(cursors.iter().map(|(_, c)| c.acked).min().unwrap_or(u64::MAX))
            })
            .await?;
        let mut deleted = 0;
        loop {
            let prune = move |w: &mut Writer| {
                w.prune_events(acked_by_all, cutoff, PRUNE_BATCH).map_err(ServiceError::from)
            };
            let n = self.write_unlogged(prune).await?;
            deleted += n;
            if n < PRUNE_BATCH {
                return Ok(deleted);
            }
        }
    }
}

/// Events one prune change deletes, as for the provisioning log.
const PRUNE_BATCH: usize = 500;
