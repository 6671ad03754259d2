//! User and group rows and the indexes kept beside them (name and `externalId`).
//!
//! Index rows are written in the same transaction as the resource row, so they can never
//! disagree with it. Uniqueness is decided by the caller (`service`), which looks up the name
//! index before writing; `put` only keeps the indexes in step. Lookups a write makes too (by id,
//! name, externalId, manager) are [`ReadQueries`] methods (`queries.rs`); what is here on
//! `Reader` answers only snapshots: prefixes, counts, pages and scans.

use redb::{AccessGuard, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::records::StoredResource;
use super::row::{self, StoredView};
use super::tables::{
    GROUP_EXTERNAL_INDEX, GROUP_NAME_INDEX, GROUPS, INACTIVE_USERS, USER_EXTERNAL_INDEX,
    USER_MANAGER_INDEX, USER_NAME_INDEX, USERS,
};
use super::{ReadQueries, Reader, StoreError, Writer};
use crate::domain::text::name_key;
use crate::domain::{Kind, ResourceId};

type RowTable = TableDefinition<'static, u128, &'static [u8]>;
type NameTable = TableDefinition<'static, &'static str, u128>;
type ExternalTable = TableDefinition<'static, &'static [u8], ()>;

pub(super) fn rows(kind: Kind) -> RowTable {
    match kind {
        Kind::User => USERS,
        Kind::Group => GROUPS,
    }
}

pub(super) fn names(kind: Kind) -> NameTable {
    match kind {
        Kind::User => USER_NAME_INDEX,
        Kind::Group => GROUP_NAME_INDEX,
    }
}

pub(super) fn externals(kind: Kind) -> ExternalTable {
    match kind {
        Kind::User => USER_EXTERNAL_INDEX,
        Kind::Group => GROUP_EXTERNAL_INDEX,
    }
}

/// The key of an index whose rows are `value ++ 0x00 ++ id` (externalId, manager).
pub(super) fn external_key(external_id: &str, id: ResourceId) -> Vec<u8> {
    let mut key = Vec::with_capacity(external_id.len() + 17);
    key.extend_from_slice(external_id.as_bytes());
    key.push(0);
    key.extend_from_slice(&id.to_bytes());
    key
}

/// The key range holding every id indexed under `external_id`.
fn external_prefix_range(external_id: &str) -> (Vec<u8>, Vec<u8>) {
    let mut start = external_id.as_bytes().to_vec();
    start.push(0);
    let mut end = start.clone();
    end.extend_from_slice(&[0xff; 17]);
    (start, end)
}

pub(super) fn decode_row(kind: Kind, bytes: &[u8]) -> Result<StoredResource, StoreError> {
    row::decode(bytes, kind.resource_type())
}

/// One row's stored bytes, held without copying (the read transaction's page stays alive
/// while this lives). [`RawRow::view`] reads it in place.
pub struct RawRow {
    kind: Kind,
    bytes: AccessGuard<'static, &'static [u8]>,
}

impl RawRow {
    pub fn view(&self) -> Result<StoredView<'_>, StoreError> {
        row::view(self.bytes.value(), self.kind.resource_type())
    }

    /// The row decoded into an owned resource.
    pub fn decode(&self) -> Result<StoredResource, StoreError> {
        decode_row(self.kind, self.bytes.value())
    }
}

pub(super) fn ids_by_external_in(
    table: &impl ReadableTable<&'static [u8], ()>,
    external_id: &str,
) -> Result<Vec<ResourceId>, StoreError> {
    let (start, end) = external_prefix_range(external_id);
    ids_in_range(table, start.as_slice(), end.as_slice())
}

/// The ids ending the keys of a `value ++ 0x00 ++ id` index in `start..end`, in key order.
fn ids_in_range(
    table: &impl ReadableTable<&'static [u8], ()>,
    start: &[u8],
    end: &[u8],
) -> Result<Vec<ResourceId>, StoreError> {
    let mut ids = Vec::new();
    for entry in table.range(start..end)? {
        let (key, _) = entry?;
        let key = key.value();
        let id_bytes: [u8; 16] = key
            .get(key.len().saturating_sub(16)..)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| StoreError::Corrupt("index: short key".into()))?;
        ids.push(ResourceId(u128::from_be_bytes(id_bytes)));
    }
    Ok(ids)
}

