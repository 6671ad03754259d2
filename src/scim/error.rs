//! Protocol errors: the `scimType` keywords of RFC 7644 §3.12 plus a human-readable detail.
//!
//! Owns the error type every parser and checker in `scim` returns. It must not pick HTTP
//! statuses or build response bodies: every error here is a client error (400-class) and the
//! HTTP layer decides the exact status and renders the RFC 7644 error body.

use std::fmt;

/// The `scimType` detail keyword of an error response (RFC 7644 §3.12, table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    /// The keyword exactly as it appears on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request the client got wrong. `detail` is written for the admin who reads it in the
/// IdP's provisioning log: it names the attribute or value at fault and what is accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimError {
    pub scim_type: ScimType,
    pub detail: String,
}

impl ScimError {
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError { scim_type, detail: detail.into() }
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidFilter, detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidValue, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidSyntax, detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidPath, detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Mutability, detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(ScimType::NoTarget, detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Uniqueness, detail)
    }

    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(ScimType::TooMany, detail)
    }

    /// The same error with another `scimType`: a filter embedded in a PATCH path is reported
    /// as `invalidPath`, not `invalidFilter`, because the path is what the client sent.
    pub fn with_type(self, scim_type: ScimType) -> Self {
        ScimError { scim_type, ..self }
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.scim_type, self.detail)
    }
}

impl std::error::Error for ScimError {}

/// Quotes a client-supplied fragment for an error detail, cut to a readable length so a
/// 4 KB filter or a huge value never floods the provisioning log.
pub(super) fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut out = String::from("'");
    let mut chars = s.chars();
    out.extend(chars.by_ref().take(MAX_CHARS));
    if chars.next().is_some() {
        out.push('…');
    }
    out.push('\'');
    out
}

/// Test support for the parsers' tests: asserts that `parse` refuses every one of `inputs`
/// with `want` and a detail, naming the input that was not.
#[cfg(test)]
#[allow(clippy::panic)]
pub(crate) fn assert_each_refused<T: std::fmt::Debug>(
    want: ScimType,
    parse: impl Fn(&str) -> Result<T, ScimError>,
    inputs: &[&str],
) {
    for input in inputs {
        match parse(input) {
            Ok(parsed) => panic!("{input:?} was accepted as {parsed:?}"),
            Err(e) => {
                assert_eq!(e.scim_type, want, "{input:?}: {e}");
                assert!(!e.detail.is_empty(), "{input:?}: no detail");
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_rfc_7644() {
        let all = [
            (ScimType::InvalidFilter, "invalidFilter"),
            (ScimType::TooMany, "tooMany"),
            (ScimType::Uniqueness, "uniqueness"),
            (ScimType::Mutability, "mutability"),
            (ScimType::InvalidSyntax, "invalidSyntax"),
            (ScimType::InvalidPath, "invalidPath"),
            (ScimType::NoTarget, "noTarget"),
            (ScimType::InvalidValue, "invalidValue"),
            (ScimType::InvalidVers, "invalidVers"),
            (ScimType::Sensitive, "sensitive"),
        ];
        for (t, s) in all {
            assert_eq!(t.as_str(), s);
        }
    }

    #[test]
    fn display_names_type_and_detail() {
        let e = ScimError::invalid_value("unknown attribute 'fooBar' for User");
        assert_eq!(e.to_string(), "invalidValue: unknown attribute 'fooBar' for User");
        assert_eq!(e.with_type(ScimType::InvalidPath).scim_type, ScimType::InvalidPath);
    }

    #[test]
    fn quote_truncates_long_input() {
        assert_eq!(quote("abc"), "'abc'");
        let long = "x".repeat(1000);
        let q = quote(&long);
        assert!(q.chars().count() < 70);
        assert!(q.ends_with("…'"));
    }
}
