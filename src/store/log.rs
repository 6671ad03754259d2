//! The provisioning log: one row per write and per refused write, appended in the same
//! transaction as the change it describes.
//!
//! A row is keyed by its sequence number and holds the entry as JSON without `seq`, packed
//! with [`Dictionary::LogV1`] behind the format byte 2. Rows of format 1 (the plain
//! [`codec`] envelope, written before packing) are read as they are.

use redb::{AccessGuard, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::pack::{self, Dictionary};
use super::tables::{LOG_BY_SUBJECT, PROVISIONING_LOG};
use super::{Reader, StoreError, Writer, codec};
use crate::domain::ResourceId;
use crate::domain::text::name_key;

const FORMAT_PACKED: u8 = 2;

/// One provisioning decision: who asked for what, and what scimd did and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Assigned by the store on append; increasing from 1. Stored as the row's key.
    #[serde(default, skip_serializing_if = "is_unassigned")]
    pub seq: u64,
    pub time: String,
    /// The name of the token that made the request.
    pub token: String,
    /// create, replace, delete, ...
    pub operation: String,
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// userName or displayName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How the user's roles were decided, for writes that decided them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<String>,
}

fn is_unassigned(seq: &u64) -> bool {
    *seq == 0
}

/// The row value of `entry`, whose `seq` must be 0 (the key holds it; 0 is not serialised).
fn encode(entry: &LogEntry) -> Result<Vec<u8>, StoreError> {
    debug_assert_eq!(entry.seq, 0);
    let json = serde_json::to_vec(entry)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a log entry: {e}")))?;
    let mut out = Vec::with_capacity(json.len() / 2 + 8);
    out.push(FORMAT_PACKED);
    pack::pack(&json, Dictionary::LogV1, &mut out)?;
    Ok(out)
}

pub(super) fn decode(seq: u64, bytes: &[u8]) -> Result<LogEntry, StoreError> {
    let what = format!("log entry {seq}");
    let mut entry: LogEntry = match bytes.split_first() {
        Some((&FORMAT_PACKED, packed)) => {
            let json = pack::unpack(packed, Dictionary::LogV1, &what)?;
            serde_json::from_slice(&json)
                .map_err(|e| StoreError::Corrupt(format!("{what}: undecodable row: {e}")))?
        }
        _ => codec::decode(bytes, &what)?,
    };
    entry.seq = seq;
    Ok(entry)
}

impl Writer {
    /// Appends `entry` with the next sequence number (any `seq` it carries is ignored).
    pub fn append_log(&mut self, mut entry: LogEntry) -> Result<u64, StoreError> {
        self.dirty = true;
        let mut table = self.tx.open_table(PROVISIONING_LOG)?;
        let seq = match table.last()? {
            Some((key, _)) => key.value() + 1,
            None => 1,
        };
        entry.seq = 0;
        let bytes = encode(&entry)?;
        table.insert(seq, bytes.as_slice())?;
        drop(table);
        entry.seq = seq;
        self.index_log(&entry)?;
        Ok(seq)
    }

    /// Adds `entry` (its `seq` set) to the by-subject index.
    fn index_log(&mut self, entry: &LogEntry) -> Result<(), StoreError> {
        if let Some(key) = index_key(entry) {
            self.tx.open_table(LOG_BY_SUBJECT)?.insert(key.as_slice(), ())?;
        }
        Ok(())
    }

    /// Writes `entry` under its own sequence number (restoring a backup).
    pub fn restore_log(&mut self, mut entry: LogEntry) -> Result<(), StoreError> {
        let seq = std::mem::take(&mut entry.seq);
        if seq == 0 {
            return Err(StoreError::Corrupt("a log entry without a sequence number".into()));
        }
        self.dirty = true;
        let bytes = encode(&entry)?;
        self.tx.open_table(PROVISIONING_LOG)?.insert(seq, bytes.as_slice())?;
        entry.seq = seq;
        self.index_log(&entry)
    }

