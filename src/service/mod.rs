//! Use cases: the only place SCIM semantics meet storage.
//!
//! `http` calls these functions with parsed requests and gets SCIM JSON or a `ServiceError`
//! back. Each write validates the body against the schema, decides roles, checks uniqueness and
//! allowed domains, and commits the change together with its provisioning-log row in one
//! durable write transaction. Refused writes are logged too, in a transaction of their own that
//! stores nothing else. Store work runs on blocking threads; nothing here holds a transaction
//! across an `.await`.

mod audit;
mod browse;
mod checked_filter;
mod checks;
mod data_file;
pub mod deadline;
mod domains;
mod events;
mod feed;
mod patch;
mod query;
mod render;
mod resources;
pub mod roles;
mod schemas;
mod status;
pub mod tokens;

use std::sync::{Arc, RwLock};

use crate::config::{Config, RolesConfig, ScimConfig};
use crate::scim::ScimError;
use crate::scim::limits::RequestLimits;
use crate::signing::{SharedKeyRing, SigningError};
use crate::store::{Store, WriteQueue};

/// Stored types the callers of the use cases see as they are (the admin protocol carries log
/// entries and token scopes; `StoreError` carries the data file's own messages: locked, newer
/// schema, disk full).
pub use crate::store::{
    BatchTimings, EventCursor, EventFailure, FeedProgress, LogEntry, StoreError, TokenScope,
};
pub use audit::{LogEntries, Refusal};
pub use browse::{BrowsePage, BrowseRequest, LogSlice, MemberSummary, MembersPage};
pub use checked_filter::CheckedFilter;
pub use data_file::DataFile;
pub use events::{ReceiverStatus, StreamReport, StreamState};
pub use patch::{PatchRequest, PatchedResource};
pub use query::ListRequest;
pub use render::JsonBody;
pub use resources::Rendered;
pub use status::DirectoryCounts;
pub use tokens::{AuthError, IssuedToken, TokenInfo};

/// A backup's first line and record counts, and how writing or restoring one fails.
pub mod backup {
    pub use crate::store::backup::{BackupError, Counts, Header};
}

/// Who is asking: the verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub token_name: String,
    pub scope: TokenScope,
}

/// What a use case can fail with; `http` maps each to a status and a SCIM error body.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The client sent something wrong: a 4xx with a scimType.
    #[error("{0}")]
    Invalid(ScimError),
    /// The name is taken: 409 uniqueness.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    /// The token may not do this: 403.
    #[error("{0}")]
    Forbidden(String),
    /// `If-Match` named another version: 412.
    #[error("{0}")]
    PreconditionFailed(String),
    /// Too many writes are waiting: 429 with `Retry-After`.
    #[error("{0}")]
    Busy(String),
    /// The server is shutting down: 503.
    #[error("{0}")]
    Unavailable(String),
    /// The data file's file system is full: 507, the change was not made (the IdP retries).
    #[error("{0}")]
    InsufficientStorage(String),
    /// A real fault: 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            // Said to the client without the file's path: the operator's log has it.
            StoreError::DiskFull(_) => ServiceError::InsufficientStorage(
                "disk full: the server has no space left to store this change, so it was not \
                 made; retry later (the operator has to free space on the server)"
                    .into(),
            ),
            // Brief, and it retries by itself: 503 with Retry-After, not a fault to chase.
            e @ StoreError::Reopening(_) => ServiceError::Unavailable(e.to_string()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<ScimError> for ServiceError {
    fn from(e: ScimError) -> Self {
        ServiceError::Invalid(e)
    }
}

/// The settings the use cases need, taken from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `public_url + "/scim/v2"`: the base of every `meta.location` and `$ref`.
    pub base_url: String,
    /// The `[scim]` settings at start; [`Service::set_scim`] replaces them while serving.
    pub scim: ScimConfig,
    /// The role mapping at start; [`Service::set_roles`] replaces it while serving.
    pub roles: RolesConfig,
    /// How many writes may wait for the writer thread before requests get 429.
    pub write_queue: usize,
    /// What one request may ask of the writer (`[limits]`).
    pub limits: RequestLimits,
    /// The keys that sign change events: opened by the running server at start (and by an
    /// offline `events rotate-key`); `None` for the CLI's other offline work.
    pub signing_keys: Option<SharedKeyRing>,
    /// Whether `[[events.receivers]]` names any receiver at start: only then does
    /// `ServiceProviderConfig` advertise `securityEvents` (RFC 9967 §4; absent means no event
    /// support, and strict SCIM clients refuse the attribute they do not know).
    pub security_events: bool,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            base_url: config.tenant_url(),
            scim: config.scim.clone(),
            roles: config.roles.clone(),
            write_queue: config.limits.write_queue,
            limits: config.limits.request,
            signing_keys: None,
            security_events: !config.events.receivers.is_empty(),
        }
    }
}

