//! A crash between the commit and the confirmation: the binary is SIGKILLed while VOD holds
//! its `ConfirmEvents` call, VOD redelivers the events under new handles 30 s later (the
//! fake's clock), and the restarted service stores nothing twice: one `webhook-id` per
//! event at the receiver.

use std::time::Duration;

use crate::support::eventually;
use crate::support::fake_vod::events::{file_deleted, new_file_upload, procedure_state_changed};

use super::{Rig, admin_url, get_json, ids_by_event, sample};

const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_between_commit_and_confirm_still_gives_one_webhook_id_per_event() {
    let rig = Rig::new(None).await;
    let mut service = rig.start().await;
    let (upload_id, context) = rig.create_upload(&service).await;
    let file_id = "5285890799000000010";
    rig.fake.hold_confirms(true);
    rig.fake.push_all([
        new_file_upload(file_id, &context),
        procedure_state_changed(file_id, &context, 0),
        new_file_upload("5285890799000000011", "console upload"),
        file_deleted(&[file_id]),
    ]);
    // A ConfirmEvents call arrives only after its events were committed.
    eventually("a confirmation held", PATIENCE, async || {
        rig.fake.confirms_waiting() >= 1
    })
    .await;
    service.signal("KILL");
    let (status, service) =
        tokio::task::spawn_blocking(move || (service.wait_exit(Duration::from_secs(10)), service))
            .await
            .expect("joined");
    assert!(status.is_some(), "killed");
    drop(service);
    assert!(rig.fake.confirmed().is_empty(), "nothing was confirmed");

    // VOD's 30 s pass: every handle out is stale and its event back in the queue.
    rig.fake.advance(Duration::from_secs(31));
    rig.fake.hold_confirms(false);
    let waiting = rig.fake.waiting();
    assert!(waiting >= 1, "events to redeliver");

    let service = rig.start().await;
    eventually("all four confirmed", PATIENCE, async || {
        rig.fake.confirmed().len() == 4
    })
    .await;
    eventually("four events at the receiver", PATIENCE, async || {
        ids_by_event(&rig.receiver).len() == 4
    })
    .await;
    // A moment for a wrong second message to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ids = ids_by_event(&rig.receiver);
    assert_eq!(ids.len(), 4, "{ids:#?}");
    for (event, webhook_ids) in &ids {
        assert_eq!(webhook_ids.len(), 1, "{event} came with {webhook_ids:?}");
    }
    // The ticket's story is told once, in order.
    let types: Vec<String> = rig
        .receiver
        .received()
        .iter()
        .filter(|m| m.body["data"]["uploadId"] == upload_id.as_str())
        .map(|m| m.body["type"].as_str().unwrap_or_default().to_owned())
        .fold(Vec::new(), |mut seen, t| {
            if seen.last() != Some(&t) {
                seen.push(t);
            }
            seen
        });
    assert_eq!(
        types,
        ["upload.completed", "upload.processed", "upload.deleted"]
    );

    let metrics = admin_url(&service, "/metrics");
    let (_, text) = get_json(&metrics, None).await;
    let text = text.as_str().unwrap_or_default().to_owned();
    assert_eq!(
        sample(&text, "vodsign_events_deduplicated_total", &[]),
        Some(waiting as f64),
        "the redelivered events were recognised"
    );
}
