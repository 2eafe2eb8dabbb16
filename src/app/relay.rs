//! The event relay in the running service: built at start-up from `[events]` and
//! `[webhooks]` (with `[uploads]` on: the outbox lives in the upload store), run for the life
//! of the process, stopped on a graceful stop.
//!
//! Two tasks do the work ([`crate::events::PullLoop`] and
//! [`crate::events::DeliveryWorker`]) and a third copies the outbox's backlog into the
//! metrics every few seconds and into the log once a minute while messages wait. VOD and the
//! receivers are reported dependencies, never a reason to be unready: signing does not need
//! them. `[events]` and `[webhooks]` are read at start-up only (a reload warns when they
//! changed); the context keys are read at every ingest, so a rotated key applies at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, EnvLookup, Settings};
use crate::events::Clock as _;
use crate::events::{
    DeliveryWorker, Endpoint, EventStore, KeySource, PullLoop, RelayObserver, SystemClock,
};
use crate::metrics::Metrics;
use crate::uploads::UploadStore;
use crate::vodapi::VodApi;

/// How often the backlog gauges are refreshed.
const BACKLOG_INTERVAL: Duration = Duration::from_secs(5);

/// How often a waiting backlog is logged.
const BACKLOG_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Whether the last `PullEvents` call got an answer: the `vod_events` dependency.
#[derive(Debug, Default)]
pub struct VodHealth {
    down: AtomicBool,
    problem: Mutex<Option<String>>,
}

impl VodHealth {
    fn set(&self, up: bool, problem: Option<&str>) {
        self.down.store(!up, Ordering::Release);
        let mut slot = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        *slot = problem.map(str::to_owned);
    }

    /// `None` while VOD answers (or before the first call); otherwise what is wrong.
    pub fn problem(&self) -> Option<String> {
        if !self.down.load(Ordering::Acquire) {
            return None;
        }
        let slot = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            slot.clone()
                .unwrap_or_else(|| "VOD API unreachable".to_owned()),
        )
    }
}

/// What the relay is built from, made once at start-up and kept across reloads.
#[derive(Debug)]
pub struct RelayParts {
    api: Arc<VodApi>,
    endpoints: Vec<Endpoint>,
    pub health: Arc<VodHealth>,
}

impl RelayParts {
    /// The relay of `settings` when `[events] enabled`: refused without `[uploads]` (its
    /// outbox is the upload store), with a credential that is not configured (never the
    /// development placeholders), or with an endpoint whose secret is missing.
    pub fn from_settings(
        settings: &Settings,
        env: EnvLookup<'_>,
    ) -> Result<Option<Self>, ConfigError> {
        if !settings.events.enabled {
            return Ok(None);
        }
        if !settings.uploads.enabled {
            return Err(ConfigError::key(
                "events.enabled",
                "needs [uploads] enabled = true: the relay keeps VOD's events and its \
                 webhook messages in the upload store, and ties events to upload tickets",
            ));
        }
        let api = VodApi::from_settings(settings)?;
        let endpoints = Endpoint::all_from_settings(&settings.webhooks, env)?;
        if endpoints.is_empty() {
            tracing::warn!(
                "[events] is on but no [[webhooks.endpoints]] is configured: VOD's events are \
                 stored and confirmed, and no webhook is sent"
            );
        }
        Ok(Some(RelayParts {
            api: Arc::new(api),
            endpoints,
            health: Arc::default(),
        }))
    }
}

/// Metrics and health from the relay's reports.
struct Observer {
    metrics: Metrics,
    health: Arc<VodHealth>,
}

impl RelayObserver for Observer {
    fn pulled(&self, events: usize) {
        self.metrics.events_pulled(events);
    }
    fn confirmed(&self, events: usize) {
        self.metrics.events_confirmed(events);
    }
    fn stale_confirm(&self) {
        self.metrics.events_stale_confirm();
    }
    fn deduplicated(&self, events: usize) {
        self.metrics.events_deduplicated(events);
    }
    fn unattributed(&self, event_type: &'static str) {
        self.metrics.event_unattributed(event_type);
    }
    fn vod_reachable(&self, up: bool, problem: Option<&str>) {
        self.health.set(up, problem);
        self.metrics.dependency_up("vod_events", up);
    }
    fn attempt(&self, endpoint: &str, result: &'static str) {
        self.metrics.webhook_attempt(endpoint, result);
    }
}

/// The running relay. [`Relay::stop`] ends it.
pub struct Relay {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Starts the pull loop, the delivery worker and the backlog sampler.
    pub fn spawn(
        parts: &RelayParts,
        store: &UploadStore,
        settings: &Settings,
        metrics: Metrics,
        keys: KeySource,
    ) -> Relay {
        let events = EventStore::new(store.clone());
        let observer: Arc<dyn RelayObserver> = Arc::new(Observer {
            metrics: metrics.clone(),
            health: parts.health.clone(),
        });
        metrics.relay_started();
        let (stop, stopped) = watch::channel(false);
        let signal = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let routes = parts.endpoints.iter().map(Endpoint::route).collect();
        let pull = PullLoop::new(
            parts.api.clone(),
            events.clone(),
            keys,
            routes,
            Arc::new(SystemClock),
            observer.clone(),
        );
        let worker = DeliveryWorker::new(
            events.clone(),
            parts.endpoints.clone(),
            &settings.webhooks,
            Arc::new(SystemClock),
        )
        .observed(observer);
        let tasks = vec![
            tokio::spawn(pull.run(signal())),
            tokio::spawn(worker.run(signal())),
            tokio::spawn(sample_backlog(events, metrics, signal())),
        ];
        Relay { stop, tasks }
    }

    /// Stops the tasks: a long poll is abandoned, a delivery in flight is given back
    /// (pending, sent after the restart), an ingest running finishes; waits at most `limit`.
    pub async fn stop(self, limit: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + limit;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!("event relay task still busy at the end of the stop; aborted");
                task.abort();
            }
        }
    }
}

/// Copies the backlog into the gauges every few seconds; logs it once a minute while
/// messages wait, and once when it has drained.
async fn sample_backlog(
    events: EventStore,
    metrics: Metrics,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(BACKLOG_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_logged: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut shutdown => return,
        }
        let Ok(backlog) = events.backlog().await else {
            continue;
        };
        let now_ms = SystemClock.now_ms();
        let age_ms = backlog
            .oldest_created_at
            .map_or(0, |created| now_ms.saturating_sub(created).max(0));
        let age = Duration::from_millis(u64::try_from(age_ms).unwrap_or(0));
        metrics.webhook_backlog(backlog.pending, age);
        if backlog.pending > 0 {
            if last_logged.is_none_or(|at| at.elapsed() >= BACKLOG_LOG_INTERVAL) {
                tracing::info!(
                    pending = backlog.pending,
                    oldest_age_secs = age.as_secs(),
                    "webhook messages waiting for delivery"
                );
                last_logged = Some(tokio::time::Instant::now());
            }
        } else if last_logged.take().is_some() {
            tracing::info!("webhook backlog delivered: no message waiting");
        }
    }
}
