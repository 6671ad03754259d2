//! The admin socket of a running server: a Unix socket in the data directory, mode 0600, that
//! answers one JSON request line per connection (see `crate::admin`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

use crate::admin::{AdminRequest, AdminResponse, ExportEnd, Resources, execute};
use crate::console::Sessions;
use crate::console::sessions::CODE_TTL;
use crate::service::Service;

/// Binds the socket (replacing a stale one: the caller holds the data file's lock, so no other
/// server can be using it) with mode 0600.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Create the socket with no group/other bits from the start, then make it explicit.
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// What the console requests need: the running server's sessions and where its console is.
#[derive(Clone)]
pub struct ConsoleLinks {
    pub sessions: Arc<Sessions>,
    pub public_url: String,
}

impl ConsoleLinks {
    /// Answers a console request; `None` for any other.
    fn answer(links: Option<&ConsoleLinks>, request: &AdminRequest) -> Option<AdminResponse> {
        let result = match (request, links) {
            (AdminRequest::ConsoleLogin { .. } | AdminRequest::ConsoleLogoutAll, None) => {
                Err("the console is off on this server ([console] enabled = false in its config)"
                    .to_string())
            }
            (AdminRequest::ConsoleLogin { valid_for_secs }, Some(links)) => {
                let ttl = CODE_TTL.as_secs();
                if !(1..=ttl).contains(valid_for_secs) {
                    Err(format!("--valid-for must be 1 to {ttl} seconds"))
                } else {
                    links
                        .sessions
                        .issue_code(Duration::from_secs(*valid_for_secs))
                        .map(|code| {
                            json!({
                                "url": format!("{}/admin/login?code={code}", links.public_url),
                                "valid_for_secs": valid_for_secs,
                            })
                        })
                        .map_err(|e| format!("cannot make a sign-in code: {e}"))
                }
            }
            (AdminRequest::ConsoleLogoutAll, Some(links)) => {
                Ok(json!({ "ended": links.sessions.end_all() }))
            }
            _ => return None,
        };
        Some(AdminResponse::from_result(result))
    }
}

/// Answers admin requests until the task is dropped.
pub async fn serve(listener: UnixListener, service: Service, console: Option<ConsoleLinks>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let service = service.clone();
        let console = console.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            let mut line = String::new();
            // One request line, capped so a client cannot make us buffer without bound.
            let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(&mut stream, 64 * 1024));
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            drop(reader);
            let request = serde_json::from_str::<AdminRequest>(&line);
            match request {
                Ok(AdminRequest::Backup) => return stream_backup(stream, &service).await,
                Ok(AdminRequest::Export { resources, filter }) => {
                    return stream_export(stream, service, resources, filter).await;
                }
                _ => {}
            }
            let console_answer =
                request.as_ref().ok().and_then(|r| ConsoleLinks::answer(console.as_ref(), r));
            let response = match (console_answer, request) {
                (Some(answer), _) => answer,
                (None, Ok(request)) => {
                    let svc = service.clone();
                    tokio::task::spawn_blocking(move || execute(&svc, request))
                        .await
                        .unwrap_or_else(|e| AdminResponse {
                            ok: false,
                            result: None,
                            error: Some(format!("admin task failed: {e}")),
                        })
                }
                (None, Err(e)) => AdminResponse {
                    ok: false,
                    result: None,
                    error: Some(format!("bad request: {e}")),
                },
            };
            let mut bytes = serde_json::to_vec(&response).unwrap_or_default();
            bytes.push(b'\n');
            let _ = stream.write_all(&bytes).await;
        });
    }
}

/// Answers an export: an `ok` line, then each resource as the store yields it, then the
/// [`ExportEnd`] line (the count, or why it stopped: a filter that does not parse, say),
/// written from a blocking thread straight into the socket.
async fn stream_export(
    stream: tokio::net::UnixStream,
    service: Service,
    resources: Resources,
    filter: Option<String>,
) {
    let done = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let mut out = answer_stream(stream)?;
        let line = |out: &mut std::io::BufWriter<_>, v: &serde_json::Value| {
            serde_json::to_writer(&mut *out, v)?;
            out.write_all(b"\n")
        };
        let end = match crate::admin::export(&service, resources, filter.as_deref(), |v| {
            line(&mut out, &v)
        }) {
            Ok(total) => ExportEnd::Total(total),
            Err(e) => ExportEnd::Error(e),
        };
        line(&mut out, &serde_json::json!({ "end": end }))?;
        out.flush()
    })
    .await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "an export over the admin socket ended early"),
        Err(e) => tracing::error!(error = %e, "export task failed"),
    }
}

/// Answers a backup request: an `ok` line, then the backup, written from a blocking thread
/// straight into the socket. A failure part-way ends the stream early, which the client sees
/// as records short of the header's counts.
async fn stream_backup(stream: tokio::net::UnixStream, service: &Service) {
    let service = service.clone();
    let started = std::time::Instant::now();
    let done = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let mut out = answer_stream(stream).map_err(|e| e.to_string())?;
        service.write_backup(&mut out).map_err(|e| e.to_string())
    })
    .await;
    match done {
        Ok(Ok(header)) => tracing::info!(
            counts = %header.counts,
            took_ms = started.elapsed().as_millis() as u64,
            "backup sent over the admin socket"
        ),
        Ok(Err(e)) => tracing::error!(error = %e, "backup over the admin socket failed"),
        Err(e) => tracing::error!(error = %e, "backup task failed"),
    }
}

/// The connection as a buffered blocking writer (for a blocking thread) that has already
/// answered `ok`: a streamed answer follows.
fn answer_stream(
    stream: tokio::net::UnixStream,
) -> std::io::Result<std::io::BufWriter<std::os::unix::net::UnixStream>> {
    use std::io::Write;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stream);
    out.write_all(b"{\"ok\":true}\n")?;
    Ok(out)
}
