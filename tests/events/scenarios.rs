//! One suite, both backends: each scenario takes a fresh, migrated store and its URL.

use std::sync::Arc;
use std::time::Duration;

use vodsign::events::{Clock, DeliveryWorker, ManualClock, MessageType, Outcome};
use vodsign::uploads::{Status, UploadStore};

use super::receiver::{Receiver, Reply};
use super::{
    NOW_MS, OneEvent, SECRET, deleted, endpoint, forger_keys, keys, kind, one_event, other, outbox,
    processed, routes, settings, uploaded, worker,
};
use crate::uploads::{T0, open, owner, ticket};

use crate::support::backends::on_both_backends;

on_both_backends!(
    a_duplicate_event_is_one_message,
    a_ticket_upload_completes_then_processes_with_its_owner,
    forged_and_foreign_events_are_unattributed_and_move_nothing,
    failures_and_deletions_move_the_ticket,
    retries_follow_the_schedule_then_dead_letter_and_replay,
    retry_after_is_honoured_and_bounded,
    a_timeout_is_retried,
    gone_disables_the_endpoint_across_restarts,
    an_uploads_messages_go_out_in_order,
    a_graceful_stop_loses_nothing,
);

async fn a_duplicate_event_is_one_message(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [
        endpoint("app", "http://127.0.0.1:9/hook"),
        endpoint("crm", "http://127.0.0.1:9/x"),
    ];
    let first = other("h-1", 1);
    let again = other("h-2", 1);
    let out = events
        .ingest(
            &[first.clone(), again.clone()],
            &keys(),
            &routes(&eps),
            NOW_MS,
        )
        .await
        .expect("ingested");
    assert!(out[0].new);
    assert!(
        !out[1].new,
        "the same event under a new handle in one batch"
    );
    let out = events
        .ingest(
            &[again, other("h-3", 2)],
            &keys(),
            &routes(&eps),
            NOW_MS + 1,
        )
        .await
        .expect("ingested");
    assert!(!out[0].new, "a redelivery after the commit");
    assert!(out[1].new, "a different event");
    let pending = events.list("pending", None, 0, 100).await.expect("listed");
    assert_eq!(
        pending.len(),
        4,
        "two events, one message each, for two endpoints"
    );
    let app: Vec<_> = pending.iter().filter(|m| m.endpoint == "app").collect();
    assert_eq!(app.len(), 2);
    assert_ne!(app[0].webhook_id, app[1].webhook_id);
    let same = events
        .by_webhook_id(&app[0].webhook_id)
        .await
        .expect("found");
    assert_eq!(
        same.len(),
        2,
        "one id for the message, one row per endpoint"
    );
    assert_eq!(same[0].body, same[1].body);
}

