//! The durable outbox: VOD events received, the webhook messages they make, and the
//! endpoints a 410 disabled, in the upload store's database (SQLite or PostgreSQL).
//!
//! [`EventStore::ingest`] stores a batch of events in one transaction: each event unless its
//! deduplication key is already there, the move of the ticket it names, and one message per
//! endpoint that wants it. Only after it commits may the events be confirmed to VOD, so a
//! crash loses nothing, and a redelivery (under a new handle) is recognised by its key.
//!
//! The delivery worker claims due messages with [`EventStore::due`]: one atomic `UPDATE`
//! that puts a lease on rows that are pending, due, not leased, of an enabled endpoint, and
//! not behind an earlier pending message for the same upload and endpoint (so an upload's
//! messages go out in order). On PostgreSQL the candidates are taken `FOR UPDATE SKIP
//! LOCKED` and the outer `WHERE` checks the lease again, so replicas never claim one row
//! twice. Every outcome (delivered, retry, dead letter, abandon) is written only by the
//! holder of the lease.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

use super::message::{self, MessageType};
use super::vod_event::{EventKind, VodEvent};
use super::webhook::new_message_id;
use crate::uploads::store::{COLUMNS, Row, from_sqlx};
use crate::uploads::{ContextKeys, Status, StoreError, StorePool, UploadId, UploadStore};

/// Most file ids of one `FileDeleted` event that are looked up.
const MAX_FILE_IDS: usize = 100;

/// Who receives which message types: one per configured endpoint.
#[derive(Clone, Debug)]
pub struct Route {
    pub endpoint: String,
    pub types: Vec<MessageType>,
}

/// What became of one ingested event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestOutcome {
    /// False when the event was already stored (a duplicate or a redelivery).
    pub new: bool,
    /// The messages it made (each queued once per endpoint that wants its type).
    pub messages: Vec<(MessageType, Option<UploadId>)>,
}

/// A message claimed for one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub webhook_id: String,
    pub endpoint: String,
    pub upload_id: Option<String>,
    pub message_type: String,
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// A batch of claimed messages and the lease that lets its holder settle them.
#[derive(Clone, Debug)]
pub struct Lease {
    pub token: String,
    pub messages: Vec<Claimed>,
}

/// A message as the admin listing shows it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: i64,
    pub webhook_id: String,
    pub endpoint: String,
    pub upload_id: Option<String>,
    pub message_type: String,
    pub body: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    pub finished_at: Option<i64>,
}

/// A disabled endpoint.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DisabledEndpoint {
    pub name: String,
    pub disabled_at: i64,
    pub disabled_reason: String,
}

/// Messages waiting, for metrics and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub pending: i64,
    /// Creation time (Unix ms) of the oldest pending message.
    pub oldest_created_at: Option<i64>,
}

/// The outbox, on the upload store's pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventStore {
    store: UploadStore,
}

/// Runs `$body` (an expression using `$tx`, a transaction) on the store's backend and
/// commits; the same code, typed for each backend.
macro_rules! in_transaction {
    ($self:expr, |$tx:ident| $body:expr) => {
        match $self.store.pool() {
            StorePool::Sqlite(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                Ok(out)
            }
            StorePool::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                Ok(out)
            }
        }
    };
}

/// Runs `$body` with `$pool` bound to the backend's pool.
macro_rules! on_pool {
    ($self:expr, |$pool:ident| $body:expr) => {
        match $self.store.pool() {
            StorePool::Sqlite($pool) => $body,
            StorePool::Postgres($pool) => $body,
        }
    };
}

mod purge;
mod queries;

pub use purge::{PurgeBefore, PurgeReport};
pub use queries::{EndpointState, MessageQuery, MessageStatus};

/// The statuses a ticket may move to `target` from.
fn moves_from(target: Status) -> &'static str {
    match target {
        Status::Uploaded => "('authorized', 'expired')",
        Status::Processed | Status::Failed => {
            "('authorized', 'expired', 'uploaded', 'processed', 'failed')"
        }
        Status::Deleted => "('authorized', 'expired', 'uploaded', 'processed', 'failed')",
        Status::Authorized | Status::Expired => "()",
    }
}

