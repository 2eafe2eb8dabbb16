//! Two replicas on one PostgreSQL: every message is delivered exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use vodsign::events::{Clock, DeliveryWorker, SystemClock};

use super::receiver::{Receiver, Reply};
use super::{SECRET, endpoint, keys, other, outbox, routes, settings};
use crate::support::postgres::{fresh_database, skipped};
use crate::uploads::open;

/// Messages the two workers share.
const MESSAGES: u32 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_database_deliver_each_message_once() {
    if skipped("two_workers_on_one_database_deliver_each_message_once") {
        return;
    }
    let url = fresh_database().await;
    let receiver = Receiver::start(SECRET, Reply::Ok).await;
    let eps = vec![endpoint("app", &receiver.url)];
    let first = outbox(&open(&url).await);
    let second = outbox(&open(&url).await);
    let now = SystemClock.now_ms();
    let events: Vec<_> = (0..MESSAGES).map(|n| other(&format!("h{n}"), n)).collect();
    for chunk in events.chunks(16) {
        first
            .ingest(chunk, &keys(), &routes(&eps), now)
            .await
            .expect("ingested");
    }

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for store in [first.clone(), second] {
        let worker = DeliveryWorker::with_batch(
            store,
            eps.clone(),
            &settings(),
            clock.clone(),
            8,
            Duration::from_millis(20),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        tasks.push(tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        })));
    }
    crate::support::eventually(
        "every message delivered",
        Duration::from_secs(60),
        async || first.backlog().await.expect("backlog").pending == 0,
    )
    .await;
    for stop in stops {
        let _ = stop.send(());
    }
    for task in tasks {
        task.await.expect("no panic");
    }

    let received = receiver.received();
    assert!(received.iter().all(|r| r.verified));
    let mut per_id: HashMap<&str, u32> = HashMap::new();
    for r in &received {
        *per_id.entry(r.webhook_id.as_str()).or_default() += 1;
    }
    assert_eq!(per_id.len(), MESSAGES as usize, "every message arrived");
    assert!(
        per_id.values().all(|n| *n == 1),
        "none twice: {} received",
        received.len()
    );
    let delivered = first
        .list("delivered", None, 0, 1000)
        .await
        .expect("listed");
    assert_eq!(delivered.len(), MESSAGES as usize);
    assert!(delivered.iter().all(|m| m.attempts == 1));
}
