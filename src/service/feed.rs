//! A receiver's stream as delivery reads it, and the feed of a receiver that starts from the
//! beginning (`start = "beginning"`).
//!
//! Taking a feed: the receiver's cursor is marked as having a feed not yet ready (it already
//! sits at or before the newest event, which keeps the outbox's later events from pruning);
//! then one read snapshot is opened, and one `feed:add` row per user and group in it is
//! written in chunks of [`FEED_CHUNK`] (each chunk its own short write, so provisioning never
//! waits behind a large directory); the last write moves the cursor to the snapshot's newest
//! event and marks the feed ready. The receiver then gets the feed rows in order, then the
//! outbox's events after the snapshot: every change is either in the snapshot (and so in the
//! feed's state) or after it (and so an event), never both, never neither.
//!
//! Nothing is delivered from a feed that is not ready, so a feed cut short (a stop, a crash,
//! a reload) is simply taken again, from a new snapshot, with the rows of the old one deleted
//! first. A ready feed's progress is the cursor's: durable, resumed after a restart.

use std::sync::Arc;

use tokio::sync::watch;

use crate::domain::Kind;
use crate::domain::events::{Change, ChangeEvent, Position};
use crate::store::{EventCursor, FeedProgress, ReadQueries, StoreError, Writer};

use super::events::ChangeEvents;
use super::{Service, ServiceError};

/// Feed rows written per write.
pub const FEED_CHUNK: usize = 1_000;

/// One write of taking a feed, given the receiver's cursor to change (it is stored after).
type FeedWrite = Box<dyn FnMut(&mut Writer, &mut EventCursor) -> Result<(), StoreError> + Send>;

impl Service {
    /// Gives `receiver` a cursor if it has none: at the newest event, with a feed still to be
    /// taken when `from_beginning`. Returns whether the receiver's feed must be taken (a new
    /// receiver from the beginning, or one whose feed was cut short).
    pub async fn ensure_event_cursor(
        &self,
        receiver: String,
        from_beginning: bool,
    ) -> Result<bool, ServiceError> {
        let job = move |w: &mut Writer| {
            let cursor = cursor_or_new(w, &receiver, from_beginning)?;
            Ok::<_, ServiceError>(cursor.feed.is_some_and(|f| !f.ready))
        };
        self.write_unlogged(job).await
    }

    /// Moves `receiver`'s cursor to `cursor`, durably, through the writer (trimming the feed
    /// rows it acknowledged: [`store_cursor`]).
    pub async fn store_event_cursor(
        &self,
        receiver: String,
        cursor: EventCursor,
    ) -> Result<(), ServiceError> {
        let job = move |w: &mut Writer| {
            store_cursor(w, &receiver, cursor.clone()).map_err(ServiceError::from)
        };
        self.write_unlogged(job).await
    }

    /// Gives each new receiver (name, starts from the beginning) its cursor now, at the newest
    /// event, so that "start = now" means from when the config was applied: called before the
    /// server serves and before a reload returns, not when delivery gets round to it.
    /// Blocking: one write.
    pub fn create_event_cursors(&self, receivers: &[(String, bool)]) -> Result<(), StoreError> {
        self.store().write(|w| {
            for (receiver, from_beginning) in receivers {
                cursor_or_new(w, receiver, *from_beginning)?;
            }
            Ok::<_, StoreError>(())
        })
    }

    /// Takes `receiver`'s feed of the resources of `kinds` (see the module doc). Returns the
    /// number of rows, or `None` when `stop` turned true first or the receiver was removed
    /// meanwhile (the feed is then taken again when the receiver next starts).
    pub async fn take_feed(
        &self,
        receiver: String,
        kinds: Vec<Kind>,
        stop: watch::Receiver<bool>,
    ) -> Result<Option<u64>, ServiceError> {
        let handle = tokio::runtime::Handle::current();
        let taken = self
            .blocking(move |service| service.take_feed_blocking(&handle, &receiver, &kinds, &stop))
            .await?;
        if taken.is_some() {
            self.wake_delivery();
        }
        Ok(taken)
    }