impl Reader {
    /// Ids of the resources whose name key starts with `prefix`'s key, in key order. The same
    /// test the filter evaluator makes for `sw`, so this is exactly its candidate set.
    pub fn ids_by_name_prefix(
        &self,
        kind: Kind,
        prefix: &str,
    ) -> Result<Vec<ResourceId>, StoreError> {
        let table = self.tx.open_table(names(kind))?;
        let prefix = name_key(prefix);
        let mut ids = Vec::new();
        for entry in table.range(prefix.as_str()..)? {
            let (key, id) = entry?;
            if !key.value().starts_with(prefix.as_str()) {
                break;
            }
            ids.push(ResourceId(id.value()));
        }
        Ok(ids)
    }

    /// Ids of the resources whose `externalId` starts with `prefix` (case-sensitively).
    pub fn ids_by_external_prefix(
        &self,
        kind: Kind,
        prefix: &str,
    ) -> Result<Vec<ResourceId>, StoreError> {
        let table = self.tx.open_table(externals(kind))?;
        // UTF-8 never contains 0xff, so every key starting with `prefix` sorts below this.
        let mut end = prefix.as_bytes().to_vec();
        end.push(0xff);
        ids_in_range(&table, prefix.as_bytes(), end.as_slice())
    }

    pub fn count(&self, kind: Kind) -> Result<u64, StoreError> {
        Ok(self.tx.open_table(rows(kind))?.len()?)
    }

    /// How many users are deactivated.
    pub fn inactive_users(&self) -> Result<u64, StoreError> {
        Ok(self.tx.open_table(INACTIVE_USERS)?.len()?)
    }

    /// How many entries the name and externalId indexes of `kind` hold.
    pub fn index_sizes(&self, kind: Kind) -> Result<(u64, u64), StoreError> {
        Ok((self.tx.open_table(names(kind))?.len()?, self.tx.open_table(externals(kind))?.len()?))
    }

    /// One row's bytes, to be read in place ([`RawRow::view`]).
    pub fn get_raw(&self, kind: Kind, id: ResourceId) -> Result<Option<RawRow>, StoreError> {
        let table = self.tx.open_table(rows(kind))?;
        Ok(table.get(id.0)?.map(|bytes| RawRow { kind, bytes }))
    }

    /// Up to `take` rows in id order after skipping `skip`, none of them decoded.
    pub fn page(&self, kind: Kind, skip: u64, take: u64) -> Result<Vec<RawRow>, StoreError> {
        let Some((from, skip)) = self.seek(kind, skip)? else {
            return Ok(Vec::new());
        };
        let table = self.tx.open_table(rows(kind))?;
        let mut out = Vec::new();
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let take = usize::try_from(take).unwrap_or(usize::MAX);
        for entry in table.range(from..)?.skip(skip).take(take) {
            let (_, bytes) = entry?;
            out.push(RawRow { kind, bytes });
        }
        Ok(out)
    }

    /// Up to `limit` entries of `kind`'s name index after the key `after` (exclusive;
    /// `None`: from the first), as (name key, id), in name-key order or, with `descending`,
    /// its reverse: a keyset page that reads only the entries it returns.
    pub fn names_after(
        &self,
        kind: Kind,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<Vec<(String, ResourceId)>, StoreError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let table = self.tx.open_table(names(kind))?;
        let bounds = match (after, descending) {
            (None, _) => (Unbounded, Unbounded),
            (Some(key), false) => (Excluded(key), Unbounded),
            (Some(key), true) => (Unbounded, Excluded(key)),
        };
        let range = table.range::<&str>(bounds)?;
        let entries: Box<dyn Iterator<Item = _>> =
            if descending { Box::new(range.rev()) } else { Box::new(range) };
        let mut out = Vec::with_capacity(limit.min(1024));
        for entry in entries.take(limit) {
            let (key, id) = entry?;
            out.push((key.value().to_string(), ResourceId(id.value())));
        }
        Ok(out)
    }

    /// Visits every resource of `kind` in id order (a stable order) until `visit` returns false
    /// or fails; its error, of the caller's own type, is returned as it is.
    pub fn scan<E: From<StoreError>>(
        &self,
        kind: Kind,
        mut visit: impl FnMut(StoredResource) -> Result<bool, E>,
    ) -> Result<(), E> {
        let table = self.tx.open_table(rows(kind)).map_err(StoreError::from)?;
        for entry in table.iter().map_err(StoreError::from)? {
            let (_, value) = entry.map_err(StoreError::from)?;
            if !visit(decode_row(kind, value.value())?)? {
                break;
            }
        }
        Ok(())
    }
}

