//! The store: the only module that names redb.
//!
//! One redb file holds the whole directory: resources, their indexes, membership rows, tokens
//! and the provisioning log (`tables.rs`). Every change is one write transaction, committed with
//! `Durability::Immediate` before the caller answers, so an acknowledged write is on disk.
//! The store knows nothing of HTTP or of SCIM semantics beyond which attributes it indexes.
//!
//! Requests write through the writer thread (`writer.rs`), which commits concurrent changes
//! together; `Store::write` is for the rest (admin commands, tokens, migrations). All functions
//! here block: call them from a blocking thread, never hold a transaction across an `.await`.
//!
//! A write that fails with an I/O error (a full disk above all) does not leave the store broken:
//! the database is reopened, and a full disk is reported as `StoreError::DiskFull` until a
//! commit succeeds again (`recovery.rs`).

pub mod backup;
mod codec;
mod events;
mod log;
mod members;
mod meta;
mod migrate;
mod pack;
mod positions;
mod queries;
mod records;
mod recovery;
mod resources;
mod row;
mod tables;
mod tail;
mod tokens;
mod unique;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use redb::{Database, Durability, ReadTransaction, ReadableDatabase, WriteTransaction};

pub use events::{EventCursor, EventFailure, FeedProgress};
pub use log::{LogEntry, Subject};
pub use members::{MemberKind, MemberRow};
pub use queries::ReadQueries;
pub use records::StoredResource;
pub use resources::RawRow;
pub use row::StoredView;
pub use tail::EventTail;
pub use tokens::{StoredToken, TokenScope};
pub use unique::{unique_key, unique_value};
pub use writer::{BatchTimings, Claim, QueueError, WriteQueue, WriteStats};

/// What went wrong in the store. `Locked` and `NewerSchema` are operator errors with a clear
/// remedy; the rest are real faults.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data file {0} is in use by another scimd process; stop it first \
         (or use the admin commands, which talk to the running server)"
    )]
    Locked(PathBuf),
    #[error(
        "the data file was written by a newer scimd (schema version {found}, this binary knows \
         up to {known}); upgrade scimd or restore a backup"
    )]
    NewerSchema { found: u64, known: u64 },
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// Names that an upgrade would make equal (`migrate.rs`): the message lists them and says
    /// what to do; the file is left as it was.
    #[error("{0}")]
    NameCollisions(String),
    #[error("cannot open the data file {path}: {source}")]
    Open { path: PathBuf, source: redb::DatabaseError },
    #[error("storage error: {0}")]
    Redb(#[from] redb::Error),
    /// The batch a change was committed with failed (the cause is logged once, by the writer).
    #[error("storage error: {0}")]
    Batch(String),
    /// The data file's file system is full (`ENOSPC`) or its owner's quota is used up
    /// (`EDQUOT`): the change was not made. Writes resume by themselves once there is space
    /// (`recovery.rs`).
    #[error(
        "disk full: no space left on the file system of the data file {0}; the change was not \
         made (free space there: writes resume without a restart)"
    )]
    DiskFull(PathBuf),
    /// The data file could not be reopened after a storage fault (`recovery.rs`); the next
    /// read or write tries again.
    #[error("the data file {0} is being reopened after a storage error; retry shortly")]
    Reopening(PathBuf),
}

macro_rules! redb_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Redb(e.into())
            }
        }
    )*};
}
redb_error_from!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// The page cache `Store::open` uses: 64 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The opened data file.
pub struct Store {
    /// The open database. Replaced (closed and reopened) after a write fails with an I/O error,
    /// which redb latches until the database is reopened (`recovery.rs`); `None` only while
    /// such a reopen failed. Readers and writers hold a clone for as long as they use it.
    db: RwLock<Option<Arc<Database>>>,
    path: PathBuf,
    cache_bytes: usize,
    /// Set while writes fail for lack of space, from the first such failure until a commit
    /// succeeds: `/healthz` and `/metrics` report it.
    disk_full: AtomicBool,
    /// When a write last tried the file while it was full, and when the next may.
    full_retry: Mutex<recovery::FullRetry>,
    /// One reopen at a time (the writer thread and `Store::write` may fail together).
    reopening: Mutex<()>,
    /// The newest committed change events, as each commit publishes them.
    tail: EventTail,
}

