//! A ticket's upload through the relay, a forged context, a duplicate, the metrics, the
//! logs, and a graceful stop with a delivery in flight.

use std::time::Duration;

use crate::events::receiver::Reply;
use crate::support::eventually;
use crate::support::fake_vod::events::{new_file_upload, procedure_state_changed};

use super::{Rig, admin_url, get_json, ids_by_event, sample};

const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_upload_is_completed_then_processed_for_its_owner() {
    let rig = Rig::new(None).await;
    let service = rig.start().await;
    let (upload_id, context) = rig.create_upload(&service).await;
    let file_id = "5285890799000000001";
    rig.fake.push(new_file_upload(file_id, &context));
    // A task that moved on without finishing (TaskNotifyMode Change).
    let mut running = procedure_state_changed(file_id, &context, 0);
    running["ProcedureStateChangeEvent"]["Status"] = "PROCESSING".into();
    rig.fake.push(running);
    rig.fake.push(procedure_state_changed(file_id, &context, 0));

    eventually("three messages", PATIENCE, async || {
        rig.receiver.received().len() >= 3
    })
    .await;
    let received = rig.receiver.received();
    assert_eq!(received.len(), 3, "{received:#?}");
    let types: Vec<&str> = received
        .iter()
        .map(|m| m.body["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        ["upload.completed", "upload.processing", "upload.processed"]
    );
    let expected = [(1, "uploaded"), (2, "uploaded"), (3, "processed")];
    for (message, (seq, status)) in received.iter().zip(expected) {
        assert!(message.verified);
        let data = &message.body["data"];
        assert_eq!(data["uploadId"], upload_id.as_str());
        assert_eq!(data["subject"], "user-ops");
        // An API key's uploads belong to its subject alone (a rotated key keeps them).
        assert!(data["credentialId"].is_null(), "{data}");
        assert_eq!(data["policy"], "default");
        assert_eq!(data["fileId"], file_id);
        assert_eq!(data["seq"], seq);
        assert_eq!(data["status"], status);
        assert_eq!(data["metadata"]["title"], "holiday");
        assert!(
            data["vod"]["EventHandle"].is_null(),
            "the handle is not passed on"
        );
    }
    let ids: std::collections::HashSet<_> = received.iter().map(|m| &m.webhook_id).collect();
    assert_eq!(ids.len(), 3, "one webhook-id per message");

    let (status, ticket) = get_json(
        &service.url(&format!("/v1/uploads/{upload_id}")),
        Some(&rig.api_key),
    )
    .await;
    assert_eq!(status, 200, "{ticket}");
    let ticket = if ticket["data"].is_object() {
        &ticket["data"]
    } else {
        &ticket
    };
    assert_eq!(ticket["status"], "processed", "{ticket}");
    assert_eq!(ticket["fileId"], file_id, "{ticket}");

    // Every event confirmed to VOD, after it was stored.
    eventually("all confirmed", PATIENCE, async || {
        rig.fake.confirmed().len() == 3
    })
    .await;
    let metrics = admin_url(&service, "/metrics");
    eventually("the counters", PATIENCE, async || {
        let (_, text) = get_json(&metrics, None).await;
        let text = text.as_str().unwrap_or_default().to_owned();
        sample(&text, "vodsign_events_pulled_total", &[]) == Some(3.0)
            && sample(&text, "vodsign_events_confirmed_total", &[]) == Some(3.0)
            && sample(
                &text,
                "vodsign_webhook_attempts_total",
                &["endpoint=\"app\"", "result=\"delivered\""],
            ) == Some(3.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_context_is_unattributed_and_a_duplicate_is_one_message() {
    let rig = Rig::new(None).await;
    let service = rig.start().await;
    let (upload_id, context) = rig.create_upload(&service).await;
    // The right upload id with a tag the service never made.
    let (head, _) = context.rsplit_once('.').expect("vs1.ID.TAG");
    let forged = format!("{head}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    rig.fake
        .push(new_file_upload("5285890799000000002", &forged));
    rig.fake
        .push_duplicate(new_file_upload("5285890799000000003", "console upload"));

    eventually("two messages", PATIENCE, async || {
        rig.receiver.received().len() >= 2
    })
    .await;
    eventually("all three confirmed", PATIENCE, async || {
        rig.fake.confirmed().len() == 3
    })
    .await;
    // A moment for a wrong third message to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = rig.receiver.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    for message in &received {
        assert_eq!(message.body["type"], "vod.unattributed");
        assert!(message.body["data"]["uploadId"].is_null());
        assert!(message.body["data"]["subject"].is_null());
    }
    assert_eq!(ids_by_event(&rig.receiver).len(), 2);

    // The ticket was not moved by the forged event.
    let (_, ticket) = get_json(
        &service.url(&format!("/v1/uploads/{upload_id}")),
        Some(&rig.api_key),
    )
    .await;
    let ticket = if ticket["data"].is_object() {
        &ticket["data"]
    } else {
        &ticket
    };
    assert_eq!(ticket["status"], "authorized", "{ticket}");

    let metrics = admin_url(&service, "/metrics");
    eventually("the counters", PATIENCE, async || {
        let (_, text) = get_json(&metrics, None).await;
        let text = text.as_str().unwrap_or_default().to_owned();
        sample(&text, "vodsign_events_deduplicated_total", &[]) == Some(1.0)
            && sample(
                &text,
                "vodsign_events_unattributed_total",
                &["type=\"NewFileUpload\""],
            ) == Some(2.0)
            && sample(&text, "vodsign_webhook_messages_pending", &[]) == Some(0.0)
            && sample(
                &text,
                "vodsign_dependency_up",
                &["dependency=\"vod_events\""],
            ) == Some(1.0)
    })
    .await;

    let logs = service.logs();
    for secret in [
        rig.vod_key.key.as_str(),
        rig.hook_secret.as_str(),
        rig.hook_secret.trim_start_matches("whsec_"),
        rig.context_key.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret in the logs");
    }
    assert!(logs.contains("pulling VOD events"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_gives_a_delivery_in_flight_back_for_the_next_start() {
    let rig = Rig::new(None).await;
    rig.receiver.set_default(Reply::Hang);
    // The attempt outlasts the stop; the stop comes at once.
    let mut service = rig
        .start_with(&[
            ("VODSIGN_WEBHOOKS__TIMEOUT_MS", "30000"),
            ("VODSIGN_SERVER__DRAIN_DELAY_MS", "0"),
        ])
        .await;
    rig.fake
        .push(new_file_upload("5285890799000000004", "console upload"));
    eventually("the attempt in flight", PATIENCE, async || {
        !rig.receiver.received().is_empty()
    })
    .await;
    eventually("confirmed", PATIENCE, async || {
        rig.fake.confirmed().len() == 1
    })
    .await;
    service.signal("TERM");
    let status = tokio::task::spawn_blocking(move || {
        let status = service.wait_exit(Duration::from_secs(15));
        (status, service)
    })
    .await
    .expect("joined");
    let (status, service) = status;
    assert!(status.is_some_and(|s| s.success()), "{}", service.logs());
    assert!(
        service.logs().contains("webhook delivery stopped"),
        "{}",
        service.logs()
    );
    drop(service);

    rig.receiver.set_default(Reply::Ok);
    let _service = rig.start().await;
    eventually("delivered after the restart", PATIENCE, async || {
        rig.receiver.received().len() >= 2
    })
    .await;
    let ids = ids_by_event(&rig.receiver);
    assert_eq!(ids.len(), 1);
    assert_eq!(
        ids.values().next().map(|s| s.len()),
        Some(1),
        "one webhook-id, sent twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reload_changing_the_webhooks_warns_and_the_relay_keeps_running() {
    let rig = Rig::new(None).await;
    let service = rig.start().await;
    let changed = rig
        .config()
        .replace("timeout_ms = 2000", "timeout_ms = 3000");
    assert_ne!(changed, rig.config());
    service.write_config(&changed);
    service.signal("HUP");
    let line =
        tokio::task::block_in_place(|| service.wait_for_log("takes effect only after a restart"))
            .unwrap_or_else(|| panic!("no restart warning:\n{}", service.logs()));
    assert!(line.contains("\"webhooks\""), "{line}");
    rig.fake
        .push(new_file_upload("5285890799000000005", "console upload"));
    eventually("delivered after the reload", PATIENCE, async || {
        rig.receiver.received().len() == 1
    })
    .await;
}
