//! PullEvents and ConfirmEvents: the reliable queue's contract, as the relay relies on it.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use vodsign::config::EventSettings;

use super::{client, client_with, fake, keys};
use crate::support::fake_vod::events::{file_deleted, new_file_upload, procedure_state_changed};

fn handles(events: &[vodsign::vodapi::PulledEvent]) -> Vec<String> {
    events.iter().map(|e| e.handle.clone()).collect()
}

#[tokio::test]
async fn pulls_typed_events_and_confirms_them() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(200)).await;
    let api = client(&fake, &keys);
    fake.push_all([
        new_file_upload("5285890784273533167", "vs1.context"),
        procedure_state_changed("5285890784273533167", "vs1.session", 0),
        file_deleted(&["5285890784273533167"]),
    ]);

    let pulled = api.pull_events().await.expect("pulled");
    assert!(!pulled.request_id.is_empty());
    let types: Vec<&str> = pulled
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        ["NewFileUpload", "ProcedureStateChanged", "FileDeleted"]
    );
    let first = &pulled.events[0];
    assert_eq!(
        first.raw["FileUploadEvent"]["MediaBasicInfo"]["SourceInfo"]["SourceContext"],
        "vs1.context"
    );
    assert_eq!(first.raw["EventHandle"], first.handle.as_str());
    assert!(first.content().get("EventHandle").is_none());
    assert_eq!(fake.in_flight(), 3);

    api.confirm_events(&handles(&pulled.events))
        .await
        .expect("confirmed");
    assert_eq!(fake.in_flight(), 0);
    assert_eq!(fake.confirmed().len(), 3);
    let again = api.pull_events().await.expect("an empty long poll");
    assert!(again.events.is_empty(), "confirmed events do not come back");
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_an_event_arrives() {
    let keys = keys();
    // Held up to 5 s, like VOD: the answer comes with the event, not at the end of the hold.
    let fake = fake(&keys, Duration::from_secs(5)).await;
    let api = client(&fake, &keys);
    let poll = tokio::spawn(async move { api.pull_events().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !poll.is_finished(),
        "the poll is held while the queue is empty"
    );
    fake.push(new_file_upload("1", "ctx"));
    let pulled = poll.await.expect("joined").expect("pulled");
    assert_eq!(pulled.events.len(), 1, "the pushed event ends the hold");
}

#[tokio::test]
async fn an_empty_long_poll_ends_with_no_events() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let pulled = client(&fake, &keys).pull_events().await.expect("answered");
    assert!(pulled.events.is_empty());
}

#[tokio::test]
async fn more_than_16_events_come_16_at_a_time_and_confirm_in_calls_of_16() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let api = client(&fake, &keys);
    fake.push_all((0..20).map(|i| new_file_upload(&format!("file-{i}"), "ctx")));

    let first = api.pull_events().await.expect("pulled").events;
    let second = api.pull_events().await.expect("pulled").events;
    assert_eq!((first.len(), second.len()), (16, 4));
    let all: Vec<String> = handles(&first)
        .into_iter()
        .chain(handles(&second))
        .collect();
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        20,
        "handles are distinct"
    );
    let ids: Vec<Value> = first
        .iter()
        .chain(&second)
        .map(|e| e.raw["FileUploadEvent"]["FileId"].clone())
        .collect();
    let expected: Vec<Value> = (0..20).map(|i| Value::from(format!("file-{i}"))).collect();
    assert_eq!(ids, expected, "in the order pushed");

    api.confirm_events(&all).await.expect("confirmed");
    let sizes: Vec<usize> = fake
        .calls()
        .iter()
        .filter(|c| c.action == "ConfirmEvents")
        .map(|c| c.params["EventHandles"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [16, 4]);
    assert_eq!(fake.confirmed().len(), 20);
}