    /// Deletes up to `max` of the oldest entries whose time is before `cutoff` (RFC 3339 UTC
    /// with milliseconds, as every entry's time is written, so the strings order as times).
    /// Returns how many it deleted; fewer than `max` means none older are left. The newest
    /// entry is always kept: it carries the sequence number the next append continues from.
    pub fn prune_log(&mut self, cutoff: &str, max: usize) -> Result<usize, StoreError> {
        let mut unindexed = Vec::new();
        let pruned = self.prune_oldest(PROVISIONING_LOG, u64::MAX, max, |seq, bytes| {
            let entry = decode(seq, bytes)?;
            let expired = entry.time.as_str() < cutoff;
            if let Some(key) = index_key(&entry).filter(|_| expired) {
                unindexed.push(key);
            }
            Ok(expired)
        })?;
        let mut index = self.tx.open_table(LOG_BY_SUBJECT)?;
        for key in unindexed {
            index.remove(key.as_slice())?;
        }
        Ok(pruned)
    }

    /// Deletes up to `max` of the oldest rows of a sequence-keyed `table`, below sequence number
    /// `below`, for as long as `expired` says so (it stops at the first row it keeps). The
    /// newest row is always kept, so sequence numbers never repeat. Returns how many it deleted.
    pub(super) fn prune_oldest(
        &mut self,
        table: redb::TableDefinition<'static, u64, &'static [u8]>,
        below: u64,
        max: usize,
        mut expired: impl FnMut(u64, &[u8]) -> Result<bool, StoreError>,
    ) -> Result<usize, StoreError> {
        let mut table = self.tx.open_table(table)?;
        let Some(newest) = table.last()?.map(|(seq, _)| seq.value()) else {
            return Ok(0);
        };
        let mut doomed = Vec::new();
        for row in table.range(..newest.min(below))?.take(max) {
            let (seq, bytes) = row?;
            if !expired(seq.value(), bytes.value())? {
                break;
            }
            doomed.push(seq.value());
        }
        if !doomed.is_empty() {
            self.dirty = true;
        }
        for seq in &doomed {
            table.remove(seq)?;
        }
        Ok(doomed.len())
    }
}

impl Reader {
    /// The newest `limit` entries that `wanted` accepts, newest first.
    pub fn recent_log(
        &self,
        limit: usize,
        wanted: impl Fn(&LogEntry) -> bool,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let table = self.tx.open_table(PROVISIONING_LOG)?;
        first_matching(table.iter()?.rev(), limit, wanted)
    }

    /// The oldest `limit` entries after sequence number `after` that `wanted` accepts, oldest
    /// first.
    pub fn log_after(
        &self,
        after: u64,
        limit: usize,
        wanted: impl Fn(&LogEntry) -> bool,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let table = self.tx.open_table(PROVISIONING_LOG)?;
        first_matching(table.range(after.saturating_add(1)..)?, limit, wanted)
    }

    /// Entries `wanted` accepts, newest first, among the `budget` newest entries below
    /// sequence number `before` (`None`: the newest entry): at most `limit` of them. Returns
    /// them with where an older look goes on (the `before` of the next call; `None` once the
    /// oldest entry was looked at), so one call reads a bounded number of rows however rare
    /// the wanted entries are.
    pub fn log_before(
        &self,
        before: Option<u64>,
        limit: usize,
        budget: usize,
        wanted: impl Fn(&LogEntry) -> bool,
    ) -> Result<(Vec<LogEntry>, Option<u64>), StoreError> {
        let table = self.tx.open_table(PROVISIONING_LOG)?;
        let rows = match before {
            Some(seq) => table.range(..seq)?,
            None => table.range(0..)?,
        };
        let mut out = Vec::new();
        let mut last_seq = None;
        for (looked, row) in rows.rev().enumerate() {
            if out.len() >= limit || looked >= budget {
                return Ok((out, last_seq));
            }
            let (seq, bytes) = row?;
            last_seq = Some(seq.value());
            let entry = decode(seq.value(), bytes.value())?;
            if wanted(&entry) {
                out.push(entry);
            }
        }
        Ok((out, None))
    }

