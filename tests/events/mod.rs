//! The event relay's core on both backends (real SQLite files, a real PostgreSQL cluster):
//! ingest with deduplication and attribution, ticket moves, and delivery to a fake receiver
//! ([`receiver`]) that checks Standard Webhooks signatures, under a clock the tests move.
//! [`scenarios`] run on each backend; [`postgres`] has two workers sharing one database;
//! [`standard_webhooks`] lets the specification's own Python library check the messages.
//! [`admin`] drives the operator routes on the admin listener; [`retention`] the purge.

mod admin;
mod postgres;
pub mod receiver;
mod retention;
mod scenarios;
mod standard_webhooks;

use std::sync::Arc;

use serde_json::{Value, json};
use vodsign::config::WebhookSettings;
use vodsign::events::{
    Clock, DeliveryWorker, Endpoint, EventStore, ManualClock, MessageType, Route, VodEvent,
    WebhookSecret,
};
use vodsign::uploads::{ContextKey, ContextKeys, UploadStore};

/// The specification's example secret.
pub const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// The time the tests start at, in Unix milliseconds (the ticket tests' `T0`).
pub const NOW_MS: i64 = crate::uploads::T0 as i64 * 1000;

pub fn keys() -> ContextKeys {
    ContextKeys::new(
        ContextKey::new(b"events-context-key-0123456789-0123456789").expect("long enough"),
        vec![],
    )
}

/// Keys an attacker might have: not the service's.
pub fn forger_keys() -> ContextKeys {
    ContextKeys::new(
        ContextKey::new(b"forged-context-key-0123456789-0123456789").expect("long enough"),
        vec![],
    )
}

pub const ALL_TYPES: [MessageType; 5] = [
    MessageType::UploadCompleted,
    MessageType::UploadProcessed,
    MessageType::UploadFailed,
    MessageType::UploadDeleted,
    MessageType::Unattributed,
];

pub fn endpoint(name: &str, url: &str) -> Endpoint {
    Endpoint {
        name: name.into(),
        url: url.parse().expect("a URL"),
        secret: WebhookSecret::parse(SECRET).expect("valid"),
        types: ALL_TYPES.to_vec(),
    }
}

pub fn routes(endpoints: &[Endpoint]) -> Vec<Route> {
    endpoints.iter().map(Endpoint::route).collect()
}

/// Settings with a short attempt timeout and the schedule `[5, 300]`: three attempts.
pub fn settings() -> WebhookSettings {
    WebhookSettings {
        timeout_ms: 300,
        retry_schedule_secs: vec![5, 300],
        endpoints: vec![],
        ..WebhookSettings::default()
    }
}

pub fn worker(store: &EventStore, endpoints: Vec<Endpoint>, clock: &ManualClock) -> DeliveryWorker {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    DeliveryWorker::new(store.clone(), endpoints, &settings(), clock)
}

pub fn outbox(store: &UploadStore) -> EventStore {
    EventStore::new(store.clone())
}

/// One event (`other("h", 1)`) in the outbox at `NOW_MS`, for endpoint `app` at a receiver
/// answering `reply`, and the delivery worker on a manual clock at `NOW_MS`. Keep the whole
/// value alive: the receiver stops when it is dropped.
pub struct OneEvent {
    pub receiver: receiver::Receiver,
    pub events: EventStore,
    pub clock: ManualClock,
    pub worker: DeliveryWorker,
}

pub async fn one_event(store: &UploadStore, reply: receiver::Reply) -> OneEvent {
    let receiver = receiver::Receiver::start(SECRET, reply).await;
    let eps = vec![endpoint("app", &receiver.url)];
    let events = outbox(store);
    events
        .ingest(&[other("h", 1)], &keys(), &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    let clock = ManualClock::new(NOW_MS);
    let worker = worker(&events, eps, &clock);
    OneEvent {
        receiver,
        events,
        clock,
        worker,
    }
}

/// `NewFileUpload` of file `file_id` with `context` as its `SourceContext`.
pub fn uploaded(handle: &str, file_id: &str, context: &str) -> VodEvent {
    VodEvent::parse(json!({
        "EventHandle": handle, "EventType": "NewFileUpload",
        "FileUploadEvent": {"FileId": file_id,
            "MediaBasicInfo": {"Name": "clip", "CreateTime": "2019-01-09T16:36:22Z",
                "MediaUrl": format!("http://v.example/{file_id}/f0.mp4"),
                "SourceInfo": {"SourceType": "Upload", "SourceContext": context}},
            "ProcedureTaskId": "", "MetaData": null},
        "ProcedureStateChangeEvent": null, "FileDeleteEvent": null
    }))
}

/// `ProcedureStateChanged` of file `file_id`, finished with `err_code`.
pub fn processed(handle: &str, file_id: &str, err_code: i64, session: &str) -> VodEvent {
    VodEvent::parse(json!({
        "EventHandle": handle, "EventType": "ProcedureStateChanged",
        "ProcedureStateChangeEvent": {"TaskId": format!("task-{file_id}-{err_code}"),
            "Status": "FINISH", "ErrCode": err_code, "Message": "", "FileId": file_id,
            "SessionContext": session, "SessionId": ""},
        "FileUploadEvent": null, "FileDeleteEvent": null
    }))
}

pub fn deleted(handle: &str, file_ids: &[&str]) -> VodEvent {
    VodEvent::parse(json!({
        "EventHandle": handle, "EventType": "FileDeleted",
        "FileDeleteEvent": {"FileIdSet": file_ids}
    }))
}

pub fn other(handle: &str, n: u32) -> VodEvent {
    VodEvent::parse(json!({
        "EventHandle": handle, "EventType": "PullComplete",
        "PullCompleteEvent": {"TaskId": format!("pull-{n}"), "FileId": "x"}
    }))
}

/// The `type` of a received body.
pub fn kind(body: &Value) -> &str {
    body["type"].as_str().unwrap_or_default()
}
