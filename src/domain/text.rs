//! Text rules for names, pure: which characters a name may not hold, how two names are
//! compared for uniqueness, and how client text is escaped before a person reads it.
//!
//! Owns three things, each in one place so every layer agrees (the store keys its name
//! indexes with [`name_key`], `scim` refuses names with `scim::text::check_name`, every
//! human-readable output escapes with [`escape`]):
//!
//! - [`first_refused_in_name`]: `userName` and `displayName` (users and groups) may not hold
//!   control characters (Unicode general category Cc: C0 U+0000–U+001F, DEL U+007F, C1
//!   U+0080–U+009F) nor the bidirectional formatting characters (U+061C, U+200E, U+200F,
//!   U+202A–U+202E, U+2066–U+2069) nor the line and paragraph separators U+2028/U+2029.
//!   Bidi controls are refused, not only escaped: they are invisible, so two names that look
//!   the same can differ by one, and they reorder the text around them wherever a name is
//!   shown (Entra's provisioning log, a terminal, a web page). Names in right-to-left scripts
//!   need none of them: the Unicode bidi algorithm orders plain Arabic or Hebrew text by
//!   itself.
//! - [`name_key`]: the comparison key of a `userName` or group `displayName`, so that names
//!   differing only by case, width or Unicode normalisation are one name (RFC 7643
//!   `caseExact: false`, in the spirit of PRECIS, RFC 8264/8265). Exactly, in this order:
//!   1. NFKD (compatibility decomposition: fullwidth `Ａ` → `A`, `ﬁ` → `fi`, NFC → NFD);
//!   2. full default case folding (Unicode CaseFolding.txt, statuses C and F, not the Turkic
//!      T mappings): `ß` → `ss`, `ẞ` → `ss`, `K` (Kelvin) → `k`, `İ` → `i` + U+0307;
//!   3. U+0307 COMBINING DOT ABOVE directly after `i` is removed, so `İ` (whose folding is
//!      `i̇`), its NFD form `I` + U+0307, and `i` are one name: a dot above a dotted `i` adds
//!      nothing a reader can see. `ı` (dotless i) stays distinct from `i`, as default folding
//!      keeps it;
//!   4. NFKC (canonical composition), so the key is in one normal form.
//!
//!   ASCII text takes a fast path with the same result (ASCII lower-casing). The stored value
//!   is always kept as the client sent it; only the key is folded.
//! - [`escape`]: control, bidi and separator characters (the ones [`first_refused_in_name`] finds, plus
//!   the other invisible format characters of category Cf) written as `\n`, `\t`, `\r` or
//!   `\u{202e}`, for every human-readable output (CLI tables and text, the provisioning log's
//!   text, the access log), so client text cannot forge rows or reorder a line. Data that may
//!   already be stored (names written before the check existed) is escaped the same way.
//!
//! No I/O. The Unicode data comes from ICU4X (`icu_normalizer`, `icu_casemap`), compiled in.

use std::borrow::Cow;

use icu_casemap::CaseMapper;
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};

/// Whether `c` is a control character (category Cc).
fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Whether `c` is a bidirectional formatting character (marks, embeddings, overrides,
/// isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The characters a name may not hold.
fn is_refused_in_name(c: char) -> bool {
    is_control(c) || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Invisible format characters (category Cf) that are not bidi controls: escaped in output
/// (a zero-width space can make two printed names look the same) but allowed in names, since
/// some scripts and emoji need U+200C/U+200D.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200d}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206a}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// Whether [`escape`] rewrites `c`.
pub fn needs_escape(c: char) -> bool {
    is_refused_in_name(c) || is_invisible_format(c)
}

/// The position (0-based, in characters) and the character of the first character in `value`
/// that a name may not hold, if any.
pub fn first_refused_in_name(value: &str) -> Option<(usize, char)> {
    value.chars().enumerate().find(|&(_, c)| is_refused_in_name(c))
}

/// `s` with control, bidi, separator and invisible format characters escaped (`\n`, `\t`,
/// `\r`, else `\u{…}` in lower-case hex); borrowed when there is nothing to escape.
pub fn escape(s: &str) -> Cow<'_, str> {
    // Printable ASCII (most of what is escaped: every logged path) needs no look at the tables.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The comparison key of a name: see the module documentation for the exact steps.
pub fn name_key(name: &str) -> String {
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    let decomposed = DecomposingNormalizerBorrowed::new_nfkd().normalize(name);
    let folded = CaseMapper::new().fold_string(&decomposed);
    let undotted = strip_dot_above_i(&folded);
    ComposingNormalizerBorrowed::new_nfkc().normalize(&undotted).into_owned()
}

/// `s` without U+0307 COMBINING DOT ABOVE where it directly follows `i`.
fn strip_dot_above_i(s: &str) -> Cow<'_, str> {
    if !s.contains("i\u{307}") {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace("i\u{307}", "i"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) {
        assert_eq!(name_key(a), name_key(b), "{a:?} vs {b:?}");
    }

    #[test]
    fn names_that_differ_by_case_width_or_normalisation_are_one() {
        same("straße", "strasse");
        same("STRASSE", "Straße");
        same("\u{1e9e}", "ss");
        same("İstanbul", "istanbul");
        same("I\u{307}stanbul", "İstanbul");
        same("i\u{307}stanbul", "Istanbul");
        same("café", "cafe\u{301}");
        same("CAFÉ", "cafe\u{301}");
        same("ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "Alice@Example.com");
        same("\u{212a}elvin", "kelvin");
        same("ﬁle", "FILE");
        same("ΣΊΣΥΦΟΣ", "σίσυφος");
        same("ς", "σ");
    }

    #[test]
    fn distinct_names_stay_distinct() {
        assert_ne!(name_key("ı"), name_key("i"));
        assert_ne!(name_key("alice"), name_key("alice2"));
        assert_ne!(name_key("e"), name_key("é"));
        assert_ne!(name_key("a\u{200b}b"), name_key("ab"));
    }

    #[test]
    fn the_key_is_stable_and_ascii_fast_path_agrees() {
        for s in ["Alice@Example.COM", "straße", "İI", "ＡＢＣ", "Ǆ", "ᾼ", "\u{345}"] {
            let k = name_key(s);
            assert_eq!(name_key(&k), k, "{s:?}");
        }
        assert_eq!(name_key("MiXeD@Case.Org"), "mixed@case.org");
    }

    #[test]
    fn the_first_refused_character_is_found() {
        assert_eq!(first_refused_in_name("alice"), None);
        assert_eq!(first_refused_in_name("a\u{202e}b\n"), Some((1, '\u{202e}')));
        assert_eq!(first_refused_in_name("👩\u{200d}💻"), None);
    }

    #[test]
    fn escape_writes_invisible_characters_visibly() {
        assert_eq!(escape("plain"), Cow::Borrowed("plain"));
        assert_eq!(escape("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape("x\u{202e}y\u{85}z\u{200b}"), "x\\u{202e}y\\u{85}z\\u{200b}");
        assert_eq!(escape("\u{1b}[31m"), "\\u{1b}[31m");
    }
}
