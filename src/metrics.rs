//! Prometheus metrics: one registry per [`Metrics`] instance, rendered on the admin
//! listener's `/metrics` (never on the public one).
//!
//! No global recorder is installed: each app instance owns its recorder and records
//! through [`metrics::with_local_recorder`], so several instances in one test process never
//! see each other's numbers. Every label value is bounded: a route template (never a raw
//! path), a method from a fixed list, an envelope code (never a message), a configured
//! policy, API key id or provider name.
//!
//! The recording functions are the interface for the other parts of the service:
//! [`Metrics::auth_result`] (auth-check), [`Metrics::jwks_age`] (JWKS refresher),
//! [`Metrics::rate_limit_backend_errors`] and [`Metrics::rate_limit_repairs`] (rate-limit
//! backends), [`Metrics::config_reload`] (reload); [`Metrics::sample`] copies the JWKS ages
//! and the limiter's error and repair counts on a timer. Reach them through
//! `state.metrics()`, or keep a clone (it is an `Arc`).
//!
//! Load and process: [`Metrics::request_in_flight`] and [`Metrics::connection_open`] hand
//! out guards that keep a gauge up while they live, [`Metrics::load_shed`] counts refusals
//! by load shedding, and [`Metrics::render`] reads the `process_*` metrics (memory, CPU,
//! file descriptors) from the operating system at every scrape (`metrics-process`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use ::metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use axum::http::Method;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Upper bounds of the latency histograms, in seconds: 250 µs to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// How often [`Metrics::spawn_upkeep`] folds histogram samples into their buckets, so
/// memory stays flat even when nobody scrapes. The exporter keeps every sample until then:
/// at 17,000 requests/s, 5 s made about 1.4 MiB of samples gathered and freed in a cycle,
/// which showed as RSS swinging by a fifth under a steady load; 1 s keeps it under 0.3 MiB.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The git commit the binary was built from, when the build set `VODSIGN_GIT_SHA`.
const GIT_SHA: &str = match option_env!("VODSIGN_GIT_SHA") {
    Some(sha) => sha,
    None => "unknown",
};

/// One metrics registry. Cheap to clone; clones share the registry.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    hot: Arc<HotHandles>,
    load: Arc<LoadHandles>,
    /// Reads the `process_*` metrics at each [`Metrics::render`].
    process: metrics_process::Collector,
}

/// The load gauges and the load-shedding counter, registered once: they change on every
/// request or connection.
struct LoadHandles {
    requests_in_flight: Gauge,
    connections_open: Gauge,
    load_shed: Counter,
}

