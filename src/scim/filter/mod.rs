//! The filter language of RFC 7644 §3.4.2.2: parsing, schema validation and evaluation.
//!
//! Three steps, one file each, each using only the ones before it:
//! - `parse.rs`: the grammar and the tree it builds ([`Filter`]), with the tolerance real
//!   clients need (unquoted values from Microsoft's examples, `emails[type eq "work"].value
//!   eq "x"`) and the limits that keep a hostile filter cheap;
//! - `check.rs`: the check against a resource type's schema ([`validate`]): attributes exist,
//!   operators suit their types, values have the right type;
//! - `eval.rs`: the comparison rules ([`matches`]): caseExact, types, dateTime as instants,
//!   multi-valued attributes.
//!
//! This module must not know how resources are stored or indexed: the service decides which
//! candidates to evaluate; this module only answers "does this resource match". It uses
//! attribute paths (`path.rs`) and is used by PATCH paths (`patch_path.rs`), never the reverse.
//!
//! Semantics chosen where the RFC is loose:
//! - a multi-valued attribute matches when any of its values does; a complex attribute
//!   compared without a sub-attribute (`emails co "@x"`, legacy `manager eq "id"`) compares
//!   its `value` sub-attribute;
//! - `ne` is the negation of `eq`, so `title ne "x"` matches a user without a title;
//! - `eq null` means "not present" and `ne null` means "present";
//! - `pr` is false for null, `""`, `[]` and `{}`;
//! - caseExact=false text is compared under `text::fold` (NFKD, full case folding, NFKC: the
//!   key of the name indexes), so `userName eq "STRASSE"` matches `straße` and `sw`/`co`/`ew`
//!   compare the folded forms;
//! - a value of the wrong type never matches (validate() reports the obvious cases first).

mod check;
mod eval;
mod parse;

pub use check::{validate, validate_value_filter};
pub(super) use eval::compare_numbers;
pub use eval::{matches, matches_value_filter};
pub use parse::{
    CompValue, CompareOp, Filter, MAX_DEPTH, MAX_FILTER_LEN, MAX_TERMS, parse, parse_value_filter,
};

#[cfg(test)]
mod tests;