    fn take_feed_blocking(
        &self,
        runtime: &tokio::runtime::Handle,
        receiver: &str,
        kinds: &[Kind],
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<u64>, ServiceError> {
        // Each write returns false when the receiver's cursor is gone (it was removed).
        let write = |mut change: FeedWrite| {
            let name = receiver.to_string();
            runtime.block_on(self.write_unlogged(move |w| {
                let Some(mut cursor) = w.event_cursor(&name)? else { return Ok(false) };
                change(w, &mut cursor)?;
                w.set_event_cursor(&name, &cursor)?;
                Ok(true)
            }))
        };
        // The rows of a feed cut short go first, a chunk per write.
        let written = self.event_cursor(receiver)?.and_then(|c| c.feed).map_or(0, |f| f.total);
        let mut removed = 0;
        loop {
            let name = receiver.to_string();
            let upto = removed + FEED_CHUNK as u64 * 5;
            let last = upto >= written;
            let found = write(Box::new(move |w, cursor| {
                w.remove_feed_rows(&name, if last { u64::MAX } else { upto })?;
                if last {
                    cursor.feed = Some(FeedProgress::default());
                }
                Ok(())
            }))?;
            if !found {
                return Ok(None);
            }
            if last {
                break;
            }
            removed = upto;
        }
        // One snapshot for the whole feed; its newest event is where the outbox part begins.
        let snapshot = self.store().read()?;
        let newest = snapshot.last_event_seq()?;
        let events = ChangeEvents::new();
        let mut total = 0u64;
        let mut chunk: Vec<ChangeEvent> = Vec::with_capacity(FEED_CHUNK);
        let flush = |chunk: &mut Vec<ChangeEvent>, total: &mut u64| {
            let (name, rows, first) = (receiver.to_string(), std::mem::take(chunk), *total + 1);
            let count = rows.len() as u64;
            let found = write(Box::new(move |w, cursor| {
                w.append_feed_rows(&name, first, &rows)?;
                cursor.feed =
                    Some(FeedProgress { ready: false, total: first + count - 1, acked: 0 });
                Ok(())
            }))?;
            *total += count;
            Ok::<_, ServiceError>(found)
        };
        for &kind in kinds {
            let mut stopped = false;
            snapshot.scan(kind, |stored| {
                chunk.push(events.event(kind, &stored, Change::FeedAdd));
                if chunk.len() == FEED_CHUNK && (*stop.borrow() || !flush(&mut chunk, &mut total)?)
                {
                    stopped = true;
                    return Ok(false);
                }
                Ok::<_, ServiceError>(true)
            })?;
            if stopped {
                return Ok(None);
            }
        }
        if !chunk.is_empty() && !flush(&mut chunk, &mut total)? {
            return Ok(None);
        }
        drop(snapshot);
        let found = write(Box::new(move |_, cursor| {
            cursor.acked = newest;
            cursor.feed = (total > 0).then_some(FeedProgress { ready: true, total, acked: 0 });
            Ok(())
        }))?;
        if !found {
            return Ok(None);
        }
        tracing::info!(
            receiver,
            resources = total,
            after_event = newest,
            "took the feed of existing resources for an event receiver that starts from the beginning"
        );
        Ok(Some(total))
    }

    /// Up to `limit` events of `receiver`'s stream after `after`, in order: the feed rows
    /// (when `cursor`, the stored cursor, has a ready feed), then the outbox's events after
    /// the cursor's snapshot point. Nothing while the feed is not ready. Blocking: one read,
    /// unless the newest events in memory answer ([`Service::recent_events`]).
    pub fn stream_after(
        &self,
        receiver: &str,
        cursor: &EventCursor,
        after: Position,
        limit: usize,
    ) -> Result<Vec<(Position, Arc<ChangeEvent>)>, StoreError> {
        if let Some(recent) = self.recent_events(after, limit) {
            return Ok(recent);
        }
        let reader = self.store().read()?;
        let mut out = Vec::new();
        let outbox_after = match after {
            Position::Outbox(seq) => seq,
            Position::Feed(index) => {
                if let Some(feed) = cursor.feed {
                    if !feed.ready {
                        return Ok(out);
                    }
                    for (index, event) in reader.feed_after(receiver, index, limit)? {
                        if index > feed.total {
                            break;
                        }
                        out.push((Position::Feed(index), Arc::new(event)));
                    }
                }
                cursor.acked
            }
        };
        let rest = limit.saturating_sub(out.len());
        if rest > 0 {
            match self.recent_events(Position::Outbox(outbox_after), rest) {
                Some(recent) => out.extend(recent),
                None => out.extend(
                    reader
                        .events_after(outbox_after, rest)?
                        .into_iter()
                        .map(|(seq, event)| (Position::Outbox(seq), Arc::new(event))),
                ),
            }
        }
        Ok(out)
    }

    /// Up to `limit` outbox events after `after` from the newest events kept in memory, when
    /// they hold every event since (`store::EventTail`); `None` when the file must be read (a
    /// feed position, or a receiver further behind). Never blocks.
    pub fn recent_events(
        &self,
        after: Position,
        limit: usize,
    ) -> Option<Vec<(Position, Arc<ChangeEvent>)>> {
        let Position::Outbox(seq) = after else { return None };
        let events = self.store().tail().after(seq, limit)?;
        Some(events.into_iter().map(|(seq, event)| (Position::Outbox(seq), event)).collect())
    }
}

/// `receiver`'s cursor, created at the newest event (with a feed still to take, when it starts
/// from the beginning) if it has none.
fn cursor_or_new(
    w: &mut Writer,
    receiver: &str,
    from_beginning: bool,
) -> Result<EventCursor, StoreError> {
    if let Some(cursor) = w.event_cursor(receiver)? {
        return Ok(cursor);
    }
    let feed = from_beginning.then(FeedProgress::default);
    let cursor = EventCursor { acked: w.last_event_seq()?, feed, ..EventCursor::default() };
    w.set_event_cursor(receiver, &cursor)?;
    Ok(cursor)
}

/// Stores `cursor` for `receiver` within a write, deleting the feed rows it acknowledged (and
/// the feed itself once every row is). A receiver removed meanwhile (a reload while its poll
/// or stream was finishing) stays removed.
fn store_cursor(w: &mut Writer, receiver: &str, mut cursor: EventCursor) -> Result<(), StoreError> {
    if w.event_cursor(receiver)?.is_none() {
        return Ok(());
    }
    if let Some(feed) = cursor.feed
        && feed.ready
    {
        w.remove_feed_rows(receiver, feed.acked)?;
        if feed.acked >= feed.total {
            cursor.feed = None;
        }
    }
    w.set_event_cursor(receiver, &cursor)
}
