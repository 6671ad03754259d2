//! Building provisioning-log rows: what was asked, by which token, and what scimd decided.

use std::sync::{Arc, Mutex};

use crate::domain::Kind;
use crate::store::{LogEntry, QueueError, StoreError, Writer};

use super::{Principal, Service, ServiceError, deadline, now_rfc3339};

/// A write refused outside the use cases (by `http`: unreadable body, wrong content type), with
/// the status the client was sent.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

/// The parts of a log row known before the outcome.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub principal: Principal,
    pub operation: &'static str,
    pub kind: Kind,
    pub resource_id: Option<String>,
    pub name: Option<String>,
}

impl Attempt {
    /// A write by `principal`; the name is filled in once known.
    pub fn new(
        principal: Principal,
        operation: &'static str,
        kind: Kind,
        resource_id: Option<String>,
    ) -> Attempt {
        Attempt { principal, operation, kind, resource_id, name: None }
    }

    /// The row for a write that succeeded with `status`.
    pub fn succeeded(&self, status: u16, roles: Option<String>) -> LogEntry {
        self.entry(status, None, None, roles)
    }

    /// The row for a write that succeeded, with a summary of what changed (PATCH).
    pub fn succeeded_with(&self, status: u16, roles: Option<String>, detail: String) -> LogEntry {
        self.entry(status, None, Some(detail), roles)
    }

    /// The row for a write refused before it reached a use case.
    pub fn refused_with(&self, refusal: &Refusal) -> LogEntry {
        let scim_type = refusal.scim_type.map(str::to_string);
        self.entry(refusal.status, scim_type, Some(refusal.detail.clone()), None)
    }

    /// The status and scimType a client gets for `error`.
    fn status_and_type(error: &ServiceError) -> (u16, Option<String>) {
        match error {
            ServiceError::Invalid(e) => (400, Some(e.scim_type.as_str().to_string())),
            ServiceError::Conflict(_) => (409, Some("uniqueness".to_string())),
            ServiceError::NotFound(_) => (404, None),
            ServiceError::Forbidden(_) => (403, None),
            ServiceError::PreconditionFailed(_) => (412, None),
            ServiceError::Busy(_) => (429, None),
            ServiceError::Unavailable(_) => (503, None),
            ServiceError::InsufficientStorage(_) => (507, None),
            ServiceError::Internal(_) => (500, None),
        }
    }

    /// The row for a refused write.
    pub fn refused(&self, error: &ServiceError) -> LogEntry {
        let (status, scim_type) = Attempt::status_and_type(error);
        let detail = match error {
            ServiceError::Invalid(e) => e.detail.clone(),
            other => other.to_string(),
        };
        self.entry(status, scim_type, Some(detail), None)
    }

    fn entry(
        &self,
        status: u16,
        scim_type: Option<String>,
        detail: Option<String>,
        roles: Option<String>,
    ) -> LogEntry {
        LogEntry {
            seq: 0,
            time: now_rfc3339(),
            token: self.principal.token_name.clone(),
            operation: self.operation.to_string(),
            resource_type: self.kind.resource_type().to_string(),
            resource_id: self.resource_id.clone(),
            name: self.name.clone(),
            status,
            scim_type,
            detail,
            roles,
        }
    }
}

/// Commits `change` through the writer thread (group commit) together with the log row it
/// returns, and waits for the commit. If it fails, nothing of it is stored and its refusal is
/// logged in the same batch; a real fault is not logged as a refusal. `change` may run more
/// than once (see `WriteQueue::submit`). The caller's task waits without holding a thread.
pub async fn write_logged<T: Send + 'static>(
    service: &Service,
    attempt: Attempt,
    mut change: impl FnMut(&mut Writer, &mut Attempt) -> Result<(T, LogEntry), ServiceError>
    + Send
    + 'static,
) -> Result<T, ServiceError> {
    let shared = Arc::new(Mutex::new(attempt));
    let for_change = Arc::clone(&shared);
    let apply = move |w: &mut Writer| {
        let mut attempt = for_change.lock().map_err(|_| poisoned())?;
        let (value, entry) = change(w, &mut attempt)?;
        w.append_log(entry)?;
        Ok::<_, ServiceError>(value)
    };
    let refused = move |w: &mut Writer, error: &ServiceError| {
        // A fault, not a refusal (and a full disk could not store the row either).
        if matches!(error, ServiceError::Internal(_) | ServiceError::InsufficientStorage(_)) {
            return Ok(());
        }
        let attempt = shared.lock().map_err(|_| StoreError::Batch("poisoned".into()))?;
        note_refusal(&attempt, error.to_string().as_str(), status_of(error));
        w.append_log(attempt.refused(error)).map(|_| ())
    };
    let committed = wait(service.writes.submit_claimed(apply, refused, deadline::claim())).await?;
    service.wake_delivery();
    Ok(committed)
}

fn poisoned() -> ServiceError {
    ServiceError::Internal("a write was interrupted by a panic".into())
}

/// Log entries one prune change deletes: small enough that the batch it shares with requests'
/// writes commits in about a millisecond more.
const PRUNE_BATCH: usize = 500;

/// A page of the provisioning log ([`Service::log_page`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntries {
    pub entries: Vec<LogEntry>,
    /// The `after` for the next poll: every entry up to it has been looked at.
    pub next: u64,
}

