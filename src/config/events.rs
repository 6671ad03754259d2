//! The `[events]` section: how long change events are kept and the `[[events.receivers]]`
//! the organisation's applications are, checked into [`EventsConfig`].
//!
//! Every rule is checked here, with the key and the rule in the message and the value's span
//! for `file:line`: receiver names, push or poll and the keys each needs or refuses, endpoint
//! URLs (https, or http to a loopback host only), payloads, resource types and where a stream
//! starts. A push receiver's `authorization_file` is read here, when the config is loaded or
//! reloaded, and must be readable by scimd's user only; its value is kept in a [`Secret`] that
//! no `Debug` output or error message shows. The `ca_file` is only checked to hold a PEM
//! certificate: building a TLS client from it is the delivery's job. Nothing here sends,
//! stores or signs an event.

use std::fmt;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Spanned, Value};

use super::SpannedError;
use crate::domain::Kind;

/// `events.keep_days` when the key is absent.
pub const DEFAULT_EVENTS_KEEP_DAYS: u32 = 7;

/// Longest receiver name.
const MAX_NAME_LEN: usize = 64;

/// Longest `Authorization` value read from an `authorization_file`; HTTP servers commonly
/// refuse larger header blocks.
const MAX_AUTHORIZATION_BYTES: u64 = 8192;

/// `[events]` as written. Values are kept untyped so that a wrong type is reported with the
/// key's name, like every other rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    keep_days: Option<Spanned<Value>>,
    #[serde(default)]
    receivers: Vec<Spanned<RawReceiver>>,
}

/// One `[[events.receivers]]` table as written; its span is the table's header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceiver {
    name: Option<Spanned<Value>>,
    delivery: Option<Spanned<Value>>,
    endpoint: Option<Spanned<Value>>,
    authorization_file: Option<Spanned<Value>>,
    ca_file: Option<Spanned<Value>>,
    payload: Option<Spanned<Value>>,
    resource_types: Option<Spanned<Value>>,
    start: Option<Spanned<Value>>,
}

/// The `[events]` section, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsConfig {
    /// Events stay at least this many days after every receiver has acknowledged them.
    pub keep_days: u32,
    /// In the order the file declares them; names are unique.
    pub receivers: Vec<ReceiverConfig>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig { keep_days: DEFAULT_EVENTS_KEEP_DAYS, receivers: Vec::new() }
    }
}

/// One application that follows the directory's changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiverConfig {
    /// `[a-z0-9-]{1,64}`, unique: in logs, `scimd events`, the poll URL `/events/{name}`.
    pub name: String,
    pub delivery: Delivery,
    pub payload: Payload,
    /// Which resources' events the receiver gets: non-empty, no repeats, in the file's order.
    pub resource_types: Vec<Kind>,
    pub start: Start,
}

impl EventsConfig {
    /// Each receiver's name and whether it starts from the beginning.
    pub fn cursor_starts(&self) -> Vec<(String, bool)> {
        self.receivers.iter().map(|r| (r.name.clone(), r.start == Start::Beginning)).collect()
    }
}

/// How events reach a receiver.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// RFC 8935: scimd POSTs each SET to `endpoint` with `Authorization: <authorization>`.
    Push {
        /// An absolute `https://` URL, or `http://` to a loopback host; no userinfo, no
        /// fragment. Shown (and so usable as the SET's `aud`) as `http::Uri` displays it.
        endpoint: http::Uri,
        /// The exact `Authorization` header value, read from `authorization_file`.
        authorization: Secret,
        /// Where `authorization` was read from (to name in messages; never its content).
        authorization_file: PathBuf,
        /// A PEM file of root certificates trusted for `endpoint` besides the system's.
        ca_file: Option<PathBuf>,
    },
    /// RFC 8936: the receiver fetches its SETs with `POST /events/{name}`.
    Poll,
}

impl Delivery {
    /// The `delivery` value that declares it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Delivery::Push { .. } => "push",
            Delivery::Poll => "poll",
        }
    }
}

/// What an event carries about the resource that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// The resource's identity and the names of the attributes that changed; the application
    /// reads the resource with its own token.
    Notice,
    /// The resource's values as well.
    Full,
}

impl Payload {
    /// The `payload` value that declares it.
    pub fn as_str(self) -> &'static str {
        match self {
            Payload::Notice => "notice",
            Payload::Full => "full",
        }
    }
}

