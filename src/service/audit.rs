//! Building provisioning-log rows: what was asked, by which token, and what scimd decided.

use crate::store::{Kind, LogEntry, Store, StoreError, Writer};

use super::{Principal, ServiceError, now_rfc3339};

/// A write refused outside the use cases (by `http`: unreadable body, wrong content type), with
/// the status the client was sent.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

/// The parts of a log row known before the outcome.
pub struct Attempt<'a> {
    pub principal: &'a Principal,
    pub operation: &'static str,
    pub kind: Kind,
    pub resource_id: Option<String>,
    pub name: Option<String>,
}

impl<'a> Attempt<'a> {
    /// A write by `principal`; the name is filled in once known.
    pub fn new(
        principal: &'a Principal,
        operation: &'static str,
        kind: Kind,
        resource_id: Option<String>,
    ) -> Attempt<'a> {
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

    /// The row for a refused write.
    pub fn refused(&self, error: &ServiceError) -> LogEntry {
        let (status, scim_type) = match error {
            ServiceError::Invalid(e) => (400, Some(e.scim_type.as_str().to_string())),
            ServiceError::Conflict(_) => (409, Some("uniqueness".to_string())),
            ServiceError::NotFound(_) => (404, None),
            ServiceError::Forbidden(_) => (403, None),
            ServiceError::PreconditionFailed(_) => (412, None),
            ServiceError::Internal(_) => (500, None),
        };
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

/// Runs `change` in one write transaction. If it fails, the transaction is discarded (nothing
/// half-stored) and the refusal is logged in a transaction of its own; a real fault is not
/// logged as a refusal since the log write would likely fail the same way.
pub fn write_logged<T>(
    store: &Store,
    attempt: &mut Attempt<'_>,
    change: impl FnOnce(&mut Writer, &mut Attempt<'_>) -> Result<(T, LogEntry), ServiceError>,
) -> Result<T, ServiceError> {
    let result = store.write(|w| {
        let (value, entry) = change(w, attempt)?;
        w.append_log(entry)?;
        Ok::<_, ServiceError>(value)
    });
    if let Err(error) = &result
        && !matches!(error, ServiceError::Internal(_))
    {
        log_refusal(store, attempt, error)?;
    }
    result
}

/// Logs a write refused before it reached the store (bad JSON, read-only token, ...).
pub fn log_refusal(
    store: &Store,
    attempt: &Attempt<'_>,
    error: &ServiceError,
) -> Result<(), StoreError> {
    append_refusal(store, attempt, attempt.refused(error))
}

/// Appends a refusal row (and says so in the server log).
pub fn append_refusal(
    store: &Store,
    attempt: &Attempt<'_>,
    entry: LogEntry,
) -> Result<(), StoreError> {
    tracing::info!(
        operation = attempt.operation,
        resource = attempt.kind.resource_type(),
        status = entry.status,
        detail = entry.detail.as_deref().unwrap_or(""),
        "write refused"
    );
    store.write(|w| w.append_log(entry).map(|_| ()))
}
