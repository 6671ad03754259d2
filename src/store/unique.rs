//! The index of declared unique values (`tables::UNIQUE_VALUES`): which resource holds a
//! value of an extension attribute declared `uniqueness = "server"`. Rows follow the resource
//! in every put and delete ([`Writer::put`], [`Writer::delete`]); the service builds them for
//! existing resources when such an attribute is declared, and drops them when it no longer is.

use redb::ReadableTable;
use serde_json::Value;

use super::tables::UNIQUE_VALUES;
use super::{StoreError, Writer};
use crate::domain::text::name_key;
use crate::domain::{Kind, ResourceId};
use crate::scim::schema::{AttrDef, SchemaDef};

/// The key prefix of one attribute's rows.
fn prefix(kind: Kind, schema: &str, attr: &str) -> Vec<u8> {
    let mut key = vec![match kind {
        Kind::User => 0,
        Kind::Group => 1,
    }];
    key.extend_from_slice(schema.to_ascii_lowercase().as_bytes());
    key.push(b':');
    key.extend_from_slice(attr.to_ascii_lowercase().as_bytes());
    key.push(0);
    key
}

/// The row key of `value` for `attr` of `schema`, folded as the attribute compares.
pub fn unique_key(kind: Kind, schema: &SchemaDef, attr: &AttrDef, value: &str) -> Vec<u8> {
    let mut key = prefix(kind, schema.id, attr.name);
    if attr.case_exact {
        key.extend_from_slice(value.as_bytes());
    } else {
        key.extend_from_slice(name_key(value).as_bytes());
    }
    key
}

/// The string value of `attr` of `schema` in stored attributes, if it has one.
pub fn unique_value<'a>(
    attributes: &'a Value,
    schema: &SchemaDef,
    attr: &AttrDef,
) -> Option<&'a str> {
    attributes.get(schema.id)?.get(attr.name)?.as_str()
}

impl Writer {
    /// Brings the unique-value rows of resource `id` from `old` attributes to `new` ones.
    pub(super) fn follow_unique_values(
        &mut self,
        kind: Kind,
        id: ResourceId,
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<(), StoreError> {
        let rt = crate::scim::schema::resource_type(kind);
        for (schema, attr) in rt.unique_extension_attributes() {
            let key_of = |attrs: Option<&Value>| {
                attrs
                    .and_then(|a| unique_value(a, schema, attr))
                    .map(|v| unique_key(kind, schema, attr, v))
            };
            let (was, is) = (key_of(old), key_of(new));
            if was == is {
                continue;
            }
            let mut table = self.tx.open_table(UNIQUE_VALUES)?;
            if let Some(was) = was {
                let mine = table.get(was.as_slice())?.is_some_and(|g| g.value() == id.0);
                if mine {
                    table.remove(was.as_slice())?;
                }
            }
            if let Some(is) = is {
                table.insert(is.as_slice(), id.0)?;
            }
        }
        Ok(())
    }

    /// Writes the rows of one attribute, replacing any it had: `(value's key, id)` pairs.
    pub fn rebuild_unique_values(
        &mut self,
        kind: Kind,
        schema: &SchemaDef,
        attr: &AttrDef,
        rows: &[(Vec<u8>, ResourceId)],
    ) -> Result<(), StoreError> {
        self.clear_unique_values(kind, schema.id, attr.name)?;
        let mut table = self.tx.open_table(UNIQUE_VALUES)?;
        for (key, id) in rows {
            table.insert(key.as_slice(), id.0)?;
        }
        Ok(())
    }

    /// Deletes every row of the attribute named so (one no longer declared unique).
    pub fn clear_unique_values(
        &mut self,
        kind: Kind,
        schema: &str,
        attr: &str,
    ) -> Result<(), StoreError> {
        self.dirty = true;
        let from = prefix(kind, schema, attr);
        let mut to = from.clone();
        if let Some(last) = to.last_mut() {
            *last = 1;
        }
        let mut table = self.tx.open_table(UNIQUE_VALUES)?;
        table.retain_in(from.as_slice()..to.as_slice(), |_, _| false)?;
        Ok(())
    }
}
