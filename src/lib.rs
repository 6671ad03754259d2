//! scimd: a self-hosted SCIM 2.0 service provider in one binary and one redb file.
//!
//! # Layout
//!
//! The modules are layers: each may import the ones below it and none above, and no two
//! files import each other. From the bottom up:
//!
//! | module | owns | may import | must not import |
//! |---|---|---|---|
//! | [`domain`] | the vocabulary: [`domain::Kind`] (User, Group), resource ids, the enterprise URN, the text rules for names | nothing of scimd's | anything of ours |
//! | [`scim`] | RFC 7643/7644, pure: resources, schemas, filters, PATCH, paths, projections, list responses, SCIM errors, request limits | `domain` | I/O, `store`, `service`, `http` |
//! | [`store`] | the redb file, the only code that names redb: tables, rows, indexes, the single writer, backup, migrations, recovery | `domain` | `scim` (what it needs is passed in), `service` and above |
//! | [`config`] | `config.toml`: parsing and checking, with `file:line` errors; the `[events]` receivers and their authorization files | `domain` (resource kinds), `scim` (its limits) | `store`, `service` and above |
//! | [`signing`] | the keys that sign change events: `<data_dir>/event-signing-keys.json` (mode 0600), ES256 compact JWS, rotation and pruning, the JWKS | nothing of scimd's | anything of ours |
//! | [`service`] | the use cases, the only place `scim` and `store` meet: create, replace, patch, delete, list, tokens, the provisioning log, the change-event outbox, roles, backups; [`service::DataFile`] is the one function that opens the data file at start-up, shared by `serve` and the offline CLI | `domain`, `scim`, `store`, `config`, `signing` | `http`, `server`, `admin`, `metrics` |
//! | [`metrics`] | the Prometheus registry and what a scrape reads | `service` | `store` |
//! | [`admin`] | the admin-socket protocol: requests, responses, the client, `execute` | `domain`, `scim`, `service` | `store`, `http`, `server` |
//! | [`delivery`] | sending change events: one push stream per push receiver (RFC 8935), the poll endpoint's acknowledgements and long poll (RFC 8936) | `client_tls`, `config`, `domain`, `scim`, `service`, `signing` | `store`, `http`, `server` |
//! | [`http`] | thin: axum routes, auth, request bodies, SCIM error responses; one handler per use case | `config`, `delivery` (the poll endpoint's state), `domain`, `scim`, `service`, `signing`, `metrics` | `store`, `server` |
//! | [`server`] | thin: listeners, TLS and ACME, connection caps and deadlines, the admin socket, reload on SIGHUP, shutdown | `admin`, `config`, `http`, `metrics`, `service`, `signing` | `store` |
//!
//! The binary (`main.rs`, `cli.rs`, `directory.rs`, `admin_client.rs`) sits on top: it parses
//! the command line and calls `server`, `admin`, `service` and `signing` (an offline
//! `events rotate-key` opens the key file), never `store`. Tests may read
//! the store directly to check what was kept.
#![forbid(unsafe_code)]

pub mod admin;
pub mod client_tls;
pub mod config;
pub mod console;
pub mod delivery;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod scim;
pub mod server;
pub mod service;
pub mod signing;
pub mod store;
