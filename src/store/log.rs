//! The provisioning log: one row per write and per refused write, appended in the same
//! transaction as the change it describes.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::tables::PROVISIONING_LOG;
use super::{Reader, StoreError, Writer, codec};

/// One provisioning decision: who asked for what, and what scimd did and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Assigned by the store on append; increasing.
    #[serde(default)]
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

impl Writer {
    /// Appends `entry` with the next sequence number.
    pub fn append_log(&mut self, mut entry: LogEntry) -> Result<u64, StoreError> {
        self.dirty = true;
        let mut table = self.tx.open_table(PROVISIONING_LOG)?;
        let seq = match table.last()? {
            Some((key, _)) => key.value() + 1,
            None => 1,
        };
        entry.seq = seq;
        let bytes = codec::encode(&entry)?;
        table.insert(seq, bytes.as_slice())?;
        Ok(seq)
    }
}

impl Reader {
    /// The newest `limit` entries, newest first.
    pub fn recent_log(&self, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let table = self.tx.open_table(PROVISIONING_LOG)?;
        let mut out = Vec::new();
        for entry in table.iter()?.rev().take(limit) {
            out.push(codec::decode(entry?.1.value(), "log entry")?);
        }
        Ok(out)
    }
}
