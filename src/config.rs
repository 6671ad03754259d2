//! scimd's configuration: a TOML file read into `RawConfig` (exactly the file, unknown keys
//! refused) and validated once into `Config` (parsed addresses, paths, limits, roles).
//!
//! Every key is optional; its built-in default is what `config.example.toml` documents. Errors
//! name the file, the line and what to change. This module reads the file and nothing else: it
//! does not touch the data directory or the certificates.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scim::limits::RequestLimits;
use serde::Deserialize;
use toml::Spanned;

/// Where the config came from, in the order scimd looks.
pub const ENV_CONFIG: &str = "SCIMD_CONFIG";
pub const SYSTEM_CONFIG: &str = "/etc/scimd/config.toml";

/// The roles every built-in default names (used when `[roles]` is absent).
const DEFAULT_ROLE: &str = "member";

/// A configuration problem, located in the file when it comes from one.
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", location(.file.as_deref(), *.line))]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub message: String,
}

fn location(file: Option<&Path>, line: Option<usize>) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!("{}:{l}: ", f.display()),
        (Some(f), None) => format!("{}: ", f.display()),
        (None, _) => String::new(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Spanned<String>>,
    public_url: Option<Spanned<String>>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    scim: RawScim,
    #[serde(default)]
    roles: RawRoles,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    metrics: RawMetrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    mode: Option<Spanned<TlsModeName>>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    acme_domains: Option<Spanned<Vec<Spanned<String>>>>,
    acme_email: Option<Spanned<String>>,
    acme_directory: Option<Spanned<String>>,
    acme_ca_root: Option<PathBuf>,
    acme_renew_days: Option<Spanned<u64>>,
    acme_check_interval_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum TlsModeName {
    Files,
    SelfSigned,
    Acme,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScim {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    allowed_domains: Vec<Spanned<String>>,
    #[serde(default = "default_page_size")]
    default_page_size: Spanned<u64>,
    #[serde(default = "max_page_size")]
    max_page_size: Spanned<u64>,
}

impl Default for RawScim {
    fn default() -> Self {
        RawScim {
            enabled: true,
            allowed_domains: Vec::new(),
            default_page_size: default_page_size(),
            max_page_size: max_page_size(),
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
struct RawRoles {
    default: Option<Vec<String>>,
    #[serde(default)]
    unknown_user_type: UnknownUserType,
    #[serde(default)]
    unknown_role: UnknownRole,
    user_types: Option<Spanned<BTreeMap<String, Vec<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    // Connections an attacker can hold (issue 13 §4).
    #[serde(default)]
    max_connections_per_address: usize,
    #[serde(default = "default_first_byte_timeout")]
    first_byte_timeout_secs: u64,
    #[serde(default = "default_idle_timeout")]
    idle_timeout_secs: u64,
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: usize,
    #[serde(default = "default_request_timeout")]
    request_timeout_secs: u64,
    #[serde(default = "default_header_read_timeout")]
    header_read_timeout_secs: u64,
    #[serde(default = "default_tls_handshake_timeout")]
    tls_handshake_timeout_secs: u64,
    #[serde(default = "default_shutdown_grace")]
    shutdown_grace_secs: u64,
    #[serde(default = "default_write_queue")]
    write_queue: usize,
    #[serde(default = "default_cache_mb")]
    cache_mb: usize,
    // What one request may ask of the writer (see `scim::limits`).
    #[serde(default = "default_max_operations_per_patch")]
    max_operations_per_patch: usize,
    #[serde(default = "default_max_values_per_attribute")]
    max_values_per_attribute: usize,
    #[serde(default = "default_max_members_per_request")]
    max_members_per_request: usize,
    #[serde(default = "default_max_string_bytes")]
    max_string_bytes: usize,
    #[serde(default = "default_max_member_filters_per_patch")]
    max_member_filters_per_patch: usize,
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
const DEFAULT_KEEP_DAYS: u32 = 400;

fn default_cache_mb() -> usize {
    64
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<String>,
    #[serde(default)]
    format: LogFormat,
    keep_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Spanned<String>>,
}

/// How scimd writes its own log lines (stderr; journald under systemd).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// One readable line per event; no timestamp under systemd (journald adds one).
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The `[log]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
    /// Provisioning-log entries older than this many days are deleted; 0 keeps them all.
    pub keep_days: u32,
}

/// The `[metrics]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served over plain HTTP; None: not served.
    pub listen: Option<SocketAddr>,
}

/// What to do with a `userType` no mapping names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownUserType {
    /// 400 invalidValue naming the accepted values.
    #[default]
    Reject,
    /// Give the user the default roles.
    Default,
}

/// What to do with an IdP-sent role that no mapping names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownRole {
    /// 400 invalidValue naming the known roles.
    #[default]
    Reject,
    /// Store it as sent.
    Accept,
}

/// How scimd serves: TLS from files, a generated self-signed certificate, a certificate
/// obtained from an ACME CA, or plain HTTP.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsMode {
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned,
    Acme(AcmeConfig),
    Off,
}

/// Let's Encrypt's production directory, the default `tls.acme_directory`.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// `tls.mode = "acme"`: where to order the certificate, for which names, and when to renew.
#[derive(Debug, Clone, PartialEq)]
pub struct AcmeConfig {
    /// DNS names the certificate covers, lower-cased; the first is `public_url`'s host unless
    /// `tls.acme_domains` says otherwise.
    pub domains: Vec<String>,
    /// The account's contact address (without `mailto:`).
    pub email: Option<String>,
    /// The CA's ACME directory URL.
    pub directory: String,
    /// A PEM file of root certificates trusted for the directory connection, besides the
    /// system's.
    pub ca_root: Option<PathBuf>,
    /// Renew when fewer than this many days of validity remain.
    pub renew_days: u32,
    /// How often to check whether the certificate is due for renewal.
    pub check_interval: Duration,
}

/// The `[roles]` mapping, validated: user types are matched case-insensitively.
#[derive(Debug, Clone, PartialEq)]
pub struct RolesConfig {
    pub default: Vec<String>,
    /// Lower-cased userType -> roles, and the userType as written in the file.
    pub user_types: BTreeMap<String, (String, Vec<String>)>,
    pub unknown_user_type: UnknownUserType,
    pub unknown_role: UnknownRole,
}

/// Server limits and timeouts.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_connections: usize,
    /// Open connections from one client address; 0 means no limit.
    pub max_connections_per_address: usize,
    /// From accept to the client's first byte (a TLS ClientHello or a request line).
    pub first_byte_timeout: Duration,
    /// A connection with no request in progress, after its last response, is closed after
    /// this long.
    pub idle_timeout: Duration,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Writes that may wait for the writer thread; beyond it, 429.
    pub write_queue: usize,
    /// Memory for cached pages of the data file, in bytes.
    pub cache_bytes: usize,
    /// What one request may ask of the writer: operations, values, members, string bytes.
    pub request: RequestLimits,
}

/// The `[scim]` section, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimConfig {
    pub enabled: bool,
    /// Lower-cased; empty means every domain.
    pub allowed_domains: Vec<String>,
    pub default_page_size: u64,
    pub max_page_size: u64,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from; None for built-in defaults.
    pub source: Option<PathBuf>,
    pub listen: SocketAddr,
    /// Base URL without a trailing slash; the Tenant URL is `public_url + "/scim/v2"`.
    pub public_url: String,
    /// Whether `public_url` was derived from `listen` rather than configured.
    pub public_url_derived: bool,
    pub data_dir: PathBuf,
    pub tls: TlsMode,
    pub scim: ScimConfig,
    pub roles: RolesConfig,
    pub limits: Limits,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
}

