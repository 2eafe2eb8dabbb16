//! How long the outbox keeps what it no longer needs, and the task that purges it:
//! delivered messages and received events after `[webhooks] retention_days` (at least 4,
//! VOD's redelivery window, so a redelivered event is still recognised), dead letters after
//! `dead_letter_retention_days`. Pending messages are never purged.
//!
//! It runs beside the upload store's sweeper, on the same store and the same minute; the
//! clock and the shutdown signal are arguments, so a test drives it with its own time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::clock::Clock;
use super::store::{EventStore, PurgeBefore, PurgeReport};
use crate::config::WebhookSettings;
use crate::uploads::StoreError;

/// Rows of each kind deleted by one statement.
pub const PURGE_BATCH: u32 = 1000;

/// Most batches of one purge, so a large backlog is worked off over several runs rather
/// than holding the store for long.
const MAX_BATCHES: u32 = 100;

const DAY_MS: i64 = 86_400_000;

/// The retention of `[webhooks]`, in days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Delivered messages (from their delivery) and events (from their receipt).
    pub days: u32,
    /// Dead letters, from their last attempt.
    pub dead_letter_days: u32,
}

impl Retention {
    pub fn from_settings(settings: &WebhookSettings) -> Self {
        Retention {
            days: settings.retention_days,
            dead_letter_days: settings.dead_letter_retention_days,
        }
    }

    /// The cut-offs at `now_ms`.
    pub fn before(&self, now_ms: i64) -> PurgeBefore {
        let ago = |days: u32| now_ms.saturating_sub(i64::from(days) * DAY_MS);
        PurgeBefore {
            delivered: ago(self.days),
            dead: ago(self.dead_letter_days),
            events: ago(self.days),
        }
    }
}

/// Purges at `now_ms` in batches of `batch`, until a batch deletes less than a full one of
/// every kind (or after 100 batches).
pub async fn purge_once(
    store: &EventStore,
    retention: Retention,
    now_ms: i64,
    batch: u32,
) -> Result<PurgeReport, StoreError> {
    let before = retention.before(now_ms);
    let mut total = PurgeReport::default();
    for _ in 0..MAX_BATCHES {
        let report = store.purge_batch(before, batch).await?;
        total.add(report);
        let full = u64::from(batch.max(1));
        if report.delivered < full && report.dead < full && report.events < full {
            break;
        }
    }
    Ok(total)
}

/// Purges every `every` until `shutdown` completes. A failed purge is logged and tried
/// again at the next tick; the store's timeout bounds each statement.
pub async fn run(
    store: EventStore,
    every: Duration,
    retention: Retention,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        match purge_once(&store, retention, clock.now_ms(), PURGE_BATCH).await {
            Ok(report) if report.total() > 0 => tracing::info!(
                delivered = report.delivered,
                dead = report.dead,
                events = report.events,
                "webhook outbox purged"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook outbox purge failed; retrying later"),
        }
    }
}
