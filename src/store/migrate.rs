//! The schema version and numbered migrations.
//!
//! `SCHEMA_VERSION` is stored in `meta.v1`. Opening a file creates every table (so readers
//! never meet a missing table), then runs each migration after the stored version, each in its
//! own transaction together with the new version number. A file from a newer scimd is refused.

use redb::ReadableTable;

use super::records::{Kind, StoredResource};
use super::resources::external_key;
use super::tables::{
    GROUP_EXTERNAL_INDEX, GROUP_MEMBERS, GROUP_NAME_INDEX, GROUPS, INACTIVE_USERS, MEMBER_GROUPS,
    META, PROVISIONING_LOG, ROW_BUCKETS, TOKENS, USER_EXTERNAL_INDEX, USER_MANAGER_INDEX,
    USER_NAME_INDEX, USERS,
};
use super::{Store, StoreError, Writer, codec, row};

/// The layout this binary writes. 2: `user_manager_idx.v1`. 3: `row_buckets.v1`. 4: user and
/// group rows in format 2 (`row.rs`). 5: `inactive_users.v1`.
pub const SCHEMA_VERSION: u64 = 5;

const VERSION_KEY: &str = "schema_version";

/// Migration `i` takes a file from version `i + 1` to `i + 2`.
type Migration = fn(&mut Writer) -> Result<(), StoreError>;
const MIGRATIONS: [Migration; (SCHEMA_VERSION - 1) as usize] =
    [index_managers, count_rows, rewrite_rows, index_inactive];

/// 1 → 2: fills the manager index from the users already stored.
fn index_managers(w: &mut Writer) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for entry in w.tx.open_table(USERS)?.iter()? {
        let (_, value) = entry?;
        let user: StoredResource = row::decode(value.value(), Kind::User.resource_type())?;
        if let Some(manager) = user.manager() {
            rows.push(external_key(manager, user.id));
        }
    }
    let mut index = w.tx.open_table(USER_MANAGER_INDEX)?;
    for key in rows {
        index.insert(key.as_slice(), ())?;
    }
    Ok(())
}

/// 2 → 3: counts the users and groups already stored, per id prefix.
fn count_rows(w: &mut Writer) -> Result<(), StoreError> {
    w.recount_rows()
}

/// 3 → 4: rewrites every user and group row from format 1 to format 2.
fn rewrite_rows(w: &mut Writer) -> Result<(), StoreError> {
    for (kind, definition) in [(Kind::User, USERS), (Kind::Group, GROUPS)] {
        let mut table = w.tx.open_table(definition)?;
        let mut rows = Vec::new();
        for entry in table.iter()? {
            let (id, bytes) = entry?;
            let resource = row::decode(bytes.value(), kind.resource_type())?;
            rows.push((id.value(), row::encode(&resource)?));
        }
        for (id, bytes) in rows {
            table.insert(id, bytes.as_slice())?;
        }
    }
    Ok(())
}

/// 4 → 5: fills the inactive-user index from the users already stored.
fn index_inactive(w: &mut Writer) -> Result<(), StoreError> {
    let mut inactive = Vec::new();
    for entry in w.tx.open_table(USERS)?.iter()? {
        let (_, value) = entry?;
        let user: StoredResource = row::decode(value.value(), Kind::User.resource_type())?;
        if user.is_inactive() {
            inactive.push(user.id.0);
        }
    }
    let mut index = w.tx.open_table(INACTIVE_USERS)?;
    for id in inactive {
        index.insert(id, ())?;
    }
    Ok(())
}

pub fn run(store: &Store) -> Result<(), StoreError> {
    let found = store.write(|w| {
        create_tables(w)?;
        let found = stored_version(w)?;
        if found.is_none() {
            set_version(w, SCHEMA_VERSION)?;
        }
        Ok::<_, StoreError>(found.unwrap_or(SCHEMA_VERSION))
    })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { found, known: SCHEMA_VERSION });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip((found - 1) as usize) {
        let to = index as u64 + 2;
        store.write(|w| {
            migration(w)?;
            set_version(w, to)
        })?;
        tracing::info!(version = to, "migrated the data file");
    }
    Ok(())
}

fn create_tables(w: &mut Writer) -> Result<(), StoreError> {
    w.tx.open_table(META)?;
    w.tx.open_table(USERS)?;
    w.tx.open_table(GROUPS)?;
    w.tx.open_table(USER_NAME_INDEX)?;
    w.tx.open_table(GROUP_NAME_INDEX)?;
    w.tx.open_table(USER_EXTERNAL_INDEX)?;
    w.tx.open_table(USER_MANAGER_INDEX)?;
    w.tx.open_table(GROUP_EXTERNAL_INDEX)?;
    w.tx.open_table(GROUP_MEMBERS)?;
    w.tx.open_table(MEMBER_GROUPS)?;
    w.tx.open_table(TOKENS)?;
    w.tx.open_table(PROVISIONING_LOG)?;
    w.tx.open_table(ROW_BUCKETS)?;
    w.tx.open_table(INACTIVE_USERS)?;
    Ok(())
}

fn stored_version(w: &Writer) -> Result<Option<u64>, StoreError> {
    let table = w.tx.open_table(META)?;
    let row = table.get(VERSION_KEY)?;
    row.map(|g| codec::decode(g.value(), "schema version")).transpose()
}

fn set_version(w: &mut Writer, version: u64) -> Result<(), StoreError> {
    let bytes = codec::encode(&version)?;
    w.tx.open_table(META)?.insert(VERSION_KEY, bytes.as_slice())?;
    Ok(())
}

#[cfg(test)]
pub(super) fn force_version(store: &Store, version: u64) -> Result<(), StoreError> {
    store.write(|w| set_version(w, version))
}
