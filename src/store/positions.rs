//! Positions in id order: which id the `n`-th user or group has, without reading the rows
//! before it.
//!
//! `row_buckets.v1` holds, per kind, how many rows have each 12-bit id prefix (4,096 counts).
//! Finding the row at offset `n` sums those counts to the prefix holding it and walks only the
//! rows of that slice before it (ids are random, so about `rows / 8,192` on average). Changes
//! count their rows in memory ([`Writer::count_row`]) and the counts are written once, just
//! before the transaction commits, so they always agree with the rows of the same snapshot.

use std::collections::BTreeMap;

use redb::ReadableTable;

use super::tables::{GROUPS, ROW_BUCKETS, USERS};
use super::{Reader, StoreError, Writer};
use crate::domain::{Kind, ResourceId};

const BUCKETS: usize = 4096;
const BUCKET_SHIFT: u32 = 128 - 12;

fn kind_key(kind: Kind) -> u8 {
    match kind {
        Kind::User => 0,
        Kind::Group => 1,
    }
}

fn bucket(id: ResourceId) -> usize {
    (id.0 >> BUCKET_SHIFT) as usize
}

/// Row counts added in a transaction and not yet written: kind -> bucket -> delta.
#[derive(Debug, Default)]
pub(super) struct PendingCounts(BTreeMap<u8, BTreeMap<usize, i64>>);

fn decode(bytes: &[u8]) -> Result<Vec<u32>, StoreError> {
    if bytes.len() != BUCKETS * 4 {
        return Err(StoreError::Corrupt(format!(
            "row_buckets.v1: a value of {} bytes, expected {}",
            bytes.len(),
            BUCKETS * 4
        )));
    }
    Ok(bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect())
}

fn encode(counts: &[u32]) -> Vec<u8> {
    counts.iter().flat_map(|c| c.to_be_bytes()).collect()
}

impl Writer {
    /// Counts a row that was added (`delta` +1) or removed (-1); written at commit.
    pub(super) fn count_row(&mut self, kind: Kind, id: ResourceId, delta: i64) {
        *self.pending_counts.0.entry(kind_key(kind)).or_default().entry(bucket(id)).or_default() +=
            delta;
    }

    /// Writes the counts [`Writer::count_row`] gathered into `row_buckets.v1`.
    pub(super) fn write_pending_counts(&mut self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut self.pending_counts);
        if pending.0.is_empty() {
            return Ok(());
        }
        let mut table = self.tx.open_table(ROW_BUCKETS)?;
        for (kind, deltas) in pending.0 {
            let mut counts = match table.get(kind)? {
                Some(bytes) => decode(bytes.value())?,
                None => vec![0; BUCKETS],
            };
            for (bucket, delta) in deltas {
                let count = counts.get_mut(bucket).ok_or_else(|| {
                    StoreError::Corrupt(format!("row_buckets.v1: no bucket {bucket}"))
                })?;
                *count = u32::try_from(i64::from(*count) + delta).map_err(|_| {
                    StoreError::Corrupt(format!("row_buckets.v1: bucket {bucket} out of range"))
                })?;
            }
            table.insert(kind, encode(&counts).as_slice())?;
        }
        Ok(())
    }

    /// Recomputes every count from the rows themselves.
    pub(super) fn recount_rows(&mut self) -> Result<(), StoreError> {
        self.pending_counts = PendingCounts::default();
        let mut all = Vec::new();
        for (kind, table) in [(Kind::User, USERS), (Kind::Group, GROUPS)] {
            let mut counts = vec![0u32; BUCKETS];
            for entry in self.tx.open_table(table)?.iter()? {
                if let Some(count) = counts.get_mut(bucket(ResourceId(entry?.0.value()))) {
                    *count += 1;
                }
            }
            all.push((kind_key(kind), counts));
        }
        let mut table = self.tx.open_table(ROW_BUCKETS)?;
        for (kind, counts) in all {
            table.insert(kind, encode(&counts).as_slice())?;
        }
        Ok(())
    }
}

impl Reader {
    /// Where the row at offset `skip` (0-based, in id order) is: the first id of its 12-bit
    /// slice and how many rows of the slice come before it. None when there are not that many.
    pub(super) fn seek(&self, kind: Kind, skip: u64) -> Result<Option<(u128, u64)>, StoreError> {
        let table = self.tx.open_table(ROW_BUCKETS)?;
        let Some(bytes) = table.get(kind_key(kind))? else {
            return Ok(None);
        };
        let mut before = 0u64;
        for (bucket, count) in decode(bytes.value())?.into_iter().enumerate() {
            let count = u64::from(count);
            if before + count > skip {
                return Ok(Some(((bucket as u128) << BUCKET_SHIFT, skip - before)));
            }
            before += count;
        }
        Ok(None)
    }
}