async fn a_ticket_upload_completes_then_processes_with_its_owner(store: &UploadStore, _url: &str) {
    let alice = owner("alice");
    let new = ticket(&alice, T0, 3600);
    store.create(&new).await.expect("created");
    let token = keys().token(&new.id).to_string();
    let receiver = Receiver::start(SECRET, Reply::Ok).await;
    let eps = vec![endpoint("app", &receiver.url)];
    let events = outbox(store);
    let clock = ManualClock::new(NOW_MS);

    let out = events
        .ingest(
            &[uploaded("h1", "f-100", &token)],
            &keys(),
            &routes(&eps),
            NOW_MS,
        )
        .await
        .expect("ingested");
    assert_eq!(
        out[0].messages,
        vec![(MessageType::UploadCompleted, Some(new.id.clone()))]
    );
    let row = store
        .get(&alice, &new.id, T0)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(row.status, Status::Uploaded);
    assert_eq!(row.file_id.as_deref(), Some("f-100"));
    assert_eq!(
        row.media_url.as_deref(),
        Some("http://v.example/f-100/f0.mp4")
    );

    // The task event carries no context here: the bound file id names the ticket.
    let out = events
        .ingest(
            &[processed("h2", "f-100", 0, "")],
            &keys(),
            &routes(&eps),
            NOW_MS + 10,
        )
        .await
        .expect("ingested");
    assert_eq!(
        out[0].messages,
        vec![(MessageType::UploadProcessed, Some(new.id.clone()))]
    );
    let row = store
        .get(&alice, &new.id, T0)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(row.status, Status::Processed);

    let worker = worker(&events, eps, &clock);
    clock.set(NOW_MS + 10);
    let round = worker.round().await.expect("round");
    assert_eq!(
        round.outcomes.len(),
        1,
        "the second waits for the first: {round:?}"
    );
    let round = worker.round().await.expect("round");
    assert_eq!(round.count(|o| *o == Outcome::Delivered), 1);

    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.verified), "{got:?}");
    assert_eq!(got[0].timestamp, NOW_MS / 1000);
    let (first, second) = (&got[0].body, &got[1].body);
    assert_eq!(kind(first), "upload.completed");
    assert_eq!(kind(second), "upload.processed");
    for (body, seq, status) in [(first, 1, "uploaded"), (second, 2, "processed")] {
        let data = &body["data"];
        assert_eq!(data["uploadId"], new.id.as_str());
        assert_eq!(data["subject"], "alice");
        assert_eq!(data["credentialId"], "corp");
        assert_eq!(data["policy"], "default");
        assert_eq!(data["status"], status);
        assert_eq!(data["fileId"], "f-100");
        assert_eq!(data["seq"], seq);
        assert_eq!(data["metadata"]["title"], "clip");
        assert!(
            data["vod"]["EventHandle"].is_null(),
            "the handle is not passed on"
        );
    }
    assert_eq!(first["data"]["vod"]["EventType"], "NewFileUpload");
    assert_eq!(first["timestamp"], "2027-01-15T08:00:00Z");
    assert_ne!(got[0].webhook_id, got[1].webhook_id);
    assert!(
        events
            .list("pending", None, 0, 10)
            .await
            .expect("listed")
            .is_empty()
    );
    assert_eq!(
        events
            .list("delivered", None, 0, 10)
            .await
            .expect("listed")
            .len(),
        2
    );
}

async fn forged_and_foreign_events_are_unattributed_and_move_nothing(
    store: &UploadStore,
    _url: &str,
) {
    let alice = owner("alice");
    let new = ticket(&alice, T0, 3600);
    store.create(&new).await.expect("created");
    let forged = forger_keys().token(&new.id).to_string();
    let events = outbox(store);
    let eps = vec![endpoint("app", "http://127.0.0.1:9/hook")];
    let batch = [
        uploaded("h1", "f-evil", &forged),
        uploaded("h2", "f-plain", new.id.as_str()),
        uploaded("h3", "f-console", ""),
        processed("h4", "f-unknown", 0, &forged),
        deleted("h5", &["f-unknown"]),
        other("h6", 1),
    ];
    let out = events
        .ingest(&batch, &keys(), &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    for outcome in &out {
        assert!(outcome.new);
        assert_eq!(outcome.messages, vec![(MessageType::Unattributed, None)]);
    }
    let row = store
        .get(&alice, &new.id, T0)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        row.status,
        Status::Authorized,
        "a forged token moves nothing"
    );
    assert_eq!(row.file_id, None);
    let pending = events.list("pending", None, 0, 100).await.expect("listed");
    assert_eq!(pending.len(), batch.len());
    for m in &pending {
        assert_eq!(m.message_type, "vod.unattributed");
        assert_eq!(m.upload_id, None);
        let body: serde_json::Value = serde_json::from_str(&m.body).expect("json");
        assert!(
            body["data"]["vod"]["EventType"].is_string(),
            "the raw event: {body}"
        );
        assert!(body["data"]["subject"].is_null());
    }
    // A later, genuine event for the forged file id still binds nothing to the ticket.
    let out = events
        .ingest(
            &[processed("h7", "f-evil", 0, "")],
            &keys(),
            &routes(&eps),
            NOW_MS,
        )
        .await
        .expect("ingested");
    assert_eq!(out[0].messages, vec![(MessageType::Unattributed, None)]);
}

