//! The admin protocol: what `scimd token …`, `log`, `users`/`groups`, `backup` and
//! `events rotate-key` ask, and how it is answered.
//!
//! redb lets one process open the data file, so while the server runs the CLI sends its
//! request over the server's Unix socket (`<data_dir>/scimd.sock`, mode 0600: only the
//! service's user, or root, can talk to it) as one JSON line and reads one JSON line back, or,
//! for a backup or an export, a stream of lines. When the server is stopped the CLI opens the
//! file itself. Both paths run the same functions (`execute`, `export`, and the service's
//! `write_backup`), so they behave the same.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::domain::Kind;
use crate::service::backup::{Counts, Header};
use crate::service::{CheckedFilter, LogEntries, LogEntry, Service, ServiceError, TokenScope};

/// One admin request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    TokenCreate {
        name: String,
        read_only: bool,
        expires_in_days: Option<u32>,
        /// A token that may only poll this receiver's change events (`--events NAME`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        events: Option<String>,
    },
    TokenList,
    TokenRevoke {
        id: String,
    },
    /// Log entries, newest first: the newest `limit` that match, or with `after`, the oldest
    /// `limit` that match and are newer than sequence number `after` (what `--follow` polls).
    Log {
        limit: usize,
        #[serde(default)]
        filter: LogFilter,
        #[serde(default)]
        after: Option<u64>,
    },
    /// Answered by a stream: one response line, then the backup's lines
    /// ([`Service::write_backup`]).
    Backup,
    /// Every user or group a filter matches, from one read transaction. Answered by a
    /// stream: one response line, one line per resource (SCIM JSON, id order), then an
    /// [`ExportEnd`] line.
    Export {
        resources: Resources,
        filter: Option<String>,
    },
    /// Adds a new event signing key to the server's ring (so the JWKS lists it at once);
    /// answered with `{"kid": "<new kid>", "kids": [every published kid, oldest first]}`.
    EventsRotateKey,
    /// Every event receiver's progress ([`crate::service::ReceiverStatus`] list).
    EventsStatus,
    /// Lifts a held receiver's hold; answered with `{"resumed": true}`, or an error naming
    /// the receivers when there is no such one.
    EventsRetry {
        name: String,
    },
    /// The newest `limit` log entries about one user or group (by id, and by name for refused
    /// creates), through the log's by-subject index; answered with a [`LogEntry`] list.
    History {
        resources: Resources,
        id: String,
        #[serde(default)]
        name: Option<String>,
        limit: usize,
    },
    /// A one-time console sign-in link valid for `valid_for_secs` (at most 600); answered
    /// with `{"url": "...", "valid_for_secs": N}`. Only a running server has sessions.
    ConsoleLogin {
        valid_for_secs: u64,
    },
    /// Ends every console session and unused sign-in link; answered with `{"ended": N}`.
    ConsoleLogoutAll,
}

/// The last line of an export: the count, or why it stopped. A stream without it was cut.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportEnd {
    Total(u64),
    Error(String),
}

/// What `scimd users …` or `scimd groups …` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resources {
    Users,
    Groups,
}

impl Resources {
    pub fn kind(self) -> Kind {
        match self {
            Resources::Users => Kind::User,
            Resources::Groups => Kind::Group,
        }
    }
}

/// The answer: a JSON result or an error message for the admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminResponse {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AdminResponse {
    /// `ok` with the result, or not with the error.
    pub fn from_result(result: Result<Value, String>) -> AdminResponse {
        match result {
            Ok(v) => AdminResponse { ok: true, result: Some(v), error: None },
            Err(e) => AdminResponse { ok: false, result: None, error: Some(e) },
        }
    }
}

