//! Reloading the config while serving (SIGHUP, `systemctl reload scimd`).
//!
//! A reload reads the config file again and applies what can change without a restart: the
//! TLS certificate (new handshakes get the new one; open connections keep theirs), the
//! `[roles]` mapping, the `[scim]` settings (requests that start afterwards use them) and the
//! `[[events.receivers]]` (delivery starts, restarts or stops streams) and the
//! `[[schemas.extensions]]` (withdrawing an attribute that stored values use is refused:
//! `service::schemas`). It is all or nothing: when
//! the file does not parse or the certificate does not load, everything stays as it was and the
//! error says why. Changed settings that need a restart are named in the outcome.
//!
//! In ACME mode the certificate is the ACME task's to change, so a reload leaves it, and changed
//! `tls.acme_*` settings wait for a restart.

use std::sync::{Arc, Mutex};

use super::cert_slot::CertSlot;
use super::tls::hosts_of;
use crate::config::{Config, EventsConfig, TlsMode};
use crate::service::Service;

/// What a reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Whether a certificate was loaded (false when serving plain HTTP or in ACME mode).
    pub certificate: bool,
    /// Whether the role mapping differs from the one before.
    pub roles_changed: bool,
    /// Whether the `[scim]` settings differ from the ones before.
    pub scim_changed: bool,
    /// Whether the event receivers differ (delivery then follows the new list).
    pub receivers_changed: bool,
    /// Whether extension schemas were added (requests that start afterwards see them).
    pub schemas_changed: bool,
    /// Settings whose new value is ignored until a restart, by config key.
    pub need_restart: Vec<&'static str>,
}

/// Applies a fresh read of the config to a running server. Cheap to clone.
#[derive(Clone)]
pub struct Reloader {
    /// The config the server runs with: what was read at start and then the last reload.
    running: Arc<Mutex<Config>>,
    service: Service,
    cert: Option<Arc<CertSlot>>,
    /// Event delivery follows what is sent here.
    events: Arc<tokio::sync::watch::Sender<EventsConfig>>,
}

impl Reloader {
    pub(super) fn new(
        config: Config,
        service: Service,
        cert: Option<Arc<CertSlot>>,
        events: Arc<tokio::sync::watch::Sender<EventsConfig>>,
    ) -> Self {
        Reloader { running: Arc::new(Mutex::new(config)), service, cert, events }
    }

    /// Reads the config file the server started with and applies it. On an error nothing
    /// changes; the message is for the admin's log.
    pub fn reload(&self) -> Result<Reloaded, String> {
        let mut running = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = match &running.source {
            Some(path) => Config::load(Some(path)).map_err(|e| e.to_string())?,
            None => running.clone(),
        };
        // New certificate paths apply; a different tls.mode (or ACME setting) waits for a
        // restart.
        let acme = matches!(running.tls, TlsMode::Acme(_));
        let tls = if same_mode(&running, &fresh) && !acme {
            fresh.tls.clone()
        } else {
            running.tls.clone()
        };
        let key = match &self.cert {
            Some(_) if !acme => super::tls::load(&tls, &running.data_dir, &hosts_of(&running))
                .map_err(|e| format!("{e}; the certificate in use stays"))?,
            _ => None,
        };
        // The last check that can fail: a declared attribute withdrawn while values use it, or
        // a newly unique one that two resources share. The new model is in force while its
        // indexes are built (so writes meanwhile keep them), and put back if that fails.
        let schemas_changed = fresh.schemas != running.schemas;
        if schemas_changed {
            crate::scim::extensions::install(&fresh.schemas);
            if let Err(e) = self.service.adopt_schemas(&fresh.schemas) {
                crate::scim::extensions::install(&running.schemas);
                return Err(e.to_string());
            }
        }
        let need_restart = restart_only_changes(&running, &fresh);
        let roles_changed = fresh.roles != running.roles;
        let scim_changed = fresh.scim != running.scim;
        if let (Some(slot), Some(key)) = (&self.cert, &key) {
            slot.set(Arc::clone(key));
        }
        self.service.set_roles(fresh.roles.clone());
        self.service.set_scim(fresh.scim.clone());
        let receivers_changed = fresh.events.receivers != running.events.receivers;
        if receivers_changed {
            // A new receiver's "now" is this reload, not when delivery next looks.
            if let Err(e) = self.service.create_event_cursors(&fresh.events.cursor_starts()) {
                tracing::warn!(error = %e, "cannot create the cursors of new event receivers yet; delivery creates them");
            }
            self.events.send_replace(fresh.events.clone());
        }
        let certificate = key.is_some();
        // What a restart would still need to apply stays visible at the next reload too.
        running.tls = tls;
        running.roles = fresh.roles;
        running.scim = fresh.scim;
        running.events.receivers = fresh.events.receivers;
        running.schemas = fresh.schemas;
        Ok(Reloaded {
            certificate,
            roles_changed,
            scim_changed,
            receivers_changed,
            schemas_changed,
            need_restart,
        })
    }
}

/// The config keys whose change a reload does not apply.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let mut check = |changed: bool, key: &'static str| {
        if changed {
            keys.push(key);
        }
    };
    check(old.listen != new.listen, "listen");
    check(old.public_url != new.public_url, "public_url");
    check(old.data_dir != new.data_dir, "data_dir");
    check(!same_mode(old, new), "tls.mode");
    check(
        same_mode(old, new) && matches!(old.tls, TlsMode::Acme(_)) && old.tls != new.tls,
        "tls.acme_*",
    );
    check(old.limits != new.limits, "limits");
    check(old.log != new.log, "log");
    check(old.metrics != new.metrics, "metrics");
    check(old.events.keep_days != new.events.keep_days, "events.keep_days");
    keys
}

fn same_mode(old: &Config, new: &Config) -> bool {
    std::mem::discriminant(&old.tls) == std::mem::discriminant(&new.tls)
}
