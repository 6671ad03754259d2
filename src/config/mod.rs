//! scimd's configuration: a TOML file read into `RawConfig` (exactly the file, unknown keys
//! refused) and validated once into `Config` (parsed addresses, paths, limits, roles).
//!
//! Every key is optional; its built-in default is what `config.example.toml` documents. Errors
//! name the file, the line and what to change. This module reads the file, and the
//! authorization files `[events]` names, and nothing else: it does not touch the data
//! directory or the certificates.
//!
//! This file holds `Config`, `ConfigError`, finding and loading the file, and the sections small
//! enough to check inline; `raw.rs` is the file as serde reads it, `tls.rs`, `roles.rs` and
//! `events.rs` the sections with checks of their own.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod events;
mod raw;
mod roles;
mod schemas;
mod tls;

use serde::Deserialize;
use toml::Spanned;

use crate::scim::limits::RequestLimits;
use events::validate_events;
pub use events::{
    DEFAULT_EVENTS_KEEP_DAYS, Delivery, EventsConfig, Payload, ReceiverConfig, Secret, Start,
    is_receiver_name,
};
use raw::{DEFAULT_KEEP_DAYS, RawConfig, TlsModeName};
use roles::validate_roles;
pub use roles::{RolesConfig, UnknownRole, UnknownUserType};
use schemas::validate_schemas;
use tls::validate_acme;
pub use tls::{AcmeConfig, LETS_ENCRYPT_DIRECTORY, TlsMode};

/// Where the config came from, in the order scimd looks.
pub const ENV_CONFIG: &str = "SCIMD_CONFIG";
pub const SYSTEM_CONFIG: &str = "/etc/scimd/config.toml";

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

/// The `[console]` section: the admin console under `/admin/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    pub enabled: bool,
    /// Client networks the console answers; empty: every client. Others get 404.
    pub allowed_networks: Vec<ipnet::IpNet>,
}

impl ConsoleConfig {
    /// Whether a client at `ip` may reach the console.
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.allowed_networks.is_empty() || self.allowed_networks.iter().any(|n| n.contains(&ip))
    }
}

/// The `[metrics]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served over plain HTTP; None: not served.
    pub listen: Option<SocketAddr>,
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
    pub unknown_attributes: UnknownAttributes,
}

/// What a write naming an attribute the schema does not have gets (`[scim] unknown_attributes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownAttributes {
    /// `400 invalidValue` naming the attribute and how to declare it.
    #[default]
    Reject,
    /// The attribute is dropped, the write goes on, and its provisioning-log entry lists
    /// what was dropped.
    Ignore,
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
    pub console: ConsoleConfig,
    pub events: EventsConfig,
    /// The extension schemas `[[schemas.extensions]]` declares, in the file's order.
    pub schemas: Vec<crate::scim::extensions::ExtensionDecl>,
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

        let mut allowed_networks = Vec::new();
        for net in raw.console.allowed_networks.iter().flatten() {
            let text = net.get_ref().trim();
            // A bare address is a network of one.
            let parsed = text
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(n) => allowed_networks.push(n.trunc()),
                Err(_) => {
                    return Err(err(
                        Some(net.span()),
                        format!(
                            "console.allowed_networks: {text:?} is not a network; write CIDR \
                             blocks such as \"10.0.0.0/8\" or \"2001:db8::/32\", or single \
                             addresses"
                        ),
                    ));
                }
            }
        }
        let console =
            ConsoleConfig { enabled: raw.console.enabled.unwrap_or(true), allowed_networks };

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
        let events = validate_events(&raw.events).map_err(|(span, m)| err(span, m))?;
        let schemas = validate_schemas(&raw.schemas).map_err(|(span, m)| err(span, m))?;

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
                unknown_attributes: raw.scim.unknown_attributes,
            },
            roles,
            limits,
            log: LogConfig {
                level: raw.log.level.unwrap_or_else(|| "info".into()),
                format: raw.log.format,
                keep_days: raw.log.keep_days.unwrap_or(DEFAULT_KEEP_DAYS),
            },
            metrics,
            console,
            events,
            schemas,
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

/// A problem found in one section: where in the file (when known) and what to change.
type SpannedError = (Option<Range<usize>>, String);

/// The host of a validated `public_url` (brackets of an IPv6 address removed, port dropped).
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or("");
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or("").to_string(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_string(),
    }
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
        let text = include_str!("../../config.example.toml");
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
    fn console_networks_are_cidr_blocks_or_addresses_and_refuse_anything_else() {
        let c = Config::parse(
            "[console]\nallowed_networks = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\"]",
            None,
        )
        .unwrap();
        assert!(c.console.enabled);
        let allows = |ip: &str| c.console.allows(ip.parse().unwrap());
        assert!(allows("10.1.2.3") && allows("192.0.2.7") && allows("2001:db8::1"));
        assert!(allows("::ffff:10.9.9.9"), "an IPv4-mapped client is its IPv4 address");
        assert!(!allows("192.0.2.8") && !allows("127.0.0.1"));
        assert!(Config::defaults().console.allows("203.0.113.1".parse().unwrap()));
        let e = Config::parse("[console]\nallowed_networks = [\"10.0.0.0/33\"]", None).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("console.allowed_networks") && e.message.contains("CIDR"),
            "{e}"
        );
    }
}