impl Config {
    /// The built-in defaults, used when no config file exists.
    pub fn defaults() -> Config {
        match Config::parse("", None) {
            Ok(config) => config,
            // The empty document always validates; this arm only keeps the types honest.
            Err(e) => unreachable_defaults(e),
        }
    }

    /// Finds and reads the config: `explicit` (from `--config`), then `$SCIMD_CONFIG`, then
    /// `/etc/scimd/config.toml` if it exists, else the built-in defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let from_env = std::env::var_os(ENV_CONFIG).filter(|v| !v.is_empty()).map(PathBuf::from);
        let path = match (explicit, from_env) {
            (Some(p), _) => Some(p.to_path_buf()),
            (None, Some(p)) => Some(p),
            (None, None) => Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.exists()),
        };
        match path {
            Some(path) => Config::read_file(&path),
            None => Ok(Config::defaults()),
        }
    }

    pub fn read_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            message: format!(
                "cannot read the config file: {e}{}",
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    " (scimd's user needs read access; the packaged file is mode 0640, group scimd)"
                } else {
                    ""
                }
            ),
        })?;
        Config::parse(&text, Some(path))
    }

    /// Parses and validates a TOML document; `file` is used in error messages.
    pub fn parse(text: &str, file: Option<&Path>) -> Result<Config, ConfigError> {
        let err = |span: Option<Range<usize>>, message: String| ConfigError {
            file: file.map(Path::to_path_buf),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| err(e.span(), e.message().trim().to_string()))?;

        let mode = raw.tls.mode.as_ref().map(|m| *m.get_ref());

        let address = |key: &str, value: &Spanned<String>, example: &str| {
            value.get_ref().trim().parse::<SocketAddr>().map_err(|_| {
                let shown = value.get_ref();
                let message = format!(
                    "{key} = {shown:?} is not an IP address and port; write e.g. {example}"
                );
                err(Some(value.span()), message)
            })
        };
        let listen = match &raw.listen {
            Some(l) => address("listen", l, "\"0.0.0.0:8443\" or \"[::]:443\"")?,
            None => SocketAddr::from(([127, 0, 0, 1], 8443)),
        };

        let metrics = MetricsConfig {
            listen: match &raw.metrics.listen {
                None => None,
                Some(l) if l.get_ref().trim().is_empty() => None,
                Some(l) => Some(address("metrics.listen", l, "\"127.0.0.1:9464\"")?),
            },
        };
        if metrics.listen == Some(listen) && listen.port() != 0 {
            return Err(err(
                raw.metrics.listen.as_ref().map(|l| l.span()),
                "metrics.listen must differ from listen: metrics are served on their own \
                 address"
                    .into(),
            ));
        }

        let (public_url, public_url_derived) = match &raw.public_url {
            Some(u) => {
                (validate_public_url(u.get_ref()).map_err(|m| err(Some(u.span()), m))?, false)
            }
            None => {
                let scheme = if mode == Some(TlsModeName::Off) { "http" } else { "https" };
                let host = if listen.ip().is_unspecified() {
                    SocketAddr::new([127, 0, 0, 1].into(), listen.port())
                } else {
                    listen
                };
                (format!("{scheme}://{host}"), true)
            }
        };
        let acme_mode = mode == Some(TlsModeName::Acme);
        let acme = validate_acme(&raw.tls, raw.public_url.is_some(), &public_url, acme_mode)
            .map_err(|(span, m)| err(span, m))?;
        let tls = match (mode, acme) {
            (_, Some(acme)) => TlsMode::Acme(acme),
            (None | Some(TlsModeName::SelfSigned | TlsModeName::Acme), None) => TlsMode::SelfSigned,
            (Some(TlsModeName::Off), None) => TlsMode::Off,
            (Some(TlsModeName::Files), None) => match (raw.tls.cert.clone(), raw.tls.key.clone()) {
                (Some(cert), Some(key)) => TlsMode::Files { cert, key },
                _ => {
                    return Err(err(
                        raw.tls.mode.as_ref().map(|m| m.span()),
                        "tls.mode = \"files\" needs both tls.cert (the PEM certificate chain) \
                         and tls.key (the PEM private key)"
                            .into(),
                    ));
                }
            },
        };

        let mut allowed_domains = Vec::new();
        for d in &raw.scim.allowed_domains {
            let domain = d.get_ref().trim().trim_start_matches('@').to_lowercase();
            if domain.is_empty() || domain.contains(['@', '/', ' ']) {
                return Err(err(
                    Some(d.span()),
                    format!(
                        "allowed_domains entry {:?} is not a domain; write e.g. \"example.org\"",
                        d.get_ref()
                    ),
                ));
            }
            allowed_domains.push(domain);
        }
        let (default_page, max_page) = (&raw.scim.default_page_size, &raw.scim.max_page_size);
        if *max_page.get_ref() == 0 || *default_page.get_ref() > *max_page.get_ref() {
            return Err(err(
                Some(default_page.span()),
                "scim.default_page_size must be at most scim.max_page_size, which must be at \
                 least 1"
                    .into(),
            ));
        }

        let roles = validate_roles(raw.roles).map_err(|(span, m)| err(span, m))?;

        let limits = Limits {
            max_connections: raw.limits.max_connections.max(1),
            max_connections_per_address: raw.limits.max_connections_per_address,
            first_byte_timeout: Duration::from_secs(raw.limits.first_byte_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(raw.limits.idle_timeout_secs.max(1)),
            max_body_bytes: raw.limits.max_body_bytes.max(1024),
            request_timeout: Duration::from_secs(raw.limits.request_timeout_secs.max(1)),
            header_read_timeout: Duration::from_secs(raw.limits.header_read_timeout_secs.max(1)),
            tls_handshake_timeout: Duration::from_secs(
                raw.limits.tls_handshake_timeout_secs.max(1),
            ),
            shutdown_grace: Duration::from_secs(raw.limits.shutdown_grace_secs),
            write_queue: raw.limits.write_queue.max(1),
            cache_bytes: raw.limits.cache_mb.max(1).saturating_mul(1024 * 1024),
            request: RequestLimits {
                max_operations_per_patch: raw.limits.max_operations_per_patch.max(1),
                max_values_per_attribute: raw.limits.max_values_per_attribute.max(1),
                max_members_per_request: raw.limits.max_members_per_request.max(1),
                max_string_bytes: raw.limits.max_string_bytes.max(256),
                max_member_filters_per_patch: raw.limits.max_member_filters_per_patch.max(1),
            },
        };

        Ok(Config {
            source: file.map(Path::to_path_buf),
            listen,
            public_url,
            public_url_derived,
            data_dir: raw.data_dir.unwrap_or_else(|| PathBuf::from("./scimd-data")),
            tls,
            scim: ScimConfig {
                enabled: raw.scim.enabled,
                allowed_domains,
                default_page_size: *default_page.get_ref(),
                max_page_size: *max_page.get_ref(),
            },
            roles,
            limits,
            log: LogConfig {
                level: raw.log.level.unwrap_or_else(|| "info".into()),
                format: raw.log.format,
                keep_days: raw.log.keep_days.unwrap_or(DEFAULT_KEEP_DAYS),
            },
            metrics,
        })
    }

    /// The host of `public_url` (an IPv6 address without its brackets, no port).
    pub fn public_host(&self) -> String {
        url_host(&self.public_url)
    }

    /// The Tenant URL to paste into the IdP.
    pub fn tenant_url(&self) -> String {
        format!("{}/scim/v2", self.public_url)
    }

    /// The data file inside the data directory.
    pub fn data_file(&self) -> PathBuf {
        self.data_dir.join("scimd.redb")
    }

    /// The admin socket inside the data directory.
    pub fn admin_socket(&self) -> PathBuf {
        self.data_dir.join("scimd.sock")
    }
}

