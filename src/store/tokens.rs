//! Bearer-token rows. A row holds the argon2id PHC hash of the secret, never the secret.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::tables::TOKENS;
use super::{Reader, StoreError, Writer, codec};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenScope {
    ReadWrite,
    ReadOnly,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::ReadWrite => "read-write",
            TokenScope::ReadOnly => "read-only",
        }
    }
}

/// A token as stored. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredToken {
    pub id: String,
    pub name: String,
    pub scope: TokenScope,
    /// argon2id PHC string of the secret part.
    pub hash: String,
    pub created: i64,
    pub expires: Option<i64>,
    pub last_used: Option<i64>,
    pub revoked: Option<i64>,
}

pub(super) fn decode(bytes: &[u8]) -> Result<StoredToken, StoreError> {
    codec::decode(bytes, "token")
}

impl Reader {
    /// Every token, revoked ones included, ordered by id.
    pub fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        let table = self.tx.open_table(TOKENS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.push(decode(entry?.1.value())?);
        }
        Ok(out)
    }
}

impl Writer {
    pub fn put_token(&mut self, token: &StoredToken) -> Result<(), StoreError> {
        self.dirty = true;
        let bytes = codec::encode(token)?;
        self.tx.open_table(TOKENS)?.insert(token.id.as_str(), bytes.as_slice())?;
        Ok(())
    }
}
