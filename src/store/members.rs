//! Group membership as rows: one forward row (group ++ member) and one reverse row
//! (member ++ group) per membership, written together.
//!
//! Adding or removing one member touches two rows whatever the group's size; reading a group's
//! members or a user's groups is one prefix range.

use redb::{ReadableTable, TableDefinition};

use super::tables::{GROUP_MEMBERS, MEMBER_GROUPS};
use super::{Reader, StoreError, Writer};
use crate::domain::{Kind, ResourceId};

/// What a member is. Stored as one byte in the membership rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User = 1,
    Group = 2,
}

impl MemberKind {
    fn from_byte(b: u8) -> Result<MemberKind, StoreError> {
        match b {
            1 => Ok(MemberKind::User),
            2 => Ok(MemberKind::Group),
            other => Err(StoreError::Corrupt(format!("membership row: unknown kind {other}"))),
        }
    }

    /// The resource kind a member of this kind is.
    pub fn kind(self) -> Kind {
        match self {
            MemberKind::User => Kind::User,
            MemberKind::Group => Kind::Group,
        }
    }

    /// The member kind for a SCIM resource type name (`User`, `Group`).
    pub fn from_resource_type(name: &str) -> Option<MemberKind> {
        [MemberKind::User, MemberKind::Group].into_iter().find(|k| k.kind().resource_type() == name)
    }
}

/// One membership as read back: the other side's id and the member's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRow {
    pub id: ResourceId,
    pub kind: MemberKind,
}

fn pair_key(first: ResourceId, second: ResourceId) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&first.to_bytes());
    key[16..].copy_from_slice(&second.to_bytes());
    key
}

/// The inclusive key range of all pairs starting with `first`.
fn prefix_range(first: ResourceId) -> ([u8; 32], [u8; 32]) {
    let mut start = [0u8; 32];
    start[..16].copy_from_slice(&first.to_bytes());
    let mut end = [0xffu8; 32];
    end[..16].copy_from_slice(&first.to_bytes());
    (start, end)
}

fn id_at(key: &[u8], range: std::ops::Range<usize>) -> Result<ResourceId, StoreError> {
    let bytes: [u8; 16] = key
        .get(range)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("membership row: short key".into()))?;
    Ok(ResourceId(u128::from_be_bytes(bytes)))
}

fn second_of(key: &[u8]) -> Result<ResourceId, StoreError> {
    id_at(key, 16..32)
}

pub(super) fn rows_with_prefix(
    table: &impl ReadableTable<&'static [u8], u8>,
    first: ResourceId,
) -> Result<Vec<MemberRow>, StoreError> {
    let (start, end) = prefix_range(first);
    let mut out = Vec::new();
    for entry in table.range(start.as_slice()..=end.as_slice())? {
        let (key, kind) = entry?;
        out.push(member_row(key.value(), kind.value())?);
    }
    Ok(out)
}

/// The member row a pair key and its kind byte describe.
fn member_row(key: &[u8], kind: u8) -> Result<MemberRow, StoreError> {
    Ok(MemberRow { id: second_of(key)?, kind: MemberKind::from_byte(kind)? })
}

type PairTable = TableDefinition<'static, &'static [u8], u8>;

impl Reader {
    /// Up to `limit` members of `group` with an id above `after` (`None`: from the first),
    /// ordered by member id: a keyset page of a large group that reads only its own rows.
    pub fn members_after(
        &self,
        group: ResourceId,
        after: Option<ResourceId>,
        limit: usize,
    ) -> Result<Vec<MemberRow>, StoreError> {
        use std::ops::Bound::{Excluded, Included};
        let (start, end) = prefix_range(group);
        let from = match after {
            Some(member) => Excluded(pair_key(group, member)),
            None => Included(start),
        };
        let table = self.tx.open_table(GROUP_MEMBERS)?;
        let from = from.as_ref().map(|key| key.as_slice());
        let mut out = Vec::with_capacity(limit.min(1024));
        for entry in table.range::<&[u8]>((from, Included(end.as_slice())))?.take(limit) {
            let (key, kind) = entry?;
            out.push(member_row(key.value(), kind.value())?);
        }
        Ok(out)
    }

    /// Visits every membership as (group, member row), in group then member id order.
    pub fn each_membership(
        &self,
        mut visit: impl FnMut(ResourceId, MemberRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for entry in self.tx.open_table(GROUP_MEMBERS)?.iter()? {
            let (key, kind) = entry?;
            let member = MemberRow {
                id: second_of(key.value())?,
                kind: MemberKind::from_byte(kind.value())?,
            };
            visit(id_at(key.value(), 0..16)?, member)?;
        }
        Ok(())
    }
}

impl Writer {
    /// Adds `member` to `group`; adding an existing member changes nothing. Returns whether a
    /// row was added.
    pub fn add_member(
        &mut self,
        group: ResourceId,
        member: ResourceId,
        kind: MemberKind,
    ) -> Result<bool, StoreError> {
        self.dirty = true;
        let forward = pair_key(group, member);
        let mut members = self.tx.open_table(GROUP_MEMBERS)?;
        if members.get(forward.as_slice())?.is_some() {
            return Ok(false);
        }
        members.insert(forward.as_slice(), kind as u8)?;
        self.tx
            .open_table(MEMBER_GROUPS)?
            .insert(pair_key(member, group).as_slice(), kind as u8)?;
        Ok(true)
    }

    /// Removes `member` from `group`; removing an absent member changes nothing. Returns whether
    /// a row was removed.
    pub fn remove_member(
        &mut self,
        group: ResourceId,
        member: ResourceId,
    ) -> Result<bool, StoreError> {
        self.dirty = true;
        let was_member = {
            let mut members = self.tx.open_table(GROUP_MEMBERS)?;
            members.remove(pair_key(group, member).as_slice())?.is_some()
        };
        if !was_member {
            return Ok(false);
        }
        self.tx.open_table(MEMBER_GROUPS)?.remove(pair_key(member, group).as_slice())?;
        Ok(true)
    }

    /// Removes every membership of `group` (as a group).
    pub fn clear_members(&mut self, group: ResourceId) -> Result<(), StoreError> {
        self.remove_pairs(GROUP_MEMBERS, MEMBER_GROUPS, group)
    }

    /// Removes every row naming `id`, as a group and as a member.
    pub(super) fn remove_all_memberships_of(&mut self, id: ResourceId) -> Result<(), StoreError> {
        self.remove_pairs(GROUP_MEMBERS, MEMBER_GROUPS, id)?;
        self.remove_pairs(MEMBER_GROUPS, GROUP_MEMBERS, id)
    }

    /// Removes all rows of `table` starting with `first`, and their mirror rows in `mirror`.
    fn remove_pairs(
        &mut self,
        table: PairTable,
        mirror: PairTable,
        first: ResourceId,
    ) -> Result<(), StoreError> {
        self.dirty = true;
        let (start, end) = prefix_range(first);
        let mut seconds = Vec::new();
        {
            let mut rows = self.tx.open_table(table)?;
            let removed = rows.extract_from_if(start.as_slice()..=end.as_slice(), |_, _| true)?;
            for entry in removed {
                let (key, _) = entry?;
                seconds.push(second_of(key.value())?);
            }
        }
        let mut mirror_rows = self.tx.open_table(mirror)?;
        for second in seconds {
            mirror_rows.remove(pair_key(second, first).as_slice())?;
        }
        Ok(())
    }
}
