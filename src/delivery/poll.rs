//! Poll delivery (RFC 8936): what `POST /events/{receiver}` does for a poll receiver.
//!
//! A poll first takes the receiver's acknowledgements (`ack`, and `setErrs`, which count as
//! acknowledged and are recorded as failures), then answers the oldest SETs not yet
//! acknowledged, in commit order, up to `maxEvents`, with `moreAvailable` when more wait.
//! Every answer starts again from the oldest unacknowledged SET: what a receiver was given
//! and did not acknowledge comes again on its next poll, with the same `jti`
//! ([`super::outcome::jti`]), so delivery is at least once.
//!
//! The receiver's stream is its feed of existing resources, if it starts from the beginning
//! (`service::feed`), then the outbox's events; its cursor (stored, durable) is the furthest
//! place in that stream such that it and everything before it are acknowledged; events of
//! resource types the receiver does not take count as acknowledged. Acknowledgements beyond a gap (an older SET still
//! unacknowledged) are kept in memory only: after a restart those SETs are offered again,
//! which the receiver de-duplicates on `jti`. An acknowledged `jti` is matched to its event
//! through the SETs this process offered; after a restart, through the events just after the
//! cursor ([`RESOLVE_WINDOW`]). A `jti` matched to nothing is ignored (a repeated ack).
//!
//! With nothing to send, `maxEvents` above 0 and `returnImmediately` false, the poll is held
//! until an event is committed, at most [`longest_hold`], or until the server stops. One poll
//! per receiver waits at a time: a newer poll that is about to wait answers the older one at
//! once with what there is (nothing), so a receiver that gave up on a request and polls again
//! is never left behind its own abandoned request.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedMutexGuard, watch};

use crate::config::{Delivery, EventsConfig, ReceiverConfig, Start};
use crate::domain::events::{ChangeEvent, Position};
use crate::service::{EventCursor, EventFailure, ServiceError, StoreError};

use super::outcome::jti;
use super::poll_request::PollRequest;
use super::push::{Publisher, payload_of};

/// A long poll is held at most this long (RFC 8936 leaves it to the parties).
pub const MAX_HOLD: Duration = Duration::from_secs(30);
/// How many events one read of the outbox takes while a poll looks for SETs to send.
const READ_BATCH: usize = 1024;
/// How many events after the cursor are looked at to match an acknowledged `jti` this
/// process did not offer (a receiver acknowledging, after a restart, what it got before).
pub const RESOLVE_WINDOW: usize = 4096;

/// The hold of a long poll: [`MAX_HOLD`], or 5 s less than `[limits] request_timeout_secs`
/// when that is shorter (so the poll answers before the request deadline does), at least 1 s.
pub fn longest_hold(request_timeout: Duration) -> Duration {
    MAX_HOLD.min(request_timeout.saturating_sub(Duration::from_secs(5))).max(Duration::from_secs(1))
}

/// Why a poll is not answered with SETs.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(
        "no receiver named '{0}' with delivery = \"poll\" is configured ([[events.receivers]] \
         in config.toml)"
    )]
    UnknownReceiver(String),
    #[error("cannot read the change events: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("cannot sign a change event: {0}")]
    Signing(String),
}

/// A poll's answer: `(jti, compact SET)` oldest first, and whether more are waiting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollAnswer {
    pub sets: Vec<(String, String)>,
    pub more_available: bool,
}

/// The poll endpoint's state, shared by every request.
pub struct Poller {
    publisher: Publisher,
    events: watch::Receiver<EventsConfig>,
    hold: Duration,
    stopping: watch::Receiver<bool>,
    receivers: Mutex<HashMap<String, Arc<ReceiverState>>>,
}

/// One poll receiver's state in this process.
struct ReceiverState {
    /// Held while a poll takes acknowledgements and reads: one at a time per receiver.
    acks: Arc<tokio::sync::Mutex<Acks>>,
    /// Bumped by each poll that starts waiting; the one waiting before it then answers.
    waiter: watch::Sender<u64>,
}

