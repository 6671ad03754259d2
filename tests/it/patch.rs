//! PATCH semantics (RFC 7644 §3.5.2) and every IdP quirk of idp-behaviour.md §3, each with the
//! literal payload, asserting what a later GET shows.