async fn failures_and_deletions_move_the_ticket(store: &UploadStore, _url: &str) {
    let bob = owner("bob");
    let a = ticket(&bob, T0, 3600);
    let b = ticket(&bob, T0, 3600);
    store.create(&a).await.expect("created");
    store.create(&b).await.expect("created");
    let events = outbox(store);
    let eps = vec![endpoint("app", "http://127.0.0.1:9/hook")];
    let k = keys();
    let batch = [
        uploaded("h1", "f-a", &k.token(&a.id).to_string()),
        uploaded("h2", "f-b", &k.token(&b.id).to_string()),
        // The session context alone names the ticket.
        processed("h3", "f-a", 30010, &k.token(&a.id).to_string()),
        deleted("h4", &["f-b", "f-gone"]),
    ];
    let out = events
        .ingest(&batch, &k, &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    assert_eq!(
        out[2].messages,
        vec![(MessageType::UploadFailed, Some(a.id.clone()))]
    );
    assert_eq!(
        out[3].messages,
        vec![
            (MessageType::UploadDeleted, Some(b.id.clone())),
            (MessageType::Unattributed, None)
        ],
        "one file id is a ticket's, the other nobody's"
    );
    let a_row = store
        .get(&bob, &a.id, T0)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(a_row.status, Status::Failed);
    assert_eq!(
        store.get(&bob, &b.id, T0).await.expect("read"),
        None,
        "deleted is gone for its owner"
    );
    // A late upload event does not move a failed ticket back, but is still told, with the
    // next seq.
    let out = events
        .ingest(
            &[uploaded("h5", "f-a", &k.token(&a.id).to_string()).with_extra()],
            &k,
            &routes(&eps),
            NOW_MS,
        )
        .await
        .expect("ingested");
    assert_eq!(
        out[0].messages,
        vec![(MessageType::UploadCompleted, Some(a.id.clone()))]
    );
    let a_row = store
        .get(&bob, &a.id, T0)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(a_row.status, Status::Failed);
    let msgs = events
        .list("pending", Some("app"), 0, 100)
        .await
        .expect("listed");
    let seqs: Vec<i64> = msgs
        .iter()
        .filter(|m| m.upload_id.as_deref() == Some(a.id.as_str()))
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m.body).expect("json")["data"]["seq"]
                .as_i64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
}

/// A test-only variation, so an event differs from one already ingested.
trait WithExtra {
    fn with_extra(self) -> Self;
}

impl WithExtra for vodsign::events::VodEvent {
    fn with_extra(mut self) -> Self {
        self.raw["Extra"] = serde_json::json!(1);
        self
    }
}

async fn retries_follow_the_schedule_then_dead_letter_and_replay(store: &UploadStore, _url: &str) {
    let OneEvent {
        receiver,
        events,
        clock,
        worker,
    } = one_event(store, Reply::Status(500)).await;

    // Attempt 1 at once; retry after 5 s ± 10 %.
    let round = worker.round().await.expect("round");
    let Outcome::Retry { at_ms } = round.outcomes[0].2 else {
        panic!("{round:?}")
    };
    assert!(
        (NOW_MS + 4500..=NOW_MS + 5500).contains(&at_ms),
        "{}",
        at_ms - NOW_MS
    );
    clock.set(at_ms - 1);
    assert!(
        worker.round().await.expect("round").outcomes.is_empty(),
        "not yet due"
    );
    // Attempt 2; retry after 300 s ± 10 %.
    clock.set(at_ms);
    let round = worker.round().await.expect("round");
    let Outcome::Retry { at_ms: next } = round.outcomes[0].2 else {
        panic!("{round:?}")
    };
    assert!(
        (at_ms + 270_000..=at_ms + 330_000).contains(&next),
        "{}",
        next - at_ms
    );
    // Attempt 3 is the last: dead-lettered, kept.
    clock.set(next);
    let round = worker.round().await.expect("round");
    assert_eq!(round.outcomes[0].2, Outcome::Dead);
    clock.advance_ms(86_400_000);
    assert!(
        worker.round().await.expect("round").outcomes.is_empty(),
        "never tried again"
    );
    let dead = events.list("dead", None, 0, 10).await.expect("listed");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 500"));
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|r| r.webhook_id == dead[0].webhook_id && r.verified)
    );
    assert!(
        got[0].timestamp < got[1].timestamp && got[1].timestamp < got[2].timestamp,
        "each attempt's own time"
    );

    // An operator replays it once the receiver is back.
    receiver.set_default(Reply::Ok);
    assert!(
        events
            .replay(dead[0].id, clock.now_ms())
            .await
            .expect("replayed")
    );
    let round = worker.round().await.expect("round");
    assert_eq!(round.outcomes[0].2, Outcome::Delivered);
    assert_eq!(
        receiver.received().last().expect("one").webhook_id,
        dead[0].webhook_id
    );
    assert!(
        events
            .list("dead", None, 0, 10)
            .await
            .expect("listed")
            .is_empty()
    );
    // replay_failed takes an endpoint's dead messages since a time.
    assert_eq!(
        events
            .replay_failed("app", 0, clock.now_ms())
            .await
            .expect("ok"),
        0
    );
}

