//! The change-event outbox and the receivers' cursors.
//!
//! A change appends its events ([`Writer::append_event`]) inside its own write transaction, so
//! an event exists exactly when its change was committed. Delivery reads them in sequence order
//! from a snapshot ([`Reader::events_after`]) and moves a receiver's cursor forward only once
//! the receiver has acknowledged, in a write of its own. The store knows nothing of receivers'
//! configuration: a cursor is a name and a number.
//!
//! A receiver that starts from the beginning also has a feed ([`FeedProgress`]): rows of its
//! own, written from one read snapshot, delivered before the outbox's events after that
//! snapshot, and deleted as they are acknowledged.

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::tables::{EVENT_CURSORS, EVENT_FAILURES, EVENT_FEED, EVENTS};
use super::{ReadQueries, Reader, StoreError, Writer, codec};
use crate::domain::events::{ChangeEvent, Position};

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
    /// The feed of existing resources this receiver is given before the outbox events after
    /// `acked`, while it has one (`start = "beginning"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<FeedProgress>,
}

/// How far a receiver's feed is: written (`ready` once every row of the snapshot is stored;
/// until then nothing is delivered to it), and acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedProgress {
    pub ready: bool,
    /// How many rows the feed holds (numbered 1..=total).
    pub total: u64,
    /// The last row the receiver acknowledged (0: none yet).
    pub acked: u64,
}

impl EventCursor {
    /// The last place of the receiver's stream it acknowledged.
    pub fn position(&self) -> Position {
        match self.feed {
            Some(feed) if !(feed.ready && feed.acked >= feed.total) => Position::Feed(feed.acked),
            _ => Position::Outbox(self.acked),
        }
    }

    /// Records that the receiver has everything up to `position`.
    pub fn advance(&mut self, position: Position) {
        match position {
            Position::Feed(index) => {
                if let Some(feed) = &mut self.feed {
                    feed.acked = feed.acked.max(index);
                }
            }
            Position::Outbox(seq) => {
                if let Some(feed) = &mut self.feed {
                    feed.acked = feed.total;
                }
                self.acked = self.acked.max(seq);
            }
        }
    }

    /// How many rows of its feed the receiver still lacks (none without a ready feed).
    pub fn feed_pending(&self) -> u64 {
        self.feed.filter(|f| f.ready).map_or(0, |f| f.total.saturating_sub(f.acked))
    }
}

/// An event a receiver refused as malformed, kept for `scimd events status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFailure {
    /// The outbox sequence number; for a feed row, the receiver's `acked` while it had the feed.
    pub seq: u64,
    /// The feed row's index, for a `feed:add` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<u64>,
    /// When it was refused, RFC 3339.
    pub time: String,
    /// The receiver's `err` and `description`, as it answered.
    pub error: String,
}

impl EventFailure {
    /// The failure of the event at `position` of a stream whose cursor is `cursor`, at
    /// `time` (RFC 3339).
    pub fn at(cursor: &EventCursor, position: Position, time: String, error: String) -> Self {
        match position {
            Position::Outbox(seq) => EventFailure { seq, feed: None, time, error },
            Position::Feed(index) => {
                EventFailure { seq: cursor.acked, feed: Some(index), time, error }
            }
        }
    }
}

fn failure_key(receiver: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(receiver.len() + 9);
    key.extend_from_slice(receiver.as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The key of feed row `index` of `receiver` (and of its failure, after the sequence number).
fn feed_key(receiver: &str, index: u64) -> Vec<u8> {
    failure_key(receiver, index)
}

/// Every feed row of `receiver` from `from` to `to`, as a key range.
fn feed_range(receiver: &str, from: u64, to: u64) -> (Vec<u8>, Vec<u8>) {
    (feed_key(receiver, from), feed_key(receiver, to))
}

impl Writer {
    /// Appends `event` with the next sequence number and returns it.
    pub fn append_event(&mut self, event: ChangeEvent) -> Result<u64, StoreError> {
        self.dirty = true;
        let mut table = self.tx.open_table(EVENTS)?;
        let seq = match table.last()? {
            Some((key, _)) => key.value() + 1,
            None => 1,
        };
        let bytes = codec::encode(&event)?;
        table.insert(seq, bytes.as_slice())?;
        self.appended.push((seq, std::sync::Arc::new(event)));
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
        drop(failures);
        self.remove_feed_rows(receiver, u64::MAX)
    }

    /// Stores feed rows of `receiver`, numbered from `first`.
    pub fn append_feed_rows(
        &mut self,
        receiver: &str,
        first: u64,
        events: &[ChangeEvent],
    ) -> Result<(), StoreError> {
        self.dirty = true;
        let mut table = self.tx.open_table(EVENT_FEED)?;
        for (index, event) in (first..).zip(events) {
            let bytes = codec::encode(event)?;
            table.insert(feed_key(receiver, index).as_slice(), bytes.as_slice())?;
        }
        Ok(())
    }

    /// Deletes the feed rows of `receiver` numbered up to `upto` (acknowledged, or the rows of
    /// a feed that is to be taken again).
    pub fn remove_feed_rows(&mut self, receiver: &str, upto: u64) -> Result<(), StoreError> {
        self.dirty = true;
        let (from, to) = feed_range(receiver, 0, upto);
        let mut table = self.tx.open_table(EVENT_FEED)?;
        table.retain_in(from.as_slice()..=to.as_slice(), |_, _| false)?;
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
        let mut key = failure_key(receiver, failure.seq);
        if let Some(index) = failure.feed {
            key.extend_from_slice(&index.to_be_bytes());
        }
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

    /// Up to `limit` rows of `receiver`'s feed after index `after`, in order.
    pub fn feed_after(
        &self,
        receiver: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, ChangeEvent)>, StoreError> {
        let table = self.tx.open_table(EVENT_FEED)?;
        let (from, to) = feed_range(receiver, after.saturating_add(1), u64::MAX);
        let mut out = Vec::with_capacity(limit.min(1024));
        for row in table.range(from.as_slice()..=to.as_slice())?.take(limit) {
            let (key, bytes) = row?;
            let key = key.value();
            let index = key
                .get(key.len().saturating_sub(8)..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt("a feed row with a short key".into()))?;
            out.push((index, codec::decode(bytes.value(), "a feed row")?));
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
