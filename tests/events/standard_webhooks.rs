//! The specification's own receiver library checks vodsign's messages.
//!
//! `scripts/check-webhooks.sh` (a CI step) starts `scripts/webhook_receiver.py`, which
//! verifies each message with the `standardwebhooks` Python package and answers 204 only
//! when it verifies, then runs this test with the receiver's URL in
//! `VODSIGN_TEST_STANDARD_WEBHOOKS_URL`. It is ignored in a plain `cargo test`, which has no
//! such receiver; without the variable it fails rather than passing unchecked.

use std::sync::Arc;

use vodsign::events::{Clock, DeliveryWorker, Outcome, SystemClock};

use super::{endpoint, keys, other, outbox, routes, settings, uploaded};
use crate::uploads::{T0, open, owner, ticket};

#[tokio::test]
#[ignore = "run by scripts/check-webhooks.sh against the standardwebhooks Python receiver"]
async fn the_standardwebhooks_library_verifies_every_message() {
    let url = std::env::var("VODSIGN_TEST_STANDARD_WEBHOOKS_URL")
        .expect("VODSIGN_TEST_STANDARD_WEBHOOKS_URL names the Python receiver");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&format!("sqlite://{}", dir.path().join("e.db").display())).await;
    let alice = owner("alice");
    let new = ticket(&alice, T0, 3600);
    store.create(&new).await.expect("created");
    let eps = vec![endpoint("python", &url)];
    let events = outbox(&store);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let token = keys().token(&new.id).to_string();
    events
        .ingest(
            &[uploaded("h1", "f-1", &token), other("h2", 1)],
            &keys(),
            &routes(&eps),
            clock.now_ms(),
        )
        .await
        .expect("ingested");
    let worker = DeliveryWorker::new(events.clone(), eps, &settings(), clock);
    let round = worker.round().await.expect("round");
    assert_eq!(round.outcomes.len(), 2);
    assert!(
        round
            .outcomes
            .iter()
            .all(|(_, _, o)| *o == Outcome::Delivered),
        "the receiver refused a message: {round:?}"
    );
}
