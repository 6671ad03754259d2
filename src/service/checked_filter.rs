//! A client's filter text turned into a filter the service may evaluate: parsed once and
//! checked once against the schema of each kind a request searches, by the one function both
//! list use cases get it from (the SCIM list and `.search` through `http/query.rs`, the admin
//! export through `admin.rs`).
//!
//! It must not evaluate the filter or read the store: `query.rs` does both.

use std::ops::Deref;

use crate::domain::Kind;
use crate::scim::ScimError;
use crate::scim::filter::{self, Filter};

use crate::scim::schema::resource_type;

/// A filter parsed from the client's text and checked against the schema of every kind it is
/// searched over. It fits at least one of them; a root `.search` skips the kinds it does not
/// fit. Read it as a [`Filter`] (it derefs to one).
#[derive(Debug)]
pub struct CheckedFilter {
    filter: Filter,
    /// The kinds searched whose schema the filter fits, in the order asked.
    fits: Vec<Kind>,
}

impl CheckedFilter {
    /// Parses `text` (absent or blank is no filter) and checks it against each of `kinds`.
    /// Errors are `invalidFilter`: the parse error or, when the filter fits none of `kinds`,
    /// why it does not fit the first.
    pub fn parse(text: Option<&str>, kinds: &[Kind]) -> Result<Option<CheckedFilter>, ScimError> {
        let text = match text.map(str::trim) {
            None | Some("") => return Ok(None),
            Some(text) => text,
        };
        let filter = filter::parse(text)?;
        let mut fits = Vec::new();
        let mut first_error = None;
        for &kind in kinds {
            match filter::validate(&filter, resource_type(kind)) {
                Ok(()) => fits.push(kind),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match (fits.is_empty(), first_error) {
            (true, Some(e)) => Err(e),
            _ => Ok(Some(CheckedFilter { filter, fits })),
        }
    }

    /// Whether the filter was checked against `kind`'s schema and fits it.
    pub fn fits(&self, kind: Kind) -> bool {
        self.fits.contains(&kind)
    }
}

impl Deref for CheckedFilter {
    type Target = Filter;

    fn deref(&self) -> &Filter {
        &self.filter
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::scim::ScimType;

    const BOTH: [Kind; 2] = [Kind::User, Kind::Group];

    #[test]
    fn absent_or_blank_text_is_no_filter() {
        assert!(CheckedFilter::parse(None, &BOTH).unwrap().is_none());
        assert!(CheckedFilter::parse(Some("  "), &BOTH).unwrap().is_none());
    }

    #[test]
    fn a_filter_fits_the_kinds_whose_schema_has_its_names() {
        let f = CheckedFilter::parse(Some(r#" userName eq "x" "#), &BOTH).unwrap().unwrap();
        assert!(f.fits(Kind::User) && !f.fits(Kind::Group));
        let f = CheckedFilter::parse(Some(r#"displayName eq "x""#), &BOTH).unwrap().unwrap();
        assert!(f.fits(Kind::User) && f.fits(Kind::Group));
        let f = CheckedFilter::parse(Some(r#"members[value eq "x"]"#), &[Kind::Group]).unwrap();
        assert!(f.unwrap().fits(Kind::Group));
    }

    #[test]
    fn errors_are_the_parse_error_or_the_first_kinds_check() {
        let e = CheckedFilter::parse(Some("userName eq"), &BOTH).unwrap_err();
        assert_eq!(e.scim_type, ScimType::InvalidFilter);
        let e = CheckedFilter::parse(Some(r#"fooBar eq "x""#), &BOTH).unwrap_err();
        assert_eq!(e.scim_type, ScimType::InvalidFilter);
        assert_eq!(e.detail, "unknown attribute 'fooBar' for User");
        let e = CheckedFilter::parse(Some(r#"userName eq "x""#), &[Kind::Group]).unwrap_err();
        assert_eq!(e.detail, "unknown attribute 'userName' for Group");
    }
}
