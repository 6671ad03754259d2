//! One push receiver's stream (RFC 8935): its events in commit order, one SET at a time,
//! each POSTed until the receiver takes it, skipped when it calls it malformed, or held when
//! it says the configuration is wrong. The cursor moves only after a `202`, and is stored
//! after each run of deliveries, so a restart (or `kill -9`) resends at most that run, with
//! the same `jti`s: at-least-once, in order.
//!
//! The stream runs in its own task with its own HTTP client: a slow or dead receiver delays
//! no other receiver and no SCIM request (it reads through snapshots; its cursor writes are
//! small batched jobs of the writer thread).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;

use crate::config::{Payload as PayloadConfig, ReceiverConfig};
use crate::domain::events::{ChangeEvent, Position};
use crate::scim::events::{Payload, SetAddress, set_claims};
use crate::scim::schema::resource_type;
use crate::service::StreamState;
use crate::service::{EventCursor, EventFailure, Service};
use crate::signing::SharedKeyRing;

use super::outcome::{Backoff, Outcome, classify, jti};

/// How many events one read takes from the outbox; the cursor is stored after each such run.
const BATCH: usize = 256;
/// A receiver has this long to answer one POST (connecting included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an answer's body is read (RFC 8935 error bodies are a line of JSON).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Where and how to push.
pub struct PushTarget {
    pub name: String,
    pub endpoint: Uri,
    /// The `Authorization` header value; never logged.
    pub authorization: http::HeaderValue,
    pub payload: Payload,
    pub resource_types: Vec<crate::domain::Kind>,
    client: HttpClient,
}

impl PushTarget {
    /// The target `receiver` declares, with its HTTP client (the system's roots plus the
    /// receiver's `ca_file`). `None` for a poll receiver.
    pub fn new(receiver: &ReceiverConfig) -> Result<Option<PushTarget>, String> {
        let crate::config::Delivery::Push { endpoint, authorization, ca_file, .. } =
            &receiver.delivery
        else {
            return Ok(None);
        };
        let mut authorization = http::HeaderValue::from_str(authorization.expose())
            .map_err(|_| "the authorization value is not a valid header value".to_string())?;
        authorization.set_sensitive(true);
        let roots = crate::client_tls::root_store(ca_file.as_deref()).map_err(|e| e.to_string())?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        // https_or_http: the config allows plain http only to a loopback host.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1)
            .build(connector);
        Ok(Some(PushTarget {
            name: receiver.name.clone(),
            endpoint: endpoint.clone(),
            authorization,
            payload: payload_of(receiver.payload),
            resource_types: receiver.resource_types.clone(),
            client,
        }))
    }

    /// POSTs one SET and classifies the answer.
    async fn push(&self, set: &str) -> Outcome {
        let request = Request::post(self.endpoint.clone())
            .header(header::CONTENT_TYPE, "application/secevent+jwt")
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, self.authorization.clone())
            .body(Full::new(Bytes::copy_from_slice(set.as_bytes())));
        let request = match request {
            Ok(r) => r,
            Err(e) => return Outcome::Stall { reason: format!("cannot build the request: {e}") },
        };
        let answer = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| crate::client_tls::error_chain(&e))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, String>((status, retry_after, body))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
            Ok(Ok((status, retry_after, body))) => classify(status, retry_after.as_deref(), &body),
            Ok(Err(e)) => Outcome::Retry { reason: e, after: None },
            Err(_) => Outcome::Retry {
                reason: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
                after: None,
            },
        }
    }
}

/// What every stream shares.
#[derive(Clone)]
pub struct Publisher {
    pub service: Service,
    pub keys: SharedKeyRing,
    /// `iss`: scimd's public URL.
    pub issuer: String,
}

impl Publisher {
    /// The SET telling `audience` about `event`, signed with the newest key (push and poll
    /// alike; only the audience differs).
    pub fn sign(
        &self,
        event: &ChangeEvent,
        audience: &str,
        jti: &str,
        payload: Payload,
    ) -> Result<String, String> {
        let address = SetAddress {
            issuer: &self.issuer,
            audience,
            jti,
            issued_at: crate::service::now_unix(),
            payload,
        };
        let claims = set_claims(event, resource_type(event.kind), &address)
            .map_err(|e| format!("cannot write an event's claims: {e}"))?;
        let keys = self.keys.read().map_err(|_| "the signing keys are unavailable".to_string())?;
        keys.sign_payload(claims.as_bytes()).map_err(|e| format!("cannot sign an event: {e}"))
    }
}

