//! Prometheus metrics: what `GET /metrics` reports, in the OpenMetrics text format (the
//! Prometheus exposition format's standard form, served as [`CONTENT_TYPE`]; Prometheus,
//! VictoriaMetrics, Grafana Agent and Telegraf read it).
//!
//! Request counts and latencies are recorded by the HTTP layer as requests finish; write batch
//! sizes and commit times by the writer thread. The directory's own numbers (users active and
//! inactive, groups, log entries, file size, when each token was last used) are read from the
//! store when scraped: each is a table length or a small table, so a scrape costs the same at
//! ten users or a million.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::service::Service;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route as declared (`/scim/v2/Users/{id}`), so ids do not make new series.
    route: String,
    /// One of [`METHODS`]: a client cannot mint series by inventing methods.
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

/// The method labels; any other method is counted as `other`.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UserStateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReceiverLabels {
    /// `[a-z0-9-]`, checked by the config: safe as a label value.
    receiver: String,
}

/// The change-event gauges, by receiver.
#[derive(Default)]
struct EventGauges {
    backlog: Family<ReceiverLabels, Gauge>,
    oldest_pending: Family<ReceiverLabels, Gauge>,
    delivered: Family<ReceiverLabels, Gauge>,
    failed: Family<ReceiverLabels, Gauge>,
    held: Family<ReceiverLabels, Gauge>,
    lag: Family<ReceiverLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl EventGauges {
    fn register(&self, registry: &mut Registry) {
        let families = [
            ("event_backlog", "Change events a receiver has not acknowledged yet", &self.backlog),
            (
                "events_delivered",
                "Change events a receiver took since scimd started",
                &self.delivered,
            ),
            (
                "events_failed",
                "Change events a receiver refused as malformed (skipped)",
                &self.failed,
            ),
            (
                "event_receiver_held",
                "1 while a receiver is held until `scimd events retry`",
                &self.held,
            ),
        ];
        for (name, help, family) in families {
            registry.register(name, help, family.clone());
        }
        registry.register_with_unit(
            "event_oldest_pending_age",
            "How long ago the oldest change event a receiver lacks was committed",
            Unit::Seconds,
            self.oldest_pending.clone(),
        );
        registry.register_with_unit(
            "event_delivery_lag",
            "Time from commit to acknowledgement of the last event a receiver took",
            Unit::Seconds,
            self.lag.clone(),
        );
    }

    /// Refills every gauge from `service`'s receivers (a removed receiver disappears).
    fn refill(&self, service: &Service) -> Result<(), String> {
        for family in
            [&self.backlog, &self.oldest_pending, &self.delivered, &self.failed, &self.held]
        {
            family.clear();
        }
        self.lag.clear();
        for r in service.event_status().map_err(|e| e.to_string())? {
            let labels = ReceiverLabels { receiver: r.name.clone() };
            let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            self.backlog.get_or_create(&labels).set(gauge(r.backlog));
            self.oldest_pending
                .get_or_create(&labels)
                .set(gauge(r.oldest_pending_secs.unwrap_or(0)));
            self.failed.get_or_create(&labels).set(gauge(r.cursor.failed));
            self.held.get_or_create(&labels).set(i64::from(r.cursor.stalled.is_some()));
            if let Some(stream) = &r.stream {
                self.delivered.get_or_create(&labels).set(gauge(stream.delivered));
                if let Some(ms) = stream.last_lag_ms {
                    self.lag.get_or_create(&labels).set(ms as f64 / 1000.0);
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    id: String,
    name: String,
}

/// Every metric scimd reports. Cheap to share (`Arc`); recording takes no lock.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    users: Family<UserStateLabels, Gauge>,
    groups: Gauge,
    log_entries: Gauge,
    file_bytes: Gauge,
    disk_full: Gauge,
    token_last_used: Family<TokenLabels, Gauge>,
    events: EventGauges,
    rendering: std::sync::Mutex<()>,
}

/// A label value as the text format needs it: prometheus-client writes values as given, and a
/// token name is the admin's free text (a `"` in it would break the whole scrape).
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// The metrics of `service`'s server, with its writer's batch histograms registered.
    pub fn new(service: &Service) -> Metrics {
        let mut registry = Registry::with_prefix("scimd");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 100 µs to about 3 s.
            Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
        });
        registry.register_with_unit(
            "http_request_duration",
            "Time from request to response",
            Unit::Seconds,
            latency.clone(),
        );
        let timings = service.write_timings();
        registry.register(
            "write_batch_size",
            "Changes committed together in one write transaction",
            timings.sizes,
        );
        registry.register_with_unit(
            "write_batch_commit_duration",
            "Time to apply a batch of changes and fsync it",
            Unit::Seconds,
            timings.seconds,
        );
        let users = Family::<UserStateLabels, Gauge>::default();
        registry.register("users", "Users in the directory, by state", users.clone());
        let groups = Gauge::default();
        registry.register("groups", "Groups in the directory", groups.clone());
        let log_entries = Gauge::default();
        registry.register("provisioning_log_entries", "Entries kept", log_entries.clone());
        let file_bytes = Gauge::default();
        registry.register_with_unit(
            "data_file_size",
            "Size of the data file (scimd compact shrinks it)",
            Unit::Bytes,
            file_bytes.clone(),
        );
        let disk_full = Gauge::default();
        registry.register(
            "disk_full",
            "1 while writes are refused (507) because the data file's file system is full",
            disk_full.clone(),
        );
        let token_last_used = Family::<TokenLabels, Gauge>::default();
        registry.register_with_unit(
            "token_last_used_timestamp",
            "Unix time a token was last presented (tokens never used are absent)",
            Unit::Seconds,
            token_last_used.clone(),
        );
        let events = EventGauges::default();
        events.register(&mut registry);
        Metrics {
            events,
            registry,
            requests,
            latency,
            users,
            groups,
            log_entries,
            file_bytes,
            disk_full,
            token_last_used,
            rendering: std::sync::Mutex::new(()),
        }
    }

    /// Counts one answered request.
    /// `route` is a declared route or `unmatched`, so the label sets stay few whatever is sent.
    pub fn record_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let method = METHODS.into_iter().find(|m| *m == method).unwrap_or("other");
        let route = route.to_string();
        self.latency
            .get_or_create(&RouteLabels { route: route.clone(), method })
            .observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&RequestLabels { route, method, status }).inc();
    }

    /// The text exposition of every metric, with the directory's numbers read now. Blocking:
    /// it reads the store.
    pub fn render(&self, service: &Service) -> Result<String, String> {
        // One scrape at a time: the token gauges are cleared and refilled below.
        let _one_at_a_time =
            self.rendering.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.disk_full.set(i64::from(service.disk_full()));
        let counts = service.directory_counts().map_err(|e| e.to_string())?;
        let (users, inactive) = (counts.users as i64, counts.inactive_users as i64);
        self.users.get_or_create(&UserStateLabels { state: "active" }).set(users - inactive);
        self.users.get_or_create(&UserStateLabels { state: "inactive" }).set(inactive);
        self.groups.set(counts.groups as i64);
        self.log_entries.set(counts.log_entries as i64);
        let file = std::fs::metadata(service.data_file()).map(|m| m.len() as i64);
        self.file_bytes.set(file.unwrap_or(0));

        let seen = service.token_cache().last_seen();
        self.token_last_used.clear();
        for token in service.list_tokens_blocking().map_err(|e| e.to_string())? {
            if token.revoked.is_some() {
                continue;
            }
            let last = [token.last_used, seen.get(&token.id).copied()].into_iter().flatten().max();
            if let Some(at) = last {
                let labels = TokenLabels { id: token.id, name: escape_label(&token.name) };
                self.token_last_used.get_or_create(&labels).set(at);
            }
        }

        self.events.refill(service)?;

        let mut out = String::new();
        encode(&mut out, &self.registry).map_err(|e| e.to_string())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::escape_label;

    #[test]
    fn label_values_are_escaped_for_the_text_format() {
        assert_eq!(escape_label("entra-prod"), "entra-prod");
        assert_eq!(escape_label("Entra \"prod\"\\x\ny"), "Entra \\\"prod\\\"\\\\x\\ny");
    }
}