#[allow(clippy::panic)] // Only reachable if the built-in defaults stop validating: a bug.
fn unreachable_defaults(e: ConfigError) -> Config {
    panic!("built-in defaults do not validate: {e}")
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |before| before.matches('\n').count() + 1)
}

fn validate_public_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("public_url = {url:?} must start with https:// (or http://)"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(format!(
            "public_url = {url:?} is not a base URL like https://scim.example.org"
        ));
    }
    if url.to_ascii_lowercase().ends_with("/scim/v2") {
        return Err(format!(
            "public_url = {url:?} should be the server's base URL without /scim/v2; scimd \
             adds /scim/v2 itself"
        ));
    }
    Ok(url.to_string())
}

type SpannedError = (Option<Range<usize>>, String);

/// Validates the `tls.acme_*` keys (whatever the mode, so a typo is caught before it matters)
/// and, for `tls.mode = "acme"`, the names to certify. None unless the mode is acme.
fn validate_acme(
    raw: &RawTls,
    public_url_set: bool,
    public_url: &str,
    acme_mode: bool,
) -> Result<Option<AcmeConfig>, SpannedError> {
    let mode_span = raw.mode.as_ref().map(|m| m.span());
    let mut domains = Vec::new();
    if let Some(list) = &raw.acme_domains {
        for d in list.get_ref() {
            let name = validate_domain(d.get_ref()).map_err(|m| (Some(d.span()), m))?;
            if !domains.contains(&name) {
                domains.push(name);
            }
        }
        if domains.is_empty() {
            return Err((
                Some(list.span()),
                "tls.acme_domains is empty; list the DNS names to certify, or leave the key \
                 out to certify public_url's host"
                    .into(),
            ));
        }
    }
    let email = match &raw.acme_email {
        Some(e) => {
            let value = e.get_ref().trim();
            let value = value.strip_prefix("mailto:").unwrap_or(value);
            let ok = value.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !host.contains('@')
            }) && !value.contains(|c: char| c.is_whitespace() || c == ',');
            if !ok {
                return Err((
                    Some(e.span()),
                    format!(
                        "tls.acme_email = {:?} is not an email address; write e.g. \
                         \"admin@example.org\"",
                        e.get_ref()
                    ),
                ));
            }
            Some(value.to_string())
        }
        None => None,
    };
    let directory = match &raw.acme_directory {
        Some(d) => {
            let url = d.get_ref().trim();
            let host = url.strip_prefix("https://").unwrap_or("");
            if host.is_empty() || host.starts_with('/') || url.contains(char::is_whitespace) {
                return Err((
                    Some(d.span()),
                    format!(
                        "tls.acme_directory = {url:?} is not an https:// URL; write the CA's \
                         ACME directory, e.g. {LETS_ENCRYPT_DIRECTORY:?}"
                    ),
                ));
            }
            url.to_string()
        }
        None => LETS_ENCRYPT_DIRECTORY.to_string(),
    };
    let renew_days = match &raw.acme_renew_days {
        Some(d) => match u32::try_from(*d.get_ref()) {
            Ok(days @ 1..=365) => days,
            _ => {
                return Err((
                    Some(d.span()),
                    "tls.acme_renew_days must be from 1 to 365 (days of validity left when \
                     scimd renews)"
                        .into(),
                ));
            }
        },
        None => 30,
    };
    let check_interval = match &raw.acme_check_interval_secs {
        Some(s) if *s.get_ref() == 0 => {
            return Err((Some(s.span()), "tls.acme_check_interval_secs must be at least 1".into()));
        }
        Some(s) => Duration::from_secs(*s.get_ref()),
        None => Duration::from_secs(3600),
    };
    if !acme_mode {
        return Ok(None);
    }

    // The IdP reaches scimd at public_url, so the certificate must name its host.
    if !public_url_set || !public_url.starts_with("https://") {
        return Err((
            mode_span,
            "tls.mode = \"acme\" needs public_url = \"https://NAME\" with the DNS name that \
             points at this machine (the CA connects to it on port 443, and the IdP uses it)"
                .into(),
        ));
    }
    let host = url_host(public_url);
    let host = validate_domain(&host).map_err(|m| {
        (mode_span.clone(), format!("tls.mode = \"acme\" certifies public_url's host: {m}"))
    })?;
    if domains.is_empty() {
        domains.push(host);
    } else if !domains.contains(&host) {
        return Err((
            raw.acme_domains.as_ref().map(|l| l.span()),
            format!(
                "tls.acme_domains must include {host:?}, public_url's host: the IdP connects to \
                 that name, so the certificate must cover it"
            ),
        ));
    }
    Ok(Some(AcmeConfig {
        domains,
        email,
        directory,
        ca_root: raw.acme_ca_root.clone(),
        renew_days,
        check_interval,
    }))
}