/// Where a new receiver's stream begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// With the changes committed after the receiver is first configured.
    Now,
    /// With a `feed:add` event for every existing resource, then the live stream.
    Beginning,
}

impl Start {
    /// The `start` value that declares it.
    pub fn as_str(self) -> &'static str {
        match self {
            Start::Now => "now",
            Start::Beginning => "beginning",
        }
    }
}

/// A credential that must never be shown: `Debug` prints `Secret(redacted)` and there is no
/// `Display`; [`Secret::expose`] is for the one place that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// An `Authorization` header value: visible ASCII and spaces, not empty, surrounding
    /// whitespace removed. The error never repeats the value.
    pub fn authorization(value: &[u8]) -> Result<Secret, String> {
        let leading = value.len() - value.trim_ascii_start().len();
        let value = value.trim_ascii();
        if value.is_empty() {
            return Err("is empty; write the Authorization header value scimd sends, e.g. \
                        \"Bearer <token>\""
                .into());
        }
        if let Some(at) = value.iter().position(|b| !(b' '..=b'~').contains(b)) {
            return Err(format!(
                "holds a byte that cannot be in an HTTP header at byte {} (a control \
                 character, a line break or a non-ASCII character); it must be one line, the \
                 Authorization header value",
                leading + at + 1
            ));
        }
        // Only bytes from ' ' to '~' remain, so this is ASCII text.
        Ok(Secret(value.iter().map(|&b| char::from(b)).collect()))
    }

    /// The value itself, to put in the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Checks `[events]`, reading each push receiver's `authorization_file`.
pub(super) fn validate_events(raw: &RawEvents) -> Result<EventsConfig, SpannedError> {
    let keep_days = match &raw.keep_days {
        None => DEFAULT_EVENTS_KEEP_DAYS,
        Some(v) => match v.get_ref().as_integer().map(u32::try_from) {
            Some(Ok(days)) if days >= 1 => days,
            _ => {
                return Err((
                    Some(v.span()),
                    format!(
                        "events.keep_days = {} must be a whole number of days, at least 1 \
                         (default {DEFAULT_EVENTS_KEEP_DAYS})",
                        v.get_ref()
                    ),
                ));
            }
        },
    };
    let mut receivers: Vec<ReceiverConfig> = Vec::new();
    for raw_receiver in &raw.receivers {
        let receiver = validate_receiver(raw_receiver)?;
        if receivers.iter().any(|r| r.name == receiver.name) {
            let span = raw_receiver.get_ref().name.as_ref().map(Spanned::span);
            return Err((
                span,
                format!(
                    "events.receivers.name = {:?} is used by two receivers; each receiver needs \
                     a name of its own",
                    receiver.name
                ),
            ));
        }
        receivers.push(receiver);
    }
    Ok(EventsConfig { keep_days, receivers })
}

/// One receiver's keys, read with its name for the messages.
struct Keys<'a> {
    /// The receiver's name, checked.
    name: &'a str,
}

impl Keys<'_> {
    /// `events.receivers.KEY = VALUE (receiver "NAME") RULE`.
    fn refuse(&self, key: &str, value: &Spanned<Value>, rule: &str) -> SpannedError {
        (
            Some(value.span()),
            format!(
                "events.receivers.{key} = {} (receiver {:?}) {rule}",
                value.get_ref(),
                self.name
            ),
        )
    }

    /// A key whose value must be a string.
    fn text<'v>(&self, key: &str, value: &'v Spanned<Value>) -> Result<&'v str, SpannedError> {
        value.get_ref().as_str().ok_or_else(|| self.refuse(key, value, "must be a string"))
    }

    /// A key that must be one of `choices` (written exactly so), or absent for `default`.
    fn choice<T: Copy>(
        &self,
        key: &str,
        value: Option<&Spanned<Value>>,
        choices: &[(&str, T)],
        default: T,
    ) -> Result<T, SpannedError> {
        let Some(value) = value else { return Ok(default) };
        let written = self.text(key, value)?;
        match choices.iter().find(|(name, _)| *name == written) {
            Some((_, chosen)) => Ok(*chosen),
            None => {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
                Err(self.refuse(key, value, &format!("must be {}", names.join(" or "))))
            }
        }
    }
}