async fn retry_after_is_honoured_and_bounded(store: &UploadStore, _url: &str) {
    let OneEvent {
        receiver,
        events,
        clock,
        worker,
    } = one_event(store, Reply::Ok).await;
    receiver.script(&[Reply::RetryAfter(429, 42), Reply::RetryAfter(503, 999_999)]);
    let round = worker.round().await.expect("round");
    assert_eq!(
        round.outcomes[0].2,
        Outcome::Retry {
            at_ms: NOW_MS + 42_000
        },
        "exactly as asked"
    );
    clock.set(NOW_MS + 42_000);
    let round = worker.round().await.expect("round");
    assert_eq!(
        round.outcomes[0].2,
        Outcome::Retry {
            at_ms: NOW_MS + 42_000 + 300_000
        },
        "bounded by the longest delay of the schedule"
    );
    let pending = events.list("pending", None, 0, 10).await.expect("listed");
    assert_eq!(pending[0].last_error.as_deref(), Some("HTTP 503"));
}

async fn a_timeout_is_retried(store: &UploadStore, _url: &str) {
    let OneEvent {
        receiver,
        events,
        clock,
        worker,
    } = one_event(store, Reply::Ok).await;
    receiver.script(&[Reply::Hang]);
    let round = tokio::time::timeout(Duration::from_secs(20), worker.round())
        .await
        .expect("the attempt's timeout ends it")
        .expect("round");
    assert!(
        matches!(round.outcomes[0].2, Outcome::Retry { .. }),
        "{round:?}"
    );
    let pending = events.list("pending", None, 0, 10).await.expect("listed");
    assert_eq!(pending[0].last_error.as_deref(), Some("timed out"));
    clock.advance_ms(6000);
    assert_eq!(
        worker.round().await.expect("round").outcomes[0].2,
        Outcome::Delivered
    );
}

async fn gone_disables_the_endpoint_across_restarts(store: &UploadStore, url: &str) {
    let gone = Receiver::start(SECRET, Reply::Status(410)).await;
    let fine = Receiver::start(SECRET, Reply::Ok).await;
    let eps = vec![endpoint("old", &gone.url), endpoint("new", &fine.url)];
    let events = outbox(store);
    events
        .ingest(
            &[other("h1", 1), other("h2", 2)],
            &keys(),
            &routes(&eps),
            NOW_MS,
        )
        .await
        .expect("ingested");
    let clock = ManualClock::new(NOW_MS);
    let first = worker(&events, eps.clone(), &clock);
    let round = first.round().await.expect("round");
    assert_eq!(round.count(|o| *o == Outcome::Disabled), 2, "{round:?}");
    assert_eq!(
        round.count(|o| *o == Outcome::Delivered),
        2,
        "another endpoint is not held up"
    );

    // A restart: a new store handle and a new worker still see the endpoint disabled.
    let reopened = outbox(&open(url).await);
    let disabled = reopened.disabled_endpoints().await.expect("listed");
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].name, "old");
    clock.advance_ms(3_600_000);
    let second = worker(&reopened, eps, &clock);
    assert!(second.round().await.expect("round").outcomes.is_empty());
    let held = reopened
        .list("pending", Some("old"), 0, 10)
        .await
        .expect("listed");
    assert_eq!(held.len(), 2, "kept, not dropped");

    // Re-enabled (the endpoint fixed): the held messages go out.
    gone.set_default(Reply::Ok);
    assert!(reopened.enable_endpoint("old").await.expect("enabled"));
    assert!(!reopened.enable_endpoint("old").await.expect("idempotent"));
    let round = second.round().await.expect("round");
    assert_eq!(round.count(|o| *o == Outcome::Delivered), 2);
    assert_eq!(gone.received().iter().filter(|r| r.verified).count(), 4);
}

