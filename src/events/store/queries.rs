//! What the admin listener reads from the outbox beyond [`EventStore::list`]: messages
//! filtered by status, endpoint and creation time, the endpoints with their counts, and
//! whether a name is an endpoint the outbox has seen.

use std::collections::BTreeMap;

use super::{EventStore, StoreError, StorePool};

/// The states of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    /// Waiting for its next attempt (or for its endpoint to be enabled).
    Pending,
    /// A receiver accepted it.
    Delivered,
    /// Its last attempt failed; kept for replay.
    Dead,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 3] = [
        MessageStatus::Pending,
        MessageStatus::Delivered,
        MessageStatus::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Dead => "dead",
        }
    }

    /// `pending`, `delivered` or `dead`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Which messages [`EventStore::query`] returns.
#[derive(Clone, Copy, Debug)]
pub struct MessageQuery<'a> {
    /// The statuses wanted; empty means pending and dead (the ones that need an operator).
    pub statuses: &'a [MessageStatus],
    pub endpoint: Option<&'a str>,
    /// Created at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only messages with a row id above this one (the page cursor).
    pub after: i64,
    /// At most this many (clamped to 1..=1000).
    pub limit: u32,
}

/// An endpoint as the outbox knows it: its pending and dead messages and whether a 410
/// disabled it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointState {
    pub name: String,
    pub pending: i64,
    pub dead: i64,
    /// When and why it was disabled; `None` while it is enabled.
    pub disabled: Option<(i64, String)>,
}

impl EventStore {
    /// Messages matching `query`, oldest (lowest row id) first.
    pub async fn query(
        &self,
        query: &MessageQuery<'_>,
    ) -> Result<Vec<super::MessageRecord>, StoreError> {
        let statuses = if query.statuses.is_empty() {
            &[MessageStatus::Pending, MessageStatus::Dead][..]
        } else {
            query.statuses
        };
        // The statuses are literals of the enum, never the caller's text.
        let wanted = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, webhook_id, endpoint, upload_id, message_type, body, status, attempts, \
             created_at, next_attempt_at, last_attempt_at, last_error, finished_at \
             FROM webhook_messages WHERE status IN ({wanted}) \
             AND ($1 IS NULL OR endpoint = $1) AND created_at >= $2 AND id > $3 \
             ORDER BY id LIMIT $4"
        );
        self.bounded(1, async {
            on_pool!(self, |pool| sqlx::query_as(&sql)
                .bind(query.endpoint)
                .bind(query.since_ms.unwrap_or(i64::MIN))
                .bind(query.after)
                .bind(i64::from(query.limit.clamp(1, 1000)))
                .fetch_all(pool)
                .await)
        })
        .await
    }

    /// Every endpoint with pending or dead messages or disabled, with the names in `also`
    /// (the configured ones), sorted by name.
    pub async fn endpoint_states(&self, also: &[String]) -> Result<Vec<EndpointState>, StoreError> {
        const COUNTS: &str = "SELECT endpoint, status, COUNT(*) FROM webhook_messages \
             WHERE status IN ('pending', 'dead') GROUP BY endpoint, status";
        let counts: Vec<(String, String, i64)> = self
            .bounded(1, async {
                on_pool!(self, |pool| sqlx::query_as(COUNTS).fetch_all(pool).await)
            })
            .await?;
        let disabled = self.disabled_endpoints().await?;
        let mut states = BTreeMap::new();
        for name in also {
            slot(&mut states, name);
        }
        for (name, status, count) in counts {
            let state = slot(&mut states, &name);
            match status.as_str() {
                "pending" => state.pending = count,
                _ => state.dead = count,
            }
        }
        for d in disabled {
            slot(&mut states, &d.name).disabled = Some((d.disabled_at, d.disabled_reason));
        }
        Ok(states.into_values().collect())
    }

    /// True when the outbox holds a message for `endpoint` or has it disabled.
    pub async fn knows_endpoint(&self, endpoint: &str) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT \
             EXISTS (SELECT 1 FROM webhook_messages WHERE endpoint = $1) \
             OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE name = $1)";
        self.bounded(1, async {
            on_pool!(self, |pool| sqlx::query_scalar(SQL)
                .bind(endpoint)
                .fetch_one(pool)
                .await)
        })
        .await
    }
}

/// The state of `name` in `states`, added when missing.
fn slot<'m>(states: &'m mut BTreeMap<String, EndpointState>, name: &str) -> &'m mut EndpointState {
    states
        .entry(name.to_owned())
        .or_insert_with(|| EndpointState {
            name: name.to_owned(),
            ..EndpointState::default()
        })
}