/// What a receiver's `payload` setting asks SETs to carry.
pub fn payload_of(payload: PayloadConfig) -> Payload {
    match payload {
        PayloadConfig::Notice => Payload::Notice,
        PayloadConfig::Full => Payload::Full,
    }
}

/// Runs `target`'s stream until `stop` changes. A held stream waits until an admin clears
/// its cursor's hold (`scimd events retry`, which wakes every stream).
pub async fn run(publisher: Publisher, target: PushTarget, stop: watch::Receiver<bool>) {
    let (service, name) = (publisher.service.clone(), target.name.clone());
    stream(publisher, target, stop).await;
    service.forget_stream(&name);
}

async fn stream(publisher: Publisher, target: PushTarget, mut stop: watch::Receiver<bool>) {
    let name = target.name.clone();
    let mut committed = publisher.service.subscribe_events();
    let mut cursor = match load_cursor(&publisher.service, &name).await {
        Some(c) => c,
        None => return,
    };
    let mut backoff = Backoff::default();
    let mut failing_since: Option<String> = None;
    let mut announced_hold = false;
    loop {
        if *stop.borrow() {
            return;
        }
        if let Some(reason) = &cursor.stalled {
            publisher.service.report_stream(&name, |r| {
                r.state = StreamState::Held;
                if r.last_error.as_deref() != Some(reason.as_str()) {
                    r.last_error = Some(reason.clone());
                    r.last_error_at = Some(crate::service::now_rfc3339());
                }
            });
            if !announced_hold {
                tracing::warn!(receiver = %name, reason = %reason, "event delivery is held; fix the receiver's configuration, then run `scimd events retry {name}`");
                announced_hold = true;
            }
            tokio::select! {
                _ = stop.changed() => return,
                _ = committed.changed() => {}
            }
            if let Some(stored) = load_cursor(&publisher.service, &name).await {
                cursor = stored;
            }
            if cursor.stalled.is_none() {
                tracing::info!(receiver = %name, "event delivery resumed");
                announced_hold = false;
                backoff.reset();
            }
            continue;
        }
        // Mark the watch seen before reading, so a commit after the read wakes us.
        committed.borrow_and_update();
        let batch = read_batch(&publisher.service, &name, &cursor).await;
        let Some(batch) = batch else {
            if sleep_or_stop(&mut stop, Backoff::FIRST).await {
                return;
            }
            continue;
        };
        if batch.is_empty() {
            publisher.service.report_stream(&name, |r| r.state = StreamState::Idle);
            tokio::select! {
                _ = stop.changed() => return,
                _ = committed.changed() => {}
            }
            continue;
        }
        let before = cursor.clone();
        'events: for (position, event) in batch {
            if !target.resource_types.contains(&event.kind) {
                cursor.advance(position);
                continue;
            }
            let set = match sign(&publisher, &target, position, &event) {
                Ok(set) => set,
                Err(reason) => {
                    cursor.stalled = Some(reason);
                    break 'events;
                }
            };
            loop {
                // A stop does not wait for a receiver that is slow to answer; what it already
                // acknowledged is kept.
                let outcome = tokio::select! {
                    outcome = target.push(&set) => outcome,
                    _ = stop.changed() => {
                        if cursor != before {
                            store(&publisher.service, &name, &cursor).await;
                        }
                        return;
                    }
                };
                match outcome {
                    Outcome::Delivered => {
                        if let Some(reason) = failing_since.take() {
                            tracing::info!(receiver = %name, after = %reason, "event delivery recovered");
                        }
                        backoff.reset();
                        cursor.advance(position);
                        let lag = lag_ms(event.toe_millis);
                        publisher.service.report_stream(&name, |r| {
                            r.state = StreamState::Delivering;
                            r.delivered += 1;
                            r.last_delivered = Some(crate::service::now_rfc3339());
                            r.last_lag_ms = Some(lag);
                        });
                        break;
                    }
                    Outcome::Retry { reason, after } => {
                        let wait = backoff.next(after);
                        publisher.service.report_stream(&name, |r| {
                            r.state = StreamState::Retrying;
                            r.last_error = Some(reason.clone());
                            r.last_error_at = Some(crate::service::now_rfc3339());
                        });
                        if failing_since.is_none() {
                            tracing::warn!(receiver = %name, reason = %reason, "event delivery failed; retrying with backoff");
                            failing_since = Some(reason);
                        }
                        // What was delivered so far is kept before waiting.
                        if cursor != before {
                            store(&publisher.service, &name, &cursor).await;
                        }
                        if sleep_or_stop(&mut stop, wait).await {
                            return;
                        }
                    }
                    Outcome::Skip { reason } => {
                        tracing::warn!(receiver = %name, position = ?position, reason = %reason, "the receiver refused an event; skipped");
                        record_failure(&publisher.service, &name, &cursor, position, &reason).await;
                        publisher.service.report_stream(&name, |r| {
                            r.last_error = Some(reason.clone());
                            r.last_error_at = Some(crate::service::now_rfc3339());
                        });
                        cursor.failed += 1;
                        cursor.advance(position);
                        break;
                    }
                    Outcome::Stall { reason } => {
                        cursor.stalled = Some(reason);
                        break 'events;
                    }
                }
            }
        }
        if cursor != before {
            store(&publisher.service, &name, &cursor).await;
        }
    }
}

