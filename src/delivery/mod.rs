//! Event delivery: one stream per configured push receiver, started with the server and
//! changed on reload, and the state of the poll endpoint ([`poll`]) for poll receivers. It sits at the edge beside `server` (which starts it) and reads the outbox only
//! through `service`; a stream's failures stay inside its own task.
//!
//! A receiver seen for the first time gets a cursor at the newest event, so it is told every
//! change committed from then on; with `start = "beginning"` it is first given a feed of every
//! existing resource (`service::feed`), taken here before its stream starts. A receiver no
//! longer configured has its cursor removed, which releases the events it alone still lacked.

pub mod outcome;
pub mod poll;
pub mod poll_request;
pub mod push;

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Delivery, EventsConfig, ReceiverConfig, Start};
use crate::service::StreamState;

pub use poll::Poller;
pub use push::Publisher;

/// The running streams.
pub struct Deliveries {
    publisher: Publisher,
    streams: Mutex<HashMap<String, Stream>>,
}

struct Stream {
    config: ReceiverConfig,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Deliveries {
    /// Starts a stream for every push receiver in `events`.
    pub async fn start(publisher: Publisher, events: &EventsConfig) -> Deliveries {
        let deliveries = Deliveries { publisher, streams: Mutex::new(HashMap::new()) };
        deliveries.apply(events).await;
        deliveries
    }

    /// Makes the running streams match `events` (a reload): a receiver whose settings changed
    /// is restarted from its cursor, a new one started, a removed one stopped and forgotten.
    pub async fn apply(&self, events: &EventsConfig) {
        let names: Vec<String> = events.receivers.iter().map(|r| r.name.clone()).collect();
        if let Err(e) = self.publisher.service.forget_event_receivers_except(names).await {
            tracing::warn!(error = %e, "cannot remove the cursors of removed event receivers");
        }
        let mut stopping = Vec::new();
        {
            let Ok(mut streams) = self.streams.lock() else { return };
            streams.retain(|name, stream| {
                let same = events.receivers.iter().any(|r| &r.name == name && *r == stream.config);
                if !same {
                    let _ = stream.stop.send(true);
                    stopping.extend(stream.task.take());
                }
                same
            });
        }
        for task in stopping {
            let _ = task.await;
        }
        for receiver in &events.receivers {
            let running = self.streams.lock().map(|s| s.contains_key(&receiver.name));
            if running.unwrap_or(true) {
                continue;
            }
            let name = receiver.name.clone();
            let from_beginning = receiver.start == Start::Beginning;
            let needs_feed = match self
                .publisher
                .service
                .ensure_event_cursor(name, from_beginning)
                .await
            {
                Ok(needs_feed) => needs_feed,
                Err(e) => {
                    tracing::error!(receiver = %receiver.name, error = %e, "cannot create the event cursor; the receiver gets nothing until a reload");
                    continue;
                }
            };
            let target = match &receiver.delivery {
                Delivery::Push { .. } => match push::PushTarget::new(receiver) {
                    Ok(target) => target,
                    Err(e) => {
                        tracing::error!(receiver = %receiver.name, error = %e, "cannot set up event delivery");
                        None
                    }
                },
                // Poll receivers fetch their events themselves.
                Delivery::Poll => None,
            };
            let task = (needs_feed || target.is_some()).then(|| {
                let (stop, stopped) = watch::channel(false);
                let (publisher, receiver) = (self.publisher.clone(), receiver.clone());
                let task = tokio::spawn(async move {
                    let fed =
                        !needs_feed || take_feed(&publisher, &receiver, stopped.clone()).await;
                    match target {
                        Some(target) if fed => push::run(publisher, target, stopped).await,
                        _ => publisher.service.forget_stream(&receiver.name),
                    }
                });
                (stop, task)
            });
            let (stop, task) = match task {
                Some((stop, task)) => (stop, Some(task)),
                None => (watch::channel(false).0, None),
            };
            if let Ok(mut streams) = self.streams.lock() {
                streams
                    .insert(receiver.name.clone(), Stream { config: receiver.clone(), stop, task });
            }
        }
    }

    /// Stops every stream and waits for them (their cursors are stored as they stop).
    pub async fn stop(&self) {
        let tasks: Vec<JoinHandle<()>> = match self.streams.lock() {
            Ok(mut streams) => streams
                .values_mut()
                .filter_map(|s| {
                    let _ = s.stop.send(true);
                    s.task.take()
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// Takes `receiver`'s feed; false when it was not taken (stopped or removed meanwhile: it is
/// taken again when the receiver next starts). A failure (the data file) is said in the
/// journal and in `scimd events status`, and tried again with backoff.
async fn take_feed(
    publisher: &Publisher,
    receiver: &ReceiverConfig,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let (service, name) = (&publisher.service, receiver.name.clone());
    let mut backoff = outcome::Backoff::default();
    loop {
        service.report_stream(&name, |r| r.state = StreamState::TakingFeed);
        let kinds = receiver.resource_types.clone();
        match service.take_feed(name.clone(), kinds, stop.clone()).await {
            Ok(Some(_)) => return true,
            Ok(None) => return false,
            Err(e) => {
                let reason = format!("cannot take the feed of existing resources: {e}");
                tracing::error!(receiver = %name, reason = %reason, "event delivery waits; retrying with backoff");
                service.report_stream(&name, |r| {
                    r.state = StreamState::Retrying;
                    r.last_error = Some(reason);
                    r.last_error_at = Some(crate::service::now_rfc3339());
                });
            }
        }
        tokio::select! {
            _ = stop.changed() => return false,
            _ = tokio::time::sleep(backoff.next(None)) => {}
        }
    }
}

/// How much lower than the server's the CPU priority of event delivery is (nice +10: under
/// a full CPU it gets about a tenth of what a request thread gets; idle cores it uses fully).
pub const DELIVERY_NICE: i32 = 10;

/// Starts [`supervise`] on a thread of its own, with a runtime of its own, at a lower CPU
/// priority than the server's ([`DELIVERY_NICE`], inherited by the threads it starts): when
/// the CPU is full, the IdP's requests go first and deliveries catch up as soon as it is not,
/// so receivers never slow provisioning down. The returned task completes when it has stopped.
pub fn start(
    publisher: Publisher,
    events: watch::Receiver<EventsConfig>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<JoinHandle<()>> {
    let (stopped, done) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new().name("scimd-delivery".into()).spawn(move || {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), DELIVERY_NICE) {
            tracing::warn!(error = %e, "cannot lower the CPU priority of event delivery");
        }
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(supervise(publisher, events, stop)),
            Err(e) => tracing::error!(error = %e, "cannot start event delivery"),
        }
        let _ = stopped.send(());
    })?;
    Ok(tokio::spawn(async move {
        let _ = done.await;
    }))
}

/// Runs event delivery for the server's life: starts the streams `events` declares, follows
/// its changes (reloads), and stops them all when `stop` turns true.
pub async fn supervise(
    publisher: Publisher,
    mut events: watch::Receiver<EventsConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let first = events.borrow_and_update().clone();
    let deliveries = Deliveries::start(publisher, &first).await;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            changed = events.changed() => {
                if changed.is_err() {
                    break;
                }
                let fresh = events.borrow_and_update().clone();
                deliveries.apply(&fresh).await;
            }
        }
    }
    deliveries.stop().await;
}
