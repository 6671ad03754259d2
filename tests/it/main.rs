//! scimd's integration tests: one test binary, each test with its own server and temporary
//! data directory, talking real HTTPS on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::cloned_ref_to_slice_refs)]

mod common;
mod payloads;
mod smoke;

mod discovery;
mod filters;
mod groups;
mod idp_payloads;
mod names;
mod paging;
mod users;

mod acme;
mod auth;
mod backup;
mod backup_events;
mod bad_input;
mod browser;
mod cli;
mod console;
mod directory;
mod disk_full;
mod durability;
mod event_receiver;
mod events;
mod events_crash;
mod events_feed;
mod events_poll;
mod events_push;
mod extensions;
mod framing;
mod jwks;
mod observability;
mod readme_receiver;
mod roles_domains;
mod systemd;

mod concurrency;
mod connections;
mod crash;
mod limits;
mod patch;
mod replay;