    /// The newest `limit` entries about `subjects` (a resource's id, and its name for the
    /// entries that have no id), newest first, read through the by-subject index: one seek per
    /// subject and bucket of 128 entries, from the newest bucket back until `limit` are found,
    /// whatever else the log holds in between.
    pub fn log_about(
        &self,
        subjects: &[Subject],
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let index = self.tx.open_table(LOG_BY_SUBJECT)?;
        let newest = self.last_log_seq()?;
        let prefixes: Vec<Vec<u8>> = subjects.iter().map(subject_key).collect();
        let mut seqs = Vec::new();
        // Newest bucket first; one seek per subject and bucket, until `limit` are found.
        for bucket in (0..=bucket_of(newest)).rev() {
            for prefix in &prefixes {
                let (low, high) = (key_in(bucket, prefix, 0), key_in(bucket, prefix, u64::MAX));
                for row in index.range(low.as_slice()..=high.as_slice())?.rev() {
                    let (key, _) = row?;
                    let key = key.value();
                    let tail: [u8; 8] = key[key.len() - 8..].try_into().unwrap_or([0; 8]);
                    seqs.push(u64::from_be_bytes(tail));
                }
            }
            if seqs.len() >= limit {
                break;
            }
        }
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        seqs.dedup();
        seqs.truncate(limit);
        let table = self.tx.open_table(PROVISIONING_LOG)?;
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            if let Some(bytes) = table.get(seq)? {
                let entry = decode(seq, bytes.value())?;
                // The name key is truncated and folded: keep only entries really about it.
                if subjects.iter().any(|s| s.matches(&entry)) {
                    out.push(entry);
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` entries `wanted` accepts among those written at `since` (RFC 3339, as
    /// entries are written) or later, newest first: it reads back from the newest entry and
    /// stops at the first older one, or after `budget` entries.
    pub fn log_since(
        &self,
        since: &str,
        limit: usize,
        budget: usize,
        wanted: impl Fn(&LogEntry) -> bool,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let table = self.tx.open_table(PROVISIONING_LOG)?;
        let mut out = Vec::new();
        for row in table.iter()?.rev().take(budget) {
            let (seq, bytes) = row?;
            let entry = decode(seq.value(), bytes.value())?;
            if entry.time.as_str() < since || out.len() >= limit {
                break;
            }
            if wanted(&entry) {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// How many entries the log holds.
    pub fn log_len(&self) -> Result<u64, StoreError> {
        Ok(self.tx.open_table(PROVISIONING_LOG)?.len()?)
    }

    /// The sequence number of the newest entry (0 when the log is empty).
    pub fn last_log_seq(&self) -> Result<u64, StoreError> {
        let table = self.tx.open_table(PROVISIONING_LOG)?;
        Ok(table.last()?.map_or(0, |(seq, _)| seq.value()))
    }
}

/// The first `limit` entries of `rows`, in its order, that `wanted` accepts.
fn first_matching<'a>(
    rows: impl Iterator<
        Item = Result<(AccessGuard<'a, u64>, AccessGuard<'a, &'static [u8]>), redb::StorageError>,
    >,
    limit: usize,
    wanted: impl Fn(&LogEntry) -> bool,
) -> Result<Vec<LogEntry>, StoreError> {
    let mut out = Vec::new();
    for row in rows {
        if out.len() >= limit {
            break;
        }
        let (seq, bytes) = row?;
        let entry = decode(seq.value(), bytes.value())?;
        if wanted(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn packs_entries_and_still_reads_format_1() {
        let entry = LogEntry {
            seq: 7,
            time: "2026-11-24T10:00:00.123Z".into(),
            token: "entra".into(),
            operation: "create".into(),
            resource_type: "User".into(),
            resource_id: Some("3f5ef7f6-82fe-4022-a8f9-e11623df239d".into()),
            name: Some("adele.vance@contoso.example".into()),
            status: 201,
            scim_type: None,
            detail: None,
            roles: Some("from userType 'Employee': member".into()),
        };
        let packed = encode(&LogEntry { seq: 0, ..entry.clone() }).unwrap();
        let plain = codec::encode(&entry).unwrap();
        assert!(packed.len() * 10 < plain.len() * 7, "{} vs {}", packed.len(), plain.len());
        assert_eq!(decode(7, &packed).unwrap(), entry);
        assert_eq!(decode(7, &plain).unwrap(), entry);
        // The key is the sequence number, whatever an old row says.
        assert_eq!(decode(9, &plain).unwrap().seq, 9);
        assert!(decode(7, &packed[..packed.len() - 1]).is_err());
        assert!(decode(7, &[]).is_err());
    }
}

/// What a log entry is about, as the by-subject index keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The resource the entry names by id.
    Id(ResourceId),
    /// A `resource_type` resource named so, for entries that name no resource id (a refused
    /// create).
    Name { resource_type: String, name: String },
}

/// Name bytes a subject key keeps; longer names share a key and are told apart on reading.
const SUBJECT_NAME_BYTES: usize = 200;

impl Subject {
    /// The subject `entry` is indexed under: its resource id when it has a well-formed one,
    /// else its name; `None` for entries about neither (a token change, a sign-in).
    pub fn of(entry: &LogEntry) -> Option<Subject> {
        if let Some(id) = entry.resource_id.as_deref() {
            // A refused request may name an id that is not one (`/Users/<junk>`): not indexed.
            return ResourceId::parse(id).map(Subject::Id);
        }
        let name = entry.name.as_deref()?;
        Some(Subject::Name { resource_type: entry.resource_type.clone(), name: name.to_string() })
    }

    fn matches(&self, entry: &LogEntry) -> bool {
        match self {
            Subject::Id(id) => {
                entry.resource_id.as_deref().and_then(ResourceId::parse) == Some(*id)
            }
            Subject::Name { resource_type, name } => {
                entry.resource_id.is_none()
                    && entry.resource_type == *resource_type
                    && entry.name.as_deref().is_some_and(|n| name_key(n) == name_key(name))
            }
        }
    }
}

/// The index key prefix of `subject`: 1 ++ the id's 16 bytes, or 2 ++ the resource type ++ 0
/// ++ the name's key (cut at [`SUBJECT_NAME_BYTES`]) ++ 0.
pub fn subject_key(subject: &Subject) -> Vec<u8> {
    match subject {
        Subject::Id(id) => {
            let mut key = vec![1];
            key.extend_from_slice(&id.to_bytes());
            key
        }
        Subject::Name { resource_type, name } => {
            let folded = name_key(name);
            let mut cut = folded.len().min(SUBJECT_NAME_BYTES);
            while !folded.is_char_boundary(cut) {
                cut -= 1;
            }
            let mut key = vec![2];
            key.extend_from_slice(resource_type.as_bytes());
            key.push(0);
            key.extend_from_slice(folded[..cut].replace('\0', "").as_bytes());
            key.push(0);
            key
        }
    }
}

/// The by-subject index key of `entry` (whose `seq` is set), if it is about a resource.
pub(super) fn index_key(entry: &LogEntry) -> Option<Vec<u8>> {
    Subject::of(entry).map(|s| indexed(&subject_key(&s), entry.seq))
}

/// Log entries per bucket of the by-subject index. Keys lead with the bucket, so the entries
/// appended now all land in the last one or two leaf pages of the index (a commit writes a
/// page or two for them, not one page per entry, as subject-first keys would: those are
/// random); a history costs one seek per bucket and subject (a million entries: 7,813).
const BUCKET: u64 = 128;

fn bucket_of(seq: u64) -> u32 {
    u32::try_from(seq / BUCKET).unwrap_or(u32::MAX)
}

/// The index key of entry `seq` about the subject whose key is `prefix`.
fn indexed(prefix: &[u8], seq: u64) -> Vec<u8> {
    key_in(bucket_of(seq), prefix, seq)
}

/// bucket (4 bytes BE) ++ subject key ++ seq (8 bytes BE).
fn key_in(bucket: u32, prefix: &[u8], seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + prefix.len() + 8);
    key.extend_from_slice(&bucket.to_be_bytes());
    key.extend_from_slice(prefix);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}