/// The use cases over one store. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    store: Arc<Store>,
    writes: WriteQueue,
    settings: Arc<Settings>,
    /// The role mapping in force: read once per write that decides roles, swapped on reload.
    roles: Arc<RwLock<Arc<RolesConfig>>>,
    /// The `[scim]` settings in force (enabled, allowed domains, page sizes), swapped on reload.
    scim: Arc<RwLock<Arc<ScimConfig>>>,
    tokens: Arc<tokens::TokenCache>,
    /// Changed after every commit of a use case's write, so event delivery wakes at once.
    events_committed: Arc<tokio::sync::watch::Sender<u64>>,
    /// What each running event stream reports of itself, by receiver.
    event_streams: Arc<std::sync::Mutex<std::collections::HashMap<String, events::StreamReport>>>,
}

impl Service {
    /// The use cases over `store`, with its writer thread started ([`DataFile::start`]).
    fn new(store: Arc<Store>, settings: Settings) -> Result<Service, StoreError> {
        let writes = WriteQueue::start(Arc::clone(&store), settings.write_queue)?;
        Ok(Service {
            store,
            writes,
            roles: Arc::new(RwLock::new(Arc::new(settings.roles.clone()))),
            scim: Arc::new(RwLock::new(Arc::new(settings.scim.clone()))),
            settings: Arc::new(settings),
            tokens: Arc::new(tokens::TokenCache::default()),
            events_committed: Arc::new(tokio::sync::watch::Sender::new(0)),
            event_streams: Arc::default(),
        })
    }

    /// Stops the writer thread after it has committed what is queued; later writes get 503.
    pub fn stop_writes(&self) {
        self.writes.stop();
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The role mapping in force.
    pub fn roles(&self) -> Arc<RolesConfig> {
        Arc::clone(&self.roles.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replaces the role mapping; writes that start afterwards use the new one.
    pub fn set_roles(&self, roles: RolesConfig) {
        *self.roles.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(roles);
    }

    /// The writer thread's histograms of batch sizes and commit times.
    pub fn write_timings(&self) -> BatchTimings {
        self.writes.timings()
    }

    /// The `[scim]` settings in force.
    pub fn scim(&self) -> Arc<ScimConfig> {
        Arc::clone(&self.scim.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replaces the `[scim]` settings; requests that start afterwards use them.
    pub fn set_scim(&self, scim: ScimConfig) {
        *self.scim.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(scim);
    }

    /// The store, for the use cases only: callers outside `service` go through them.
    fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The keys that sign change events and are published at `/.well-known/jwks.json`.
    pub fn signing_keys(&self) -> Option<&SharedKeyRing> {
        self.settings.signing_keys.as_ref()
    }

    /// Adds a new newest signing key (written to the key file first) and returns its `kid`;
    /// the older keys stay published. Blocking.
    pub fn rotate_signing_key(&self) -> Result<String, ServiceError> {
        let keys = self.signing_keys().ok_or_else(no_signing_keys)?;
        let mut keys = keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let kid = keys.rotate(std::time::SystemTime::now()).map_err(signing_failed)?;
        tracing::info!(kid, published = keys.kids().count(), "added an event signing key");
        Ok(kid)
    }

    /// Drops the signing keys superseded more than `keep` ago; returns their `kid`s. Blocking.
    pub fn prune_signing_keys(
        &self,
        keep: std::time::Duration,
    ) -> Result<Vec<String>, ServiceError> {
        let keys = self.signing_keys().ok_or_else(no_signing_keys)?;
        let mut keys = keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.prune(std::time::SystemTime::now(), keep).map_err(signing_failed)
    }

    /// The running server's verified-token cache (revokes through the admin socket clear it).
    pub fn token_cache(&self) -> &tokens::TokenCache {
        &self.tokens
    }

    /// Runs blocking store work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let service = self.clone();
        tokio::task::spawn_blocking(move || work(&service))
            .await
            .map_err(|e| ServiceError::Internal(format!("store task failed: {e}")))?
    }
}

fn no_signing_keys() -> ServiceError {
    ServiceError::Internal("the event signing keys are not loaded".into())
}

fn signing_failed(e: SigningError) -> ServiceError {
    ServiceError::Internal(e.to_string())
}

/// The current time as SCIM writes it (RFC 3339, milliseconds, UTC).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The current time in Unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
