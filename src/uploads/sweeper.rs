//! The store's upkeep, as a background task: tickets past their expiry are marked
//! `expired`, and rows older than `uploads.retention_days` are purged in batches.
//!
//! The clock and the shutdown signal are arguments, so a test drives it with its own time.

use std::future::Future;
use std::time::Duration;

use super::store::{StoreError, UploadStore};

/// Rows deleted by one statement.
pub const PURGE_BATCH: u32 = 1000;

/// Most batches purged by one sweep, so a large backlog is worked off over several sweeps
/// rather than holding the store for long.
const MAX_BATCHES: u32 = 100;

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads marked `expired`.
    pub expired: u64,
    /// Rows deleted.
    pub purged: u64,
}

/// One sweep at `now` (Unix seconds): marks expired tickets, then purges rows created more
/// than `retention_days` days before `now`.
pub async fn sweep_once(
    store: &UploadStore,
    now: u64,
    retention_days: u32,
) -> Result<SweepReport, StoreError> {
    let expired = store.mark_expired(now).await?;
    let cutoff = now.saturating_sub(u64::from(retention_days) * 86_400);
    let mut purged = 0;
    for _ in 0..MAX_BATCHES {
        let deleted = store.purge(cutoff, PURGE_BATCH).await?;
        purged += deleted;
        if deleted < u64::from(PURGE_BATCH) {
            break;
        }
    }
    Ok(SweepReport { expired, purged })
}

/// Sweeps every `every` until `shutdown` completes. A failed sweep is logged and tried
/// again at the next tick; the store's own timeout bounds each one.
pub async fn run(
    store: UploadStore,
    every: Duration,
    retention_days: u32,
    clock: impl Fn() -> u64,
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
        match sweep_once(&store, clock(), retention_days).await {
            Ok(report) if report != SweepReport::default() => tracing::info!(
                expired = report.expired,
                purged = report.purged,
                "upload store swept"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "upload store sweep failed; retrying later"),
        }
    }
}
