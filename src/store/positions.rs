//! Positions in id order: which id the `n`-th user or group has, without reading the rows
//! before it.
//!
//! `row_counts.v1` counts the rows under each 8-bit and each 16-bit prefix of the id. Finding
//! the row at offset `n` sums at most 256 coarse counts, then at most 256 fine ones, and walks
//! only the rows of one 16-bit slice (ids are random, so about `rows / 65,536` of them). The
//! counts change in the same transaction as the rows, so every snapshot agrees with itself.

use std::collections::BTreeMap;

use redb::{ReadableTable, Table};

use super::records::{Kind, ResourceId};
use super::tables::{GROUPS, ROW_COUNTS, USERS};
use super::{Reader, StoreError, Writer};

const COARSE: u8 = 0;
const FINE: u8 = 1;

fn kind_key(kind: Kind) -> u8 {
    match kind {
        Kind::User => 0,
        Kind::Group => 1,
    }
}

fn coarse_prefix(id: ResourceId) -> u16 {
    (id.0 >> 120) as u16
}

fn fine_prefix(id: ResourceId) -> u16 {
    (id.0 >> 112) as u16
}

/// Adds `delta` (+1 for a new row, -1 for a removed one) to the counts covering `id`.
fn adjust(
    table: &mut Table<(u8, u8, u16), u64>,
    kind: Kind,
    id: ResourceId,
    delta: i64,
) -> Result<(), StoreError> {
    for (level, prefix) in [(COARSE, coarse_prefix(id)), (FINE, fine_prefix(id))] {
        let key = (kind_key(kind), level, prefix);
        let old = table.get(key)?.map(|g| g.value()).unwrap_or(0);
        let new = old.checked_add_signed(delta).ok_or_else(|| {
            StoreError::Corrupt(format!("row_counts.v1: count below zero at {key:?}"))
        })?;
        match new {
            0 => table.remove(key)?,
            n => table.insert(key, n)?,
        };
    }
    Ok(())
}

impl Writer {
    /// Recomputes every count from the rows themselves.
    pub(super) fn recount_rows(&mut self) -> Result<(), StoreError> {
        let mut counts: BTreeMap<(u8, u8, u16), u64> = BTreeMap::new();
        for (kind, table) in [(Kind::User, USERS), (Kind::Group, GROUPS)] {
            for entry in self.tx.open_table(table)?.iter()? {
                let id = ResourceId(entry?.0.value());
                *counts.entry((kind_key(kind), COARSE, coarse_prefix(id))).or_default() += 1;
                *counts.entry((kind_key(kind), FINE, fine_prefix(id))).or_default() += 1;
            }
        }
        let mut table = self.tx.open_table(ROW_COUNTS)?;
        table.retain(|_, _| false)?;
        for (key, count) in counts {
            table.insert(key, count)?;
        }
        Ok(())
    }

    /// Counts a row that was added (`delta` +1) or removed (-1).
    pub(super) fn count_row(
        &mut self,
        kind: Kind,
        id: ResourceId,
        delta: i64,
    ) -> Result<(), StoreError> {
        adjust(&mut self.tx.open_table(ROW_COUNTS)?, kind, id, delta)
    }
}

/// Where the row at offset `skip` (0-based, in id order) is: the first id of its 16-bit slice
/// and how many rows of the slice come before it. None when there are not that many rows.
pub(super) fn seek(
    table: &impl ReadableTable<(u8, u8, u16), u64>,
    kind: Kind,
    skip: u64,
) -> Result<Option<(u128, u64)>, StoreError> {
    let k = kind_key(kind);
    let mut before = 0u64;
    let mut coarse = None;
    for entry in table.range((k, COARSE, 0)..=(k, COARSE, u16::MAX))? {
        let (key, count) = entry?;
        let count = count.value();
        if before + count > skip {
            coarse = Some(key.value().2);
            break;
        }
        before += count;
    }
    let Some(coarse) = coarse else { return Ok(None) };
    let first = coarse << 8;
    let last = first | 0xff;
    for entry in table.range((k, FINE, first)..=(k, FINE, last))? {
        let (key, count) = entry?;
        let count = count.value();
        if before + count > skip {
            return Ok(Some((u128::from(key.value().2) << 112, skip - before)));
        }
        before += count;
    }
    Err(StoreError::Corrupt(format!(
        "row_counts.v1: the fine counts under {coarse:#04x} do not add up to the coarse count"
    )))
}

impl Reader {
    /// [`seek`] in this snapshot.
    pub(super) fn seek(&self, kind: Kind, skip: u64) -> Result<Option<(u128, u64)>, StoreError> {
        seek(&self.tx.open_table(ROW_COUNTS)?, kind, skip)
    }
}