fn validate_receiver(raw: &Spanned<RawReceiver>) -> Result<ReceiverConfig, SpannedError> {
    let header = Some(raw.span());
    let fields = raw.get_ref();
    let Some(name_value) = &fields.name else {
        return Err((
            header,
            "[[events.receivers]] needs name = \"...\" (1 to 64 of a-z, 0-9 and -, unique)".into(),
        ));
    };
    let name = validate_name(name_value)?;
    let keys = Keys { name: &name };

    let Some(delivery_value) = &fields.delivery else {
        return Err((
            header,
            format!(
                "events.receivers.delivery is missing (receiver {name:?}): write delivery = \
                 \"push\" (scimd POSTs each event) or \"poll\" (the application fetches them)"
            ),
        ));
    };
    let delivery = match keys.text("delivery", delivery_value)? {
        "push" => validate_push(&keys, fields, header)?,
        "poll" => {
            for (key, value) in [
                ("endpoint", &fields.endpoint),
                ("authorization_file", &fields.authorization_file),
                ("ca_file", &fields.ca_file),
            ] {
                if let Some(value) = value {
                    return Err(keys.refuse(
                        key,
                        value,
                        "is for delivery = \"push\" only: a poll receiver fetches its events \
                         from scimd; remove the key",
                    ));
                }
            }
            Delivery::Poll
        }
        _ => {
            return Err(keys.refuse(
                "delivery",
                delivery_value,
                "must be \"push\" (RFC 8935) or \"poll\" (RFC 8936)",
            ));
        }
    };

    let payload = keys.choice(
        "payload",
        fields.payload.as_ref(),
        &[("notice", Payload::Notice), ("full", Payload::Full)],
        Payload::Notice,
    )?;
    let start = keys.choice(
        "start",
        fields.start.as_ref(),
        &[("now", Start::Now), ("beginning", Start::Beginning)],
        Start::Now,
    )?;
    let resource_types = match &fields.resource_types {
        None => vec![Kind::User, Kind::Group],
        Some(value) => validate_resource_types(&keys, value)?,
    };
    Ok(ReceiverConfig { name, delivery, payload, resource_types, start })
}

/// Whether `name` may name a receiver: 1 to 64 of a-z, 0-9 and `-` (also what
/// `scimd token create --events NAME` accepts).
pub fn is_receiver_name(name: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.bytes().all(allowed)
}

fn validate_name(value: &Spanned<Value>) -> Result<String, SpannedError> {
    let refuse = |rule: &str| {
        (Some(value.span()), format!("events.receivers.name = {} {rule}", value.get_ref()))
    };
    let name = value.get_ref().as_str().ok_or_else(|| refuse("must be a string"))?;
    if !is_receiver_name(name) {
        return Err(refuse(&format!(
            "must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9 and - (e.g. \"wiki\" or \
             \"hr-sync\")"
        )));
    }
    Ok(name.to_string())
}

fn validate_push(
    keys: &Keys<'_>,
    fields: &RawReceiver,
    header: Option<std::ops::Range<usize>>,
) -> Result<Delivery, SpannedError> {
    let name = keys.name;
    let Some(endpoint_value) = &fields.endpoint else {
        return Err((
            header,
            format!(
                "events.receivers.endpoint is missing (receiver {name:?}): delivery = \"push\" \
                 needs the URL scimd POSTs events to, e.g. endpoint = \
                 \"https://wiki.example.org/scim-events\""
            ),
        ));
    };
    let endpoint = validate_endpoint(keys.text("endpoint", endpoint_value)?)
        .map_err(|rule| keys.refuse("endpoint", endpoint_value, &rule))?;

    let Some(file_value) = &fields.authorization_file else {
        return Err((
            header,
            format!(
                "events.receivers.authorization_file is missing (receiver {name:?}): delivery = \
                 \"push\" needs a file holding the Authorization header value scimd sends, \
                 e.g. authorization_file = \"/etc/scimd/{name}.auth\" (mode 0600)"
            ),
        ));
    };
    let authorization_file = PathBuf::from(keys.text("authorization_file", file_value)?);
    let authorization = read_authorization(&authorization_file)
        .map_err(|rule| keys.refuse("authorization_file", file_value, &rule))?;

    let ca_file = match &fields.ca_file {
        None => None,
        Some(value) => {
            let path = PathBuf::from(keys.text("ca_file", value)?);
            check_pem_certificates(&path).map_err(|rule| keys.refuse("ca_file", value, &rule))?;
            Some(path)
        }
    };
    Ok(Delivery::Push { endpoint, authorization, authorization_file, ca_file })
}