#[tokio::test]
async fn an_unconfirmed_event_comes_back_with_a_new_handle_after_30_s() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let api = client(&fake, &keys);
    fake.push(new_file_upload("f1", "ctx"));
    let first = api.pull_events().await.expect("pulled").events;
    assert_eq!(first.len(), 1);

    fake.advance(Duration::from_secs(29));
    assert!(
        api.pull_events().await.expect("pulled").events.is_empty(),
        "not before 30 s"
    );
    fake.advance(Duration::from_secs(1));
    let again = api.pull_events().await.expect("pulled").events;
    assert_eq!(again.len(), 1, "redelivered");
    assert_ne!(again[0].handle, first[0].handle, "with a fresh handle");
    assert_eq!(again[0].content(), first[0].content(), "the same event");
}

#[tokio::test]
async fn a_stale_handle_is_refused_and_its_event_delivered_again() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let api = client(&fake, &keys);
    fake.push(new_file_upload("f1", "ctx"));
    let first = api.pull_events().await.expect("pulled").events;
    fake.advance(Duration::from_secs(31));

    let err = api
        .confirm_events(&handles(&first))
        .await
        .expect_err("the handle is past its 30 s");
    assert!(err.is_stale_handle(), "{err}");
    assert!(
        err.code()
            .is_some_and(|c| c.starts_with("InvalidParameter")),
        "{err}"
    );
    assert!(err.request_id().is_some_and(|id| !id.is_empty()), "{err}");
    assert!(
        err.to_string().contains("4000"),
        "VOD's message is kept: {err}"
    );

    let again = api.pull_events().await.expect("pulled").events;
    assert_eq!(again.len(), 1);
    api.confirm_events(&handles(&again))
        .await
        .expect("the new handle confirms");
    assert_eq!(fake.confirmed().len(), 1);
    let unknown = api
        .confirm_events(&["not-a-handle".to_owned()])
        .await
        .expect_err("an unknown handle");
    assert!(unknown.is_stale_handle(), "{unknown}");
}

#[tokio::test]
async fn duplicates_and_out_of_order_events_arrive_as_vod_sends_them() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let api = client(&fake, &keys);
    fake.push_duplicate(new_file_upload("dup", "ctx"));
    fake.push_out_of_order(vec![
        new_file_upload("f2", "ctx"),
        procedure_state_changed("f2", "ctx", 0),
    ]);
    let events = api.pull_events().await.expect("pulled").events;
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].content(), events[1].content(), "one event twice");
    assert_ne!(events[0].handle, events[1].handle);
    assert_eq!(
        events[2].event_type, "ProcedureStateChanged",
        "the task event first"
    );
    assert_eq!(events[3].event_type, "NewFileUpload");
}

#[tokio::test]
async fn sub_app_id_and_region_go_with_every_call() {
    let keys = keys();
    let fake = crate::support::fake_vod::FakeVod::start(
        crate::support::fake_vod::FakeVodOptions::new(&keys.id, &keys.key)
            .hold(Duration::from_millis(100))
            .sub_app_id(1_500_000_001),
    )
    .await;
    let refused = client(&fake, &keys)
        .describe_events_state()
        .await
        .expect_err("the account needs its SubAppId");
    assert_eq!(refused.code(), Some("InvalidParameterValue.SubAppId"));

    let api = client_with(
        &fake,
        &keys.id,
        &keys.key,
        EventSettings {
            sub_app_id: Some(1_500_000_001),
            region: Some("ap-guangzhou".into()),
            ..EventSettings::default()
        },
    );
    fake.push(new_file_upload("f1", "ctx"));
    let events = api.pull_events().await.expect("pulled").events;
    api.confirm_events(&handles(&events))
        .await
        .expect("confirmed");
    let state = api.describe_events_state().await.expect("state");
    assert_eq!(state.count_of_events_to_pull, 0);
    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    for call in calls {
        assert_eq!(call.params["SubAppId"], 1_500_000_001, "{call:?}");
        assert_eq!(call.region.as_deref(), Some("ap-guangzhou"), "{call:?}");
    }
}