/// Keeps a gauge one higher while it lives (a request in flight, a connection open); a
/// future dropped half-way (a client that left, a timeout) still gives its unit back.
#[must_use = "the gauge goes back down when this is dropped"]
pub struct GaugeGuard(Gauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The handles of the metrics recorded on every request, registered once per label set.
/// `counter!` with owned labels allocates each label and looks the key up in the registry
/// on every call; these maps are read without allocating, under a read lock. They stay
/// small: every label is bounded (see the module documentation).
#[derive(Default)]
struct HotHandles {
    /// By route, then (method, status).
    http: HandleMap<(&'static str, u16), (Counter, Histogram)>,
    /// By policy, then caller.
    issued: HandleMap<String, Counter>,
    /// By provider, then (kind, outcome).
    auth: HandleMap<(&'static str, &'static str), (Counter, Histogram)>,
}

/// Handles keyed by a string label, then by the other labels.
struct HandleMap<K, H>(RwLock<Labelled<Box<str>, Labelled<K, H>>>);

/// A map read on every request: foldhash, not SipHash (see `Cargo.toml`).
type Labelled<K, V> = HashMap<K, V, foldhash::quality::RandomState>;

impl<K, H> Default for HandleMap<K, H> {
    fn default() -> Self {
        Self(RwLock::default())
    }
}

impl<K: Eq + Hash, H> HandleMap<K, H> {
    /// Runs `use_handle` on the handle for (`first`, `rest`), registering it with
    /// `register` the first time.
    fn with<Q>(
        &self,
        first: &str,
        rest: &Q,
        register: impl FnOnce() -> H,
        use_handle: impl FnOnce(&H),
    ) where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized + ToOwned<Owned = K>,
    {
        {
            // A poisoned lock only means another thread panicked mid-insert; the map is
            // still a valid map.
            let map = self.0.read().unwrap_or_else(|e| e.into_inner());
            if let Some(handle) = map.get(first).and_then(|inner| inner.get(rest)) {
                use_handle(handle);
                return;
            }
        }
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let handle = map
            .entry(first.into())
            .or_default()
            .entry(rest.to_owned())
            .or_insert_with(register);
        use_handle(handle);
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with the build info already set.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
            .expect("the latency buckets are a non-empty constant")
            .build_recorder();
        let load = ::metrics::with_local_recorder(&recorder, || LoadHandles {
            requests_in_flight: gauge!("vodsign_http_requests_in_flight"),
            connections_open: gauge!("vodsign_connections_open"),
            load_shed: counter!("vodsign_load_shed_total"),
        });
        let metrics = Self {
            handle: recorder.handle(),
            recorder: Arc::new(recorder),
            hot: Arc::default(),
            load: Arc::new(load),
            process: metrics_process::Collector::default(),
        };
        metrics.describe();
        metrics.record(|| {
            gauge!(
                "vodsign_build_info",
                "version" => env!("CARGO_PKG_VERSION"),
                "git_sha" => GIT_SHA,
            )
            .set(1.0);
        });
        metrics
    }

    /// The Prometheus text exposition of everything recorded so far, with the `process_*`
    /// metrics read now.
    pub fn render(&self) -> String {
        self.record(|| self.process.collect());
        self.handle.render()
    }

    /// Runs `f` with this instance's recorder as the current one.
    fn record(&self, f: impl FnOnce()) {
        ::metrics::with_local_recorder(self.recorder.as_ref(), f);
    }

    /// Registers handles in this instance's registry (what `f` returns), to be kept.
    fn registered<H>(&self, f: impl FnOnce() -> H) -> H {
        ::metrics::with_local_recorder(self.recorder.as_ref(), f)
    }

    fn describe(&self) {
        self.record(|| {
            use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
            describe_counter!(
                "vodsign_http_requests_total",
                "HTTP requests answered, by route template, method and status"
            );
            describe_histogram!(
                "vodsign_http_request_duration_seconds",
                Unit::Seconds,
                "Time to answer an HTTP request, by route template and method"
            );
            describe_counter!(
                "vodsign_signatures_issued_total",
                "Upload signatures issued, by policy and caller (API key id or token provider)"
            );
            describe_counter!(
                "vodsign_signature_refusals_total",
                "Signature requests refused, by envelope code"
            );
            describe_counter!(
                "vodsign_uploads_created_total",
                "Upload tickets made (POST /v1/uploads), by policy"
            );
            describe_counter!(
                "vodsign_upload_signatures_total",
                "Further signatures issued for existing upload tickets (re-signs), by policy"
            );
            describe_counter!(
                "vodsign_upload_refusals_total",
                "Upload-ticket requests refused, by envelope code"
            );
            describe_counter!(
                "vodsign_auth_total",
                "Authentication attempts, by credential kind, provider and outcome"
            );
            describe_histogram!(
                "vodsign_auth_duration_seconds",
                Unit::Seconds,
                "Time to verify a credential, by credential kind and provider"
            );
            describe_gauge!(
                "vodsign_jwks_age_seconds",
                Unit::Seconds,
                "Age of the key set in use, by identity provider"
            );
            describe_counter!(
                "vodsign_rate_limit_backend_errors_total",
                "Errors talking to a rate-limit backend, by backend"
            );
            describe_counter!(
                "vodsign_rate_limit_repairs_total",
                "Rate-limit keys found corrupt (wrong type, impossible value or expiry) and reset, by backend"
            );
            describe_counter!(
                "vodsign_config_reloads_total",
                "Configuration reloads, by outcome (ok, failed)"
            );
            describe_counter!(
                "vodsign_connections_closed_total",
                "Connections the server closed itself, by reason (per_address_limit, \
                 tls_handshake, first_byte, header, idle, write)"
            );
            describe_gauge!(
                "vodsign_config_last_reload_success",
                "1 when the last configuration load (start-up or reload) applied, 0 when refused"
            );
            describe_gauge!(
                "vodsign_config_last_reload_timestamp_seconds",
                Unit::Seconds,
                "Unix time of the last configuration load (start-up or reload), applied or not"
            );
            describe_gauge!(
                "vodsign_dependency_up",
                "1 when an optional dependency answered its last call (or was not called yet), 0 when it failed"
            );
            describe_gauge!(
                "vodsign_build_info",
                "Always 1; the labels name the version and git commit"
            );
            // The event relay.
            describe_counter!(
                "vodsign_events_pulled_total",
                "VOD events received from PullEvents (redeliveries included)"
            );
            describe_counter!(
                "vodsign_events_confirmed_total",
                "VOD events confirmed with ConfirmEvents after they were stored"
            );
            describe_counter!(
                "vodsign_events_stale_confirms_total",
                "ConfirmEvents calls VOD refused for a stale handle (the events come back and are deduplicated)"
            );
            describe_counter!(
                "vodsign_events_deduplicated_total",
                "VOD events received again (duplicates, redeliveries) and stored once"
            );
            describe_counter!(
                "vodsign_events_unattributed_total",
                "New VOD events no upload ticket could be proven to own, sent as vod.unattributed, by VOD event type"
            );
            describe_counter!(
                "vodsign_webhook_attempts_total",
                "Webhook delivery attempts, by endpoint and result (delivered, retry, dead, disabled, lease_lost)"
            );
            describe_gauge!(
                "vodsign_webhook_messages_pending",
                "Webhook messages waiting to be delivered (all endpoints, all replicas)"
            );
            describe_gauge!(
                "vodsign_webhook_oldest_pending_age_seconds",
                Unit::Seconds,
                "Age of the oldest webhook message waiting to be delivered; 0 when none waits"
            );
            // Load and process.
            describe_gauge!(
                "vodsign_http_requests_in_flight",
                "HTTP requests being answered now, public listener"
            );
            describe_gauge!(
                "vodsign_connections_open",
                "Connections open now on the public listener"
            );
            describe_counter!(
                "vodsign_load_shed_total",
                "Requests refused by load shedding (max_in_flight reached; 503, code 50301)"
            );
        });
        self.record(|| self.process.describe());
    }

    /// One answered HTTP request. `route` is a route template or `unmatched`.
    pub fn http_request(&self, route: &str, method: &Method, status: u16, latency: Duration) {
        let method = method_label(method);
        self.hot.http.with(
            route,
            &(method, status),
            || {
                self.registered(|| {
                    (
                        counter!(
                            "vodsign_http_requests_total",
                            "route" => route.to_owned(),
                            "method" => method,
                            "status" => status.to_string(),
                        ),
                        histogram!(
                            "vodsign_http_request_duration_seconds",
                            "route" => route.to_owned(),
                            "method" => method,
                        ),
                    )
                })
            },
            |(requests, duration)| {
                requests.increment(1);
                duration.record(latency.as_secs_f64());
            },
        );
    }

    /// One signature issued under `policy` to `caller` (a configured API key id or a token
    /// provider's name: both bounded by the configuration). Labelled `caller`, not
    /// `credential`: in the configuration a credential is a VOD key pair.
    pub fn signature_issued(&self, policy: &str, caller: &str) {
        self.hot.issued.with(
            policy,
            caller,
            || {
                self.registered(|| {
                    counter!(
                        "vodsign_signatures_issued_total",
                        "policy" => policy.to_owned(),
                        "caller" => caller.to_owned(),
                    )
                })
            },
            |issued| issued.increment(1),
        );
    }

    /// One refused signature request, by its envelope `code` (40101, 42901, ...).
    pub fn signature_refused(&self, code: u32) {
        self.record(|| {
            counter!("vodsign_signature_refusals_total", "code" => code.to_string()).increment(1);
        });
    }

    /// One upload ticket made under `policy` (its first signature is also counted by
    /// [`Metrics::signature_issued`]).
    pub fn upload_created(&self, policy: &str) {
        let policy = policy.to_owned();
        self.record(|| {
            counter!("vodsign_uploads_created_total", "policy" => policy).increment(1);
        });
    }

    /// One more signature for an existing upload ticket under `policy`.
    pub fn upload_signed(&self, policy: &str) {
        let policy = policy.to_owned();
        self.record(|| {
            counter!("vodsign_upload_signatures_total", "policy" => policy).increment(1);
        });
    }

    /// One refused upload-ticket request, by its envelope `code` (40402, 40901, ...).
    pub fn upload_refused(&self, code: u32) {
        self.record(|| {
            counter!("vodsign_upload_refusals_total", "code" => code.to_string()).increment(1);
        });
    }

    /// One authentication attempt. `kind`: `api_key`, `jwt`, `introspection` or `none`;
    /// `provider`: the identity provider's configured name (`api_keys` for API keys,
    /// `unknown` when the credential was refused before one was picked); `outcome`: `ok`,
    /// `missing`, `invalid`, `forbidden` or `unavailable`. Called once per attempt, by the
    /// auth-check of the HTTP layer.
    pub fn auth_result(
        &self,
        kind: &'static str,
        provider: &str,
        outcome: &'static str,
        latency: Duration,
    ) {
        self.hot.auth.with(
            provider,
            &(kind, outcome),
            || {
                self.registered(|| {
                    (
                        counter!(
                            "vodsign_auth_total",
                            "kind" => kind,
                            "provider" => provider.to_owned(),
                            "outcome" => outcome,
                        ),
                        histogram!(
                            "vodsign_auth_duration_seconds",
                            "kind" => kind,
                            "provider" => provider.to_owned(),
                        ),
                    )
                })
            },
            |(attempts, duration)| {
                attempts.increment(1);
                duration.record(latency.as_secs_f64());
            },
        );
    }

    /// The age of the key set `provider` currently verifies with.
    pub fn jwks_age(&self, provider: &str, age: Duration) {
        let provider = provider.to_owned();
        self.record(|| {
            gauge!("vodsign_jwks_age_seconds", "provider" => provider).set(age.as_secs_f64());
        });
    }

    /// Failed calls to the rate-limit `backend` (`memory`, `redis`) since start: the
    /// limiter counts them; this copies its running total.
    pub fn rate_limit_backend_errors(&self, backend: &str, total: u64) {
        let backend = backend.to_owned();
        self.record(|| {
            counter!("vodsign_rate_limit_backend_errors_total", "backend" => backend)
                .absolute(total);
        });
    }

    /// Rate-limit keys the `backend` found corrupt and reset since start: the limiter
    /// counts them; this copies its running total.
    pub fn rate_limit_repairs(&self, backend: &str, total: u64) {
        let backend = backend.to_owned();
        self.record(|| {
            counter!("vodsign_rate_limit_repairs_total", "backend" => backend).absolute(total);
        });
    }

    /// One configuration reload attempt (SIGHUP or `POST /-/reload`): counted, and the
    /// last-reload gauges set.
    pub fn config_reload(&self, succeeded: bool) {
        let outcome = if succeeded { "ok" } else { "failed" };
        self.record(|| {
            counter!("vodsign_config_reloads_total", "outcome" => outcome).increment(1);
        });
        self.config_loaded(succeeded);
    }

    /// Sets `vodsign_config_last_reload_success` (0/1) and `..._timestamp_seconds` (now);
    /// at start-up too, with the configuration the process started with.
    pub fn config_loaded(&self, succeeded: bool) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.record(|| {
            gauge!("vodsign_config_last_reload_success").set(f64::from(u8::from(succeeded)));
            gauge!("vodsign_config_last_reload_timestamp_seconds").set(now);
        });
    }

    /// Whether an optional dependency (`redis`, `jwks:NAME`, `introspection:NAME`: bounded
    /// by the configuration) answered its last call: 1, or 0 when it failed.
    pub fn dependency_up(&self, dependency: &str, up: bool) {
        let dependency = dependency.to_owned();
        self.record(|| {
            gauge!("vodsign_dependency_up", "dependency" => dependency)
                .set(f64::from(u8::from(up)));
        });
    }

    /// `events` VOD events pulled.
    pub fn events_pulled(&self, events: usize) {
        self.record(|| counter!("vodsign_events_pulled_total").increment(events as u64));
    }

    /// `events` VOD events confirmed.
    pub fn events_confirmed(&self, events: usize) {
        self.record(|| counter!("vodsign_events_confirmed_total").increment(events as u64));
    }

    /// One confirmation refused for a stale handle.
    pub fn events_stale_confirm(&self) {
        self.record(|| counter!("vodsign_events_stale_confirms_total").increment(1));
    }

    /// `events` VOD events that were already stored.
    pub fn events_deduplicated(&self, events: usize) {
        self.record(|| counter!("vodsign_events_deduplicated_total").increment(events as u64));
    }

    /// One new event sent as `vod.unattributed`; `event_type` is bounded by the caller (a
    /// VOD event type or `other`).
    pub fn event_unattributed(&self, event_type: &'static str) {
        self.record(|| {
            counter!("vodsign_events_unattributed_total", "type" => event_type).increment(1);
        });
    }

    /// One delivery attempt to `endpoint` (a configured name) with `result` (a constant).
    pub fn webhook_attempt(&self, endpoint: &str, result: &'static str) {
        let endpoint = endpoint.to_owned();
        self.record(|| {
            counter!("vodsign_webhook_attempts_total", "endpoint" => endpoint, "result" => result)
                .increment(1);
        });
    }

    /// The outbox's backlog: messages pending and the age of the oldest (0 when none).
    pub fn webhook_backlog(&self, pending: i64, oldest_age: Duration) {
        self.record(|| {
            gauge!("vodsign_webhook_messages_pending").set(pending as f64);
            gauge!("vodsign_webhook_oldest_pending_age_seconds").set(oldest_age.as_secs_f64());
        });
    }

    /// Registers the relay's counters at 0, so they are scraped before the first event.
    pub fn relay_started(&self) {
        self.record(|| {
            counter!("vodsign_events_pulled_total").increment(0);
            counter!("vodsign_events_confirmed_total").increment(0);
            counter!("vodsign_events_stale_confirms_total").increment(0);
            counter!("vodsign_events_deduplicated_total").increment(0);
        });
    }

    /// One connection closed by the server: refused past the per-address limit, or past
    /// one of its deadlines. `reason` is a constant of the transport.
    pub fn connection_closed(&self, reason: &'static str) {
        self.record(|| {
            counter!("vodsign_connections_closed_total", "reason" => reason).increment(1);
        });
    }

    /// One more request in flight until the guard is dropped.
    pub fn request_in_flight(&self) -> GaugeGuard {
        self.load.requests_in_flight.increment(1.0);
        GaugeGuard(self.load.requests_in_flight.clone())
    }

    /// One more open connection until the guard is dropped.
    pub fn connection_open(&self) -> GaugeGuard {
        self.load.connections_open.increment(1.0);
        GaugeGuard(self.load.connections_open.clone())
    }

    /// One request refused by load shedding.
    pub fn load_shed(&self) {
        self.load.load_shed.increment(1);
    }

    /// Folds histogram samples into their buckets every few seconds, so they do not pile up
    /// between scrapes. The task ends by itself once every clone of `self` is dropped.
    pub fn spawn_upkeep(&self) -> tokio::task::JoinHandle<()> {
        let recorder: Weak<PrometheusRecorder> = Arc::downgrade(&self.recorder);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match recorder.upgrade() {
                    Some(recorder) => recorder.handle().run_upkeep(),
                    None => break,
                }
            }
        })
    }
}