/// The message an event makes about a ticket (before it is known whether the ticket exists).
fn attributed_type(kind: &EventKind) -> Option<MessageType> {
    match kind {
        EventKind::NewFileUpload { .. } => Some(MessageType::UploadCompleted),
        EventKind::ProcedureStateChanged {
            finished,
            succeeded,
            ..
        } => match (finished, succeeded) {
            (_, false) => Some(MessageType::UploadFailed),
            (true, true) => Some(MessageType::UploadProcessed),
            // A task still running (TaskNotifyMode Change): no status to move, but the
            // owner is known and told.
            (false, true) => Some(MessageType::UploadProcessing),
        },
        EventKind::FileDeleted { .. } => Some(MessageType::UploadDeleted),
        EventKind::Other { .. } => None,
    }
}

impl EventStore {
    /// The outbox in `store`'s database (its migrations create the tables).
    pub fn new(store: UploadStore) -> Self {
        EventStore { store }
    }

    /// The upload store beneath.
    pub fn uploads(&self) -> &UploadStore {
        &self.store
    }

    async fn bounded<T>(
        &self,
        factor: u32,
        work: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        let limit = self.store.timeout() * factor;
        match tokio::time::timeout(limit, work).await {
            Ok(result) => result.map_err(from_sqlx),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {} ms",
                limit.as_millis()
            ))),
        }
    }

    /// Stores `events` in one transaction: each one not stored before, the ticket moves
    /// its verified context or its bound file id names, and its messages for every route
    /// that wants them. Returns one outcome per event, in order. Nothing is written when it
    /// fails, so the events may be pulled and ingested again.
    pub async fn ingest(
        &self,
        events: &[VodEvent],
        keys: &ContextKeys,
        routes: &[Route],
        now_ms: i64,
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        let prepared: Vec<_> = events
            .iter()
            .map(|event| {
                (
                    event,
                    event.dedup_key(),
                    event.raw.to_string(),
                    event.verified_upload(keys),
                )
            })
            .collect();
        let now_secs = u64::try_from(now_ms / 1000).unwrap_or(0);
        self.bounded(5, async {
            in_transaction!(self, |tx| {
                let mut outcomes = Vec::with_capacity(prepared.len());
                for (event, key, json, verified) in &prepared {
                    let stored: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO vod_events (dedup_key, event_type, received_at, event_json) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (dedup_key) DO NOTHING RETURNING seq",
                    )
                    .bind(key)
                    .bind(event.event_type())
                    .bind(now_ms)
                    .bind(json)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(event_seq) = stored else {
                        outcomes.push(IngestOutcome {
                            new: false,
                            messages: Vec::new(),
                        });
                        continue;
                    };

                    // Which tickets this event is about: a verified token, else the tickets
                    // an earlier verified event bound to its file id.
                    let (file_ids, media_url): (Vec<String>, Option<String>) = match &event.kind {
                        EventKind::NewFileUpload {
                            file_id, media_url, ..
                        } => (file_id.iter().cloned().collect(), media_url.clone()),
                        EventKind::ProcedureStateChanged { file_id, .. } => {
                            (file_id.iter().cloned().collect(), None)
                        }
                        EventKind::FileDeleted { file_ids } => {
                            (file_ids.iter().take(MAX_FILE_IDS).cloned().collect(), None)
                        }
                        EventKind::Other { .. } => (Vec::new(), None),
                    };
                    let target = attributed_type(&event.kind);
                    let mut tickets: Vec<String> = Vec::new();
                    let mut unattributed = target.is_none();
                    if target.is_some() {
                        if let Some(id) = verified {
                            tickets.push(id.as_str().to_owned());
                        } else {
                            let mut found_all = !file_ids.is_empty();
                            for file_id in &file_ids {
                                let ids: Vec<String> = sqlx::query_scalar(
                                    "SELECT id FROM uploads WHERE file_id = $1 ORDER BY seq LIMIT 100",
                                )
                                .bind(file_id)
                                .fetch_all(&mut *tx)
                                .await?;
                                found_all &= !ids.is_empty();
                                tickets.extend(ids);
                            }
                            unattributed |= !found_all;
                        }
                    }
                    let mut seen = HashSet::new();
                    tickets.retain(|id| seen.insert(id.clone()));

                    let mut messages = Vec::new();
                    if let Some(kind) = target {
                        // `upload.processing` moves no status: NULL keeps it.
                        let status = kind.target_status();
                        let moves = status.map_or("(NULL)", moves_from);
                        let sql = format!(
                            "UPDATE uploads SET \
                             status = CASE WHEN status IN {} THEN COALESCE($2, status) ELSE status END, \
                             file_id = COALESCE($3, file_id), \
                             media_url = COALESCE($4, media_url), \
                             event_seq = event_seq + 1 \
                             WHERE id = $1 RETURNING event_seq",
                            moves
                        );
                        // Only a verified upload event binds a file id: the ids of other
                        // events already came from a binding.
                        let bind_file = match (&event.kind, verified.is_some()) {
                            (EventKind::FileDeleted { .. }, _) | (_, false) => None,
                            (_, true) => file_ids.first().cloned(),
                        };
                        for ticket in &tickets {
                            let seq: Option<i64> = sqlx::query_scalar(&sql)
                                .bind(ticket)
                                .bind(status.map(Status::as_str))
                                .bind(bind_file.as_deref())
                                .bind(media_url.as_deref())
                                .fetch_optional(&mut *tx)
                                .await?;
                            let Some(seq) = seq else {
                                // A token of a ticket purged (or never stored here).
                                unattributed = true;
                                continue;
                            };
                            let row: Row = sqlx::query_as(&format!(
                                "SELECT {COLUMNS} FROM uploads WHERE id = $1"
                            ))
                            .bind(ticket)
                            .fetch_one(&mut *tx)
                            .await?;
                            let upload = row
                                .into_upload(now_secs)
                                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?
                                .0;
                            let body = message::body(kind, now_ms, Some((&upload, seq)), &event.raw);
                            messages.push((kind, Some(upload.id.clone()), body));
                        }
                    }
                    if unattributed || messages.is_empty() {
                        let kind = MessageType::Unattributed;
                        messages.push((kind, None, message::body(kind, now_ms, None, &event.raw)));
                    }

                    for (kind, upload, body) in &messages {
                        let webhook_id = new_message_id();
                        for route in routes.iter().filter(|r| r.types.contains(kind)) {
                            sqlx::query(
                                "INSERT INTO webhook_messages (webhook_id, endpoint, event_seq, \
                                 upload_id, message_type, body, status, attempts, created_at, \
                                 next_attempt_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
                            )
                            .bind(&webhook_id)
                            .bind(&route.endpoint)
                            .bind(event_seq)
                            .bind(upload.as_ref().map(UploadId::as_str))
                            .bind(kind.as_str())
                            .bind(body)
                            .bind(now_ms)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    outcomes.push(IngestOutcome {
                        new: true,
                        messages: messages.into_iter().map(|(k, u, _)| (k, u)).collect(),
                    });
                }
                outcomes
            })
        })
        .await
    }

    /// Claims up to `limit` messages due at `now_ms` for `lease`: none of them is claimed
    /// again (by this or another replica) until the lease ends or its holder settles it.
    pub async fn due(&self, now_ms: i64, limit: u32, lease: Duration) -> Result<Lease, StoreError> {
        let token = {
            let mut bytes = [0u8; 16];
            rand::rng().fill_bytes(&mut bytes);
            URL_SAFE_NO_PAD.encode(bytes)
        };
        let lease_until =
            now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let lock = match self.store.pool() {
            StorePool::Sqlite(_) => "",
            StorePool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE webhook_messages SET lease_until = $1, lease_token = $2 \
             WHERE id IN (\
               SELECT m.id FROM webhook_messages m \
               WHERE m.status = 'pending' AND m.next_attempt_at <= $3 \
                 AND (m.lease_until IS NULL OR m.lease_until <= $3) \
                 AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.name = m.endpoint) \
                 AND (m.upload_id IS NULL OR NOT EXISTS (\
                   SELECT 1 FROM webhook_messages p WHERE p.endpoint = m.endpoint \
                   AND p.upload_id = m.upload_id AND p.status = 'pending' AND p.id < m.id)) \
               ORDER BY m.next_attempt_at, m.id LIMIT $4{lock}) \
             AND status = 'pending' AND (lease_until IS NULL OR lease_until <= $3) \
             RETURNING id, webhook_id, endpoint, upload_id, message_type, body, attempts"
        );
        let mut messages: Vec<Claimed> = self
            .bounded(1, async {
                on_pool!(self, |pool| sqlx::query_as(&sql)
                    .bind(lease_until)
                    .bind(&token)
                    .bind(now_ms)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await)
            })
            .await?;
        messages.sort_by_key(|m| m.id);
        Ok(Lease { token, messages })
    }

    /// Runs one settling statement for message `id` under `token`: true when the lease was
    /// still this holder's.
    async fn settle(
        &self,
        sql: &str,
        id: i64,
        token: &str,
        binds: Settle<'_>,
    ) -> Result<bool, StoreError> {
        let done = self
            .bounded(1, async {
                on_pool!(self, |pool| sqlx::query(sql)
                    .bind(id)
                    .bind(token)
                    .bind(binds.now_ms)
                    .bind(binds.next_at)
                    .bind(binds.error)
                    .execute(pool)
                    .await
                    .map(|d| d.rows_affected()))
            })
            .await?;
        Ok(done > 0)
    }

    /// The attempt succeeded.
    pub async fn mark_delivered(
        &self,
        id: i64,
        token: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE webhook_messages SET status = 'delivered', \
             attempts = attempts + 1, last_attempt_at = $3, finished_at = $3, \
             next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5, \
             lease_until = NULL, lease_token = NULL WHERE id = $1 AND lease_token = $2";
        self.settle(
            SQL,
            id,
            token,
            Settle {
                now_ms,
                next_at: None,
                error: None,
            },
        )
        .await
    }

    /// The attempt failed; the next one is due at `next_at_ms`.
    pub async fn schedule_retry(
        &self,
        id: i64,
        token: &str,
        now_ms: i64,
        next_at_ms: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE webhook_messages SET attempts = attempts + 1, \
             last_attempt_at = $3, next_attempt_at = $4, last_error = $5, \
             lease_until = NULL, lease_token = NULL \
             WHERE id = $1 AND lease_token = $2 AND status = 'pending'";
        let binds = Settle {
            now_ms,
            next_at: Some(next_at_ms),
            error: Some(error),
        };
        self.settle(SQL, id, token, binds).await
    }

    /// The last attempt failed: the message is kept, dead, for an operator to replay.
    pub async fn dead_letter(
        &self,
        id: i64,
        token: &str,
        now_ms: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE webhook_messages SET status = 'dead', attempts = attempts + 1, \
             last_attempt_at = $3, finished_at = $3, next_attempt_at = COALESCE($4, next_attempt_at), \
             last_error = $5, lease_until = NULL, lease_token = NULL \
             WHERE id = $1 AND lease_token = $2 AND status = 'pending'";
        self.settle(
            SQL,
            id,
            token,
            Settle {
                now_ms,
                next_at: None,
                error: Some(error),
            },
        )
        .await
    }

    /// The attempt counted but the message stays due (its endpoint was just disabled: it
    /// goes out once the endpoint is enabled again).
    pub async fn hold(
        &self,
        id: i64,
        token: &str,
        now_ms: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE webhook_messages SET attempts = attempts + 1, \
             last_attempt_at = $3, next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5, \
             lease_until = NULL, lease_token = NULL \
             WHERE id = $1 AND lease_token = $2 AND status = 'pending'";
        self.settle(
            SQL,
            id,
            token,
            Settle {
                now_ms,
                next_at: None,
                error: Some(error),
            },
        )
        .await
    }

    /// Gives back every message of a lease not yet settled, uncounted and due at once (a
    /// graceful stop abandoning its attempts); returns how many.
    pub async fn release(&self, token: &str) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE webhook_messages SET lease_until = NULL, lease_token = NULL \
             WHERE lease_token = $1 AND status = 'pending'";
        let done = self
            .bounded(1, async {
                on_pool!(self, |pool| sqlx::query(SQL)
                    .bind(token)
                    .execute(pool)
                    .await
                    .map(|d| d.rows_affected()))
            })
            .await?;
        Ok(done)
    }

    /// Stops deliveries to `endpoint` until [`EventStore::enable_endpoint`]; kept across
    /// restarts.
    pub async fn disable_endpoint(
        &self,
        endpoint: &str,
        now_ms: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO webhook_endpoints (name, disabled_at, disabled_reason) \
             VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET \
             disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason";
        self.bounded(1, async {
            on_pool!(self, |pool| sqlx::query(SQL)
                .bind(endpoint)
                .bind(now_ms)
                .bind(reason)
                .execute(pool)
                .await
                .map(drop))
        })
        .await
    }

    /// Resumes deliveries to `endpoint`; false when it was not disabled.
    pub async fn enable_endpoint(&self, endpoint: &str) -> Result<bool, StoreError> {
        let done = self
            .bounded(1, async {
                on_pool!(self, |pool| sqlx::query(
                    "DELETE FROM webhook_endpoints WHERE name = $1"
                )
                .bind(endpoint)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()))
            })
            .await?;
        Ok(done > 0)
    }

    /// The disabled endpoints.
    pub async fn disabled_endpoints(&self) -> Result<Vec<DisabledEndpoint>, StoreError> {
        self.bounded(1, async {
            on_pool!(self, |pool| sqlx::query_as(
                "SELECT name, disabled_at, disabled_reason FROM webhook_endpoints ORDER BY name"
            )
            .fetch_all(pool)
            .await)
        })
        .await
    }

    /// Up to `limit` messages in `status` (`pending`, `delivered` or `dead`), oldest first,
    /// after message id `after` (for paging), of `endpoint` when given.
    pub async fn list(
        &self,
        status: &str,
        endpoint: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        const SQL: &str = "SELECT id, webhook_id, endpoint, upload_id, message_type, body, status, \
             attempts, created_at, next_attempt_at, last_attempt_at, last_error, finished_at \
             FROM webhook_messages WHERE status = $1 AND ($2 IS NULL OR endpoint = $2) \
             AND id > $3 ORDER BY id LIMIT $4";
        self.bounded(1, async {
            on_pool!(self, |pool| sqlx::query_as(SQL)
                .bind(status)
                .bind(endpoint)
                .bind(after)
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(pool)
                .await)
        })
        .await
    }

    /// The messages with this `webhook-id` (one per endpoint).
    pub async fn by_webhook_id(&self, webhook_id: &str) -> Result<Vec<MessageRecord>, StoreError> {
        const SQL: &str = "SELECT id, webhook_id, endpoint, upload_id, message_type, body, status, \
             attempts, created_at, next_attempt_at, last_attempt_at, last_error, finished_at \
             FROM webhook_messages WHERE webhook_id = $1 ORDER BY id";
        self.bounded(1, async {
            on_pool!(self, |pool| sqlx::query_as(SQL)
                .bind(webhook_id)
                .fetch_all(pool)
                .await)
        })
        .await
    }

    /// Sends message `id` again from a fresh schedule, due at `now_ms` (whatever its status,
    /// unless an attempt holds it now); false when there is no such message or it is leased.
    pub async fn replay(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE webhook_messages SET status = 'pending', attempts = 0, \
             next_attempt_at = $2, finished_at = NULL \
             WHERE id = $1 AND (lease_until IS NULL OR lease_until <= $2)";
        let done = self
            .bounded(1, async {
                on_pool!(self, |pool| sqlx::query(SQL)
                    .bind(id)
                    .bind(now_ms)
                    .execute(pool)
                    .await
                    .map(|d| d.rows_affected()))
            })
            .await?;
        Ok(done > 0)
    }

    /// Replays every dead message of `endpoint` created at or after `since_ms`; returns how
    /// many.
    pub async fn replay_failed(
        &self,
        endpoint: &str,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE webhook_messages SET status = 'pending', attempts = 0, \
             next_attempt_at = $3, finished_at = NULL \
             WHERE endpoint = $1 AND status = 'dead' AND created_at >= $2";
        let done = self
            .bounded(1, async {
                on_pool!(self, |pool| sqlx::query(SQL)
                    .bind(endpoint)
                    .bind(since_ms)
                    .bind(now_ms)
                    .execute(pool)
                    .await
                    .map(|d| d.rows_affected()))
            })
            .await?;
        Ok(done)
    }

    /// How many messages wait, and since when.
    pub async fn backlog(&self) -> Result<Backlog, StoreError> {
        const SQL: &str =
            "SELECT COUNT(*), MIN(created_at) FROM webhook_messages WHERE status = 'pending'";
        let (pending, oldest_created_at): (i64, Option<i64>) = self
            .bounded(1, async {
                on_pool!(self, |pool| sqlx::query_as(SQL).fetch_one(pool).await)
            })
            .await?;
        Ok(Backlog {
            pending,
            oldest_created_at,
        })
    }
}

/// The values a settling statement binds after the id and the lease token.
struct Settle<'a> {
    now_ms: i64,
    next_at: Option<i64>,
    error: Option<&'a str>,
}