/// The SET for `event`, signed for `target`.
fn sign(
    publisher: &Publisher,
    target: &PushTarget,
    position: Position,
    event: &ChangeEvent,
) -> Result<String, String> {
    let jti = jti(&target.name, position.number(), &event.txn);
    publisher.sign(event, &target.endpoint.to_string(), &jti, target.payload)
}

async fn load_cursor(service: &Service, name: &str) -> Option<EventCursor> {
    let (service, owned) = (service.clone(), name.to_string());
    match tokio::task::spawn_blocking(move || service.event_cursor(&owned)).await {
        Ok(Ok(Some(cursor))) => Some(cursor),
        Ok(Ok(None)) => {
            tracing::error!(receiver = %name, "no event cursor for this receiver");
            None
        }
        Ok(Err(e)) => {
            tracing::error!(receiver = %name, error = %e, "cannot read the event cursor");
            None
        }
        Err(_) => None,
    }
}

/// The next events of the stream after what `cursor` acknowledged: from memory when the
/// stream keeps up, else one read on a blocking thread.
async fn read_batch(
    service: &Service,
    name: &str,
    cursor: &EventCursor,
) -> Option<Vec<(Position, Arc<ChangeEvent>)>> {
    if let Some(recent) = service.recent_events(cursor.position(), BATCH) {
        return Some(recent);
    }
    let (service, name, cursor) = (service.clone(), name.to_string(), cursor.clone());
    let read = move || service.stream_after(&name, &cursor, cursor.position(), BATCH);
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(batch)) => Some(batch),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read change events; retrying");
            None
        }
        Err(_) => None,
    }
}

/// Stores the cursor; a failure is logged and the same events are sent again later (the
/// receiver de-duplicates on `jti`).
async fn store(service: &Service, name: &str, cursor: &EventCursor) {
    if let Err(e) = service.store_event_cursor(name.to_string(), cursor.clone()).await {
        tracing::warn!(receiver = %name, error = %e, "cannot store the event cursor");
    }
}

async fn record_failure(
    service: &Service,
    name: &str,
    cursor: &EventCursor,
    position: Position,
    reason: &str,
) {
    let failure = EventFailure::at(cursor, position, crate::service::now_rfc3339(), reason.into());
    if let Err(e) = service.record_event_failure(name.to_string(), failure).await {
        tracing::warn!(receiver = %name, error = %e, "cannot record a refused event");
    }
}

/// Milliseconds since `toe_millis` (0 if the clock went back).
fn lag_ms(toe_millis: i64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    u64::try_from(now.saturating_sub(toe_millis)).unwrap_or(0)
}

/// Sleeps `wait`; true when asked to stop meanwhile.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    tokio::select! {
        _ = stop.changed() => true,
        _ = tokio::time::sleep(wait) => *stop.borrow(),
    }
}
