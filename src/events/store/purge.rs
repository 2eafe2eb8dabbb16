//! The outbox's retention: delivered and dead messages and received events past their
//! time are deleted in bounded batches ([`crate::events::retention`] decides when).
//!
//! Pending messages are never deleted. An event is deleted only once no message refers to
//! it, so its deduplication key lasts as long as any of its messages, and at least the
//! event retention (at least VOD's 4-day redelivery window) after its receipt.

use super::{EventStore, StoreError, StorePool};

/// Rows one [`EventStore::purge_batch`] deleted, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Delivered messages.
    pub delivered: u64,
    /// Dead-lettered messages.
    pub dead: u64,
    /// Received events (deduplication keys).
    pub events: u64,
}

impl PurgeReport {
    pub fn total(&self) -> u64 {
        self.delivered + self.dead + self.events
    }

    pub fn add(&mut self, other: PurgeReport) {
        self.delivered += other.delivered;
        self.dead += other.dead;
        self.events += other.events;
    }
}

/// Cut-offs of one purge, in Unix milliseconds: rows older are deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurgeBefore {
    /// Delivered messages finished before this.
    pub delivered: i64,
    /// Dead messages whose last attempt was before this.
    pub dead: i64,
    /// Events received before this (and referred to by no message).
    pub events: i64,
}

impl EventStore {
    /// Deletes at most `batch` rows of each kind older than `before`: messages first, then
    /// the events their deletion left without messages.
    pub async fn purge_batch(
        &self,
        before: PurgeBefore,
        batch: u32,
    ) -> Result<PurgeReport, StoreError> {
        // The outer conditions repeat the inner ones: on PostgreSQL a row replayed between
        // the two (pending again) is checked anew and kept.
        const MESSAGES: &str = "DELETE FROM webhook_messages WHERE id IN (\
               SELECT id FROM webhook_messages WHERE status = $1 AND finished_at < $2 \
               ORDER BY id LIMIT $3) \
             AND status = $1 AND finished_at < $2";
        const EVENTS: &str = "DELETE FROM vod_events WHERE seq IN (\
               SELECT e.seq FROM vod_events e WHERE e.received_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM webhook_messages m WHERE m.event_seq = e.seq) \
               ORDER BY e.seq LIMIT $2)";
        let batch = i64::from(batch.max(1));
        let mut report = PurgeReport::default();
        for (status, cutoff) in [("delivered", before.delivered), ("dead", before.dead)] {
            let deleted = self
                .bounded(2, async {
                    on_pool!(self, |pool| sqlx::query(MESSAGES)
                        .bind(status)
                        .bind(cutoff)
                        .bind(batch)
                        .execute(pool)
                        .await
                        .map(|d| d.rows_affected()))
                })
                .await?;
            match status {
                "delivered" => report.delivered = deleted,
                _ => report.dead = deleted,
            }
        }
        report.events = self
            .bounded(2, async {
                on_pool!(self, |pool| sqlx::query(EVENTS)
                    .bind(before.events)
                    .bind(batch)
                    .execute(pool)
                    .await
                    .map(|d| d.rows_affected()))
            })
            .await?;
        Ok(report)
    }
}