impl Writer {
    /// Visits every resource of `kind` in id order, as this transaction sees them (an index
    /// built from them inside the same write cannot miss a concurrent change).
    pub fn each_row(
        &self,
        kind: Kind,
        mut visit: impl FnMut(StoredResource) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let table = self.tx.open_table(rows(kind))?;
        for entry in table.iter()? {
            let (_, value) = entry?;
            visit(decode_row(kind, value.value())?)?;
        }
        Ok(())
    }

    /// Writes `new` and brings the name and externalId indexes in step with it. `old` is the
    /// row it replaces (None for a create). The caller has checked that the name is free.
    pub fn put(
        &mut self,
        kind: Kind,
        new: &StoredResource,
        old: Option<&StoredResource>,
    ) -> Result<(), StoreError> {
        self.dirty = true;
        let bytes = row::encode(new)?;
        let replaced =
            self.tx.open_table(rows(kind))?.insert(new.id.0, bytes.as_slice())?.is_some();
        if !replaced {
            self.count_row(kind, new.id, 1);
        }

        let (old_name, new_name) = (old.and_then(|o| o.name(kind)), new.name(kind));
        if old_name.map(name_key) != new_name.map(name_key) {
            let mut table = self.tx.open_table(names(kind))?;
            if let Some(name) = old_name {
                table.remove(name_key(name).as_str())?;
            }
            if let Some(name) = new_name {
                table.insert(name_key(name).as_str(), new.id.0)?;
            }
        }

        if kind == Kind::User && old.is_some_and(StoredResource::is_inactive) != new.is_inactive() {
            let mut table = self.tx.open_table(INACTIVE_USERS)?;
            if new.is_inactive() {
                table.insert(new.id.0, ())?;
            } else {
                table.remove(new.id.0)?;
            }
        }

        if kind == Kind::User {
            let (old_mgr, new_mgr) = (old.and_then(|o| o.manager()), new.manager());
            if old_mgr != new_mgr {
                let mut table = self.tx.open_table(USER_MANAGER_INDEX)?;
                if let Some(m) = old_mgr {
                    table.remove(external_key(m, new.id).as_slice())?;
                }
                if let Some(m) = new_mgr {
                    table.insert(external_key(m, new.id).as_slice(), ())?;
                }
            }
        }

        self.follow_unique_values(kind, new.id, old.map(|o| &o.attributes), Some(&new.attributes))?;

        let (old_ext, new_ext) = (old.and_then(|o| o.external_id()), new.external_id());
        if old_ext != new_ext {
            let mut table = self.tx.open_table(externals(kind))?;
            if let Some(ext) = old_ext {
                table.remove(external_key(ext, new.id).as_slice())?;
            }
            if let Some(ext) = new_ext {
                table.insert(external_key(ext, new.id).as_slice(), ())?;
            }
        }
        Ok(())
    }

    /// Removes a resource, its index rows and every membership row naming it (as a group or as
    /// a member). Returns the removed row, or None if there was none.
    pub fn delete(
        &mut self,
        kind: Kind,
        id: ResourceId,
    ) -> Result<Option<StoredResource>, StoreError> {
        self.dirty = true;
        let Some(old) = self.get(kind, id)? else {
            return Ok(None);
        };
        self.tx.open_table(rows(kind))?.remove(id.0)?;
        self.count_row(kind, id, -1);
        if let Some(name) = old.name(kind) {
            self.tx.open_table(names(kind))?.remove(name_key(name).as_str())?;
        }
        if let Some(ext) = old.external_id() {
            self.tx.open_table(externals(kind))?.remove(external_key(ext, id).as_slice())?;
        }
        if let (Kind::User, Some(m)) = (kind, old.manager()) {
            self.tx.open_table(USER_MANAGER_INDEX)?.remove(external_key(m, id).as_slice())?;
        }
        if kind == Kind::User && old.is_inactive() {
            self.tx.open_table(INACTIVE_USERS)?.remove(id.0)?;
        }
        self.follow_unique_values(kind, id, Some(&old.attributes), None)?;
        self.remove_all_memberships_of(id)?;
        Ok(Some(old))
    }
}
