//! Serving: opening the store, TLS, the accept loop, the admin socket and shutdown.
//!
//! The only module that names hyper-util, tokio-rustls or rustls. `Server::open` does the
//! start-up work that can fail with an admin-facing message (data file locked, certificate
//! unreadable) before anything listens; `Server::run` serves until the shutdown future
//! completes, then drains. Tests bind `127.0.0.1:0` and call both in-process.

pub mod acme;
mod admin;
mod cert_slot;
mod connections;
mod listener;
mod metrics;
pub mod reload;
pub mod request_line;
pub mod signals;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{Config, EventsConfig, TlsMode};
use crate::delivery;
use crate::service::{DataFile, IssuedToken, Service, Settings, StoreError};
use crate::signing::{KeyRing, SigningError};
use reload::Reloader;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    SigningKeys(#[from] SigningError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot bind the admin socket {path}: {source}")]
    AdminSocket { path: String, source: std::io::Error },
    #[error(
        "cannot listen for metrics on {addr} (metrics.listen; is another program using it?): {source}"
    )]
    MetricsListen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot issue the first token: {0}")]
    FirstToken(String),
    /// The config withdraws a declared attribute that stored values use (`service::schemas`).
    #[error("{0}")]
    Schemas(String),
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A server ready to run: store open, TLS loaded.
pub struct Server {
    config: Config,
    service: Service,
    tls: Option<tls::Tls>,
    /// The `[events]` in force: event delivery follows it, a reload replaces it.
    events: Arc<tokio::sync::watch::Sender<EventsConfig>>,
}

impl Server {
    /// Opens the data file (refusing a second server on the same directory) and loads TLS.
    pub fn open(config: Config) -> Result<Server, ServerError> {
        prepare_data_dir(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let data_file = DataFile::open(&config)?;
        // Opened while the data file's lock is held: no other scimd writes the key file.
        let signing_keys = KeyRing::open(&config.data_dir)?;
        let tls = tls::server_config(&config.tls, &config.data_dir, &tls::hosts_of(&config))?;
        let mut settings = Settings::from_config(&config);
        settings.signing_keys = Some(signing_keys.into_shared());
        let service = data_file.start(settings)?;
        service.adopt_schemas(&config.schemas).map_err(|e| ServerError::Schemas(e.to_string()))?;
        // Before any request: a new receiver is told every change from this start on.
        service.create_event_cursors(&config.events.cursor_starts())?;
        let events = Arc::new(tokio::sync::watch::Sender::new(config.events.clone()));
        Ok(Server { service, tls, config, events })
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// A handle that applies the config file again while this server runs (SIGHUP).
    pub fn reloader(&self) -> Reloader {
        let cert = self.tls.as_ref().map(|t| Arc::clone(&t.cert));
        let events = Arc::clone(&self.events);
        Reloader::new(self.config.clone(), self.service.clone(), cert, events)
    }

    /// On the very first start (no token stored at all), issues a read-write token named
    /// `initial` and returns it so it can be shown once.
    pub fn first_token(&self) -> Result<Option<IssuedToken>, ServerError> {
        self.service
            .issue_first_token("initial")
            .map_err(|e| ServerError::FirstToken(e.to_string()))
    }

    /// Serves on `listener` until `shutdown` completes, then drains connections.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let local = listener.local_addr()?;
        warn_if_plain_http(&self.config.tls, local);
        let metrics = Arc::new(crate::metrics::Metrics::new(&self.service));
        let metrics_listener = match self.config.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::MetricsListen { addr, source })?,
            ),
            None => None,
        };
        let socket_path = self.config.admin_socket();
        let admin_listener = admin::bind(&socket_path).map_err(|source| {
            ServerError::AdminSocket { path: socket_path.display().to_string(), source }
        })?;
        let metrics_task = match metrics_listener {
            Some(listener) => {
                tracing::info!(listen = %listener.local_addr()?, "serving /metrics");
                let task = metrics::serve(listener, Arc::clone(&metrics), self.service.clone());
                Some(tokio::spawn(task))
            }
            None => None,
        };
        // Console sessions live in memory only: a restart ends every one.
        let sessions = Arc::new(crate::console::Sessions::new());
        let console_links = self.config.console.enabled.then(|| admin::ConsoleLinks {
            sessions: Arc::clone(&sessions),
            public_url: self.config.public_url.clone(),
        });
        let admin_task =
            tokio::spawn(admin::serve(admin_listener, self.service.clone(), console_links));
        let retention_task = tokio::spawn(retention_hourly(
            self.service.clone(),
            self.config.log.keep_days,
            self.config.events.keep_days,
        ));
        let (stop_delivery, delivery_stopped) = tokio::sync::watch::channel(false);
        // Turns true when shutdown starts, so held polls answer instead of delaying the drain.
        let (stop_polls, polls_stopped) = tokio::sync::watch::channel(false);
        let mut poller = None;
        let delivery_task = match self.service.signing_keys() {
            Some(keys) => {
                let publisher = delivery::Publisher {
                    service: self.service.clone(),
                    keys: keys.clone(),
                    issuer: self.config.public_url.clone(),
                };
                poller = Some(Arc::new(delivery::Poller::new(
                    publisher.clone(),
                    self.events.subscribe(),
                    self.config.limits.request_timeout,
                    polls_stopped,
                )));
                let events = self.events.subscribe();
                match delivery::start(publisher, events, delivery_stopped) {
                    Ok(task) => Some(task),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start event delivery; push receivers get nothing until a restart");
                        None
                    }
                }
            }
            None => None,
        };
        let console = self.config.console.enabled.then(|| {
            let certificate = self.tls.as_ref().map(|t| {
                let slot = Arc::clone(&t.cert);
                Arc::new(move || slot.not_after()) as crate::console::CertificateExpiry
            });
            crate::console::router(crate::console::Console {
                service: self.service.clone(),
                sessions: Arc::clone(&sessions),
                config: Arc::new(self.config.clone()),
                certificate,
            })
        });
        let app = crate::http::router(
            self.service.clone(),
            metrics,
            self.config.limits.max_body_bytes,
            self.config.limits.request_timeout,
            poller,
            console,
        );
        tracing::info!(
            listen = %local,
            tls = self.tls.is_some(),
            tenant_url = %self.config.tenant_url(),
            "scimd is serving"
        );
        let shutdown = async {
            shutdown.await;
            signals::notify_stopping();
            let _ = stop_polls.send(true);
        };
        signals::notify_ready();
        let (tls, acme) = match self.tls {
            Some(t) => (Some(t.config), t.acme),
            None => (None, None),
        };
        // The listener is bound, so a CA validating a name while the accept loop starts finds
        // the connection queued.
        let acme_task = acme.map(|acme| tokio::spawn(acme.maintain()));
        let served =
            listener::serve(listener, tls, app, self.config.limits.clone(), shutdown).await;
        if let Some(task) = acme_task {
            task.abort();
            let _ = task.await;
        }
        // Streams store their cursors as they stop, before the writer does.
        let _ = stop_delivery.send(true);
        if let Some(task) = delivery_task {
            let _ = task.await;
        }
        admin_task.abort();
        retention_task.abort();
        if let Some(task) = metrics_task {
            task.abort();
            let _ = task.await;
        }
        let _ = admin_task.await;
        let _ = retention_task.await;
        // Commit what is queued, then let the store go (a restart may reopen the file).
        let service = self.service.clone();
        let _ = tokio::task::spawn_blocking(move || service.stop_writes()).await;
        let _ = std::fs::remove_file(&socket_path);
        tracing::info!("scimd stopped");
        served.map_err(ServerError::from)
    }
}

