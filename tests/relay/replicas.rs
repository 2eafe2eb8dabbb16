//! Two replicas on one PostgreSQL database pulling from one VOD queue: every event stored
//! once and delivered once.

use std::time::Duration;

use crate::support::eventually;
use crate::support::fake_vod::events::new_file_upload;
use crate::support::postgres;

use super::{Rig, ids_by_event};

const EVENTS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_postgres_deliver_each_event_once() {
    if postgres::skipped("two_replicas_on_postgres_deliver_each_event_once") {
        return;
    }
    let rig = Rig::new(Some(postgres::fresh_database().await)).await;
    let first = rig.start().await;
    let second = rig.start().await;
    // Duplicates too: the same content pushed twice, possibly pulled by either replica.
    rig.fake.push_all(
        (0..EVENTS).map(|i| new_file_upload(&format!("52858907990001{i:05}"), "console upload")),
    );
    rig.fake.push_all(
        (0..10).map(|i| new_file_upload(&format!("52858907990001{i:05}"), "console upload")),
    );
    eventually(
        "every event confirmed",
        Duration::from_secs(30),
        async || rig.fake.confirmed().len() == EVENTS + 10,
    )
    .await;
    eventually(
        "every event delivered",
        Duration::from_secs(30),
        async || ids_by_event(&rig.receiver).len() == EVENTS,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ids = ids_by_event(&rig.receiver);
    assert_eq!(ids.len(), EVENTS);
    assert!(
        ids.values().all(|w| w.len() == 1),
        "one webhook-id per event"
    );
    assert_eq!(
        rig.receiver.received().len(),
        EVENTS,
        "each message delivered once"
    );
    let pulled_by_both = [&first, &second]
        .iter()
        .all(|s| s.logs().contains("pulling VOD events"));
    assert!(pulled_by_both);
}
