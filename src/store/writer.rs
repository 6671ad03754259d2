//! The writer thread: one thread owns the server's redb writes and commits the changes of
//! concurrent requests together, one write transaction and one fsync for a batch (group
//! commit). Each request gets its reply only after the commit that holds its change.
//!
//! A change that fails (a 409, a 400) fails alone: if it wrote nothing before failing, the
//! batch goes on; if it had written, the batch's transaction is discarded and redone without
//! it, so its half-made change never reaches the file and the others still commit. A failed
//! change's provisioning-log row (its refusal) is written in the same batch.
//!
//! A change queued with a [`Claim`] can be withdrawn by its requester until the writer takes
//! it; the writer skips a withdrawn change, so a request answered "timed out, not made" never
//! commits later.
//!
//! Back-pressure: the queue is bounded. When it is full, `submit` says so at once and the
//! caller answers 429 with `Retry-After`, instead of letting requests pile up until they time
//! out.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio::sync::oneshot;

use super::{Store, StoreError, Writer};

/// The most changes one transaction commits.
const MAX_BATCH: usize = 256;

/// Why a change could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("the write queue is full; retry shortly")]
    Full,
    #[error("the server is shutting down")]
    Stopped,
}

/// Whether a queued change may still run. The writer claims it when it takes the change for a
/// batch; a requester whose deadline passed withdraws it first. Exactly one of them wins, so a
/// withdrawn change is never made and a claimed one always reaches its commit.
#[derive(Debug, Default)]
pub struct Claim(AtomicU8);

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const WITHDRAWN: u8 = 2;

impl Claim {
    /// Withdraws the change if the writer has not taken it: true when it will never run.
    pub fn withdraw(&self) -> bool {
        self.0.compare_exchange(QUEUED, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire).is_ok()
            || self.0.load(Ordering::Acquire) == WITHDRAWN
    }

    /// The writer takes the change: false when it was withdrawn.
    fn start(&self) -> bool {
        self.0.compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire).is_ok()
            || self.0.load(Ordering::Acquire) == STARTED
    }
}

/// A handle on the writer thread; cheap to clone.
#[derive(Clone)]
pub struct WriteQueue {
    inner: Arc<Inner>,
}

struct Inner {
    sender: Mutex<Option<SyncSender<Box<dyn Job>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<Counters>,
}

/// What the writer has done so far.
#[derive(Debug)]
struct Counters {
    batches: AtomicU64,
    changes: AtomicU64,
    timings: BatchTimings,
}

/// Histograms of committed batches, shared with whoever reports them (the metrics endpoint).
#[derive(Debug, Clone)]
pub struct BatchTimings {
    /// Changes per committed batch.
    pub sizes: Histogram,
    /// Seconds from taking a batch to its durable commit (the changes, then the fsync).
    pub seconds: Histogram,
}

impl Default for BatchTimings {
    fn default() -> Self {
        BatchTimings {
            sizes: Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
            seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 14)),
        }
    }
}

/// Committed batches and the changes they held (a batch of one is a plain commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    pub batches: u64,
    pub changes: u64,
}

impl WriteQueue {
    /// Starts the writer thread for `store` with room for `capacity` waiting changes.
    pub fn start(store: Arc<Store>, capacity: usize) -> Result<WriteQueue, StoreError> {
        let (sender, receiver) = sync_channel::<Box<dyn Job>>(capacity.max(1));
        let stats = Arc::new(Counters {
            batches: AtomicU64::new(0),
            changes: AtomicU64::new(0),
            timings: BatchTimings::default(),
        });
        let counters = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("scimd-writer".into())
            .spawn(move || run(&store, &receiver, &counters))
            .map_err(|e| StoreError::Batch(format!("cannot start the writer thread: {e}")))?;
        Ok(WriteQueue {
            inner: Arc::new(Inner {
                sender: Mutex::new(Some(sender)),
                thread: Mutex::new(Some(thread)),
                stats,
            }),
        })
    }

    /// Batches committed and changes they held, since start.
    pub fn stats(&self) -> WriteStats {
        WriteStats {
            batches: self.inner.stats.batches.load(Ordering::Relaxed),
            changes: self.inner.stats.changes.load(Ordering::Relaxed),
        }
    }

    /// The histograms of committed batches (sizes and commit times).
    pub fn timings(&self) -> BatchTimings {
        self.inner.stats.timings.clone()
    }