/// An absolute `https://` URL, or `http://` to a loopback host; no userinfo, no fragment.
/// The error is the rule broken.
fn validate_endpoint(written: &str) -> Result<http::Uri, String> {
    const EXAMPLE: &str = "e.g. \"https://wiki.example.org/scim-events\"";
    if written.contains('#') {
        return Err("has a #fragment, which is never sent to the server; remove it".into());
    }
    let uri: http::Uri =
        written.parse().map_err(|_| format!("is not an absolute URL; write {EXAMPLE}"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(format!("is not an absolute URL; write {EXAMPLE}"));
    };
    if authority.as_str().contains('@') {
        return Err("must not carry a user name or password: scimd sends the \
                    authorization_file's value as the Authorization header instead"
            .into());
    }
    let host = authority.host();
    let port = &authority.as_str()[host.len()..];
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if !host_is_valid(host) || !port_ok {
        return Err(format!(
            "does not name a host (and port) scimd can connect to; write {EXAMPLE}"
        ));
    }
    match scheme {
        "https" => Ok(uri),
        "http" if host_is_loopback(host) => Ok(uri),
        "http" => Err("must use https://; http:// is allowed only to a loopback host \
                       (127.0.0.0/8, ::1 or localhost), where nothing can listen in"
            .into()),
        _ => Err(format!("must be an https:// URL; write {EXAMPLE}")),
    }
}

/// A DNS name, an IPv4 address or a bracketed IPv6 address.
fn host_is_valid(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok();
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok)
}

/// 127.0.0.0/8, ::1 or localhost: where a plain-HTTP receiver cannot be overheard.
fn host_is_loopback(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Reads an `authorization_file`: readable by its owner only, one header value. The error is
/// the rule broken and never contains the file's content.
fn read_authorization(path: &Path) -> Result<Secret, String> {
    let cannot_read = |e: std::io::Error| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (scimd's user must own it and be able to read it)"
        } else {
            ""
        };
        format!("cannot be read: {e}{hint}")
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let metadata = file.metadata().map_err(cannot_read)?;
    if !metadata.is_file() {
        return Err("is not a file".into());
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "can be read or changed by other users (mode {mode:04o}); it holds a secret: \
             chmod 600 {}",
            path.display()
        ));
    }
    let mut value = Vec::new();
    file.take(MAX_AUTHORIZATION_BYTES + 1).read_to_end(&mut value).map_err(cannot_read)?;
    if value.len() as u64 > MAX_AUTHORIZATION_BYTES {
        return Err(format!(
            "is longer than {MAX_AUTHORIZATION_BYTES} bytes: it must hold only the \
             Authorization header value"
        ));
    }
    Secret::authorization(&value)
}

