//! The change-event outbox and the receivers' cursors.
//!
//! A change appends its events ([`Writer::append_event`]) inside its own write transaction, so
//! an event exists exactly when its change was committed. Delivery reads them in sequence order
//! from a snapshot ([`Reader::events_after`]) and moves a receiver's cursor forward only once
//! the receiver has acknowledged, in a write of its own. The store knows nothing of receivers'
//! configuration: a cursor is a name and a number.

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::tables::{EVENT_CURSORS, EVENT_FAILURES, EVENTS};
use super::{ReadQueries, Reader, StoreError, Writer, codec};
use crate::domain::events::ChangeEvent;

/// How far one receiver has got, and whether it is held back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCursor {
    /// The sequence number of the last event the receiver acknowledged (0: none yet).
    pub acked: u64,
    /// Why delivery to this receiver is stopped until an admin resumes it, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<String>,
    /// How many events the receiver refused as malformed and was moved past.
    #[serde(default)]
    pub failed: u64,
}

/// An event a receiver refused as malformed, kept for `scimd events status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFailure {
    pub seq: u64,
    /// When it was refused, RFC 3339.
    pub time: String,
    /// The receiver's `err` and `description`, as it answered.
    pub error: String,
}

fn failure_key(receiver: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(receiver.len() + 9);
    key.extend_from_slice(receiver.as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

impl Writer {
    /// Appends `event` with the next sequence number and returns it.
    pub fn append_event(&mut self, event: &ChangeEvent) -> Result<u64, StoreError> {
        self.dirty = true;
        let mut table = self.tx.open_table(EVENTS)?;
        let seq = match table.last()? {
            Some((key, _)) => key.value() + 1,
            None => 1,
        };
        let bytes = codec::encode(event)?;
        table.insert(seq, bytes.as_slice())?;
        Ok(seq)
    }

    /// Writes `event` under its own sequence number (restoring a backup).
    pub fn restore_event(&mut self, seq: u64, event: &ChangeEvent) -> Result<(), StoreError> {
        if seq == 0 {
            return Err(StoreError::Corrupt("an event without a sequence number".into()));
        }
        self.dirty = true;
        let bytes = codec::encode(event)?;
        self.tx.open_table(EVENTS)?.insert(seq, bytes.as_slice())?;
        Ok(())
    }

    /// Stores `receiver`'s cursor.
    pub fn set_event_cursor(
        &mut self,
        receiver: &str,
        cursor: &EventCursor,
    ) -> Result<(), StoreError> {
        self.dirty = true;
        let bytes = codec::encode(cursor)?;
        self.tx.open_table(EVENT_CURSORS)?.insert(receiver, bytes.as_slice())?;
        Ok(())
    }

    /// Forgets a receiver that is no longer configured: its cursor and its failures.
    pub fn remove_event_cursor(&mut self, receiver: &str) -> Result<(), StoreError> {
        self.dirty = true;
        self.tx.open_table(EVENT_CURSORS)?.remove(receiver)?;
        let (from, to) = (failure_key(receiver, 0), failure_key(receiver, u64::MAX));
        let mut failures = self.tx.open_table(EVENT_FAILURES)?;
        failures.retain_in(from.as_slice()..=to.as_slice(), |_, _| false)?;
        Ok(())
    }

    /// Records that `receiver` refused event `failure.seq` as malformed.
    pub fn record_event_failure(
        &mut self,
        receiver: &str,
        failure: &EventFailure,
    ) -> Result<(), StoreError> {
        self.dirty = true;
        let bytes = codec::encode(failure)?;
        let key = failure_key(receiver, failure.seq);
        self.tx.open_table(EVENT_FAILURES)?.insert(key.as_slice(), bytes.as_slice())?;
        Ok(())
    }

    /// Deletes up to `max` of the oldest events that every receiver has (sequence number at most
    /// `acked_by_all`) and whose time of change is before `cutoff_millis`. Returns how many; fewer
    /// than `max` means none such are left. The newest event is always kept: it carries the
    /// sequence number the next append continues from, so numbers never repeat.
    pub fn prune_events(
        &mut self,
        acked_by_all: u64,
        cutoff_millis: i64,
        max: usize,
    ) -> Result<usize, StoreError> {
        self.prune_oldest(EVENTS, acked_by_all.saturating_add(1), max, |_, bytes| {
            let event: ChangeEvent = codec::decode(bytes, "an event")?;
            Ok(event.toe_millis < cutoff_millis)
        })
    }
}

impl Reader {
    /// Up to `limit` events after sequence number `after`, oldest first.
    pub fn events_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, ChangeEvent)>, StoreError> {
        let table = self.tx.open_table(EVENTS)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        for row in table.range(after.saturating_add(1)..)?.take(limit) {
            let (seq, bytes) = row?;
            let what = format!("event {}", seq.value());
            out.push((seq.value(), codec::decode(bytes.value(), &what)?));
        }
        Ok(out)
    }

    /// How many events the outbox holds.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        Ok(self.tx.open_table(EVENTS)?.len()?)
    }

    /// How many events after `after` the outbox holds (a receiver's backlog). Sequence
    /// numbers have no gaps above any receiver's cursor (pruning only removes events every
    /// receiver has), so this is a subtraction, not a scan.
    pub fn events_pending(&self, after: u64) -> Result<u64, StoreError> {
        Ok(self.last_event_seq()?.saturating_sub(after))
    }

    /// The newest `limit` events `receiver` refused as malformed, newest first.
    pub fn event_failures(
        &self,
        receiver: &str,
        limit: usize,
    ) -> Result<Vec<EventFailure>, StoreError> {
        let table = self.tx.open_table(EVENT_FAILURES)?;
        let (from, to) = (failure_key(receiver, 0), failure_key(receiver, u64::MAX));
        let mut out = Vec::new();
        for row in table.range(from.as_slice()..=to.as_slice())?.rev().take(limit) {
            let (_, bytes) = row?;
            out.push(codec::decode(bytes.value(), "an event failure")?);
        }
        Ok(out)
    }
}

/// A cursor row's value, decoded (for `ReadQueries::event_cursor`).
pub(super) fn decode_cursor(bytes: &[u8]) -> Result<EventCursor, StoreError> {
    codec::decode(bytes, "an event cursor")
}

/// A failure row, decoded with the receiver's name taken from its key (for a backup).
pub(super) fn decode_failure_row(
    key: &[u8],
    bytes: &[u8],
) -> Result<(String, EventFailure), StoreError> {
    let receiver = key
        .len()
        .checked_sub(9)
        .filter(|&end| key[end] == 0)
        .and_then(|end| std::str::from_utf8(&key[..end]).ok())
        .ok_or_else(|| StoreError::Corrupt("an event failure row with a malformed key".into()))?;
    Ok((receiver.to_string(), codec::decode(bytes, "an event failure")?))
}