    /// Queues `change` for the next batch. `change` may run more than once (when another
    /// change in its batch fails after writing, the batch is redone), so it must not consume
    /// what it captures. When it fails, `refused` writes its refusal row. The receiver yields
    /// the result once the batch is committed.
    pub fn submit<T, E, F, R>(
        &self,
        change: F,
        refused: R,
    ) -> Result<oneshot::Receiver<Result<T, E>>, QueueError>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&mut Writer) -> Result<T, E> + Send + 'static,
        R: FnMut(&mut Writer, &E) -> Result<(), StoreError> + Send + 'static,
    {
        self.submit_claimed(change, refused, Arc::new(Claim::default()))
    }

    /// [`WriteQueue::submit`], with `claim` deciding whether the change still runs when the
    /// writer takes it (see [`Claim`]).
    pub fn submit_claimed<T, E, F, R>(
        &self,
        change: F,
        refused: R,
        claim: Arc<Claim>,
    ) -> Result<oneshot::Receiver<Result<T, E>>, QueueError>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&mut Writer) -> Result<T, E> + Send + 'static,
        R: FnMut(&mut Writer, &E) -> Result<(), StoreError> + Send + 'static,
    {
        let (reply, receiver) = oneshot::channel();
        let job = Box::new(TypedJob { change, refused, result: None, reply, claim });
        let sender = self.inner.sender.lock().map_err(|_| QueueError::Stopped)?;
        match sender.as_ref().map(|s| s.try_send(job)) {
            Some(Ok(())) => Ok(receiver),
            Some(Err(TrySendError::Full(_))) => Err(QueueError::Full),
            Some(Err(TrySendError::Disconnected(_))) | None => Err(QueueError::Stopped),
        }
    }

    /// Stops taking changes, lets the thread commit what is queued, and waits for it.
    pub fn stop(&self) {
        if let Ok(mut sender) = self.inner.sender.lock() {
            sender.take();
        }
        let thread = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// What running one change did to the batch.
enum Outcome {
    /// Applied, or refused before writing (its refusal row is written): the batch goes on.
    Continue,
    /// Failed after writing: the batch must be redone without it.
    FailedAfterWriting,
}

/// A queued change with its reply channel, its result type erased.
trait Job: Send {
    /// Claims the change for this batch; false when its requester withdrew it.
    fn start(&self) -> bool;
    fn run(&mut self, w: &mut Writer) -> Result<Outcome, StoreError>;
    /// Writes only the refusal row (for a change that failed after writing, when redone).
    fn refuse(&mut self, w: &mut Writer) -> Result<(), StoreError>;
    fn deliver(self: Box<Self>, committed: Result<(), &StoreError>);
}

struct TypedJob<T, E, F, R> {
    change: F,
    refused: R,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
    claim: Arc<Claim>,
}

impl<T, E, F, R> Job for TypedJob<T, E, F, R>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnMut(&mut Writer) -> Result<T, E> + Send + 'static,
    R: FnMut(&mut Writer, &E) -> Result<(), StoreError> + Send + 'static,
{
    fn start(&self) -> bool {
        self.claim.start()
    }

    fn run(&mut self, w: &mut Writer) -> Result<Outcome, StoreError> {
        w.dirty = false;
        let result = (self.change)(w);
        let outcome = match &result {
            Ok(_) => Outcome::Continue,
            Err(_) if w.dirty => Outcome::FailedAfterWriting,
            Err(e) => {
                (self.refused)(w, e)?;
                Outcome::Continue
            }
        };
        self.result = Some(result);
        Ok(outcome)
    }

    fn refuse(&mut self, w: &mut Writer) -> Result<(), StoreError> {
        match &self.result {
            Some(Err(e)) => (self.refused)(w, e),
            _ => Ok(()),
        }
    }

    fn deliver(self: Box<Self>, committed: Result<(), &StoreError>) {
        let result = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Err(e), _) => Err(E::from(e.for_each_change())),
            (Ok(()), None) => Err(E::from(StoreError::Batch("the change did not run".into()))),
        };
        // The requester may have gone (timeout, closed connection): nothing to tell.
        let _ = self.reply.send(result);
    }
}

fn run(store: &Store, receiver: &Receiver<Box<dyn Job>>, counters: &Counters) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A withdrawn change (its requester was answered 408) is dropped unmade.
        batch.retain(|job| job.start());
        if batch.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let committed = commit_batch(store, &mut batch);
        match &committed {
            Ok(()) => {
                counters.timings.seconds.observe(started.elapsed().as_secs_f64());
                counters.timings.sizes.observe(batch.len() as f64);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                counters.changes.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            // The store logs a full disk once per episode, not once per batch.
            Err(StoreError::DiskFull(_)) => {}
            Err(e) => tracing::error!(error = %e, changes = batch.len(), "a write batch failed"),
        }
        for job in batch {
            job.deliver(committed.as_ref().map(|_| ()));
        }
    }
}

/// Runs every change of `batch` in one transaction and commits it durably. A change that
/// fails after writing is taken out (only its refusal row is written) and the batch redone.
/// A storage fault goes through the store's recovery (`recovery.rs`), so the next batch finds
/// a working database again.
fn commit_batch(store: &Store, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let mut refuse_only = vec![false; batch.len()];
    loop {
        let (db, mut w) = store.begin_write()?;
        let mut redo = None;
        for (i, job) in batch.iter_mut().enumerate() {
            let ran = if refuse_only.get(i).copied().unwrap_or(false) {
                job.refuse(&mut w).map(|()| Outcome::Continue)
            } else {
                job.run(&mut w)
            };
            match ran {
                Ok(Outcome::Continue) => {}
                Ok(Outcome::FailedAfterWriting) => {
                    redo = Some(i);
                    break;
                }
                Err(e) => {
                    drop(w);
                    return store.after_commit(Err(e), db);
                }
            }
        }
        match redo.and_then(|i| refuse_only.get_mut(i)) {
            Some(flag) => {
                // Its writes go with the transaction; the others' are redone.
                let _ = w.tx.abort();
                *flag = true;
            }
            None => return store.commit(w, db),
        }
    }
}
