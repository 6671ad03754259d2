//! Signals and systemd's notification protocol.
//!
//! SIGTERM and SIGINT stop the server; SIGHUP reloads the config ([`Reloader`]). Under
//! systemd (`Type=notify`, `NOTIFY_SOCKET` set) scimd reports READY=1 once it serves,
//! STOPPING=1 when it starts draining, and RELOADING=1 with the monotonic time around a reload,
//! so `systemctl start` and `systemctl reload` return when the work is done. Without
//! `NOTIFY_SOCKET` the notifications are no-ops.

use std::future::Future;

use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};

use super::reload::Reloader;

/// Tells systemd that scimd serves.
pub(super) fn notify_ready() {
    notify(&[NotifyState::Ready]);
}

/// Tells systemd that scimd is shutting down.
pub(super) fn notify_stopping() {
    notify(&[NotifyState::Stopping]);
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_requested() {
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}

/// Installs the SIGHUP handler at once (so a SIGHUP after start-up never kills the process)
/// and returns the loop that reloads on each one; spawn it.
pub fn reload_on_hangup(reloader: Reloader) -> std::io::Result<impl Future<Output = ()>> {
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(async move {
        while hangups.recv().await.is_some() {
            match NotifyState::monotonic_usec_now() {
                Ok(now) => notify(&[NotifyState::Reloading, now]),
                Err(e) => tracing::warn!(error = %e, "cannot read the monotonic clock"),
            }
            match reloader.reload() {
                Ok(done) => {
                    for key in &done.need_restart {
                        tracing::warn!(
                            key,
                            "this setting changed; it takes effect after a restart"
                        );
                    }
                    tracing::info!(
                        certificate = done.certificate,
                        roles_changed = done.roles_changed,
                        scim_changed = done.scim_changed,
                        receivers_changed = done.receivers_changed,
                        schemas_changed = done.schemas_changed,
                        "config reloaded"
                    );
                }
                Err(e) => tracing::error!(error = %e, "reload failed; nothing changed"),
            }
            notify_ready();
        }
    })
}
