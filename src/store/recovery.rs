//! Recovery from storage faults without a restart: a full disk above all.
//!
//! When a write to the file fails (`ENOSPC`, `EDQUOT`, `EIO`), redb latches the failure: every
//! later transaction of that `Database` fails with `PreviousIo` until it is closed and opened
//! again. So after a write fails with an I/O error, the store reopens the database here: it
//! waits until no reader or writer still holds the failed one (each holds a clone of its
//! `Arc`), closes it, and opens the file again, which rolls back to the last durable commit
//! (the failed one never became durable). Readers meanwhile keep their snapshots of the old
//! database, and new readers wait on the slot's lock only for the reopen itself, so no reader
//! sees anything but a committed state.
//!
//! A full disk is an episode: the first write that fails for lack of space logs "disk full"
//! once and sets the flag `/healthz` and `/metrics` report; every write in between is answered
//! [`StoreError::DiskFull`] (507 at the edge); the first commit that succeeds again logs
//! "recovered" once and clears the flag. While full, the file is tried at most once per
//! [`FULL_RETRY`], or less often when reopening is slow (each try costs a reopen, which readers
//! wait for); the other writes are refused at once.
//!
//! This file must not name HTTP: the service maps `DiskFull` to its own error.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use redb::Database;

use super::{Store, StoreError, Writer, open_database};

/// While the disk is full, how often a write may try the file again, at most.
pub const FULL_RETRY: Duration = Duration::from_millis(500);

/// While the disk is full, a try waits at least this many times as long as the last reopen
/// took: readers wait for a reopen (it rebuilds redb's allocator state, which reads the whole
/// file), so on a large file they are held up for at most a tenth of the time.
const REOPEN_SHARE: u32 = 10;

/// When a write last tried the full file system, and how long the next one must wait.
#[derive(Debug, Default)]
pub(super) struct FullRetry {
    last: Option<Instant>,
    wait: Duration,
}

/// How long a reopen waits for the failed database's last reader to finish before giving up
/// (the next failure or write tries again).
const REOPEN_WAIT: Duration = Duration::from_secs(5);

impl StoreError {
    /// The I/O error underneath, if this is one.
    fn io(&self) -> Option<&std::io::Error> {
        match self {
            StoreError::Redb(redb::Error::Io(e)) => Some(e),
            StoreError::Open {
                source: redb::DatabaseError::Storage(redb::StorageError::Io(e)),
                ..
            } => Some(e),
            _ => None,
        }
    }

    /// Whether redb has latched this failure: the database must be reopened to write again.
    fn latches(&self) -> bool {
        self.io().is_some() || matches!(self, StoreError::Redb(redb::Error::PreviousIo))
    }

    /// Whether this is the file system refusing space (`ENOSPC`, `EDQUOT`).
    fn is_no_space(&self) -> bool {
        self.io().is_some_and(|e| {
            matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
        })
    }

    /// This batch failure as each change of the batch reports it: a full disk stays typed (it
    /// is answered 507), anything else becomes its text.
    pub(super) fn for_each_change(&self) -> StoreError {
        match self {
            StoreError::DiskFull(path) => StoreError::DiskFull(path.clone()),
            other => StoreError::Batch(other.to_string()),
        }
    }
}

