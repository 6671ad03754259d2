//! The queries a read transaction ([`Reader`]) and a write transaction ([`Writer`]) both
//! answer, written once: [`ReadQueries`].
//!
//! Each transaction type says only how it opens a table ([`sealed::OpenTable`]); the queries
//! are default methods over that, so a lookup made while rendering a read and the same lookup
//! made inside a write (a uniqueness check, a member reference) cannot drift apart. What only a
//! snapshot can do (rows read in place, pages, scans, counts, the log) stays on [`Reader`];
//! what changes tables stays on [`Writer`].

use redb::{Key, ReadOnlyTable, ReadableTable, TableDefinition, Value};

use super::events::{self, EventCursor};
use super::members::{MemberRow, rows_with_prefix};
use super::records::StoredResource;
use super::resources::{decode_row, externals, ids_by_external_in, names, rows};
use super::row;
use super::tables::{
    EVENT_CURSORS, EVENTS, GROUP_MEMBERS, MEMBER_GROUPS, TOKENS, USER_MANAGER_INDEX,
};
use super::tokens::{self, StoredToken};
use super::{Reader, StoreError, Writer};
use crate::domain::text::name_key;
use crate::domain::{Kind, ResourceId};

mod sealed {
    use redb::{Key, ReadableTable, TableDefinition, Value};

    use crate::store::StoreError;

    /// How a transaction opens a table for reading. Sealed (this module is private), so only
    /// the store implements it and names its tables; outside, [`super::ReadQueries`] offers the
    /// queries made over it.
    pub trait OpenTable {
        /// The table handle this transaction hands out.
        type Table<'t, K: Key + 'static, V: Value + 'static>: ReadableTable<K, V>
        where
            Self: 't;

        fn open<K: Key + 'static, V: Value + 'static>(
            &self,
            table: TableDefinition<'_, K, V>,
        ) -> Result<Self::Table<'_, K, V>, StoreError>;
    }
}

impl sealed::OpenTable for Reader {
    type Table<'t, K: Key + 'static, V: Value + 'static> = ReadOnlyTable<K, V>;

    fn open<K: Key + 'static, V: Value + 'static>(
        &self,
        table: TableDefinition<'_, K, V>,
    ) -> Result<ReadOnlyTable<K, V>, StoreError> {
        Ok(self.tx.open_table(table)?)
    }
}

impl sealed::OpenTable for Writer {
    type Table<'t, K: Key + 'static, V: Value + 'static> = redb::Table<'t, K, V>;

    fn open<K: Key + 'static, V: Value + 'static>(
        &self,
        table: TableDefinition<'_, K, V>,
    ) -> Result<redb::Table<'_, K, V>, StoreError> {
        Ok(self.tx.open_table(table)?)
    }
}

/// Lookups by key and by index, answered the same inside a read or a write transaction (a
/// write sees its own changes). Bring it into scope to call them on a [`Reader`] or a
/// [`Writer`], or take `&impl ReadQueries` to work inside either.
pub trait ReadQueries: sealed::OpenTable {
    /// The resource `id` of `kind`, decoded.
    fn get(&self, kind: Kind, id: ResourceId) -> Result<Option<StoredResource>, StoreError> {
        match self.open(rows(kind))?.get(id.0)? {
            Some(guard) => Ok(Some(decode_row(kind, guard.value())?)),
            None => Ok(None),
        }
    }

    /// The name (`userName` / `displayName`) of one resource, if it exists and has one,
    /// without decoding the rest of the row.
    fn name_of(&self, kind: Kind, id: ResourceId) -> Result<Option<String>, StoreError> {
        match self.open(rows(kind))?.get(id.0)? {
            Some(guard) => {
                let view = row::view(guard.value(), kind.resource_type())?;
                Ok(row::string_attribute(&view.attributes, kind.name_attribute()))
            }
            None => Ok(None),
        }
    }

    /// The id of the resource whose name equals `name` under [`name_key`].
    fn id_by_name(&self, kind: Kind, name: &str) -> Result<Option<ResourceId>, StoreError> {
        let table = self.open(names(kind))?;
        Ok(table.get(name_key(name).as_str())?.map(|g| ResourceId(g.value())))
    }

    /// Ids of the resources whose `externalId` is exactly `external_id`, in id order.
    /// Which resource of `kind` holds `value` of the declared unique `attr` of `schema`.
    fn unique_owner(
        &self,
        kind: Kind,
        schema: &crate::scim::schema::SchemaDef,
        attr: &crate::scim::schema::AttrDef,
        value: &str,
    ) -> Result<Option<ResourceId>, StoreError> {
        let key = super::unique::unique_key(kind, schema, attr, value);
        Ok(self
            .open(super::tables::UNIQUE_VALUES)?
            .get(key.as_slice())?
            .map(|g| ResourceId(g.value())))
    }

    fn ids_by_external_id(
        &self,
        kind: Kind,
        external_id: &str,
    ) -> Result<Vec<ResourceId>, StoreError> {
        ids_by_external_in(&self.open(externals(kind))?, external_id)
    }

    /// Ids of the users whose `manager.value` is exactly `manager`, in id order.
    fn users_managed_by(&self, manager: &str) -> Result<Vec<ResourceId>, StoreError> {
        ids_by_external_in(&self.open(USER_MANAGER_INDEX)?, manager)
    }

    /// The members of `group`, ordered by member id.
    fn members_of(&self, group: ResourceId) -> Result<Vec<MemberRow>, StoreError> {
        rows_with_prefix(&self.open(GROUP_MEMBERS)?, group)
    }

    /// The groups `member` belongs to directly, ordered by group id.
    fn groups_of(&self, member: ResourceId) -> Result<Vec<ResourceId>, StoreError> {
        Ok(rows_with_prefix(&self.open(MEMBER_GROUPS)?, member)?
            .into_iter()
            .map(|row| row.id)
            .collect())
    }

    /// The token row `id`, revoked or not.
    fn token(&self, id: &str) -> Result<Option<StoredToken>, StoreError> {
        let table = self.open(TOKENS)?;
        let row = table.get(id)?;
        row.map(|g| tokens::decode(g.value())).transpose()
    }

    /// `receiver`'s event cursor, if it has one.
    fn event_cursor(&self, receiver: &str) -> Result<Option<EventCursor>, StoreError> {
        let table = self.open(EVENT_CURSORS)?;
        let row = table.get(receiver)?;
        row.map(|g| events::decode_cursor(g.value())).transpose()
    }

    /// Every receiver's event cursor, by name.
    fn event_cursors(&self) -> Result<Vec<(String, EventCursor)>, StoreError> {
        let table = self.open(EVENT_CURSORS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (name, bytes) = row?;
            out.push((name.value().to_string(), events::decode_cursor(bytes.value())?));
        }
        Ok(out)
    }

    /// The sequence number of the newest event (0 when there is none).
    fn last_event_seq(&self) -> Result<u64, StoreError> {
        Ok(self.open(EVENTS)?.last()?.map_or(0, |(seq, _)| seq.value()))
    }

    /// Whether any token exists (revoked or not): the first start creates one only when none.
    fn has_tokens(&self) -> Result<bool, StoreError> {
        Ok(self.open(TOKENS)?.first()?.is_some())
    }
}

impl ReadQueries for Reader {}
impl ReadQueries for Writer {}
