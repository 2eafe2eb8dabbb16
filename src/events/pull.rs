//! The ingest loop: VOD's reliable event queue drained into the outbox.
//!
//! Each round is `PullEvents` (a long poll), then [`EventStore::ingest`] (one transaction:
//! the events, the ticket moves and the messages), and **only after it commits**
//! `ConfirmEvents` for the round's handles (at most 16 a call). So a crash or a stop at any
//! point loses nothing: an event not confirmed comes back after 30 s under a new handle,
//! and its deduplication key makes the second ingest a no-op. For the same reason a refused
//! confirmation (a handle past its 30 s: VOD's parameter error) is logged and counted, not
//! fatal.
//!
//! When VOD or the store cannot be reached, the loop waits a growing, jittered delay
//! (bounded by [`Backoff::max`]) before the next try, and logs the outage once when it
//! starts and once when it ends, not at every attempt. A stop interrupts a long poll or a
//! wait at once; an ingest already running is finished (bounded by the store's timeout) so
//! that it either commits or leaves nothing, and a confirmation is abandoned on stop (its
//! events come back and are deduplicated): nothing is ever confirmed that was not committed.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng as _;

use super::clock::Clock;
use super::message::MessageType;
use super::observe::{RelayObserver, event_type_label};
use super::store::{EventStore, Route};
use super::vod_event::VodEvent;
use crate::uploads::{ContextKeys, StoreError};
use crate::vodapi::{MAX_HANDLES_PER_CONFIRM, PulledEvents, VodApi, VodApiError};

/// The shortest time between two `PullEvents` calls that came back empty at once, so a VOD
/// that does not hold its long polls is not called in a tight loop.
const MIN_EMPTY_POLL: Duration = Duration::from_millis(200);

/// How long the loop waits after a failure: `initial`, doubled at each further failure up to
/// `max`, each wait drawn between half and all of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row (at least 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        let full = self.initial.saturating_mul(1u32 << doublings).min(self.max);
        let half = full / 2;
        half + full
            .saturating_sub(half)
            .mul_f64(rand::rng().random_range(0.0..=1.0))
    }
}

/// Why one round failed; nothing was confirmed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Vod(#[from] VodApiError),
    #[error("cannot store the pulled events: {0}")]
    Store(#[from] StoreError),
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PullRound {
    /// Events `PullEvents` handed out.
    pub pulled: usize,
    /// Of those, stored for the first time.
    pub new: usize,
    /// Of those, already stored (duplicates, redeliveries).
    pub duplicates: usize,
    /// Of the new ones, passed on as `vod.unattributed`.
    pub unattributed: usize,
    /// Handles `ConfirmEvents` accepted.
    pub confirmed: usize,
}

/// The current context keys: read at each ingest, so a reload's rotated key applies.
pub type KeySource = Arc<dyn Fn() -> ContextKeys + Send + Sync>;

/// The pull loop's parts. [`PullLoop::run`] drives it until stopped; [`PullLoop::once`] is
/// one round, for tests.
pub struct PullLoop {
    api: Arc<VodApi>,
    store: EventStore,
    keys: KeySource,
    routes: Vec<Route>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn RelayObserver>,
    backoff: Backoff,
}

/// A run of failures of one kind, logged when it starts and when it ends.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
    failures: u32,
}

impl Outage {
    /// Counts a failure; true when it starts an outage (the one to log loudly).
    fn fail(&mut self) -> bool {
        self.failures += 1;
        self.since.get_or_insert_with(Instant::now);
        self.failures == 1
    }

    /// Ends the outage; `Some((failures, duration))` when there was one.
    fn recover(&mut self) -> Option<(u32, Duration)> {
        let since = self.since.take()?;
        let failures = std::mem::take(&mut self.failures);
        Some((failures, since.elapsed()))
    }
}

impl PullLoop {
    pub fn new(
        api: Arc<VodApi>,
        store: EventStore,
        keys: KeySource,
        routes: Vec<Route>,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn RelayObserver>,
    ) -> Self {
        PullLoop {
            api,
            store,
            keys,
            routes,
            clock,
            observer,
            backoff: Backoff::default(),
        }
    }

    /// The same loop waiting by `backoff` after failures.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// One round: pull, ingest, confirm. An error means nothing was confirmed (the events,
    /// if any, come back after 30 s).
    pub async fn once(&self) -> Result<PullRound, PullError> {
        let pulled = self.api.pull_events().await?;
        let mut round = self.ingest(&pulled).await?;
        round.confirmed = self.confirm(&pulled).await;
        Ok(round)
    }

