//! The extension schemas a server runs with, held against what its data file stores: a start
//! or a reload whose config withdraws a declared attribute (removes it, or changes its type)
//! is refused while any resource still holds a value for it, so nothing stored is silently
//! hidden or dropped by the next write. A withdrawal nothing uses, and every addition, is
//! recorded and goes ahead.

use crate::scim::extensions::{ExtensionDecl, Withdrawn, holds, withdrawn};
use crate::store::StoreError;

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
        let owned = declared.to_vec();
        self.store().write(|w| w.set_declared_schemas(&owned))?;
        Ok(())
    }
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
