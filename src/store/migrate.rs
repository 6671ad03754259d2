//! The schema version and numbered migrations.
//!
//! `SCHEMA_VERSION` is stored in `meta.v1`. Opening a file creates every table (so readers
//! never meet a missing table), then runs each migration after the stored version, each in its
//! own transaction together with the new version number. A file from a newer scimd is refused.

use std::collections::BTreeMap;

use redb::ReadableTable;

use super::records::StoredResource;
use super::resources::external_key;
use super::tables::{
    EVENT_CURSORS, EVENT_FAILURES, EVENT_FEED, EVENTS, GROUP_EXTERNAL_INDEX, GROUP_MEMBERS,
    GROUP_NAME_INDEX, GROUP_NAME_INDEX_V1, GROUPS, INACTIVE_USERS, LOG_BY_SUBJECT, MEMBER_GROUPS,
    META, PROVISIONING_LOG, ROW_BUCKETS, TOKENS, UNIQUE_VALUES, USER_EXTERNAL_INDEX,
    USER_MANAGER_INDEX, USER_NAME_INDEX, USER_NAME_INDEX_V1, USERS,
};
use super::{Store, StoreError, Writer, codec, row};
use crate::domain::Kind;
use crate::domain::text::{escape, name_key};

/// The layout this binary writes. 2: `user_manager_idx.v1`. 3: `row_buckets.v1`. 4: user and
/// group rows in format 2 (`row.rs`). 5: `inactive_users.v1`. 6: the name indexes keyed by
/// `name_key` (Unicode normalisation and full case folding), `user_name_idx.v2` and
/// `group_name_idx.v2`, replacing the lower-cased v1 tables. 7: the change-event outbox
/// (`events.v1`, `event_cursors.v1`, `event_failures.v1`, and `event_feed.v1`, created on
/// open like every table), so an older scimd, which would
/// commit changes without their events, refuses the file. 8: `log_by_subject.v1`, the
/// provisioning log by the resource each entry is about (an older scimd would append entries
/// the index misses).
pub const SCHEMA_VERSION: u64 = 8;

const VERSION_KEY: &str = "schema_version";

/// Migration `i` takes a file from version `i + 1` to `i + 2`.
type Migration = fn(&mut Writer) -> Result<(), StoreError>;
const MIGRATIONS: [Migration; (SCHEMA_VERSION - 1) as usize] =
    [index_managers, count_rows, rewrite_rows, index_inactive, rekey_names, add_outbox, index_log];

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

/// 5 → 6: rebuilds the user-name and group-name indexes under `name_key` (NFKD, full case
/// folding, NFKC) in the v2 tables and drops the lower-cased v1 tables. Names that were
/// distinct lower-cased but share a key now (`straße` and `strasse`) cannot both stay
/// unique: the migration refuses, listing them, and the file stays at version 5.
fn rekey_names(w: &mut Writer) -> Result<(), StoreError> {
    let mut collisions = Vec::new();
    for (kind, rows, index, old) in [
        (Kind::User, USERS, USER_NAME_INDEX, USER_NAME_INDEX_V1),
        (Kind::Group, GROUPS, GROUP_NAME_INDEX, GROUP_NAME_INDEX_V1),
    ] {
        let mut keys: BTreeMap<String, Vec<(u128, String)>> = BTreeMap::new();
        for entry in w.tx.open_table(rows)?.iter()? {
            let (id, bytes) = entry?;
            let view = row::view(bytes.value(), kind.resource_type())?;
            if let Some(name) = row::string_attribute(&view.attributes, kind.name_attribute()) {
                keys.entry(name_key(&name)).or_default().push((id.value(), name));
            }
        }
        let mut table = w.tx.open_table(index)?;
        table.retain(|_, _| false)?;
        for (key, holders) in &keys {
            match holders.as_slice() {
                [(id, _)] => {
                    table.insert(key.as_str(), *id)?;
                }
                _ => collisions.push((kind, holders.clone())),
            }
        }
        drop(table);
        w.tx.delete_table(old)?;
    }
    if collisions.is_empty() {
        return Ok(());
    }
    Err(StoreError::NameCollisions(collision_message(&collisions)))
}

/// 6 → 7: nothing to move; the outbox tables are created empty with every other table. From
/// now on every change appends its events.
fn add_outbox(_: &mut Writer) -> Result<(), StoreError> {
    Ok(())
}

/// What an admin reads when the upgrade to schema 6 is refused.
fn collision_message(collisions: &[(Kind, Vec<(u128, String)>)]) -> String {
    const SHOWN: usize = 50;
    let mut text = format!(
        "cannot upgrade the data file to schema version {SCHEMA_VERSION}: this scimd compares \
         userName and group displayName after Unicode normalisation and full case folding \
         (so 'straße' and 'strasse', or 'Ａlice' and 'alice', are one name), and the file holds \
         {} set(s) of names that are now the same:",
        collisions.len()
    );
    for (kind, holders) in collisions.iter().take(SHOWN) {
        let names: Vec<String> = holders
            .iter()
            .map(|(id, name)| {
                let id = crate::domain::ResourceId(*id);
                format!("{} '{}' (id {id})", kind.resource_type(), escape(name))
            })
            .collect();
        text.push_str(&format!("\n  {}", names.join(" and ")));
    }
    if collisions.len() > SHOWN {
        text.push_str(&format!("\n  ... and {} more", collisions.len() - SHOWN));
    }
    text.push_str(
        "\nNothing was changed. Keep running the previous scimd version on this file, rename \
         (or delete) all but one of each set in the IdP, which sends the change to scimd (or \
         with a SCIM PATCH to /scim/v2/Users/{id} or /scim/v2/Groups/{id}), then start this \
         version again.",
    );
    text
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
    w.tx.open_table(EVENTS)?;
    w.tx.open_table(EVENT_CURSORS)?;
    w.tx.open_table(EVENT_FAILURES)?;
    w.tx.open_table(EVENT_FEED)?;
    w.tx.open_table(UNIQUE_VALUES)?;
    w.tx.open_table(LOG_BY_SUBJECT)?;
    Ok(())
}

/// 7 → 8: indexes the log entries already stored by what each is about (holding only the
/// index keys meanwhile, a few dozen bytes per entry).
fn index_log(w: &mut Writer) -> Result<(), StoreError> {
    let mut keys = Vec::new();
    for row in w.tx.open_table(PROVISIONING_LOG)?.iter()? {
        let (seq, bytes) = row?;
        if let Some(key) = super::log::index_key(&super::log::decode(seq.value(), bytes.value())?) {
            keys.push(key);
        }
    }
    let mut index = w.tx.open_table(LOG_BY_SUBJECT)?;
    for key in keys {
        index.insert(key.as_slice(), ())?;
    }
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
