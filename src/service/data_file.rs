//! The data file: the one start-up function that opens it ([`DataFile::open`], shared by
//! `serve` and the CLI when no server runs), starting the use cases over it
//! ([`DataFile::start`]), and what is done with the file itself rather than through a use
//! case: a logical backup, a restore into a new file, compaction.
//!
//! Everything outside `service` reaches the store through here or through [`Service`], so the
//! import arrows run cli/admin/http/server -> service -> store.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::scim::datetime::{Instant, format_millis};
use crate::store::Store;
use crate::store::StoreError;
use crate::store::backup::{self, BackupError, Header};

use super::{Service, Settings};

/// The opened data file of a server that is starting, or of a stopped one (the CLI's).
pub struct DataFile {
    store: Store,
}

impl DataFile {
    /// Opens (or creates) `config`'s data file with its page cache (`[limits] cache_mb`) and
    /// runs pending migrations. `StoreError::Locked` when another process holds it.
    pub fn open(config: &Config) -> Result<DataFile, StoreError> {
        let store = Store::open_with_cache(&config.data_file(), config.limits.cache_bytes)?;
        Ok(DataFile { store })
    }

    /// The use cases over this file, with the writer thread started (stop it with
    /// [`Service::stop_writes`] when done).
    pub fn start(self, settings: Settings) -> Result<Service, StoreError> {
        Service::new(Arc::new(self.store), settings)
    }

    /// Writes a backup of the file's current state to `out` (one read transaction).
    pub fn write_backup(&self, out: &mut impl Write) -> Result<Header, BackupError> {
        write_backup(&self.store, out)
    }

    /// Moves every page to the front of the file and truncates it (the server must be
    /// stopped). Returns the file's size before and after.
    pub fn compact(&mut self) -> Result<(u64, u64), StoreError> {
        self.store.compact()
    }

    /// Restores the backup read from `input` into a new data file at `target`, then checks
    /// its indexes; returns the backup's header.
    pub fn restore(input: impl BufRead, target: &Path) -> Result<Header, BackupError> {
        backup::restore(input, target)
    }
}

impl Service {
    /// Writes a backup of the directory's current state to `out` (one read transaction).
    /// Blocking.
    pub fn write_backup(&self, out: &mut impl Write) -> Result<Header, BackupError> {
        write_backup(self.store(), out)
    }
}

fn write_backup(store: &Store, out: &mut impl Write) -> Result<Header, BackupError> {
    let created = format_millis(Instant::from_system_time(std::time::SystemTime::now()));
    store.read()?.backup(out, &created)
}