    /// Stores one answer's events (one transaction) and reports what they were.
    async fn ingest(&self, pulled: &PulledEvents) -> Result<PullRound, StoreError> {
        let mut round = PullRound {
            pulled: pulled.events.len(),
            ..PullRound::default()
        };
        if pulled.events.is_empty() {
            return Ok(round);
        }
        self.observer.pulled(round.pulled);
        let events: Vec<VodEvent> = pulled
            .events
            .iter()
            .map(|e| VodEvent::parse(e.raw.clone()))
            .collect();
        let keys = (self.keys)();
        let outcomes = self
            .store
            .ingest(&events, &keys, &self.routes, self.clock.now_ms())
            .await?;
        for (event, outcome) in events.iter().zip(&outcomes) {
            if !outcome.new {
                round.duplicates += 1;
                continue;
            }
            round.new += 1;
            if outcome
                .messages
                .iter()
                .any(|(kind, _)| *kind == MessageType::Unattributed)
            {
                round.unattributed += 1;
                self.observer
                    .unattributed(event_type_label(event.event_type()));
            }
        }
        if round.duplicates > 0 {
            self.observer.deduplicated(round.duplicates);
        }
        tracing::debug!(
            pulled = round.pulled,
            new = round.new,
            duplicates = round.duplicates,
            unattributed = round.unattributed,
            request_id = %pulled.request_id,
            "VOD events stored"
        );
        Ok(round)
    }

    /// Confirms the answer's handles (committed before this is called), at most 16 a call;
    /// returns how many VOD accepted. A refusal is logged and counted, never fatal.
    async fn confirm(&self, pulled: &PulledEvents) -> usize {
        let handles: Vec<String> = pulled.events.iter().map(|e| e.handle.clone()).collect();
        let mut confirmed = 0;
        for chunk in handles.chunks(MAX_HANDLES_PER_CONFIRM) {
            match self.api.confirm_events(chunk).await {
                Ok(()) => confirmed += chunk.len(),
                Err(e) if e.is_stale_handle() => {
                    self.observer.stale_confirm();
                    tracing::warn!(
                        error = %e,
                        events = chunk.len(),
                        "VOD refused a confirmation (a handle past its 30 s): those events \
                         come back under new handles and are deduplicated"
                    );
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    events = chunk.len(),
                    "cannot confirm stored events: VOD delivers them again and they are \
                     deduplicated"
                ),
            }
        }
        if confirmed > 0 {
            self.observer.confirmed(confirmed);
        }
        confirmed
    }

    /// Rounds until `shutdown` resolves. Never returns an error: failures are waited out.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut vod = Outage::default();
        let mut store = Outage::default();
        tracing::info!(endpoint = %self.api.endpoint(), "pulling VOD events");
        loop {
            let started = Instant::now();
            let pulled = tokio::select! {
                pulled = self.api.pull_events() => pulled,
                () = &mut shutdown => break,
            };
            let pulled = match pulled {
                Ok(pulled) => {
                    if let Some((failures, lasted)) = vod.recover() {
                        tracing::info!(
                            failed_calls = failures,
                            outage_secs = lasted.as_secs(),
                            "VOD API reachable again; pulling events"
                        );
                    }
                    self.observer.vod_reachable(true, None);
                    pulled
                }
                Err(e) => {
                    let problem = match &e {
                        VodApiError::Api { code, .. } => format!("VOD API refused: {code}"),
                        VodApiError::Timeout { .. } => "VOD API timed out".to_owned(),
                        VodApiError::Transport { .. } => "VOD API unreachable".to_owned(),
                        VodApiError::Malformed { .. } => "VOD API answer malformed".to_owned(),
                    };
                    self.observer.vod_reachable(false, Some(&problem));
                    if vod.fail() {
                        tracing::warn!(
                            error = %e,
                            "cannot pull VOD events; retrying with backoff (signing is not \
                             affected; logged again when it recovers)"
                        );
                    } else {
                        tracing::debug!(error = %e, failures = vod.failures, "PullEvents failed again");
                    }
                    if self
                        .pause(self.backoff.delay(vod.failures), &mut shutdown)
                        .await
                    {
                        break;
                    }
                    continue;
                }
            };
            if pulled.events.is_empty() {
                let quick = MIN_EMPTY_POLL.saturating_sub(started.elapsed());
                if !quick.is_zero() && self.pause(quick, &mut shutdown).await {
                    break;
                }
                continue;
            }
            // Not raced with the stop: the transaction commits or leaves nothing.
            match self.ingest(&pulled).await {
                Ok(_) => {
                    if let Some((failures, lasted)) = store.recover() {
                        tracing::info!(
                            failed_ingests = failures,
                            outage_secs = lasted.as_secs(),
                            "upload store reachable again; storing VOD events"
                        );
                    }
                }
                Err(e) => {
                    if store.fail() {
                        tracing::warn!(
                            error = %e,
                            events = pulled.events.len(),
                            "cannot store pulled VOD events; not confirming them (VOD \
                             delivers them again); retrying with backoff"
                        );
                    }
                    if self
                        .pause(self.backoff.delay(store.failures), &mut shutdown)
                        .await
                    {
                        break;
                    }
                    continue;
                }
            }
            let stopped = tokio::select! {
                _ = self.confirm(&pulled) => false,
                () = &mut shutdown => true,
            };
            if stopped {
                break;
            }
        }
        tracing::info!("stopped pulling VOD events");
    }

    /// Sleeps `delay`; true when `shutdown` came first.
    async fn pause(
        &self,
        delay: Duration,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => false,
            () = shutdown.as_mut() => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jittered_and_bounded() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..50 {
            let first = backoff.delay(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = backoff.delay(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = backoff.delay(1000);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
        }
    }
}