/// A `ca_file` must be readable and hold at least one PEM certificate; the delivery parses
/// the certificates themselves.
fn check_pem_certificates(path: &Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    let marker: &[u8] = b"-----BEGIN CERTIFICATE-----";
    if !text.windows(marker.len()).any(|w| w == marker) {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(())
}

fn validate_resource_types(
    keys: &Keys<'_>,
    value: &Spanned<Value>,
) -> Result<Vec<Kind>, SpannedError> {
    const RULE: &str = "must list \"User\", \"Group\" or both (spelled so), each once";
    let items = value.get_ref().as_array().ok_or_else(|| {
        keys.refuse("resource_types", value, &format!("must be a list: it {RULE}"))
    })?;
    if items.is_empty() {
        return Err(keys.refuse("resource_types", value, &format!("is empty: it {RULE}")));
    }
    let mut kinds = Vec::new();
    for item in items {
        let kind = match item.as_str() {
            Some("User") => Kind::User,
            Some("Group") => Kind::Group,
            _ => {
                let rule = format!("names {item}, which is not a resource type: it {RULE}");
                return Err(keys.refuse("resource_types", value, &rule));
            }
        };
        if kinds.contains(&kind) {
            let rule = format!("names {item} twice: it {RULE}");
            return Err(keys.refuse("resource_types", value, &rule));
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::config::{Config, ConfigError};

    /// A directory for the files receivers name; `auth` holds `Bearer abc` with mode 0600.
    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            let files = Files { dir: tempfile::tempdir().unwrap() };
            files.write("auth", b"  Bearer abc\n", 0o600);
            files
        }

        /// Writes `name` with `content` and `mode`; returns its path as a TOML string.
        fn write(&self, name: &str, content: &[u8], mode: u32) -> String {
            let path = self.path(name);
            // Replaced, not rewritten: the old file may be read-only.
            let _ = std::fs::remove_file(&path);
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            format!("{:?}", path.display().to_string())
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn auth(&self) -> String {
            format!("{:?}", self.path("auth").display().to_string())
        }

        /// A push receiver named `name` (header on the receiver's first line, then `name`,
        /// `delivery`, `endpoint`, `authorization_file`), with `extra` lines after.
        fn push(&self, name: &str, extra: &str) -> String {
            format!(
                "[[events.receivers]]\nname = \"{name}\"\ndelivery = \"push\"\n\
                 endpoint = \"https://wiki.example.org/scim-events\"\n\
                 authorization_file = {}\n{extra}",
                self.auth()
            )
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Some(Path::new("c.toml")))
    }

    fn events(text: &str) -> EventsConfig {
        match parse(text) {
            Ok(config) => config.events,
            Err(e) => panic!("refused: {e}\n{text}"),
        }
    }

    /// Asserts that `text` is refused at `line`, naming `key`, with `rule` in the message.
    #[track_caller]
    fn refused(text: &str, line: usize, key: &str, rule: &str) -> String {
        let e = match parse(text) {
            Ok(config) => panic!("accepted: {:?}\n{text}", config.events),
            Err(e) => e,
        };
        let shown = e.to_string();
        assert_eq!(e.line, Some(line), "{shown}\n{text}");
        assert!(shown.starts_with(&format!("c.toml:{line}: ")), "{shown}");
        assert!(shown.contains(key), "does not name {key}: {shown}");
        assert!(shown.contains(rule), "does not say {rule:?}: {shown}");
        shown
    }

    #[test]
    fn without_the_section_events_are_kept_a_week_for_no_receiver() {
        assert_eq!(Config::defaults().events, EventsConfig::default());
        assert_eq!(events("[events]\n"), EventsConfig { keep_days: 7, receivers: vec![] });
        assert_eq!(events("[events]\nkeep_days = 1\n").keep_days, 1);
        assert_eq!(events("[events]\nkeep_days = 30\n").keep_days, 30);
    }

    #[test]
    fn keep_days_is_a_whole_number_of_days_from_one() {
        for bad in ["0", "-1", "\"7\"", "1.5", "4294967296"] {
            let text = format!("[events]\n\nkeep_days = {bad}\n");
            refused(&text, 3, "events.keep_days", "at least 1");
        }
    }

    #[test]
    fn a_push_and_a_poll_receiver_are_typed_with_their_defaults() {
        let files = Files::new();
        let text = format!(
            "[events]\nkeep_days = 3\n{}\
             [[events.receivers]]\nname = \"hr-sync\"\ndelivery = \"poll\"\npayload = \"full\"\n\
             resource_types = [\"Group\", \"User\"]\nstart = \"beginning\"\n",
            files.push("wiki", "")
        );
        let events = events(&text);
        assert_eq!(events.keep_days, 3);
        let [wiki, hr] = &events.receivers[..] else { panic!("{events:?}") };
        assert_eq!(wiki.name, "wiki");
        assert_eq!(wiki.payload, Payload::Notice);
        assert_eq!(wiki.resource_types, vec![Kind::User, Kind::Group]);
        assert_eq!(wiki.start, Start::Now);
        let Delivery::Push { endpoint, authorization, authorization_file, ca_file } =
            &wiki.delivery
        else {
            panic!("not push: {wiki:?}")
        };
        assert_eq!(endpoint.to_string(), "https://wiki.example.org/scim-events");
        assert_eq!(authorization.expose(), "Bearer abc", "trimmed of spaces and the newline");
        assert_eq!(authorization_file, &files.path("auth"));
        assert_eq!(ca_file, &None);
        assert_eq!(wiki.delivery.as_str(), "push");

        assert_eq!(hr.name, "hr-sync");
        assert_eq!(hr.delivery, Delivery::Poll);
        assert_eq!(hr.payload, Payload::Full);
        assert_eq!(hr.resource_types, vec![Kind::Group, Kind::User], "in the file's order");
        assert_eq!(hr.start, Start::Beginning);
    }

    #[test]
    fn the_authorization_value_never_shows_in_debug_output() {
        let files = Files::new();
        files.write("auth", b"Bearer s3cr3t-value\n", 0o600);
        let config = parse(&files.push("wiki", "")).unwrap();
        let shown = format!("{config:?} {:#?}", config.events);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("Secret(redacted)"), "{shown}");
    }

    #[test]
    fn names_are_short_lower_case_and_unique() {
        let files = Files::new();
        let long = "a".repeat(64);
        assert_eq!(events(&files.push(&long, "")).receivers[0].name, long);
        assert_eq!(events(&files.push("hr-2", "")).receivers[0].name, "hr-2");
        for bad in ["Wiki", "", "wiki_2", "wiki 2", "wikí", &"a".repeat(65)] {
            refused(&files.push(bad, ""), 2, "events.receivers.name", "a-z, 0-9 and -");
        }
        let text = "[[events.receivers]]\nname = 7\ndelivery = \"poll\"\n";
        refused(text, 2, "events.receivers.name", "must be a string");

        let text = "\n[[events.receivers]]\ndelivery = \"poll\"\n";
        refused(text, 2, "[[events.receivers]] needs name", "a-z, 0-9 and -");

        let text = format!("{}{}", files.push("wiki", ""), files.push("wiki", ""));
        refused(&text, 7, "events.receivers.name = \"wiki\"", "used by two receivers");
        let first = files.push("wiki", "");
        let text = format!("{first}[[events.receivers]]\nname = \"wiki\"\ndelivery = \"poll\"\n");
        refused(&text, 7, "events.receivers.name = \"wiki\"", "used by two receivers");
    }

    #[test]
    fn delivery_is_push_or_poll() {
        let text = "[[events.receivers]]\nname = \"wiki\"\n";
        refused(text, 1, "events.receivers.delivery is missing", "\"push\"");
        for bad in ["\"Push\"", "\"webhook\"", "\"\""] {
            let text = format!("[[events.receivers]]\nname = \"wiki\"\ndelivery = {bad}\n");
            refused(&text, 3, "events.receivers.delivery", "must be \"push\" (RFC 8935) or");
        }
        let text = "[[events.receivers]]\nname = \"wiki\"\ndelivery = true\n";
        refused(text, 3, "events.receivers.delivery = true", "must be a string");
    }

    #[test]
    fn push_needs_an_endpoint_and_an_authorization_file() {
        let files = Files::new();
        let text = format!(
            "[[events.receivers]]\nname = \"wiki\"\ndelivery = \"push\"\nauthorization_file = {}\n",
            files.auth()
        );
        refused(&text, 1, "events.receivers.endpoint is missing (receiver \"wiki\")", "URL");
        let text = "[[events.receivers]]\nname = \"wiki\"\ndelivery = \"push\"\n\
                    endpoint = \"https://wiki.example.org/e\"\n";
        refused(text, 1, "events.receivers.authorization_file is missing", "Authorization");
    }

    #[test]
    fn poll_refuses_the_push_keys() {
        let files = Files::new();
        let ca = files.write("ca.pem", b"-----BEGIN CERTIFICATE-----\n", 0o644);
        for (key, value) in [
            ("endpoint", "\"https://wiki.example.org/e\"".to_string()),
            ("authorization_file", files.auth()),
            ("ca_file", ca),
        ] {
            let text = format!(
                "[[events.receivers]]\nname = \"hr\"\ndelivery = \"poll\"\n{key} = {value}\n"
            );
            let key = format!("events.receivers.{key}");
            refused(&text, 4, &key, "is for delivery = \"push\" only");
        }
    }

    #[test]
    fn endpoints_are_https_or_http_to_a_loopback_host() {
        let files = Files::new();
        let with_endpoint =
            |url: &str| files.push("wiki", "").replace("https://wiki.example.org/scim-events", url);
        for good in [
            "https://wiki.example.org",
            "https://wiki.example.org:8443/scim-events?tenant=7",
            "https://10.0.0.5/e",
            "https://[2001:db8::1]/e",
            "http://127.0.0.1:8080/e",
            "http://127.5.6.7/e",
            "http://[::1]:9000/e",
            "http://localhost/e",
            "http://LOCALHOST:1/e",
        ] {
            let events = events(&with_endpoint(good));
            let Delivery::Push { endpoint, .. } = &events.receivers[0].delivery else {
                panic!("{events:?}")
            };
            assert_eq!(endpoint.host(), good.parse::<http::Uri>().unwrap().host(), "{good}");
        }
        let key = "events.receivers.endpoint";
        for (bad, rule) in [
            ("http://wiki.example.org/e", "http:// is allowed only to a loopback host"),
            ("http://10.0.0.1/e", "only to a loopback host"),
            ("http://[::2]/e", "only to a loopback host"),
            ("http://localhost.example.org/e", "only to a loopback host"),
            ("https://user:pw@wiki.example.org/e", "must not carry a user name or password"),
            ("https://user@wiki.example.org/e", "must not carry a user name or password"),
            ("wiki.example.org/e", "is not an absolute URL"),
            ("/scim-events", "is not an absolute URL"),
            ("", "is not an absolute URL"),
            ("https://wiki example.org/e", "is not an absolute URL"),
            ("ftp://wiki.example.org/e", "must be an https:// URL"),
            ("https://wiki.example.org/e#top", "#fragment"),
            ("https://wiki.example.org:0/e", "host (and port)"),
            ("https://wiki.example.org:99999/e", "host (and port)"),
            ("https://wiki..example.org/e", "host (and port)"),
            ("https://:443/e", "host (and port)"),
        ] {
            refused(&with_endpoint(bad), 4, key, rule);
        }
        let text = with_endpoint("x").replace("\"x\"", "[\"https://a.example\"]");
        refused(&text, 4, key, "must be a string");
    }

    #[test]
    fn the_authorization_file_is_one_header_value_readable_by_its_owner_only() {
        let files = Files::new();
        let key = "events.receivers.authorization_file";
        let text = files.push("wiki", "");
        for (content, mode, rule) in [
            (&b""[..], 0o600, "is empty"),
            (b" \n\t\n", 0o600, "is empty"),
            (b"Bearer s3cr3t\tvalue", 0o600, "at byte 14"),
            (b"Bearer s3cr3t\nsecond line\n", 0o600, "a line break"),
            (b"Bearer s3cr3t\r\nX-Other: 1", 0o600, "cannot be in an HTTP header"),
            ("Bearer s3cr3t-é".as_bytes(), 0o600, "non-ASCII"),
            (b"Bearer s3cr3t\x00", 0o600, "control character"),
            (b"Bearer s3cr3t", 0o640, "chmod 600"),
            (b"Bearer s3cr3t", 0o604, "(mode 0604)"),
            (b"Bearer s3cr3t", 0o620, "can be read or changed by other users"),
        ] {
            files.write("auth", content, mode);
            let shown = refused(&text, 5, key, rule);
            assert!(!shown.contains("s3cr3t"), "the value is shown: {shown}");
        }
        files.write("auth", b"Bearer s3cr3t", 0o400);
        assert!(parse(&text).is_ok(), "read-only for its owner is fine");

        files.write("auth", &vec![b'a'; 8193], 0o600);
        refused(&text, 5, key, "longer than 8192 bytes");
        files.write("auth", &vec![b'a'; 8192], 0o600);
        assert!(parse(&text).is_ok(), "8192 bytes are fine");

        std::fs::remove_file(files.path("auth")).unwrap();
        let shown = refused(&text, 5, key, "cannot be read");
        assert!(shown.contains(&files.path("auth").display().to_string()), "{shown}");
        std::fs::create_dir(files.path("auth")).unwrap();
        refused(&text, 5, key, "is not a file");

        let text = text.replace(&files.auth(), "17");
        refused(&text, 5, "events.receivers.authorization_file = 17", "must be a string");
    }

    #[test]
    fn a_ca_file_must_hold_a_pem_certificate() {
        let files = Files::new();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["ca.example".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca = files.write("ca.pem", cert.pem().as_bytes(), 0o644);
        let events = events(&files.push("wiki", &format!("ca_file = {ca}\n")));
        let Delivery::Push { ca_file, .. } = &events.receivers[0].delivery else {
            panic!("{events:?}")
        };
        assert_eq!(ca_file, &Some(files.path("ca.pem")));

        let not_pem = files.write("ca.der", cert.der(), 0o644);
        let text = files.push("wiki", &format!("ca_file = {not_pem}\n"));
        refused(&text, 6, "events.receivers.ca_file", "holds no PEM certificate");
        let missing = format!("{:?}", files.path("none.pem").display().to_string());
        let text = files.push("wiki", &format!("ca_file = {missing}\n"));
        refused(&text, 6, "events.receivers.ca_file", "cannot be read");
    }

    #[test]
    fn payload_and_start_take_exactly_their_values() {
        let files = Files::new();
        for (line, rule) in [
            ("payload = \"Notice\"", "must be \"notice\" or \"full\""),
            ("payload = \"diff\"", "must be \"notice\" or \"full\""),
            ("payload = 1", "must be a string"),
            ("start = \"Now\"", "must be \"now\" or \"beginning\""),
            ("start = \"yesterday\"", "must be \"now\" or \"beginning\""),
        ] {
            let key = format!("events.receivers.{}", line.split(' ').next().unwrap_or(""));
            refused(&files.push("wiki", &format!("{line}\n")), 6, &key, rule);
        }
        let events = events(&files.push("wiki", "payload = \"full\"\nstart = \"beginning\"\n"));
        assert_eq!(events.receivers[0].payload, Payload::Full);
        assert_eq!(events.receivers[0].start, Start::Beginning);
    }

    #[test]
    fn resource_types_are_user_and_group_each_once() {
        let files = Files::new();
        let types = |list: &str| {
            let text = files.push("wiki", &format!("resource_types = {list}\n"));
            events(&text).receivers[0].resource_types.clone()
        };
        assert_eq!(types("[\"Group\"]"), vec![Kind::Group]);
        assert_eq!(types("[\"User\"]"), vec![Kind::User]);
        let key = "events.receivers.resource_types";
        for (list, rule) in [
            ("[]", "is empty"),
            ("[\"user\"]", "names \"user\", which is not a resource type"),
            ("[\"Users\"]", "which is not a resource type"),
            ("[\"User\", \"User\"]", "names \"User\" twice"),
            ("[1]", "which is not a resource type"),
            ("\"User\"", "must be a list"),
        ] {
            let text = files.push("wiki", &format!("resource_types = {list}\n"));
            refused(&text, 6, key, rule);
        }
    }

    #[test]
    fn an_unknown_key_is_refused_at_its_line() {
        let files = Files::new();
        let text = files.push("wiki", "authorization = \"Bearer x\"\n");
        refused(&text, 6, "authorization", "unknown field");
        refused("[events]\nkeep = 7\n", 2, "keep", "unknown field");
    }

    /// The receivers `config.example.toml` shows commented out, uncommented with files this
    /// test writes: the documented example is a valid config.
    #[test]
    fn the_example_files_receivers_parse_when_uncommented() {
        let files = Files::new();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["ca.example".to_string()]).unwrap();
        let ca = files.write("ca.pem", params.self_signed(&key).unwrap().pem().as_bytes(), 0o644);
        let example = include_str!("../../config.example.toml");
        let events_section = example.split("\n[events]\n").nth(1).unwrap();
        let mut text = String::from("[events]\n");
        for line in events_section.lines() {
            let uncommented = line.strip_prefix("# ").unwrap_or(line);
            // The next section, written or commented out, ends the receivers.
            if uncommented.starts_with('[') && uncommented != "[[events.receivers]]" {
                break;
            }
            let is_key = uncommented
                .split_once(" = ")
                .is_some_and(|(k, _)| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            if uncommented == "[[events.receivers]]" || is_key {
                text.push_str(uncommented);
            }
            text.push('\n');
        }
        let text = text
            .replace("\"/etc/scimd/wiki.auth\"", &files.auth())
            .replace("\"/etc/scimd/wiki-ca.pem\"", &ca);
        let events = events(&text);
        let names: Vec<&str> = events.receivers.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["wiki", "hr"], "{text}");
        let Delivery::Push { ca_file, .. } = &events.receivers[0].delivery else {
            panic!("{events:?}")
        };
        assert!(ca_file.is_some(), "{text}");
        assert_eq!(events.receivers[1].delivery, Delivery::Poll);
    }
}
