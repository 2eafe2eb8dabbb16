//! The delivery worker: claims due messages from the outbox and POSTs each to its endpoint
//! as a Standard Webhooks message, then records what happened.
//!
//! Any 2xx is delivered. 410 Gone disables the endpoint (kept in the store until an operator
//! enables it) and leaves the message pending. 429 and 5xx wait what `Retry-After` asks (in
//! seconds, at most the schedule's longest delay), other answers, connection errors and
//! timeouts wait the schedule's next delay with ±10 % jitter; after the last one the message
//! is dead-lettered, kept for replay. An upload's messages go out in order per endpoint:
//! the store does not hand out one while an earlier one is pending.
//!
//! The worker takes its clock and its stop signal as arguments. Stopping abandons the
//! attempts in flight; their messages stay pending and go out after the restart.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tokio::task::JoinSet;

use super::clock::Clock;
use super::endpoint::Endpoint;
use super::observe::{NoObserver, RelayObserver};
use super::store::{Claimed, EventStore};
use crate::config::WebhookSettings;
use crate::uploads::StoreError;

/// Messages claimed at once.
const DEFAULT_BATCH: u32 = 32;

/// How long the worker sleeps when nothing was due.
const DEFAULT_POLL: Duration = Duration::from_millis(500);

/// A claim outlives the attempt's timeout by this much, so only a crashed worker's claims
/// expire.
const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// What one attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed; tried again at this Unix millisecond.
    Retry {
        at_ms: i64,
    },
    /// Failed for the last time; dead-lettered.
    Dead,
    /// The endpoint answered 410 and is now disabled.
    Disabled,
    /// The claim had expired and another attempt settled the message.
    LeaseLost,
}

impl Outcome {
    /// A metric label: `delivered`, `retry`, `dead`, `disabled` or `lease_lost`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::Dead => "dead",
            Outcome::Disabled => "disabled",
            Outcome::LeaseLost => "lease_lost",
        }
    }
}

/// What one round of claiming and delivering did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// (message id, endpoint, outcome) of every claimed message, in claim order.
    pub outcomes: Vec<(i64, String, Outcome)>,
}

impl Round {
    pub fn count(&self, outcome: fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, _, o)| outcome(o)).count()
    }
}

/// The worker. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct DeliveryWorker {
    inner: Arc<Inner>,
}

struct Inner {
    store: EventStore,
    endpoints: HashMap<String, Endpoint>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    schedule_secs: Vec<u64>,
    timeout: Duration,
    batch: u32,
    poll: Duration,
    observer: Arc<dyn RelayObserver>,
}

impl DeliveryWorker {
    /// A worker sending `store`'s messages to `endpoints` by `settings`' timeout and
    /// schedule, on `clock`.
    pub fn new(
        store: EventStore,
        endpoints: Vec<Endpoint>,
        settings: &WebhookSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_batch(
            store,
            endpoints,
            settings,
            clock,
            DEFAULT_BATCH,
            DEFAULT_POLL,
        )
    }