/// Runs a request on a blocking thread. `service` is the running server's (so a revoke clears
/// its token cache at once), or one over the data file opened by the CLI.
pub fn execute(service: &Service, request: AdminRequest) -> AdminResponse {
    let result = match request {
        AdminRequest::TokenCreate { name, read_only, expires_in_days, events } => {
            let scope = match events {
                Some(receiver) => TokenScope::Events { receiver },
                None if read_only => TokenScope::ReadOnly,
                None => TokenScope::ReadWrite,
            };
            service
                .issue_token_blocking(&name, scope, expires_in_days)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string()))
        }
        AdminRequest::TokenList => service
            .list_tokens_blocking()
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string())),
        AdminRequest::TokenRevoke { id } => service
            .revoke_token_blocking(&id)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string())),
        AdminRequest::Log { limit, filter, after } => service
            .log_page(limit, after, |e| filter.matches(e))
            .map(|LogEntries { entries, next }| LogPage { entries, next })
            .map_err(|e| e.to_string())
            .and_then(|l| serde_json::to_value(l).map_err(|e| e.to_string())),
        AdminRequest::EventsRotateKey => service
            .rotate_signing_key()
            .map_err(|e| e.to_string())
            .map(|kid| serde_json::json!({ "kid": kid, "kids": published_kids(service) })),
        AdminRequest::EventsStatus => service
            .event_status()
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::to_value(s).map_err(|e| e.to_string())),
        AdminRequest::EventsRetry { name } => match service.resume_event_receiver(&name) {
            Ok(true) => Ok(serde_json::json!({ "resumed": true })),
            Ok(false) => Err(format!(
                "no event receiver named '{}' has started (see `scimd events status`)",
                crate::domain::text::escape(&name)
            )),
            Err(e) => Err(e.to_string()),
        },
        AdminRequest::History { resources, id, name, limit } => service
            .history_blocking(resources.kind(), &id, name, limit)
            .map_err(|e| e.to_string())
            .and_then(|h| serde_json::to_value(h).map_err(|e| e.to_string())),
        AdminRequest::Backup | AdminRequest::Export { .. } => {
            Err("this request is streamed, not answered in one line".into())
        }
        AdminRequest::ConsoleLogin { .. } | AdminRequest::ConsoleLogoutAll => {
            Err("the console signs in through the running server, and none is running: start it \
             (systemctl start scimd), then run this again"
                .into())
        }
    };
    AdminResponse::from_result(result)
}

/// The `kid` of every published event signing key, oldest first.
fn published_kids(service: &Service) -> Vec<String> {
    service.signing_keys().map_or_else(Vec::new, |keys| {
        let keys = keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.kids().map(str::to_string).collect()
    })
}

/// Every user or group `filter` matches, in id order, each handed to `emit` as `GET` renders
/// it; returns how many. Blocking. `emit` failing (the reader went away) stops the export.
pub fn export(
    service: &Service,
    resources: Resources,
    filter: Option<&str>,
    mut emit: impl FnMut(Value) -> std::io::Result<()>,
) -> Result<u64, String> {
    let filter =
        CheckedFilter::parse(filter, &[resources.kind()]).map_err(|e| format!("--filter: {e}"))?;
    let emit = |v: Value| emit(v).map_err(|e| ServiceError::Internal(e.to_string()));
    service.export(resources.kind(), filter.as_ref(), emit).map_err(|e| e.to_string())
}

/// Asks the server on `socket` for an export and hands each resource to `on_resource`; returns
/// the count the server sent at the end.
pub async fn call_export(
    socket: &Path,
    request: &AdminRequest,
    mut on_resource: impl FnMut(Value) -> std::io::Result<()>,
) -> Result<u64, ClientError> {
    let (mut reader, _write) = open_stream(socket, request).await?;
    let mut line = String::new();
    let mut received = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(ClientError::Protocol(format!("the list ended after {received} items")));
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if let Some(end) = value.get("end") {
            return match serde_json::from_value::<ExportEnd>(end.clone()) {
                Ok(ExportEnd::Total(n)) if n == received => Ok(n),
                Ok(ExportEnd::Total(n)) => Err(ClientError::Protocol(format!(
                    "{received} items arrived of the {n} announced"
                ))),
                Ok(ExportEnd::Error(e)) => Err(ClientError::Refused(e)),
                Err(e) => Err(ClientError::Protocol(e.to_string())),
            };
        }
        received += 1;
        on_resource(value)?;
    }
}

/// The answer to [`AdminRequest::Log`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// The `after` for the next poll: every entry up to it has been looked at.
    pub next: u64,
}

