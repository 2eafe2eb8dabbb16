//! The upload-ticket part of the state: the store (opened once per process, shared across
//! reloads), its health as the requests and a probe see it, the context keys (read again on
//! every reload, so a rotated key applies without a restart), and the background upkeep.
//!
//! The store is a dependency that is reported, not required: `/v1/signature` signs without
//! it, so an instance whose store is down stays ready and answers 503 (50301) on the ticket
//! endpoints only, until the store answers again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, Settings};
use crate::events::{EventStore, Retention, SystemClock, retention};
use crate::uploads::sweeper;
use crate::uploads::{ContextKey, ContextKeys, StoreError, UploadStore};

/// How often the store is pinged for readiness reporting.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// How often expired tickets are marked and old rows purged.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The store and what outlives a reload with it.
#[derive(Debug)]
pub struct StoreHandle {
    store: UploadStore,
    up: AtomicBool,
    /// The development key made when `uploads.development_ephemeral_context_key` is on and
    /// no key is set: one per process, so a reload keeps the tokens verifying.
    ephemeral_key: OnceLock<ContextKey>,
}

impl StoreHandle {
    /// Opens the store `[store]` names (no connection yet: the pool connects on first use).
    pub fn open(settings: &Settings) -> Result<Self, ConfigError> {
        Ok(StoreHandle {
            store: UploadStore::connect(&settings.store)?,
            up: AtomicBool::new(true),
            ephemeral_key: OnceLock::new(),
        })
    }

    pub fn store(&self) -> &UploadStore {
        &self.store
    }

    /// Passes a store answer through, noting whether the store answered: a failure to
    /// reach it marks it down (logged once), any answer marks it up again.
    pub fn observe<T>(&self, outcome: Result<T, StoreError>) -> Result<T, StoreError> {
        let reached = !matches!(outcome, Err(StoreError::Unavailable(_)));
        let was_up = self.up.swap(reached, Ordering::AcqRel);
        match (&outcome, was_up) {
            (Err(e), true) if !reached => {
                tracing::warn!(error = %e, "upload store unreachable; ticket endpoints answer 503")
            }
            (_, false) if reached => tracing::info!("upload store reachable again"),
            _ => {}
        }
        outcome
    }

    /// `None` while the store answers; otherwise what is wrong, naming no host.
    pub fn problem(&self) -> Option<String> {
        (!self.up.load(Ordering::Acquire))
            .then(|| format!("upload store ({}) unreachable", self.store.kind().as_str()))
    }

    /// Brings the schema up to date (bounded by the store); the error names `store.url`,
    /// never its text.
    pub async fn migrate(&self) -> Result<(), ConfigError> {
        self.observe(self.store.migrate().await).map_err(|e| {
            ConfigError::key(
                "store.url",
                format!(
                    "the {} upload store could not be migrated: {e}",
                    self.store.kind().as_str()
                ),
            )
        })
    }

    /// The context keys of `settings`: from the environment, or, with
    /// `uploads.development_ephemeral_context_key` and no key set, this process's random
    /// development key (with a loud warning).
    pub fn context_keys(&self, settings: &Settings) -> Result<ContextKeys, ConfigError> {
        let uploads = &settings.uploads;
        match ContextKeys::from_env(&uploads.context_key_env) {
            Ok(keys) => Ok(keys),
            Err(_)
                if uploads.development_ephemeral_context_key
                    && std::env::var_os(&uploads.context_key_env).is_none()
                    && std::env::var_os(format!("{}_FILE", uploads.context_key_env)).is_none() =>
            {
                tracing::warn!(
                    "DEVELOPMENT CONTEXT KEY: {} is not set, so upload tickets are signed with \
                     a random key made at start-up; their tokens stop verifying when the \
                     process restarts. Set {} for real use.",
                    uploads.context_key_env,
                    uploads.context_key_env
                );
                let key = self.ephemeral_key.get_or_init(random_key).clone();
                Ok(ContextKeys::new(key, Vec::new()))
            }
            Err(e) => Err(e),
        }
    }
}

/// 32 random bytes as 64 hex characters: a context key as good as a generated one.
fn random_key() -> ContextKey {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    ContextKey::new(hex::encode(bytes).as_bytes()).expect("64 characters are enough")
}

/// The ticket endpoints' view of the state: the store and the keys of this configuration.
#[derive(Debug, Clone)]
pub struct Tickets {
    pub store: Arc<StoreHandle>,
    pub keys: ContextKeys,
}

impl Tickets {
    /// Passes a store answer through, noting the store's health.
    pub fn observe<T>(&self, outcome: Result<T, StoreError>) -> Result<T, StoreError> {
        self.store.observe(outcome)
    }
}

/// The background tasks of the store: the sweeper (expire, purge), the event outbox's
/// purge and the health probe. [`Upkeep::stop`] ends them.
pub struct Upkeep {
    stop: Vec<oneshot::Sender<()>>,
    sweeper: JoinHandle<()>,
    outbox: JoinHandle<()>,
    probe: JoinHandle<()>,
}

impl Upkeep {
    /// Starts the sweeper and the outbox purge (every minute, the first at once) and the
    /// probe (every 5 s).
    pub fn spawn(
        handle: Arc<StoreHandle>,
        retention_days: u32,
        outbox: Retention,
        clock: fn() -> u64,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (stop_outbox, outbox_stopped) = oneshot::channel::<()>();
        let outbox = tokio::spawn(retention::run(
            EventStore::new(handle.store.clone()),
            SWEEP_INTERVAL,
            outbox,
            Arc::new(SystemClock),
            async move {
                let _ = outbox_stopped.await;
            },
        ));
        let sweeper = tokio::spawn(sweeper::run(
            handle.store.clone(),
            SWEEP_INTERVAL,
            retention_days,
            clock,
            async move {
                let _ = stopped.await;
            },
        ));
        let probe = tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROBE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let _ = handle.observe(handle.store.ping().await);
            }
        });
        Upkeep {
            stop: vec![stop, stop_outbox],
            sweeper,
            outbox,
            probe,
        }
    }

    /// Stops the tasks; a sweep or purge in progress may finish (bounded by the store's
    /// timeout), waited for at most `limit`.
    pub async fn stop(mut self, limit: Duration) {
        self.probe.abort();
        for stop in self.stop.drain(..) {
            let _ = stop.send(());
        }
        let deadline = tokio::time::Instant::now() + limit;
        for task in [&mut self.sweeper, &mut self.outbox] {
            if tokio::time::timeout_at(deadline, &mut *task).await.is_err() {
                task.abort();
            }
        }
    }
}
