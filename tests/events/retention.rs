//! The outbox's retention on both backends: delivered messages and events go after
//! `retention_days`, dead letters after `dead_letter_retention_days`, pending messages
//! never, and an event's deduplication key outlives VOD's redelivery window.

use std::sync::Arc;
use std::time::Duration;

use vodsign::events::retention::{Retention, purge_once, run};
use vodsign::events::{Clock, EventStore, ManualClock, PurgeReport};
use vodsign::uploads::UploadStore;

use super::{NOW_MS, endpoint, keys, other, outbox, routes};

use crate::support::backends::on_both_backends;

on_both_backends!(
    old_rows_go_in_batches_and_pending_messages_stay,
    a_redelivery_within_the_retention_is_still_recognised,
    the_purge_task_runs_on_its_timer_until_stopped,
);

const DAY: i64 = 86_400_000;

const RETENTION: Retention = Retention {
    days: 7,
    dead_letter_days: 30,
};

/// Settles every due message of `endpoint` at `now_ms`: delivered, or dead when `dead`.
async fn settle(events: &EventStore, endpoint: &str, now_ms: i64, dead: bool) {
    let lease = events
        .due(now_ms, 1000, Duration::from_secs(60))
        .await
        .expect("claimed");
    for m in lease.messages.iter().filter(|m| m.endpoint == endpoint) {
        let done = if dead {
            events
                .dead_letter(m.id, &lease.token, now_ms, "HTTP 500")
                .await
        } else {
            events.mark_delivered(m.id, &lease.token, now_ms).await
        };
        assert!(done.expect("settled"));
    }
    events.release(&lease.token).await.expect("released");
}

async fn count(events: &EventStore, status: &str) -> usize {
    events
        .list(status, None, 0, 1000)
        .await
        .expect("listed")
        .len()
}

async fn old_rows_go_in_batches_and_pending_messages_stay(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [
        endpoint("ok", "http://127.0.0.1:9/ok"),
        endpoint("bad", "http://127.0.0.1:9/bad"),
        endpoint("slow", "http://127.0.0.1:9/slow"),
    ];
    // Five events with a message to each endpoint: "ok" delivers, "bad" dead-letters,
    // "slow" never answers (pending).
    let batch: Vec<_> = (0..5).map(|n| other(&format!("h{n}"), n)).collect();
    events
        .ingest(&batch, &keys(), &routes(&eps[..2]), NOW_MS)
        .await
        .expect("ingested");
    settle(&events, "ok", NOW_MS, false).await;
    settle(&events, "bad", NOW_MS, true).await;
    // Five more events, only to "ok" and "slow".
    let later: Vec<_> = (5..10).map(|n| other(&format!("h{n}"), n)).collect();
    let mut both = vec![eps[0].clone(), eps[2].clone()];
    events
        .ingest(&later, &keys(), &routes(&both), NOW_MS)
        .await
        .expect("ingested");
    both.truncate(1);
    settle(&events, "ok", NOW_MS, false).await;
    assert_eq!(count(&events, "delivered").await, 10);

    // Within the retention nothing goes.
    let report = purge_once(&events, RETENTION, NOW_MS + 7 * DAY - 1, 2)
        .await
        .expect("purged");
    assert_eq!(report, PurgeReport::default());

    // Past it: every delivered message, in batches of two; the events of the first five
    // keep their dead letters, the others their pending messages.
    let report = purge_once(&events, RETENTION, NOW_MS + 8 * DAY, 2)
        .await
        .expect("purged");
    assert_eq!(
        report,
        PurgeReport {
            delivered: 10,
            dead: 0,
            events: 0
        }
    );
    assert_eq!(count(&events, "delivered").await, 0);
    assert_eq!(count(&events, "dead").await, 5);
    assert_eq!(count(&events, "pending").await, 5);

    // Past the dead-letter retention: the dead letters and then their events go; the
    // pending messages and their events stay, however old.
    let report = purge_once(&events, RETENTION, NOW_MS + 400 * DAY, 2)
        .await
        .expect("purged");
    assert_eq!(
        report,
        PurgeReport {
            delivered: 0,
            dead: 5,
            events: 5
        }
    );
    assert_eq!(count(&events, "pending").await, 5);
    let again = events
        .ingest(&later[..1], &keys(), &routes(&both), NOW_MS + 400 * DAY)
        .await
        .expect("ingested");
    assert!(
        !again[0].new,
        "an event with a pending message keeps its key"
    );
    let again = events
        .ingest(&batch[..1], &keys(), &routes(&both), NOW_MS + 400 * DAY)
        .await
        .expect("ingested");
    assert!(again[0].new, "a purged event's key is gone");
}

async fn a_redelivery_within_the_retention_is_still_recognised(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [endpoint("ok", "http://127.0.0.1:9/ok")];
    let event = other("h-first", 1);
    events
        .ingest(std::slice::from_ref(&event), &keys(), &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    settle(&events, "ok", NOW_MS, false).await;
    // The shortest retention allowed is VOD's window of 4 days: a purge just inside it
    // keeps the key, and VOD's last redelivery (a new handle) is a duplicate.
    let shortest = Retention {
        days: 4,
        dead_letter_days: 4,
    };
    let now = NOW_MS + 4 * DAY - 1000;
    let report = purge_once(&events, shortest, now, 100)
        .await
        .expect("purged");
    assert_eq!(report.total(), 0);
    let redelivered = other("h-after-4-days", 1);
    let out = events
        .ingest(&[redelivered], &keys(), &routes(&eps), now)
        .await
        .expect("ingested");
    assert!(!out[0].new, "still recognised");
    assert_eq!(count(&events, "pending").await, 0, "no second message");
    let report = purge_once(&events, shortest, NOW_MS + 4 * DAY + 1, 100)
        .await
        .expect("purged");
    assert_eq!(
        (report.delivered, report.events),
        (1, 1),
        "both go once the window has passed"
    );
}

async fn the_purge_task_runs_on_its_timer_until_stopped(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [endpoint("ok", "http://127.0.0.1:9/ok")];
    events
        .ingest(&[other("h", 1)], &keys(), &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    settle(&events, "ok", NOW_MS, false).await;
    let clock = ManualClock::new(NOW_MS + DAY);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(
        events.clone(),
        Duration::from_millis(20),
        RETENTION,
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        async move {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        count(&events, "delivered").await,
        1,
        "kept within the retention"
    );
    clock.set(NOW_MS + 8 * DAY);
    crate::support::eventually("purged by the task", Duration::from_secs(10), async || {
        count(&events, "delivered").await == 0
    })
    .await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops when told")
        .expect("no panic");
}
