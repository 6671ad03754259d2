//! The meta table's named values besides the schema version (`migrate.rs`): the extension
//! schemas the data file was last served with, so that a start or a reload can tell which
//! declared attributes a new config withdraws. The store keeps them as JSON it does not read.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::tables::META;
use super::{Reader, StoreError, Writer, codec};

const DECLARED_SCHEMAS_KEY: &str = "declared_schemas";

impl Reader {
    /// The extension declarations last recorded ([`Writer::set_declared_schemas`]); None
    /// before the first.
    pub fn declared_schemas<T: DeserializeOwned>(&self) -> Result<Option<T>, StoreError> {
        let table = self.tx.open_table(META)?;
        let row = table.get(DECLARED_SCHEMAS_KEY)?;
        row.map(|g| codec::decode(g.value(), "the declared schemas")).transpose()
    }
}

impl Writer {
    /// Records the extension declarations the server now runs with.
    pub fn set_declared_schemas<T: Serialize>(&mut self, declared: &T) -> Result<(), StoreError> {
        self.dirty = true;
        let bytes = codec::encode(declared)?;
        self.tx.open_table(META)?.insert(DECLARED_SCHEMAS_KEY, bytes.as_slice())?;
        Ok(())
    }
}