/// Which log entries `scimd log` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFilter {
    /// Usernames, group displayNames or resource ids (case-insensitive); an entry about any
    /// of them matches. Empty: every entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// How a request ended, by its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done: 2xx.
    Ok,
    /// Refused as the client's mistake (4xx): a bad payload, a conflict, an unknown id.
    Refused,
    /// Failed on the server's side: 5xx.
    Failed,
}

impl Outcome {
    pub fn of(status: u16) -> Outcome {
        match status {
            ..400 => Outcome::Ok,
            400..500 => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

impl LogFilter {
    pub fn matches(&self, entry: &LogEntry) -> bool {
        let resource_matches = self.resources.is_empty()
            || [entry.name.as_deref(), entry.resource_id.as_deref()]
                .into_iter()
                .flatten()
                .any(|have| self.resources.iter().any(|wanted| have.eq_ignore_ascii_case(wanted)));
        resource_matches && self.outcome.is_none_or(|o| Outcome::of(entry.status) == o)
    }
}

/// Asks the server on `socket` for a backup and copies it to `out`, counting its records.
/// Returns the header and the counts found, for the caller to compare.
pub async fn call_backup(
    socket: &Path,
    out: &mut (impl Write + Send),
) -> Result<(Header, Counts), ClientError> {
    let (mut reader, _write) = open_stream(socket, &AdminRequest::Backup).await?;
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let header: Header = serde_json::from_str(&line)
        .map_err(|e| ClientError::Protocol(format!("the backup header: {e}")))?;
    out.write_all(line.as_bytes())?;
    let mut found = Counts::default();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            break;
        }
        found.tally(&line);
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok((header, found))
}

/// Why the CLI could not reach a running server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server is listening: the caller opens the file itself.
    #[error("no scimd is running on this data directory")]
    NotRunning,
    #[error("the admin socket {path} refused access ({source}); run as scimd's user or root")]
    Denied { path: String, source: std::io::Error },
    #[error("talking to the running scimd failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the running scimd sent an answer this binary cannot read: {0}")]
    Protocol(String),
    /// The server understood the request and said no (a bad filter, say).
    #[error("{0}")]
    Refused(String),
}

/// Sends `request` to the server listening on `socket`.
pub async fn call(socket: &Path, request: &AdminRequest) -> Result<AdminResponse, ClientError> {
    let (mut reader, _write) = send_request(socket, request).await?;
    let mut answer = String::new();
    reader.read_line(&mut answer).await?;
    serde_json::from_str(&answer).map_err(|e| ClientError::Protocol(e.to_string()))
}

type AnswerReader = BufReader<tokio::net::unix::OwnedReadHalf>;

/// Whether a server answers on `socket` (a connection is made and dropped; nothing is asked).
pub async fn probe(socket: &Path) -> Result<(), ClientError> {
    connect(socket).await.map(drop)
}

async fn connect(socket: &Path) -> Result<UnixStream, ClientError> {
    match UnixStream::connect(socket).await {
        Ok(s) => Ok(s),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Err(ClientError::NotRunning)
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(ClientError::Denied { path: socket.display().to_string(), source: e })
        }
        Err(e) => Err(e.into()),
    }
}

/// Sends a request answered by a stream and reads its first line: `ok`, or the refusal.
async fn open_stream(
    socket: &Path,
    request: &AdminRequest,
) -> Result<(AnswerReader, tokio::net::unix::OwnedWriteHalf), ClientError> {
    let (mut reader, write) = send_request(socket, request).await?;
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let response: AdminResponse =
        serde_json::from_str(&line).map_err(|e| ClientError::Protocol(e.to_string()))?;
    if !response.ok {
        return Err(ClientError::Refused(response.error.unwrap_or_default()));
    }
    Ok((reader, write))
}

/// Connects, sends `request` as one line and returns the reading side.
async fn send_request(
    socket: &Path,
    request: &AdminRequest,
) -> Result<(AnswerReader, tokio::net::unix::OwnedWriteHalf), ClientError> {
    let stream = connect(socket).await?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
    line.push(b'\n');
    write.write_all(&line).await?;
    write.shutdown().await?;
    Ok((BufReader::new(read), write))
}
