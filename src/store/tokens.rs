//! Bearer-token rows. A row holds the argon2id PHC hash of the secret, never the secret.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::tables::TOKENS;
use super::{Reader, StoreError, Writer, codec};

/// What a token may do. Stored as `"read-write"`, `"read-only"` or
/// `{"events": {"receiver": "wiki"}}`, so rows written before the events scope existed
/// decode as they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenScope {
    ReadWrite,
    ReadOnly,
    /// Only polling the change events of one poll receiver (`POST /events/{receiver}`): no
    /// SCIM endpoint at all.
    Events {
        receiver: String,
    },
}

impl TokenScope {
    /// How `token list` shows it: `read-write`, `read-only` or `events:<receiver>`.
    pub fn label(&self) -> std::borrow::Cow<'static, str> {
        match self {
            TokenScope::ReadWrite => "read-write".into(),
            TokenScope::ReadOnly => "read-only".into(),
            TokenScope::Events { receiver } => format!("events:{receiver}").into(),
        }
    }
}

impl std::fmt::Display for TokenScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.label())
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rows_from_before_the_events_scope_still_decode() {
        let old = r#"{"id":"00aa","name":"entra","scope":"read-only","hash":"h","created":1,
            "expires":null,"last_used":null,"revoked":null}"#;
        let row: StoredToken = serde_json::from_str(old).unwrap();
        assert_eq!(row.scope, TokenScope::ReadOnly);
        let poll = StoredToken { scope: TokenScope::Events { receiver: "wiki".into() }, ..row };
        let text = serde_json::to_string(&poll).unwrap();
        assert!(text.contains(r#""scope":{"events":{"receiver":"wiki"}}"#), "{text}");
        assert_eq!(serde_json::from_str::<StoredToken>(&text).unwrap(), poll);
        assert_eq!(poll.scope.to_string(), "events:wiki");
        assert_eq!(format!("{:<12}|", TokenScope::ReadWrite), "read-write  |");
    }
}