/// The host of a validated `public_url` (brackets of an IPv6 address removed, port dropped).
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or("");
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or("").to_string(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_string(),
    }
}

/// A DNS name a CA can certify with TLS-ALPN-01: lower-cased, no trailing dot, no wildcard, no
/// IP address.
fn validate_domain(name: &str) -> Result<String, String> {
    let lower = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if lower.starts_with("*.") {
        return Err(format!(
            "{name:?} is a wildcard name, which needs the DNS-01 challenge; scimd answers \
             TLS-ALPN-01, so list each name"
        ));
    }
    if lower.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("{name:?} is an IP address; the CA certifies DNS names"));
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if lower.is_empty() || lower.len() > 253 || !lower.split('.').all(label_ok) {
        return Err(format!(
            "{name:?} is not a DNS name; write e.g. \"scim.example.org\" (international \
             names in their xn-- form)"
        ));
    }
    Ok(lower)
}

fn validate_roles(raw: RawRoles) -> Result<RolesConfig, SpannedError> {
    let default = raw.default.unwrap_or_else(|| vec![DEFAULT_ROLE.to_string()]);
    let (span, map) = match raw.user_types {
        Some(m) => (Some(m.span()), m.into_inner()),
        None => (
            None,
            BTreeMap::from([
                ("employee".to_string(), vec!["member".to_string()]),
                ("operations".to_string(), vec!["member".to_string(), "operations".to_string()]),
                ("manager".to_string(), vec!["member".to_string(), "manager".to_string()]),
            ]),
        ),
    };
    let mut user_types = BTreeMap::new();
    for (name, roles) in map {
        let key = name.trim().to_lowercase();
        if key.is_empty() {
            return Err((span, "roles.user_types has an empty userType name".into()));
        }
        if roles.iter().any(|r| r.trim().is_empty()) {
            return Err((span, format!("roles.user_types.{name} lists an empty role name")));
        }
        if user_types.insert(key, (name.clone(), roles)).is_some() {
            return Err((
                span,
                format!(
                    "roles.user_types names {name:?} twice (userTypes are matched \
                     case-insensitively)"
                ),
            ));
        }
    }
    Ok(RolesConfig {
        default,
        user_types,
        unknown_user_type: raw.unknown_user_type,
        unknown_role: raw.unknown_role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_first_run() {
        let c = Config::defaults();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(c.tenant_url(), "https://127.0.0.1:8443/scim/v2");
        assert_eq!(c.data_dir, PathBuf::from("./scimd-data"));
        assert_eq!(c.tls, TlsMode::SelfSigned);
        assert!(c.scim.enabled);
        assert_eq!(c.roles.default, vec!["member"]);
        assert_eq!(c.roles.user_types.len(), 3);
    }

    #[test]
    fn the_example_file_parses_with_every_key() {
        let text = include_str!("../config.example.toml");
        let c = Config::parse(text, Some(Path::new("config.example.toml"))).unwrap();
        assert_eq!(c.roles.user_types["operations"].1, vec!["member", "operations"]);
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        let e = Config::parse("data_dir = \"/x\"\nlisten = \"nope\"\n", Some(Path::new("c.toml")))
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.to_string().starts_with("c.toml:2: listen = \"nope\""), "{e}");

        let e = Config::parse("\n\n[scim]\nenabeld = true\n", None).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("enabeld"), "{e}");

        let e = Config::parse("[tls]\nmode = \"files\"\n", None).unwrap_err();
        assert!(e.message.contains("tls.cert"), "{e}");

        let e = Config::parse("[tls]\nmode = \"acme2\"\n", None).unwrap_err();
        assert_eq!(e.line, Some(2));

        let e = Config::parse("public_url = \"https://x.org/scim/v2\"", None).unwrap_err();
        assert!(e.message.contains("without /scim/v2"), "{e}");
    }

    #[test]
    fn acme_defaults_to_public_urls_host_and_lets_encrypt() {
        let c = Config::parse(
            "public_url = \"https://SCIM.Example.org\"\n[tls]\nmode = \"acme\"\n",
            None,
        )
        .unwrap();
        let TlsMode::Acme(acme) = c.tls else { panic!("not acme: {:?}", c.tls) };
        assert_eq!(acme.domains, vec!["scim.example.org"]);
        assert_eq!(acme.directory, LETS_ENCRYPT_DIRECTORY);
        assert_eq!(acme.email, None);
        assert_eq!(acme.ca_root, None);
        assert_eq!(acme.renew_days, 30);
        assert_eq!(acme.check_interval, Duration::from_secs(3600));

        let c = Config::parse(
            "public_url = \"https://scim.example.org:8443\"\n[tls]\nmode = \"acme\"\n\
             acme_domains = [\"scim.example.org\", \"scim2.example.org\"]\n\
             acme_email = \"mailto:ops@example.org\"\nacme_renew_days = 20\n\
             acme_check_interval_secs = 60\nacme_ca_root = \"/etc/ca.pem\"\n",
            None,
        )
        .unwrap();
        let TlsMode::Acme(acme) = c.tls else { panic!("not acme: {:?}", c.tls) };
        assert_eq!(acme.domains, vec!["scim.example.org", "scim2.example.org"]);
        assert_eq!(acme.email.as_deref(), Some("ops@example.org"));
        assert_eq!(acme.renew_days, 20);
        assert_eq!(acme.check_interval, Duration::from_secs(60));
        assert_eq!(acme.ca_root, Some(PathBuf::from("/etc/ca.pem")));
    }

    #[test]
    fn acme_errors_name_the_line_and_the_fix() {
        let e = Config::parse("[tls]\nmode = \"acme\"\n", None).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("needs public_url"), "{e}");

        let e = Config::parse("public_url = \"https://10.0.0.5\"\n[tls]\nmode = \"acme\"\n", None)
            .unwrap_err();
        assert!(e.message.contains("IP address"), "{e}");

        let e = Config::parse(
            "public_url = \"https://scim.example.org\"\n[tls]\nmode = \"acme\"\n\
             acme_domains = [\"other.example.org\"]\n",
            None,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("must include \"scim.example.org\""), "{e}");

        let e = Config::parse("[tls]\nacme_domains = [\"*.example.org\"]\n", None).unwrap_err();
        assert!(e.message.contains("wildcard"), "{e}");
        let e = Config::parse("[tls]\nacme_domains = [\"bad name\"]\n", None).unwrap_err();
        assert!(e.message.contains("not a DNS name"), "{e}");
        let e = Config::parse("[tls]\nacme_email = \"nobody\"\n", None).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("not an email address"), "{e}");
        let e = Config::parse("[tls]\nacme_directory = \"http://ca.example\"\n", None).unwrap_err();
        assert!(e.message.contains("https://"), "{e}");
        let e = Config::parse("[tls]\nacme_renew_days = 0\n", None).unwrap_err();
        assert!(e.message.contains("1 to 365"), "{e}");
        let e = Config::parse("[tls]\nacme_check_interval_secs = 0\n", None).unwrap_err();
        assert!(e.message.contains("at least 1"), "{e}");
    }

    #[test]
    fn user_types_are_case_insensitive_and_unique() {
        let c = Config::parse("[roles.user_types]\nEmployee = [\"member\"]\n", None).unwrap();
        assert_eq!(c.roles.user_types["employee"].0, "Employee");
        let e = Config::parse("[roles.user_types]\na = [\"x\"]\nA = [\"y\"]\n", None).unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
    }
}