#[derive(Default)]
struct Acks {
    /// Acknowledged places of the stream beyond the stored cursor.
    ahead: BTreeSet<Position>,
    /// `jti` -> place of the SETs offered, beyond the cursor.
    offered: HashMap<String, Position>,
    /// The last round's cursor and the place of the last SET it offered: every event between
    /// them that the receiver takes was offered (or already acknowledged), so once all of
    /// those are acknowledged the next round starts after it without reading them again.
    examined: Option<(Position, Position)>,
}

/// What one round of a poll did.
struct Round {
    answer: PollAnswer,
    /// The cursor to store, when it changed.
    moved: Option<EventCursor>,
    /// The newly acknowledged `setErrs`, to record.
    failures: Vec<EventFailure>,
}

impl Poller {
    /// `events` is the configuration in force (reloads included); `stopping` turns true when
    /// the server shuts down, which answers the polls being held.
    pub fn new(
        publisher: Publisher,
        events: watch::Receiver<EventsConfig>,
        request_timeout: Duration,
        stopping: watch::Receiver<bool>,
    ) -> Poller {
        Poller {
            publisher,
            events,
            hold: longest_hold(request_timeout),
            stopping,
            receivers: Mutex::new(HashMap::new()),
        }
    }

    /// Answers one poll of `receiver` (the caller checked that the token may).
    pub async fn poll(
        &self,
        receiver: &str,
        request: PollRequest,
    ) -> Result<PollAnswer, PollError> {
        let config = self.poll_receiver(receiver)?;
        let state = self.state_of(&config.name);
        let mut committed = self.publisher.service.subscribe_events();
        committed.borrow_and_update();
        let first = self.round(&config, &state, &request, request.max_events).await?;
        if !first.sets.is_empty() || request.max_events == 0 || request.return_immediately {
            return Ok(first);
        }
        // Nothing yet: wait, answering the poll that was waiting before this one.
        let mut superseded = state.waiter.subscribe();
        state.waiter.send_modify(|n| *n = n.wrapping_add(1));
        let me = *superseded.borrow_and_update();
        let mut stopping = self.stopping.clone();
        let deadline = tokio::time::Instant::now() + self.hold;
        let idle = PollRequest { ack: Vec::new(), set_errors: Vec::new(), ..request };
        loop {
            if *stopping.borrow_and_update() {
                return Ok(PollAnswer::default());
            }
            tokio::select! {
                changed = committed.changed() => {
                    if changed.is_err() {
                        return Ok(PollAnswer::default());
                    }
                }
                _ = superseded.changed() => {
                    if *superseded.borrow_and_update() != me {
                        return Ok(PollAnswer::default());
                    }
                    continue;
                }
                changed = stopping.changed() => {
                    if changed.is_err() {
                        return Ok(PollAnswer::default());
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline) => return Ok(PollAnswer::default()),
            }
            committed.borrow_and_update();
            let answer = self.round(&config, &state, &idle, idle.max_events).await?;
            if !answer.sets.is_empty() {
                return Ok(answer);
            }
        }
    }

    /// `receiver`'s configuration if it is a configured poll receiver.
    fn poll_receiver(&self, receiver: &str) -> Result<ReceiverConfig, PollError> {
        self.events
            .borrow()
            .receivers
            .iter()
            .find(|r| r.name == receiver && r.delivery == Delivery::Poll)
            .cloned()
            .ok_or_else(|| PollError::UnknownReceiver(receiver.to_string()))
    }

    /// `receiver`'s state, made on its first poll; the states of receivers no longer
    /// configured are dropped meanwhile.
    fn state_of(&self, receiver: &str) -> Arc<ReceiverState> {
        let configured: Vec<String> = self
            .events
            .borrow()
            .receivers
            .iter()
            .filter(|r| r.delivery == Delivery::Poll)
            .map(|r| r.name.clone())
            .collect();
        let mut receivers =
            self.receivers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        receivers.retain(|name, _| configured.contains(name));
        let state = receivers.entry(receiver.to_string()).or_insert_with(|| {
            Arc::new(ReceiverState {
                acks: Arc::new(tokio::sync::Mutex::new(Acks::default())),
                waiter: watch::Sender::new(0),
            })
        });
        Arc::clone(state)
    }

    /// Takes `request`'s acknowledgements, stores what moved, and reads up to `max` SETs.
    async fn round(
        &self,
        config: &ReceiverConfig,
        state: &ReceiverState,
        request: &PollRequest,
        max: usize,
    ) -> Result<PollAnswer, PollError> {
        let service = &self.publisher.service;
        let acks = Arc::clone(&state.acks).lock_owned().await;
        let mut cursor = self.cursor(config).await?;
        let (acks, round) = {
            let (publisher, config, request) =
                (self.publisher.clone(), config.clone(), request.clone());
            let started = cursor.clone();
            let job = move || {
                let mut acks = acks;
                let round = read_round(&publisher, &config, &mut acks, started, &request, max);
                (acks, round)
            };
            tokio::task::spawn_blocking(job)
                .await
                .map_err(|e| PollError::Service(ServiceError::Internal(e.to_string())))?
        };
        let round = round?;
        for failure in round.failures {
            service.record_event_failure(config.name.clone(), failure).await?;
        }
        if let Some(moved) = round.moved {
            cursor = moved;
            service.store_event_cursor(config.name.clone(), cursor).await?;
        }
        drop(acks);
        Ok(round.answer)
    }

    /// The stored cursor, made as the receiver's `start` says if it has none yet (its first
    /// poll raced the start of delivery, or followed a reload; delivery then takes its feed).
    async fn cursor(&self, config: &ReceiverConfig) -> Result<EventCursor, PollError> {
        let service = self.publisher.service.clone();
        let (receiver, from_beginning) = (&config.name, config.start == Start::Beginning);
        for _ in 0..2 {
            let (read, name) = (service.clone(), receiver.to_string());
            let stored = tokio::task::spawn_blocking(move || read.event_cursor(&name))
                .await
                .map_err(|e| PollError::Service(ServiceError::Internal(e.to_string())))??;
            if let Some(cursor) = stored {
                return Ok(cursor);
            }
            service.ensure_event_cursor(receiver.to_string(), from_beginning).await?;
        }
        Err(PollError::Service(ServiceError::Internal(format!(
            "the event cursor of receiver '{receiver}' cannot be made"
        ))))
    }
}

/// The blocking part of a round: acknowledgements, the cursor's move, the SETs, signed.
fn read_round(
    publisher: &Publisher,
    config: &ReceiverConfig,
    acks: &mut OwnedMutexGuard<Acks>,
    started: EventCursor,
    request: &PollRequest,
    max: usize,
) -> Result<Round, PollError> {
    let service = &publisher.service;
    let takes = |event: &ChangeEvent| config.resource_types.contains(&event.kind);
    let jti_of =
        |position: Position, event: &ChangeEvent| jti(&config.name, position.number(), &event.txn);
    let read =
        |after: Position, limit: usize| service.stream_after(&config.name, &started, after, limit);
    let mut cursor = started.clone();
    let at = cursor.position();
    // Acknowledgements: match each jti to its event.
    let mut named = request.ack.iter().chain(request.set_errors.iter().map(|e| &e.jti));
    if named.any(|jti| !acks.offered.contains_key(jti)) {
        for (position, event) in read(at, RESOLVE_WINDOW)? {
            if takes(&event) {
                acks.offered.entry(jti_of(position, &event)).or_insert(position);
            }
        }
    }
    for jti in &request.ack {
        if let Some(&position) = acks.offered.get(jti)
            && position > at
        {
            acks.ahead.insert(position);
        }
    }
    let mut failures = Vec::new();
    for set_error in &request.set_errors {
        let Some(&position) = acks.offered.get(&set_error.jti) else { continue };
        if position > at && acks.ahead.insert(position) {
            let time = crate::service::now_rfc3339();
            failures.push(EventFailure::at(&cursor, position, time, set_error.recorded()));
        }
    }
    cursor.failed += failures.len() as u64;
    // What the last round offered is all acknowledged: the cursor moves past it at once.
    if let Some((from, to)) = acks.examined.take()
        && from == at
        && acks.offered.values().filter(|p| **p > from && **p <= to).all(|p| acks.ahead.contains(p))
    {
        cursor.advance(to);
    }
    let at = cursor.position();
    // The SETs: the oldest unacknowledged first; the cursor moves over the acknowledged run.
    let mut offered: Vec<(Position, Arc<ChangeEvent>)> = Vec::new();
    let mut more_available = false;
    let mut gap = false;
    let mut after = at;
    'read: loop {
        let batch = read(after, READ_BATCH)?;
        let Some(&(last, _)) = batch.last() else { break };
        for (position, event) in batch {
            if !takes(&event) || acks.ahead.contains(&position) {
                if !gap {
                    cursor.advance(position);
                }
                continue;
            }
            gap = true;
            if offered.len() == max {
                more_available = true;
                break 'read;
            }
            offered.push((position, event));
        }
        after = last;
    }
    let at = cursor.position();
    acks.ahead.retain(|position| *position > at);
    acks.offered.retain(|_, position| *position > at);
    acks.examined = offered.last().map(|(last, _)| (at, *last));
    let named: Vec<(String, Position, Arc<ChangeEvent>)> = offered
        .into_iter()
        .map(|(position, event)| (jti_of(position, &event), position, event))
        .collect();
    let signed = sign_all(publisher, config, &named)?;
    let mut sets = Vec::with_capacity(named.len());
    for ((jti, position, _), set) in named.into_iter().zip(signed) {
        acks.offered.insert(jti.clone(), position);
        sets.push((jti, set));
    }
    let moved = (cursor != started).then_some(cursor);
    Ok(Round { answer: PollAnswer { sets, more_available }, moved, failures })
}