impl Service {
    /// Log entries `wanted` accepts: the newest `limit`, newest first, or with `after`, the
    /// oldest `limit` newer than sequence number `after`, oldest first (what `scimd log
    /// --follow` polls).
    /// Blocking: one read transaction.
    pub fn log_page(
        &self,
        limit: usize,
        after: Option<u64>,
        wanted: impl Fn(&LogEntry) -> bool,
    ) -> Result<LogEntries, StoreError> {
        let r = self.store().read()?;
        let newest = r.last_log_seq()?;
        let entries = match after {
            None => r.recent_log(limit, wanted)?,
            Some(seq) => r.log_after(seq, limit, wanted)?,
        };
        // Where the next `after` poll goes on from: past every entry looked at.
        let next = match (after, entries.last()) {
            (Some(_), Some(last)) if entries.len() >= limit => last.seq,
            _ => newest,
        };
        Ok(LogEntries { entries, next })
    }

    /// Deletes provisioning-log entries older than `keep_days` days, oldest first, a few hundred
    /// per write batch, so requests' writes never wait behind a long delete. Returns how many.
    pub async fn prune_log(&self, keep_days: u32) -> Result<usize, ServiceError> {
        let age = std::time::Duration::from_secs(u64::from(keep_days) * 86_400);
        let cutoff = std::time::SystemTime::now().checked_sub(age).unwrap_or(std::time::UNIX_EPOCH);
        let cutoff = humantime::format_rfc3339_millis(cutoff).to_string();
        let mut deleted = 0;
        loop {
            let cutoff = cutoff.clone();
            let prune =
                move |w: &mut Writer| w.prune_log(&cutoff, PRUNE_BATCH).map_err(ServiceError::from);
            let n = self.write_unlogged(prune).await?;
            deleted += n;
            if n < PRUNE_BATCH {
                return Ok(deleted);
            }
        }
    }
}

impl Service {
    /// Appends an entry for an action that changes nothing else stored (a console sign-in or
    /// sign-out), made by `actor`, in a write of its own.
    pub async fn log_action(
        &self,
        actor: &'static str,
        operation: &'static str,
        status: u16,
        detail: Option<String>,
    ) -> Result<(), ServiceError> {
        let entry = LogEntry { status, detail, ..action_entry(actor, operation, "Console") };
        self.write_unlogged(move |w| Ok(w.append_log(entry.clone()).map(|_| ())?)).await
    }

    /// Runs `change` through the writer and waits for its commit. For the server's own
    /// upkeep (cursors, pruning, feeds), not an IdP's request: a failure writes no refusal row.
    pub(super) async fn write_unlogged<T: Send + 'static>(
        &self,
        change: impl FnMut(&mut Writer) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        wait(self.writes.submit(change, |_: &mut Writer, _: &ServiceError| Ok(()))).await
    }
}

/// A provisioning-log entry for an action `actor` (the console) made on `resource_type`,
/// succeeded (200), about no resource yet.
pub(super) fn action_entry(actor: &str, operation: &str, resource_type: &str) -> LogEntry {
    LogEntry {
        seq: 0,
        time: now_rfc3339(),
        token: actor.to_string(),
        operation: operation.to_string(),
        resource_type: resource_type.to_string(),
        resource_id: None,
        name: None,
        status: 200,
        scim_type: None,
        detail: None,
        roles: None,
    }
}

/// Waits for a queued change's commit.
pub(super) async fn wait<T>(
    queued: Result<tokio::sync::oneshot::Receiver<Result<T, ServiceError>>, QueueError>,
) -> Result<T, ServiceError> {
    match queued {
        Ok(receiver) => receiver
            .await
            .map_err(|_| ServiceError::Internal("the writer thread stopped".into()))?,
        Err(QueueError::Full) => Err(ServiceError::Busy(QueueError::Full.to_string())),
        Err(QueueError::Stopped) => Err(ServiceError::Unavailable(QueueError::Stopped.to_string())),
    }
}

fn status_of(error: &ServiceError) -> u16 {
    Attempt::status_and_type(error).0
}

fn note_refusal(attempt: &Attempt, detail: &str, status: u16) {
    // The detail quotes client text: escaped for the journal as for the CLI.
    let detail = crate::domain::text::escape(detail);
    let detail = detail.as_ref();
    tracing::info!(
        operation = attempt.operation,
        resource = attempt.kind.resource_type(),
        status,
        detail,
        "write refused"
    );
}

/// Logs a write refused before it reached the store (bad JSON, read-only token, ...).
pub async fn log_refusal(
    service: &Service,
    attempt: &Attempt,
    error: &ServiceError,
) -> Result<(), ServiceError> {
    append_refusal(service, attempt, attempt.refused(error)).await
}

/// Appends a refusal row through the writer thread (and says so in the server log).
pub async fn append_refusal(
    service: &Service,
    attempt: &Attempt,
    entry: LogEntry,
) -> Result<(), ServiceError> {
    note_refusal(attempt, entry.detail.as_deref().unwrap_or(""), entry.status);
    let append =
        move |w: &mut Writer| w.append_log(entry.clone()).map(|_| ()).map_err(ServiceError::from);
    wait(service.writes.submit_claimed(
        append,
        |_: &mut Writer, _: &ServiceError| Ok(()),
        deadline::claim(),
    ))
    .await
}
