//! The SCIM side of the name rules (`domain::text` owns the rules themselves): refusing a
//! name that holds a character names may not hold, as a `400 invalidValue` that names the
//! attribute and the character ([`check_name`]), and comparing caseExact=false text the way
//! the uniqueness index compares names ([`fold`]).
//!
//! No I/O.

use std::borrow::Cow;

use crate::domain::text::{escape, first_refused_in_name, name_key};

use super::error::{ScimError, quote};

/// `400 invalidValue` when `value`, the attribute `attribute` (`userName`, `displayName`),
/// holds a character names may not hold; the error names the attribute and the character.
pub fn check_name(attribute: &str, value: &str) -> Result<(), ScimError> {
    match first_refused_in_name(value) {
        None => Ok(()),
        Some((at, c)) => Err(ScimError::invalid_value(format!(
            "{} holds the character U+{:04X} at position {}: control characters, \
             bidirectional formatting characters and line separators are not allowed in \
             names (the value was {})",
            quote(attribute),
            u32::from(c),
            at + 1,
            quote(&escape(value))
        ))),
    }
}

/// `text` as caseExact=false comparisons see it: its [`name_key`], borrowed when `text` is
/// already lower-case ASCII. Filters compare every caseExact=false string attribute this way,
/// so `userName eq "X"` matches exactly the names the uniqueness index holds under X's key.
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(name_key(text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::domain::text::needs_escape;

    #[test]
    fn control_and_bidi_characters_are_refused_in_names() {
        for bad in [
            "a\nb",
            "a\tb",
            "a\rb",
            "\u{0}",
            "x\u{7f}",
            "a\u{85}b",
            "a\u{202e}b",
            "\u{2066}",
            "\u{200f}",
            "\u{2028}",
        ] {
            let e = check_name("userName", bad).unwrap_err();
            assert_eq!(e.scim_type, super::super::ScimType::InvalidValue, "{bad:?}");
            assert!(e.detail.contains("'userName'"), "{}", e.detail);
            assert!(!e.detail.chars().any(needs_escape), "{}", e.detail);
        }
        for good in ["alice@example.com", "Ünïcödé", "עברית", "العربية", "👩\u{200d}💻", "a b"]
        {
            check_name("displayName", good).unwrap();
        }
    }

    #[test]
    fn caseexact_false_text_folds_like_names() {
        assert_eq!(fold("already lower"), "already lower");
        assert_eq!(fold("Straße"), "strasse");
    }
}