/// Applies the retention rules at start and then every hour: `[log] keep_days` (0 keeps
/// everything) to the provisioning log; `[events] keep_days` to change events every receiver
/// has, and to superseded event signing keys (published that long after a rotation, so SETs
/// signed before it still verify).
async fn retention_hourly(service: Service, log_keep_days: u32, events_keep_days: u32) {
    let keys_keep = std::time::Duration::from_secs(u64::from(events_keep_days) * 86_400);
    loop {
        if log_keep_days > 0 {
            match service.prune_log(log_keep_days).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(deleted, log_keep_days, "pruned the provisioning log")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pruning the provisioning log failed; retrying")
                }
            }
        }
        match service.prune_events(events_keep_days).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "pruned delivered change events"),
            Err(e) => tracing::warn!(error = %e, "pruning change events failed; retrying"),
        }
        let svc = service.clone();
        match tokio::task::spawn_blocking(move || svc.prune_signing_keys(keys_keep)).await {
            Ok(Ok(dropped)) if dropped.is_empty() => {}
            Ok(Ok(dropped)) => tracing::info!(
                kids = ?dropped,
                keep_days = events_keep_days,
                "no longer publishing superseded event signing keys"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning the event signing keys failed"),
            Err(e) => tracing::warn!(error = %e, "the signing key pruning task failed"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

/// Creates the data directory (owner and group only) if it is missing.
fn prepare_data_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        restrict(dir, 0o750)?;
    }
    Ok(())
}

fn restrict(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn warn_if_plain_http(mode: &TlsMode, local: SocketAddr) {
    if *mode == TlsMode::Off && !local.ip().is_loopback() {
        tracing::warn!(
            listen = %local,
            "TLS IS OFF and scimd listens beyond this machine: bearer tokens and user data \
             cross the network in clear text. Use tls.mode = \"files\" or put a TLS reverse \
             proxy in front and listen on 127.0.0.1"
        );
    }
}
