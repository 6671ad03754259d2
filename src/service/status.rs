//! What `/healthz` and `/metrics` report about the directory: whether its file can be read,
//! whether writes are failing for lack of space, how much it holds, how large the file is.

use std::path::Path;

use crate::domain::Kind;
use crate::store::StoreError;

use super::Service;

/// How much the directory holds, read from one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryCounts {
    pub users: u64,
    /// Users with `active` false (included in `users`).
    pub inactive_users: u64,
    pub groups: u64,
    pub log_entries: u64,
}

impl Service {
    /// Whether the data file can be read now (a read transaction opens). Blocking, briefly.
    pub fn check_readable(&self) -> Result<(), StoreError> {
        self.store().read().map(drop)
    }

    /// Whether writes are failing because the data file's file system is full (from the first
    /// such failure until a commit succeeds again).
    pub fn disk_full(&self) -> bool {
        self.store().disk_full()
    }

    /// The data file's path.
    pub fn data_file(&self) -> &Path {
        self.store().path()
    }

    /// The directory's counts, from one read transaction. Blocking.
    pub fn directory_counts(&self) -> Result<DirectoryCounts, StoreError> {
        let reader = self.store().read()?;
        Ok(DirectoryCounts {
            users: reader.count(Kind::User)?,
            inactive_users: reader.inactive_users()?,
            groups: reader.count(Kind::Group)?,
            log_entries: reader.log_len()?,
        })
    }
}