/// Below this many SETs an answer is signed on the calling thread alone.
const SIGN_SPLIT: usize = 64;

/// The SETs of `named` (jti, place, event), in order. A large answer is signed on up to as
/// many threads as the machine has cores (at most 4): signing is most of a poll's work.
fn sign_all(
    publisher: &Publisher,
    config: &ReceiverConfig,
    named: &[(String, Position, Arc<ChangeEvent>)],
) -> Result<Vec<String>, PollError> {
    let sign_part = |part: &[(String, Position, Arc<ChangeEvent>)]| {
        part.iter().map(|(jti, _, event)| sign(publisher, config, jti, event)).collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    if named.len() < SIGN_SPLIT || threads < 2 {
        return sign_part(named);
    }
    let chunk = named.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> =
            named.chunks(chunk).map(|part| scope.spawn(move || sign_part(part))).collect();
        let mut out = Vec::with_capacity(named.len());
        for part in parts {
            let signed: Vec<String> =
                part.join().map_err(|_| PollError::Signing("a signing thread failed".into()))??;
            out.extend(signed);
        }
        Ok(out)
    })
}

/// The SET telling poll receiver `config` about `event`: `aud` is the receiver's name.
fn sign(
    publisher: &Publisher,
    config: &ReceiverConfig,
    jti: &str,
    event: &ChangeEvent,
) -> Result<String, PollError> {
    publisher.sign(event, &config.name, jti, payload_of(config.payload)).map_err(PollError::Signing)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_hold_answers_before_the_request_deadline() {
        assert_eq!(longest_hold(Duration::from_secs(30)), Duration::from_secs(25));
        assert_eq!(longest_hold(Duration::from_secs(120)), MAX_HOLD);
        assert_eq!(longest_hold(Duration::from_secs(3)), Duration::from_secs(1));
    }
}