async fn an_uploads_messages_go_out_in_order(store: &UploadStore, _url: &str) {
    let carol = owner("carol");
    let (a, b) = (ticket(&carol, T0, 3600), ticket(&carol, T0, 3600));
    store.create(&a).await.expect("created");
    store.create(&b).await.expect("created");
    let k = keys();
    let receiver = Receiver::start(SECRET, Reply::Status(500)).await;
    let eps = vec![endpoint("app", &receiver.url)];
    let events = outbox(store);
    events
        .ingest(
            &[
                uploaded("h1", "f-a", &k.token(&a.id).to_string()),
                processed("h2", "f-a", 0, ""),
                uploaded("h3", "f-b", &k.token(&b.id).to_string()),
            ],
            &k,
            &routes(&eps),
            NOW_MS,
        )
        .await
        .expect("ingested");
    let clock = ManualClock::new(NOW_MS);
    let worker = worker(&events, eps, &clock);
    // a's first message and b's go, and fail; a's second waits behind a's first.
    let round = worker.round().await.expect("round");
    assert_eq!(round.outcomes.len(), 2, "{round:?}");
    assert!(
        round
            .outcomes
            .iter()
            .all(|(_, _, o)| matches!(o, Outcome::Retry { .. }))
    );
    receiver.set_default(Reply::Ok);
    clock.advance_ms(60_000);
    let round = worker.round().await.expect("round");
    assert_eq!(
        round.count(|o| *o == Outcome::Delivered),
        2,
        "a's first and b's, not a's second"
    );
    let round = worker.round().await.expect("round");
    assert_eq!(
        round.count(|o| *o == Outcome::Delivered),
        1,
        "then a's second"
    );
    let for_a: Vec<_> = receiver
        .received()
        .iter()
        .filter(|r| r.body["data"]["uploadId"] == a.id.as_str())
        .map(|r| {
            (
                r.body["data"]["seq"].as_i64().expect("seq"),
                kind(&r.body).to_owned(),
            )
        })
        .collect();
    assert_eq!(
        for_a,
        [
            (1, "upload.completed".to_owned()),
            (1, "upload.completed".to_owned()),
            (2, "upload.processed".to_owned())
        ],
        "seq 2 only after seq 1 was delivered"
    );
}

async fn a_graceful_stop_loses_nothing(store: &UploadStore, _url: &str) {
    let receiver = Receiver::start(SECRET, Reply::Hang).await;
    let eps = vec![endpoint("app", &receiver.url)];
    let events = outbox(store);
    events
        .ingest(
            &[other("h1", 1), other("h2", 2)],
            &keys(),
            &routes(&eps),
            NOW_MS,
        )
        .await
        .expect("ingested");
    let clock = ManualClock::new(NOW_MS);
    // A long attempt timeout, so the stop comes while both attempts hang.
    let mut slow = settings();
    slow.timeout_ms = 60_000;
    let running = DeliveryWorker::new(
        events.clone(),
        eps.clone(),
        &slow,
        Arc::new(clock.clone()) as Arc<dyn Clock>,
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(running.run(async move {
        let _ = stopped.await;
    }));
    crate::support::eventually(
        "both attempts in flight",
        Duration::from_secs(10),
        async || receiver.received().len() == 2,
    )
    .await;
    stop.send(()).expect("the worker listens");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops promptly")
        .expect("no panic");
    let pending = events.list("pending", None, 0, 10).await.expect("listed");
    assert_eq!(pending.len(), 2, "nothing lost");
    assert!(
        pending.iter().all(|m| m.attempts == 0),
        "an abandoned attempt is not counted"
    );

    // The restart delivers them at once, under the same ids.
    receiver.set_default(Reply::Ok);
    let restarted = worker(&events, eps, &clock);
    let round = restarted.round().await.expect("round");
    assert_eq!(round.count(|o| *o == Outcome::Delivered), 2);
    let ids: Vec<_> = receiver
        .received()
        .iter()
        .map(|r| r.webhook_id.clone())
        .collect();
    assert_eq!(
        ids[2..].iter().filter(|id| ids[..2].contains(id)).count(),
        2,
        "{ids:?}"
    );
}