/// The method as a label: the standard ones by name, anything else as `other`, so a client
/// cannot grow the label set.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_do_not_share_numbers() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.signature_refused(40101);
        assert!(
            a.render()
                .contains("vodsign_signature_refusals_total{code=\"40101\"} 1")
        );
        assert!(!b.render().contains("vodsign_signature_refusals_total"));
    }

    #[test]
    fn latencies_render_as_histograms() {
        let metrics = Metrics::new();
        metrics.http_request("/v1/signature", &Method::GET, 200, Duration::from_millis(3));
        let text = metrics.render();
        assert!(
            text.contains("vodsign_http_request_duration_seconds_bucket{"),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\""), "{text}");
    }

    /// The value of the one series of `name` whose labels include every one of `labels`.
    fn series(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .find(|l| labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn kept_handles_count_each_label_set_apart() {
        let metrics = Metrics::new();
        let ms = Duration::from_millis(1);
        for _ in 0..3 {
            metrics.http_request("/v1/signature", &Method::POST, 200, ms);
        }
        metrics.http_request("/v1/signature", &Method::POST, 429, ms);
        metrics.http_request("/healthz", &Method::GET, 200, ms);
        metrics.signature_issued("default", "key-a");
        metrics.signature_issued("default", "key-a");
        metrics.signature_issued("default", "key-b");
        metrics.signature_issued("strict", "key-a");
        metrics.auth_result("api_key", "api_keys", "ok", ms);
        metrics.auth_result("api_key", "api_keys", "invalid", ms);
        metrics.auth_result("api_key", "api_keys", "ok", ms);
        metrics.auth_result("jwt", "idp", "ok", ms);
        let text = metrics.render();

        let http = "vodsign_http_requests_total";
        let route = r#"route="/v1/signature""#;
        assert_eq!(series(&text, http, &[route, r#"status="200""#]), Some(3.0));
        assert_eq!(series(&text, http, &[route, r#"status="429""#]), Some(1.0));
        let healthz = [r#"route="/healthz""#, r#"method="GET""#];
        assert_eq!(series(&text, http, &healthz), Some(1.0));
        let issued = "vodsign_signatures_issued_total";
        let default = r#"policy="default""#;
        assert_eq!(
            series(&text, issued, &[default, r#"caller="key-a""#]),
            Some(2.0)
        );
        assert_eq!(
            series(&text, issued, &[default, r#"caller="key-b""#]),
            Some(1.0)
        );
        assert_eq!(series(&text, issued, &[r#"policy="strict""#]), Some(1.0));
        let auth = "vodsign_auth_total";
        let keys = r#"provider="api_keys""#;
        assert_eq!(series(&text, auth, &[keys, r#"outcome="ok""#]), Some(2.0));
        assert_eq!(
            series(&text, auth, &[keys, r#"outcome="invalid""#]),
            Some(1.0)
        );
        assert_eq!(series(&text, auth, &[r#"provider="idp""#]), Some(1.0));
        let durations = "vodsign_auth_duration_seconds_count";
        assert_eq!(series(&text, durations, &[keys]), Some(3.0));
    }

    #[test]
    fn load_gauges_follow_their_guards_and_process_metrics_are_read_at_render() {
        let metrics = Metrics::new();
        let first = metrics.request_in_flight();
        let second = metrics.request_in_flight();
        let connection = metrics.connection_open();
        metrics.load_shed();
        metrics.load_shed();
        let text = metrics.render();
        assert_eq!(
            series_bare(&text, "vodsign_http_requests_in_flight"),
            Some(2.0)
        );
        assert_eq!(series_bare(&text, "vodsign_connections_open"), Some(1.0));
        assert_eq!(series_bare(&text, "vodsign_load_shed_total"), Some(2.0));
        drop((first, second, connection));
        let text = metrics.render();
        assert_eq!(
            series_bare(&text, "vodsign_http_requests_in_flight"),
            Some(0.0)
        );
        assert_eq!(series_bare(&text, "vodsign_connections_open"), Some(0.0));
        #[cfg(target_os = "linux")]
        {
            let rss = series_bare(&text, "process_resident_memory_bytes").expect("RSS");
            assert!(rss > 1024.0 * 1024.0, "{rss}");
            let fds = series_bare(&text, "process_open_fds").expect("open fds");
            let max = series_bare(&text, "process_max_fds").expect("max fds");
            assert!(fds >= 3.0 && fds <= max, "{fds} of {max}");
            let start = series_bare(&text, "process_start_time_seconds").expect("start");
            assert!(start > 1.6e9, "{start}");
            assert!(
                text.contains("# TYPE process_cpu_seconds_total counter"),
                "{text}"
            );
        }
    }

    /// The value of the unlabelled series `name`.
    fn series_bare(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let method = Method::from_bytes(b"BREW").expect("extension method");
        assert_eq!(method_label(&method), "other");
    }
}
