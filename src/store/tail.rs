//! The newest committed change events, kept decoded in memory: the end of the outbox that
//! every receiver keeping up reads after each commit. A write publishes its events here once it
//! has committed, so a stream that is up to date takes the next ones without a read
//! transaction, without decoding a row, and without a blocking thread; and four receivers
//! share one copy of each event instead of decoding it four times.
//!
//! The tail only ever answers for what it holds without a gap: sequence numbers are contiguous
//! in the outbox (a batch redone after a failure reuses them), so an event published after a gap
//! (a commit whose outcome was unknown, then a reopen) starts the tail afresh, and a question
//! about anything older than its first event is answered from the file ([`EventTail::after`]
//! says `None`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use crate::domain::events::ChangeEvent;

/// How many of the newest events are kept (a few MiB: a full event carries its resource).
pub const TAIL_EVENTS: usize = 2048;

/// The newest committed events, oldest first.
#[derive(Debug, Default)]
pub struct EventTail {
    events: Mutex<VecDeque<(u64, Arc<ChangeEvent>)>>,
}

impl EventTail {
    /// Adds the events of a commit that just succeeded, in sequence order.
    pub(super) fn publish(&self, committed: Vec<(u64, Arc<ChangeEvent>)>) {
        if committed.is_empty() {
            return;
        }
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        for (seq, event) in committed {
            let follows = events.back().is_none_or(|(last, _)| seq == last + 1);
            if !follows {
                events.clear();
            }
            events.push_back((seq, event));
            if events.len() > TAIL_EVENTS {
                events.pop_front();
            }
        }
    }

    /// Up to `limit` events after sequence number `after`, when the tail holds every event
    /// committed after it (an empty list: none was); `None` when only the file can tell (the
    /// tail is empty, starts later, or has not yet been given the commit `after` is from).
    pub fn after(&self, after: u64, limit: usize) -> Option<Vec<(u64, Arc<ChangeEvent>)>> {
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let first = events.front()?.0;
        let skip = usize::try_from(after.checked_add(1)?.checked_sub(first)?).ok()?;
        if skip > events.len() {
            return None;
        }
        Some(events.iter().skip(skip).take(limit).map(|(s, e)| (*s, Arc::clone(e))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Kind;
    use crate::domain::events::Change;

    fn event(n: i64) -> Arc<ChangeEvent> {
        Arc::new(ChangeEvent {
            txn: format!("t{n}"),
            toe_millis: n,
            kind: Kind::User,
            id: crate::domain::ResourceId(n as u128),
            external_id: None,
            change: Change::Create,
            activation: None,
            version: Some(1),
            attributes: Vec::new(),
            data: None,
        })
    }

    fn seqs(found: Option<Vec<(u64, Arc<ChangeEvent>)>>) -> Option<Vec<u64>> {
        found.map(|v| v.into_iter().map(|(s, _)| s).collect())
    }

    #[test]
    fn answers_only_for_what_it_holds_without_a_gap() {
        let tail = EventTail::default();
        assert_eq!(seqs(tail.after(0, 10)), None, "empty: ask the file");
        tail.publish((5..=8).map(|s| (s, event(s as i64))).collect());
        assert_eq!(seqs(tail.after(3, 10)), None, "event 4 is older than the tail");
        assert_eq!(seqs(tail.after(4, 10)), Some(vec![5, 6, 7, 8]));
        assert_eq!(seqs(tail.after(6, 1)), Some(vec![7]));
        assert_eq!(seqs(tail.after(8, 10)), Some(vec![]), "up to date: nothing newer");
        // A gap (9 and 10 never published): the tail starts again at 11.
        tail.publish(vec![(11, event(11))]);
        assert_eq!(seqs(tail.after(8, 10)), None);
        assert_eq!(seqs(tail.after(10, 10)), Some(vec![11]));
    }

    #[test]
    fn keeps_the_newest_events_only() {
        let tail = EventTail::default();
        let n = TAIL_EVENTS as u64 + 10;
        tail.publish((1..=n).map(|s| (s, event(s as i64))).collect());
        assert_eq!(seqs(tail.after(10, 1)), Some(vec![11]));
        assert_eq!(seqs(tail.after(9, 1)), None);
        assert_eq!(tail.after(n - 1, 5).map(|v| v.len()), Some(1));
    }
}
