//! The extension schemas a server runs with, held against what its data file stores: a start
//! or a reload whose config withdraws a declared attribute (removes it, or changes its type)
//! is refused while any resource still holds a value for it, so nothing stored is silently
//! hidden or dropped by the next write. A withdrawal nothing uses, and every addition, is
//! recorded and goes ahead. An attribute newly declared `uniqueness = "server"` gets its
//! index built here, from every resource, in one write (refused if two share a value); one no
//! longer unique loses it. The model in force must already be the declared one
//! (`extensions::install` first).

use std::collections::{BTreeMap, HashSet};

use crate::domain::{Kind, ResourceId};
use crate::scim::extensions::{ExtensionDecl, Withdrawn, holds, withdrawn};
use crate::scim::schema::{AttrDef, SchemaDef, Uniqueness, resource_type};
use crate::store::{StoreError, Writer, unique_key, unique_value};

use super::{Service, ServiceError};

impl Service {
    /// Checks `declared` against the declarations recorded in the data file and records it.
    /// Blocking: one read of every resource of a type an attribute is withdrawn from (none
    /// when nothing is), then one small write.
    pub fn adopt_schemas(&self, declared: &[ExtensionDecl]) -> Result<(), ServiceError> {
        let reader = self.store().read()?;
        let recorded: Vec<ExtensionDecl> = reader.declared_schemas()?.unwrap_or_default();
        if recorded == declared {
            return Ok(());
        }
        for w in withdrawn(&recorded, declared) {
            if let Some((count, first)) = holders(&reader, &w)? {
                return Err(ServiceError::Invalid(crate::scim::ScimError::invalid_value(format!(
                    "schemas: {w} is no longer declared as before, but {count} {kind}(s) hold \
                     a value for it (the first: {first}); the values are kept. Declare it again \
                     as it was in config.toml, or have the IdP clear it first",
                    kind = w.resource_type.resource_type(),
                ))));
            }
        }
        drop(reader);
        let was_unique = unique_names(&recorded);
        let now_unique = unique_names(declared);
        self.store().write(|w| {
            // In this one write, so no change lands between the rows read and the index.
            for kind in [Kind::User, Kind::Group] {
                for (schema, attr) in resource_type(kind).unique_extension_attributes() {
                    if !was_unique.contains(&(kind, name_of(schema.id, attr.name))) {
                        build_unique_index(w, kind, schema, attr)?;
                    }
                }
            }
            for (kind, name) in was_unique.difference(&now_unique) {
                if let Some((urn, attr)) = name.rsplit_once(':') {
                    w.clear_unique_values(*kind, urn, attr)?;
                }
            }
            w.set_declared_schemas(&declared.to_vec())?;
            Ok::<_, ServiceError>(())
        })
    }
}

/// `urn:attr`, lower-cased: how a unique attribute is told apart across declarations.
fn name_of(urn: &str, attr: &str) -> String {
    format!("{urn}:{attr}").to_ascii_lowercase()
}

/// The attributes `decls` declare `uniqueness = "server"`.
fn unique_names(decls: &[ExtensionDecl]) -> HashSet<(Kind, String)> {
    decls
        .iter()
        .flat_map(|d| {
            d.attributes
                .iter()
                .filter(|a| a.uniqueness == Uniqueness::Server)
                .map(move |a| (d.resource_type, name_of(&d.id, &a.name)))
        })
        .collect()
}

/// Indexes the values every resource holds for a newly unique `attr`; two resources sharing
/// one refuse the declaration, naming them.
fn build_unique_index(
    w: &mut Writer,
    kind: Kind,
    schema: &SchemaDef,
    attr: &AttrDef,
) -> Result<(), ServiceError> {
    let mut holders: BTreeMap<Vec<u8>, ResourceId> = BTreeMap::new();
    let mut clash = None;
    w.each_row(kind, |stored| {
        if let Some(value) = unique_value(&stored.attributes, schema, attr) {
            let key = unique_key(kind, schema, attr, value);
            if let Some(first) = holders.insert(key, stored.id) {
                clash.get_or_insert_with(|| (value.to_string(), first, stored.id));
            }
        }
        Ok(())
    })?;
    if let Some((value, a, b)) = clash {
        return Err(ServiceError::Conflict(format!(
            "schemas: {}:{} is declared uniqueness = \"server\", but {} {a} and {b} both hold \
             '{}'; change one of them (or declare \"none\") and try again",
            schema.id,
            attr.name,
            kind.resource_type(),
            crate::domain::text::escape(&value)
        )));
    }
    let rows: Vec<(Vec<u8>, ResourceId)> = holders.into_iter().collect();
    w.rebuild_unique_values(kind, schema, attr, &rows)?;
    Ok(())
}

/// How many resources hold a value for `w`, and the id of the first.
fn holders(
    reader: &crate::store::Reader,
    w: &Withdrawn,
) -> Result<Option<(u64, String)>, StoreError> {
    let (mut count, mut first) = (0u64, None);
    reader.scan(w.resource_type, |stored| {
        if holds(&stored.attributes, w) {
            count += 1;
            first.get_or_insert_with(|| stored.id.to_string());
        }
        Ok::<_, StoreError>(true)
    })?;
    Ok(first.map(|f| (count, f)))
}