    /// [`DeliveryWorker::new`] claiming `batch` messages a round and sleeping `poll`
    /// when none was due.
    pub fn with_batch(
        store: EventStore,
        endpoints: Vec<Endpoint>,
        settings: &WebhookSettings,
        clock: Arc<dyn Clock>,
        batch: u32,
        poll: Duration,
    ) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vodsign/", env!("CARGO_PKG_VERSION"), " webhooks"))
            .build()
            .expect("a client with rustls and no custom roots builds");
        DeliveryWorker {
            inner: Arc::new(Inner {
                store,
                endpoints: endpoints.into_iter().map(|e| (e.name.clone(), e)).collect(),
                client,
                clock,
                schedule_secs: settings.retry_schedule_secs.clone(),
                timeout: Duration::from_millis(settings.timeout_ms),
                batch: batch.max(1),
                poll,
                observer: Arc::new(NoObserver),
            }),
        }
    }

    /// The same worker reporting every attempt to `observer`. Call before the worker is
    /// cloned or run.
    pub fn observed(mut self, observer: Arc<dyn RelayObserver>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("observed() is called on a new worker, before it is cloned")
            .observer = observer;
        self
    }

    fn lease(&self) -> Duration {
        self.inner.timeout + LEASE_MARGIN
    }

    /// One round: claims what is due now and makes one attempt at each, concurrently.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let now = self.inner.clock.now_ms();
        let lease = self
            .inner
            .store
            .due(now, self.inner.batch, self.lease())
            .await?;
        let mut set = JoinSet::new();
        for message in lease.messages {
            let worker = self.clone();
            let token = lease.token.clone();
            set.spawn(async move {
                let (id, endpoint) = (message.id, message.endpoint.clone());
                (id, endpoint, worker.attempt(message, &token).await)
            });
        }
        let mut round = Round::default();
        let mut failure = None;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((id, endpoint, Ok(outcome))) => round.outcomes.push((id, endpoint, outcome)),
                Ok((_, _, Err(e))) => failure = Some(e),
                Err(e) => failure = Some(StoreError::Failed(format!("delivery task: {e}"))),
            }
        }
        round.outcomes.sort_by_key(|(id, _, _)| *id);
        match failure {
            Some(e) if round.outcomes.is_empty() => Err(e),
            _ => Ok(round),
        }
    }

    /// Rounds until `shutdown` resolves; then the attempts in flight are abandoned and their
    /// messages given back, pending, for the next start.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let now = self.inner.clock.now_ms();
            let lease = tokio::select! {
                lease = self.inner.store.due(now, self.inner.batch, self.lease()) => lease,
                () = &mut shutdown => return,
            };
            let lease = match lease {
                Ok(lease) => lease,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery: cannot claim messages");
                    tokio::select! {
                        () = tokio::time::sleep(self.inner.poll) => continue,
                        () = &mut shutdown => return,
                    }
                }
            };
            let full = lease.messages.len() as u32 >= self.inner.batch;
            let mut set = JoinSet::new();
            for message in lease.messages {
                let worker = self.clone();
                let token = lease.token.clone();
                set.spawn(async move { worker.attempt(message, &token).await });
            }
            let stopped = tokio::select! {
                () = async { while set.join_next().await.is_some() {} } => false,
                () = &mut shutdown => true,
            };
            if stopped {
                set.abort_all();
                while set.join_next().await.is_some() {}
                match self.inner.store.release(&lease.token).await {
                    Ok(n) => tracing::info!(abandoned = n, "webhook delivery stopped"),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "webhook delivery stopped; its claims expire by themselves"
                    ),
                }
                return;
            }
            if !full {
                tokio::select! {
                    () = tokio::time::sleep(self.inner.poll) => {}
                    () = &mut shutdown => return,
                }
            }
        }
    }

    /// One attempt at `message`, settled in the store under the lease `token`, and
    /// reported to the observer.
    async fn attempt(&self, message: Claimed, token: &str) -> Result<Outcome, StoreError> {
        let endpoint = message.endpoint.clone();
        let outcome = self.attempt_once(message, token).await?;
        self.inner.observer.attempt(&endpoint, outcome.label());
        Ok(outcome)
    }

    async fn attempt_once(&self, message: Claimed, token: &str) -> Result<Outcome, StoreError> {
        let inner = &self.inner;
        let store = &inner.store;
        let Some(endpoint) = inner.endpoints.get(&message.endpoint) else {
            let now = inner.clock.now_ms();
            let error = "the endpoint is no longer configured";
            return settled(
                store.dead_letter(message.id, token, now, error).await?,
                Outcome::Dead,
            );
        };
        let timestamp = inner.clock.now_ms().div_euclid(1000);
        let signature =
            endpoint
                .secret
                .sign(&message.webhook_id, timestamp, message.body.as_bytes());
        let sent = inner
            .client
            .post(endpoint.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &message.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.clone())
            .timeout(inner.timeout)
            .send()
            .await;
        let now = inner.clock.now_ms();
        let (error, retry_after) = match sent {
            Ok(response) if response.status().is_success() => {
                return settled(
                    store.mark_delivered(message.id, token, now).await?,
                    Outcome::Delivered,
                );
            }
            Ok(response) if response.status() == http::StatusCode::GONE => {
                tracing::warn!(
                    endpoint = %endpoint.name,
                    "webhook endpoint answered 410 Gone; disabled until an operator enables it"
                );
                store
                    .disable_endpoint(&endpoint.name, now, "the endpoint answered 410 Gone")
                    .await?;
                let held = store.hold(message.id, token, now, "HTTP 410").await?;
                return settled(held, Outcome::Disabled);
            }
            Ok(response) => {
                let status = response.status();
                let slow_down =
                    status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                let retry_after = slow_down
                    .then(|| retry_after_secs(response.headers()))
                    .flatten();
                (format!("HTTP {}", status.as_u16()), retry_after)
            }
            Err(e) => (describe(&e), None),
        };
        let attempts = message.attempts + 1;
        let retries = i64::try_from(inner.schedule_secs.len()).unwrap_or(i64::MAX);
        if attempts > retries {
            tracing::warn!(
                endpoint = %endpoint.name,
                webhook_id = %message.webhook_id,
                attempts,
                error = %error,
                "webhook message dead-lettered after its last attempt"
            );
            return settled(
                store.dead_letter(message.id, token, now, &error).await?,
                Outcome::Dead,
            );
        }
        let delay_ms = match retry_after {
            Some(secs) => {
                let cap = inner.schedule_secs.iter().copied().max().unwrap_or(1);
                secs.clamp(1, cap) * 1000
            }
            None => {
                let index = usize::try_from(message.attempts).unwrap_or(usize::MAX);
                jitter(inner.schedule_secs.get(index).copied().unwrap_or(1) * 1000)
            }
        };
        let at_ms = now.saturating_add(i64::try_from(delay_ms).unwrap_or(i64::MAX));
        tracing::debug!(endpoint = %endpoint.name, webhook_id = %message.webhook_id, attempts, error = %error, "webhook attempt failed");
        settled(
            store
                .schedule_retry(message.id, token, now, at_ms, &error)
                .await?,
            Outcome::Retry { at_ms },
        )
    }
}

fn settled(held: bool, outcome: Outcome) -> Result<Outcome, StoreError> {
    Ok(if held { outcome } else { Outcome::LeaseLost })
}

/// `delay_ms` moved by up to ±10 %.
fn jitter(delay_ms: u64) -> u64 {
    let spread = delay_ms / 10;
    let low = delay_ms - spread;
    rand::rng().random_range(low..=delay_ms + spread)
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: the schedule applies).
fn retry_after_secs(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What went wrong with a request, without its URL (which may carry a token).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_body() || e.is_decode() {
        "error reading the answer".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..1000 {
            let d = jitter(5000);
            assert!((4500..=5500).contains(&d), "{d}");
        }
        assert_eq!(jitter(0), 0);
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after_secs(&h), None);
        h.insert(http::header::RETRY_AFTER, " 42 ".parse().expect("value"));
        assert_eq!(retry_after_secs(&h), Some(42));
        h.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("value"),
        );
        assert_eq!(retry_after_secs(&h), None);
    }
}
