//! The config file exactly as written: the `Raw*` structs serde reads (unknown keys refused,
//! values kept with their spans for `file:line` errors) and the built-in defaults of the keys
//! that have one. Nothing here checks a value; `super` validates these into `Config`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::events::RawEvents;
use super::schemas::RawSchemas;
use super::{LogFormat, UnknownRole, UnknownUserType};
use crate::scim::limits::RequestLimits;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) public_url: Option<Spanned<String>>,
    pub(super) data_dir: Option<PathBuf>,
    #[serde(default)]
    pub(super) tls: RawTls,
    #[serde(default)]
    pub(super) scim: RawScim,
    #[serde(default)]
    pub(super) roles: RawRoles,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) metrics: RawMetrics,
    #[serde(default)]
    pub(super) console: RawConsole,
    #[serde(default)]
    pub(super) events: RawEvents,
    #[serde(default)]
    pub(super) schemas: RawSchemas,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) mode: Option<Spanned<TlsModeName>>,
    pub(super) cert: Option<PathBuf>,
    pub(super) key: Option<PathBuf>,
    pub(super) acme_domains: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) acme_email: Option<Spanned<String>>,
    pub(super) acme_directory: Option<Spanned<String>>,
    pub(super) acme_ca_root: Option<PathBuf>,
    pub(super) acme_renew_days: Option<Spanned<u64>>,
    pub(super) acme_check_interval_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum TlsModeName {
    Files,
    SelfSigned,
    Acme,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScim {
    #[serde(default = "yes")]
    pub(super) enabled: bool,
    #[serde(default)]
    pub(super) allowed_domains: Vec<Spanned<String>>,
    #[serde(default = "default_page_size")]
    pub(super) default_page_size: Spanned<u64>,
    #[serde(default = "max_page_size")]
    pub(super) max_page_size: Spanned<u64>,
    #[serde(default)]
    pub(super) unknown_attributes: super::UnknownAttributes,
}

impl Default for RawScim {
    fn default() -> Self {
        RawScim {
            enabled: true,
            allowed_domains: Vec::new(),
            default_page_size: default_page_size(),
            max_page_size: max_page_size(),
            unknown_attributes: Default::default(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_page_size() -> Spanned<u64> {
    Spanned::new(0..0, 100)
}
fn max_page_size() -> Spanned<u64> {
    Spanned::new(0..0, 1000)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoles {
    pub(super) default: Option<Vec<String>>,
    #[serde(default)]
    pub(super) unknown_user_type: UnknownUserType,
    #[serde(default)]
    pub(super) unknown_role: UnknownRole,
    pub(super) user_types: Option<Spanned<BTreeMap<String, Vec<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    #[serde(default = "default_max_connections")]
    pub(super) max_connections: usize,
    // Connections an attacker can hold (issue 13 §4).
    #[serde(default)]
    pub(super) max_connections_per_address: usize,
    #[serde(default = "default_first_byte_timeout")]
    pub(super) first_byte_timeout_secs: u64,
    #[serde(default = "default_idle_timeout")]
    pub(super) idle_timeout_secs: u64,
    #[serde(default = "default_max_body_bytes")]
    pub(super) max_body_bytes: usize,
    #[serde(default = "default_request_timeout")]
    pub(super) request_timeout_secs: u64,
    #[serde(default = "default_header_read_timeout")]
    pub(super) header_read_timeout_secs: u64,
    #[serde(default = "default_tls_handshake_timeout")]
    pub(super) tls_handshake_timeout_secs: u64,
    #[serde(default = "default_shutdown_grace")]
    pub(super) shutdown_grace_secs: u64,
    #[serde(default = "default_write_queue")]
    pub(super) write_queue: usize,
    #[serde(default = "default_cache_mb")]
    pub(super) cache_mb: usize,
    // What one request may ask of the writer (see `scim::limits`).
    #[serde(default = "default_max_operations_per_patch")]
    pub(super) max_operations_per_patch: usize,
    #[serde(default = "default_max_values_per_attribute")]
    pub(super) max_values_per_attribute: usize,
    #[serde(default = "default_max_members_per_request")]
    pub(super) max_members_per_request: usize,
    #[serde(default = "default_max_string_bytes")]
    pub(super) max_string_bytes: usize,
    #[serde(default = "default_max_member_filters_per_patch")]
    pub(super) max_member_filters_per_patch: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_connections: default_max_connections(),
            max_connections_per_address: 0,
            first_byte_timeout_secs: default_first_byte_timeout(),
            idle_timeout_secs: default_idle_timeout(),
            max_body_bytes: default_max_body_bytes(),
            request_timeout_secs: default_request_timeout(),
            header_read_timeout_secs: default_header_read_timeout(),
            tls_handshake_timeout_secs: default_tls_handshake_timeout(),
            shutdown_grace_secs: default_shutdown_grace(),
            write_queue: default_write_queue(),
            cache_mb: default_cache_mb(),
            max_operations_per_patch: default_max_operations_per_patch(),
            max_values_per_attribute: default_max_values_per_attribute(),
            max_members_per_request: default_max_members_per_request(),
            max_string_bytes: default_max_string_bytes(),
            max_member_filters_per_patch: default_max_member_filters_per_patch(),
        }
    }
}

fn default_max_operations_per_patch() -> usize {
    RequestLimits::default().max_operations_per_patch
}
fn default_max_values_per_attribute() -> usize {
    RequestLimits::default().max_values_per_attribute
}
fn default_max_members_per_request() -> usize {
    RequestLimits::default().max_members_per_request
}
fn default_max_string_bytes() -> usize {
    RequestLimits::default().max_string_bytes
}
fn default_max_member_filters_per_patch() -> usize {
    RequestLimits::default().max_member_filters_per_patch
}

fn default_max_connections() -> usize {
    1024
}
fn default_first_byte_timeout() -> u64 {
    5
}
/// hyper's own default bound on an idle HTTP/1 connection (its 30 s header-read timeout also
/// runs while a connection is idle).
fn default_idle_timeout() -> u64 {
    30
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}
fn default_request_timeout() -> u64 {
    30
}
fn default_header_read_timeout() -> u64 {
    10
}
fn default_tls_handshake_timeout() -> u64 {
    10
}
fn default_shutdown_grace() -> u64 {
    20
}
fn default_write_queue() -> usize {
    4096
}
/// Provisioning-log retention when `[log] keep_days` is not set: about 13 months, so a year of
/// "why did this user change" questions can be answered.
pub(super) const DEFAULT_KEEP_DAYS: u32 = 400;

fn default_cache_mb() -> usize {
    64
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) level: Option<String>,
    #[serde(default)]
    pub(super) format: LogFormat,
    pub(super) keep_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    pub(super) enabled: Option<bool>,
    pub(super) allowed_networks: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: Option<Spanned<String>>,
}