impl Store {
    /// Whether writes are being refused because the data file's file system is full: from
    /// the first write that failed for lack of space until a commit succeeds again.
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Acquire)
    }

    /// The open database, reopening it first if a reopen failed before.
    pub(super) fn database(&self) -> Result<Arc<Database>, StoreError> {
        if let Some(db) = self.db.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Ok(Arc::clone(db));
        }
        self.reopen(std::ptr::null())?;
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Arc::clone)
            .ok_or_else(|| StoreError::Reopening(self.path.clone()))
    }

    /// Begins a durable write transaction (the database it runs on comes with it, to be
    /// handed back to [`Store::after_commit`]). A database found latched by an earlier
    /// failure is reopened first; while the disk is full, a write within [`FULL_RETRY`] of the
    /// last failed one is refused without touching the file.
    pub(super) fn begin_write(&self) -> Result<(Arc<Database>, Writer), StoreError> {
        if self.disk_full() && !self.may_retry_full() {
            return Err(StoreError::DiskFull(self.path.clone()));
        }
        let db = self.database()?;
        match Writer::begin(&db) {
            Ok(w) => Ok((db, w)),
            Err(e) if e.latches() => {
                let e = self.failed(e, db);
                if matches!(e, StoreError::DiskFull(_)) {
                    return Err(e);
                }
                let db = self.database()?;
                let w = Writer::begin(&db)?;
                Ok((db, w))
            }
            Err(e) => Err(e),
        }
    }

    /// Takes the result of committing on `db`: a success ends a disk-full episode; a latched
    /// failure reopens the database and a lack of space becomes [`StoreError::DiskFull`].
    pub(super) fn after_commit(
        &self,
        committed: Result<(), StoreError>,
        db: Arc<Database>,
    ) -> Result<(), StoreError> {
        match committed {
            Ok(()) => {
                // A plain load first: every commit passes here, the swap only ends an episode.
                if self.disk_full() && self.disk_full.swap(false, Ordering::AcqRel) {
                    tracing::info!(
                        path = %self.path.display(),
                        "disk space recovered: writes succeed again"
                    );
                }
                Ok(())
            }
            Err(e) => Err(self.failed(e, db)),
        }
    }

    /// Whether a write may try the full file system again now (and if so, notes the try).
    fn may_retry_full(&self) -> bool {
        let mut retry = self.full_retry.lock().unwrap_or_else(PoisonError::into_inner);
        match retry.last {
            Some(at) if at.elapsed() < retry.wait => false,
            _ => {
                retry.last = Some(Instant::now());
                true
            }
        }
    }

    /// Handles a failed write on `db`: reopens the database if redb latched the failure, and
    /// turns a lack of space (or the latch it left) into [`StoreError::DiskFull`], logged once
    /// per episode.
    fn failed(&self, e: StoreError, db: Arc<Database>) -> StoreError {
        if !e.latches() {
            return e;
        }
        let full = e.is_no_space() || (self.disk_full() && e.io().is_none());
        let failed = Arc::as_ptr(&db);
        // Our own clone must not hold up the reopen.
        drop(db);
        let reopening = Instant::now();
        if let Err(reopen) = self.reopen(failed) {
            tracing::error!(
                error = %reopen,
                "cannot reopen the data file after a storage error; the next write tries again"
            );
        }
        if !full {
            return e;
        }
        let took = reopening.elapsed();
        *self.full_retry.lock().unwrap_or_else(PoisonError::into_inner) =
            FullRetry { last: Some(Instant::now()), wait: FULL_RETRY.max(took * REOPEN_SHARE) };
        if !self.disk_full.swap(true, Ordering::AcqRel) {
            tracing::error!(
                path = %self.path.display(),
                error = %e,
                "disk full: the data file's file system has no space left; writes are refused \
                 (507) and reads still answered until space is freed"
            );
        }
        StoreError::DiskFull(self.path.clone())
    }

    /// Replaces the database `failed` (or none, after a failed reopen) with a freshly opened
    /// one, once nothing else holds it. Does nothing if someone else already replaced it.
    fn reopen(&self, failed: *const Database) -> Result<(), StoreError> {
        let _one_at_a_time = self.reopening.lock().unwrap_or_else(PoisonError::into_inner);
        let deadline = Instant::now() + REOPEN_WAIT;
        loop {
            {
                let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
                match slot.as_ref() {
                    Some(db) if !std::ptr::eq(Arc::as_ptr(db), failed) => return Ok(()),
                    Some(db) if Arc::strong_count(db) > 1 => {}
                    _ => {
                        // Clones are only made under the slot's read lock, so none can appear
                        // now: the old database closes here, releasing the file's lock.
                        if let Some(old) = slot.take().and_then(|db| Arc::try_unwrap(db).ok()) {
                            // A latched database reports the latch again on close; nothing to do.
                            let _ = old.close();
                        }
                        let db = open_database(&self.path, self.cache_bytes)?;
                        *slot = Some(Arc::new(db));
                        tracing::debug!(path = %self.path.display(), "reopened the data file");
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Reopening(self.path.clone()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