impl Store {
    /// Opens (or creates) the data file with the default page cache and runs pending
    /// migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the data file, caching at most `cache_bytes` of its pages in memory
    /// (redb's own default is 1 GiB, more than a small VM should give a directory).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                source: redb::DatabaseError::Storage(redb::StorageError::Io(e)),
            })?;
        }
        let db = open_database(path, cache_bytes)?;
        // The file holds token hashes and personal data: readable by its owner only.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
                |e| StoreError::Open {
                    path: path.to_path_buf(),
                    source: redb::DatabaseError::Storage(redb::StorageError::Io(e)),
                },
            )?;
        }
        let store = Store {
            db: RwLock::new(Some(Arc::new(db))),
            path: path.to_path_buf(),
            cache_bytes,
            disk_full: AtomicBool::new(false),
            full_retry: Mutex::new(recovery::FullRetry::default()),
            reopening: Mutex::new(()),
            tail: EventTail::default(),
        };
        migrate::run(&store)?;
        Ok(store)
    }

    /// The data file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves every page to the front of the file and truncates it (offline: no reader or
    /// writer may be open). Returns the file's size before and after.
    pub fn compact(&mut self) -> Result<(u64, u64), StoreError> {
        let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let before = size(&self.path);
        let slot = self.db.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let db = slot
            .as_mut()
            .and_then(Arc::get_mut)
            .ok_or_else(|| StoreError::Reopening(self.path.clone()))?;
        while db.compact().map_err(|e| StoreError::Redb(e.into()))? {}
        Ok((before, size(&self.path)))
    }

    /// The newest committed change events, kept in memory.
    pub fn tail(&self) -> &EventTail {
        &self.tail
    }

    /// Commits `writer` durably on `db`, then publishes its change events to the tail.
    fn commit(&self, writer: Writer, db: Arc<Database>) -> Result<(), StoreError> {
        match writer.commit() {
            Ok(appended) => {
                self.after_commit(Ok(()), db)?;
                self.tail.publish(appended);
                Ok(())
            }
            Err(e) => self.after_commit(Err(e), db),
        }
    }

    /// A consistent snapshot for reading; it never waits for writers.
    pub fn read(&self) -> Result<Reader, StoreError> {
        let db = self.database()?;
        Ok(Reader { tx: db.begin_read()?, _db: db })
    }

    /// Runs `f` in one write transaction: commits durably if it returns `Ok`, aborts (leaving
    /// nothing behind) if it returns `Err`.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        let (db, mut writer) = self.begin_write()?;
        match f(&mut writer) {
            Ok(value) => {
                self.commit(writer, db)?;
                Ok(value)
            }
            Err(e) => {
                // Aborting only drops uncommitted pages; its own failure changes nothing stored.
                // Should `f` have met an I/O error, the next `begin_write` finds it latched and
                // reopens the database.
                let _ = writer.tx.abort();
                Err(e)
            }
        }
    }
}

/// Opens (or creates) the database file itself, without migrations.
fn open_database(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    Database::builder().set_cache_size(cache_bytes).create(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(path.to_path_buf()),
        other => StoreError::Open { path: path.to_path_buf(), source: other },
    })
}

/// A read transaction: the lookups of [`ReadQueries`], plus what only a snapshot answers
/// (rows read in place, pages, scans, counts, the log).
pub struct Reader {
    tx: ReadTransaction,
    /// The database `tx` reads, kept open until the snapshot is dropped (fields drop in order:
    /// the transaction first), so a reopen after a fault waits for it instead of closing the
    /// file under it.
    _db: Arc<Database>,
}

/// A write transaction: the changes it makes, and the lookups of [`ReadQueries`] seeing
/// them; see `Store::write` and `WriteQueue`.
pub struct Writer {
    tx: WriteTransaction,
    /// Set by every method that changes a table, so the writer thread knows whether a failed
    /// change left something behind in a shared transaction.
    dirty: bool,
    /// Row counts of this transaction, written just before it commits (`positions.rs`).
    pending_counts: positions::PendingCounts,
    /// The change events this transaction appended, for the tail once it has committed.
    appended: Vec<(u64, Arc<crate::domain::events::ChangeEvent>)>,
}

impl Writer {
    /// A writer on a durable transaction (`Durability::Immediate`).
    fn begin(db: &Database) -> Result<Writer, StoreError> {
        let mut tx = db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        Ok(Writer { tx, dirty: false, pending_counts: Default::default(), appended: Vec::new() })
    }

    /// Writes what this writer kept in memory, then commits: on disk when it returns.
    /// Commits, returning the change events appended (see `Store::commit`).
    fn commit(mut self) -> Result<Vec<(u64, Arc<crate::domain::events::ChangeEvent>)>, StoreError> {
        self.write_pending_counts()?;
        self.tx.commit()?;
        Ok(self.appended)
    }
}

#[cfg(test)]
mod tests;
