//! A fake VOD API on a loopback port: the event queue and the event configuration, as the
//! relay sees them from Tencent Cloud.
//!
//! Every call must carry a valid TC3-HMAC-SHA256 signature (checked with
//! `vodsign::vodapi::tc3`'s verifier, the mirror of what the client signs with) made with the
//! fake's key, a recent `X-TC-Timestamp` and `X-TC-Version: 2018-07-17`; otherwise it is
//! refused in VOD's shape (`AuthFailure.SignatureFailure`, ...). Answers are VOD's JSON:
//! `{"Response": {..., "RequestId"}}`, errors `{"Response": {"Error": {"Code", "Message"},
//! "RequestId"}}` with HTTP 200.
//!
//! The queue behaves as VOD documents its reliable mode: `PullEvents` answers at once when
//! events wait and otherwise holds the call (5 s, or [`FakeVodOptions::hold`]) until one is
//! pushed; it hands out at most 16 events, each with a fresh `EventHandle`; an event not
//! confirmed within 30 s of the fake's clock goes back to the queue and its handle goes
//! stale, and `ConfirmEvents` with a stale (or unknown) handle is refused with a parameter
//! error (VOD's "4000"). The clock is a [`FakeClock`] the test advances (no sleeping), or the
//! system clock. Tests can push duplicates and out-of-order events.
//!
//! Shared by the integration tests and `examples/fake_vod.rs` (which
//! `scripts/check-fake-vod.sh` drives with Tencent's own Python SDK).
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;
use vodsign::vodapi::tc3::Authorization;

/// How long VOD keeps a handle valid, and an unconfirmed event away from the queue.
pub const CONFIRM_WINDOW: Duration = Duration::from_secs(30);
/// The most events one `PullEvents` answer holds, and handles one `ConfirmEvents` takes.
pub const MAX_EVENTS: usize = 16;
/// How far `X-TC-Timestamp` may be from the fake's real clock.
const TIMESTAMP_SKEW_SECS: u64 = 300;

/// The fake's clock for redelivery: milliseconds that only the test moves.
#[derive(Clone, Debug, Default)]
pub struct FakeClock(Arc<AtomicU64>);

impl FakeClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(
            u64::try_from(by.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Debug)]
enum Clock {
    Manual(FakeClock),
    System,
}

impl Clock {
    fn now_ms(&self) -> u64 {
        match self {
            Clock::Manual(clock) => clock.now_ms(),
            Clock::System => u64::try_from(unix_now().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
}

/// How to start a [`FakeVod`].
#[derive(Clone, Debug)]
pub struct FakeVodOptions {
    pub secret_id: String,
    pub secret_key: String,
    /// How long `PullEvents` waits for an event before answering with none (VOD: about 5 s).
    pub hold: Duration,
    /// When set, every call must carry this `SubAppId` (as for accounts opened since
    /// 2023-12-25), or is refused.
    pub sub_app_id: Option<u64>,
    clock: Clock,
}

impl FakeVodOptions {
    /// A fake that accepts calls signed with this pair, holds long polls 5 s, and redelivers
    /// by a [`FakeClock`] the test moves.
    pub fn new(secret_id: &str, secret_key: &str) -> Self {
        Self {
            secret_id: secret_id.to_owned(),
            secret_key: secret_key.to_owned(),
            hold: Duration::from_secs(5),
            sub_app_id: None,
            clock: Clock::Manual(FakeClock::default()),
        }
    }

    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    pub fn sub_app_id(mut self, id: u64) -> Self {
        self.sub_app_id = Some(id);
        self
    }

    /// Redeliver by the system clock instead (for a fake run as a process).
    pub fn system_clock(mut self) -> Self {
        self.clock = Clock::System;
        self
    }
}

/// One call the fake accepted (its signature verified).
#[derive(Clone, Debug)]
pub struct Call {
    pub action: String,
    pub params: Value,
    pub region: Option<String>,
}

/// An event waiting in the queue, in the order it was pushed.
#[derive(Debug)]
struct Queued {
    seq: u64,
    event: Value,
}

/// An event handed out and not yet confirmed.
#[derive(Debug)]
struct Delivery {
    queued: Queued,
    at_ms: u64,
}

#[derive(Debug)]
struct Queue {
    waiting: VecDeque<Queued>,
    in_flight: HashMap<String, Delivery>,
    stale: HashSet<String>,
    confirmed: Vec<Value>,
    next_seq: u64,
    config: Map,
    calls: Vec<Call>,
    refusals: Vec<String>,
}

type Map = serde_json::Map<String, Value>;

struct Shared {
    options: FakeVodOptions,
    queue: Mutex<Queue>,
    arrived: Notify,
    /// While set, `ConfirmEvents` calls wait (unanswered, nothing confirmed).
    confirms_held: std::sync::atomic::AtomicBool,
    /// `ConfirmEvents` calls that reached the hold.
    confirms_waiting: AtomicU64,
    released: Notify,
    /// While set, every call gets a 503 with an HTML body, as from a failing gateway.
    unavailable: std::sync::atomic::AtomicBool,
}

/// The running fake. Dropping it stops the server.
pub struct FakeVod {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeVod {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeVod {
    /// Serves on a fresh loopback port.
    pub async fn start(options: FakeVodOptions) -> Self {
        Self::start_on(options, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(options: FakeVodOptions, addr: SocketAddr) -> Self {
        let config = [
            ("Mode", "PUSH"),
            ("NotificationUrl", ""),
            ("UploadMediaCompleteEventSwitch", "OFF"),
            ("DeleteMediaCompleteEventSwitch", "OFF"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
        let shared = Arc::new(Shared {
            options,
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                in_flight: HashMap::new(),
                stale: HashSet::new(),
                confirmed: Vec::new(),
                next_seq: 0,
                config,
                calls: Vec::new(),
                refusals: Vec::new(),
            }),
            arrived: Notify::new(),
            confirms_held: std::sync::atomic::AtomicBool::new(false),
            confirms_waiting: AtomicU64::new(0),
            released: Notify::new(),
            unavailable: std::sync::atomic::AtomicBool::new(false),
        });
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the fake VOD API");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new()
            .route("/", post(handle))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the fake VOD API serves");
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`: the `events.api_endpoint` of a client of this fake.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The clock redelivery follows, when it is a [`FakeClock`].
    pub fn clock(&self) -> FakeClock {
        match &self.shared.options.clock {
            Clock::Manual(clock) => clock.clone(),
            Clock::System => panic!("this fake follows the system clock"),
        }
    }

    /// Moves the fake's clock on and wakes the long polls (events may be due again).
    pub fn advance(&self, by: Duration) {
        self.clock().advance(by);
        self.shared.arrived.notify_waiters();
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.shared.queue.lock().expect("the fake's lock")
    }

    /// Queues events (without `EventHandle`: each delivery gets a fresh one).
    pub fn push_all(&self, events: impl IntoIterator<Item = Value>) {
        {
            let mut queue = self.queue();
            for event in events {
                let seq = queue.next_seq;
                queue.next_seq += 1;
                queue.waiting.push_back(Queued { seq, event });
            }
        }
        self.shared.arrived.notify_waiters();
    }

    pub fn push(&self, event: Value) {
        self.push_all([event]);
    }

    /// Queues the same event twice: two deliveries, two handles, one content.
    pub fn push_duplicate(&self, event: Value) {
        self.push_all([event.clone(), event]);
    }

    /// Queues events last first, as VOD may deliver events of one file out of order.
    pub fn push_out_of_order(&self, events: Vec<Value>) {
        self.push_all(events.into_iter().rev());
    }

    /// Events waiting to be pulled (redelivery due by the clock included).
    pub fn waiting(&self) -> usize {
        let mut queue = self.queue();
        queue.expire(self.shared.options.clock.now_ms());
        queue.waiting.len()
    }

    /// Events handed out and not confirmed.
    pub fn in_flight(&self) -> usize {
        self.queue().in_flight.len()
    }

    /// Every event confirmed, in order of confirmation, without its handle.
    pub fn confirmed(&self) -> Vec<Value> {
        self.queue().confirmed.clone()
    }

    /// Every call accepted, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.queue().calls.clone()
    }

    /// The error code of every call refused, in order.
    pub fn refusals(&self) -> Vec<String> {
        self.queue().refusals.clone()
    }

    /// While `on`, every `ConfirmEvents` call is held unanswered and confirms nothing (its
    /// caller may be killed meanwhile); switching it off lets the held calls proceed.
    pub fn hold_confirms(&self, on: bool) {
        self.shared.confirms_held.store(on, Ordering::SeqCst);
        if !on {
            self.shared.released.notify_waiters();
        }
    }

    /// While `on`, the API is down: every call is answered 503 with an HTML page (no
    /// VOD envelope), and nothing is pulled or confirmed.
    pub fn set_unavailable(&self, on: bool) {
        self.shared.unavailable.store(on, Ordering::SeqCst);
    }

    /// How many `ConfirmEvents` calls have reached the hold so far.
    pub fn confirms_waiting(&self) -> u64 {
        self.shared.confirms_waiting.load(Ordering::SeqCst)
    }

    /// The event configuration's value of `name` (e.g. `Mode`).
    pub fn config(&self, name: &str) -> String {
        self.queue().config[name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Sets the event configuration's `name` as `ModifyEventConfig` would.
    pub fn set_config(&self, name: &str, value: &str) {
        self.queue().config.insert(name.to_owned(), value.into());
    }
}

impl Queue {
    /// Puts every delivery older than [`CONFIRM_WINDOW`] back at the head of the queue, in
    /// push order, and marks its handle stale.
    fn expire(&mut self, now_ms: u64) {
        let window = u64::try_from(CONFIRM_WINDOW.as_millis()).expect("30 s in ms");
        let due: Vec<String> = self
            .in_flight
            .iter()
            .filter(|(_, d)| now_ms.saturating_sub(d.at_ms) >= window)
            .map(|(handle, _)| handle.clone())
            .collect();
        let mut back: Vec<Queued> = due
            .into_iter()
            .filter_map(|handle| {
                let delivery = self.in_flight.remove(&handle)?;
                self.stale.insert(handle);
                Some(delivery.queued)
            })
            .collect();
        back.sort_by_key(|q| std::cmp::Reverse(q.seq));
        for queued in back {
            self.waiting.push_front(queued);
        }
    }

    /// Hands out up to [`MAX_EVENTS`], each with a fresh handle.
    fn take(&mut self, now_ms: u64) -> Vec<Value> {
        let count = self.waiting.len().min(MAX_EVENTS);
        let mut out = Vec::with_capacity(count);
        for queued in self.waiting.drain(..count).collect::<Vec<_>>() {
            let handle = format!("{:032x}", rand::random::<u128>());
            let mut event = queued.event.clone();
            if let Some(object) = event.as_object_mut() {
                object.insert("EventHandle".into(), Value::from(handle.as_str()));
            }
            out.push(event);
            self.in_flight.insert(
                handle,
                Delivery {
                    queued,
                    at_ms: now_ms,
                },
            );
        }
        out
    }
}

fn request_id() -> String {
    let n = rand::random::<u128>();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        n >> 96,
        (n >> 80) & 0xffff,
        (n >> 64) & 0xffff,
        (n >> 48) & 0xffff,
        n & 0xffff_ffff_ffff
    )
}

fn answer(mut fields: Map) -> Response {
    fields.insert("RequestId".into(), Value::from(request_id()));
    axum::Json(json!({ "Response": fields })).into_response()
}

/// A refusal in VOD's shape: HTTP 200 with `Response.Error`.
struct Refusal {
    code: &'static str,
    message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut fields = Map::new();
        fields.insert(
            "Error".into(),
            json!({ "Code": self.code, "Message": self.message }),
        );
        answer(fields)
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if shared.unavailable.load(Ordering::SeqCst) {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [("content-type", "text/html")],
            "<html><body>503 Service Temporarily Unavailable</body></html>",
        )
            .into_response();
    }
    match accept(&shared, &headers, &body) {
        Ok((action, params)) => match serve(&shared, &action, &params).await {
            Ok(response) => response,
            Err(refusal) => record_refusal(&shared, refusal),
        },
        Err(refusal) => record_refusal(&shared, refusal),
    }
}

fn record_refusal(shared: &Shared, refusal: Refusal) -> Response {
    shared
        .queue
        .lock()
        .expect("the fake's lock")
        .refusals
        .push(refusal.code.to_owned());
    refusal.into_response()
}

/// Checks the envelope and the signature; returns the action and its parameters.
fn accept(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(String, Map), Refusal> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let action = header("x-tc-action").ok_or_else(|| {
        refuse(
            "MissingParameter",
            "The request is missing a required parameter `X-TC-Action`.",
        )
    })?;
    if header("x-tc-version").as_deref() != Some("2018-07-17") {
        return Err(refuse(
            "NoSuchVersion",
            "The requested version does not exist or is not supported by this action.",
        ));
    }
    let timestamp: u64 = header("x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| refuse("MissingParameter", "X-TC-Timestamp is missing or invalid."))?;
    if timestamp.abs_diff(unix_now().as_secs()) > TIMESTAMP_SKEW_SECS {
        return Err(refuse(
            "AuthFailure.SignatureExpire",
            "Signature expired: the timestamp is more than 5 minutes from the server time.",
        ));
    }
    let authorization = header("authorization")
        .ok_or_else(|| {
            refuse(
                "AuthFailure.MFAFailure",
                "The Authorization header is missing.",
            )
        })
        .and_then(|h| {
            Authorization::parse(&h)
                .map_err(|e| refuse("AuthFailure.SignatureFailure", e.to_string()))
        })?;
    let options = &shared.options;
    if authorization.secret_id != options.secret_id {
        return Err(refuse(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    }
    if authorization.service != "vod" {
        return Err(refuse(
            "AuthFailure.SignatureFailure",
            "The credential scope names another service.",
        ));
    }
    authorization
        .verify(options.secret_key.as_bytes(), header, body, timestamp)
        .map_err(|_| {
            refuse(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature \
                 is correct.",
            )
        })?;
    let params = match serde_json::from_slice(body) {
        Ok(Value::Object(params)) => params,
        _ => {
            return Err(refuse(
                "InvalidParameter",
                "The request body is not a JSON object.",
            ));
        }
    };
    if let Some(expected) = options.sub_app_id
        && params.get("SubAppId").and_then(Value::as_u64) != Some(expected)
    {
        return Err(refuse(
            "InvalidParameterValue.SubAppId",
            "SubAppId is missing or is not this account's application.",
        ));
    }
    let mut queue = shared.queue.lock().expect("the fake's lock");
    queue.calls.push(Call {
        action: action.clone(),
        params: Value::Object(params.clone()),
        region: header("x-tc-region"),
    });
    Ok((action, params))
}

async fn serve(shared: &Shared, action: &str, params: &Map) -> Result<Response, Refusal> {
    match action {
        "PullEvents" => Ok(pull(shared).await),
        "ConfirmEvents" => {
            if shared.confirms_held.load(Ordering::SeqCst) {
                shared.confirms_waiting.fetch_add(1, Ordering::SeqCst);
                loop {
                    let released = shared.released.notified();
                    tokio::pin!(released);
                    released.as_mut().enable();
                    if !shared.confirms_held.load(Ordering::SeqCst) {
                        break;
                    }
                    released.await;
                }
            }
            confirm(shared, params)
        }
        "DescribeEventConfig" => {
            let queue = shared.queue.lock().expect("the fake's lock");
            Ok(answer(queue.config.clone()))
        }
        "ModifyEventConfig" => modify(shared, params),
        "DescribeEventsState" => {
            let mut queue = shared.queue.lock().expect("the fake's lock");
            queue.expire(shared.options.clock.now_ms());
            let mut fields = Map::new();
            fields.insert(
                "CountOfEventsToPull".into(),
                Value::from(queue.waiting.len()),
            );
            Ok(answer(fields))
        }
        other => Err(refuse(
            "InvalidAction",
            format!("The action {other} does not exist in the fake VOD API."),
        )),
    }
}

async fn pull(shared: &Shared) -> Response {
    let deadline = tokio::time::Instant::now() + shared.options.hold;
    loop {
        // Registered before the queue is looked at, so a push in between still wakes it.
        let arrived = shared.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        {
            let mut queue = shared.queue.lock().expect("the fake's lock");
            let now = shared.options.clock.now_ms();
            queue.expire(now);
            if !queue.waiting.is_empty() {
                let events = queue.take(now);
                let mut fields = Map::new();
                fields.insert("EventSet".into(), Value::from(events));
                return answer(fields);
            }
        }
        if tokio::time::timeout_at(deadline, arrived).await.is_err() {
            let mut fields = Map::new();
            fields.insert("EventSet".into(), Value::Array(Vec::new()));
            return answer(fields);
        }
    }
}

fn confirm(shared: &Shared, params: &Map) -> Result<Response, Refusal> {
    let handles: Vec<String> = params
        .get("EventHandles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if handles.is_empty() {
        return Err(refuse(
            "MissingParameter",
            "EventHandles is missing or empty.",
        ));
    }
    if handles.len() > MAX_EVENTS {
        return Err(refuse(
            "InvalidParameterValue",
            format!("EventHandles holds at most {MAX_EVENTS} handles."),
        ));
    }
    let mut queue = shared.queue.lock().expect("the fake's lock");
    queue.expire(shared.options.clock.now_ms());
    // All or nothing: one handle past its 30 s refuses the call.
    if let Some(bad) = handles.iter().find(|h| !queue.in_flight.contains_key(*h)) {
        let why = if queue.stale.contains(bad) {
            "expired (more than 30 s old)"
        } else {
            "unknown"
        };
        return Err(refuse(
            "InvalidParameterValue",
            format!("(4000) EventHandle {bad} is {why}."),
        ));
    }
    for handle in handles {
        if let Some(delivery) = queue.in_flight.remove(&handle) {
            queue.confirmed.push(delivery.queued.event);
        }
    }
    Ok(answer(Map::new()))
}

fn modify(shared: &Shared, params: &Map) -> Result<Response, Refusal> {
    let allowed: [(&str, &[&str]); 4] = [
        ("Mode", &["PUSH", "PULL"]),
        ("NotificationUrl", &[]),
        ("UploadMediaCompleteEventSwitch", &["ON", "OFF"]),
        ("DeleteMediaCompleteEventSwitch", &["ON", "OFF"]),
    ];
    let mut changes = Vec::new();
    for (name, values) in allowed {
        match params.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(v)) if values.is_empty() || values.contains(&v.as_str()) => {
                changes.push((name, v.clone()));
            }
            Some(_) => {
                return Err(refuse(
                    "InvalidParameterValue",
                    format!("{name} must be one of {values:?}."),
                ));
            }
        }
    }
    let mut queue = shared.queue.lock().expect("the fake's lock");
    for (name, value) in changes {
        queue.config.insert(name.to_owned(), Value::from(value));
    }
    Ok(answer(Map::new()))
}

/// Event bodies in VOD's v3 format (without `EventHandle`), the other types' fields `null`.
pub mod events {
    use serde_json::{Value, json};

    const OTHER_FIELDS: [&str; 12] = [
        "FileUploadEvent",
        "ProcedureStateChangeEvent",
        "FileDeleteEvent",
        "PullCompleteEvent",
        "EditMediaCompleteEvent",
        "SplitMediaCompleteEvent",
        "ComposeMediaCompleteEvent",
        "ClipCompleteEvent",
        "TranscodeCompleteEvent",
        "ReviewAudioVideoCompleteEvent",
        "RestoreMediaCompleteEvent",
        "PersistenceCompleteEvent",
    ];

    fn event(event_type: &str, field: &str, body: Value) -> Value {
        let mut event = serde_json::Map::new();
        event.insert("EventType".into(), Value::from(event_type));
        for other in OTHER_FIELDS {
            event.insert(other.into(), Value::Null);
        }
        event.insert(field.into(), body);
        Value::Object(event)
    }

    /// `NewFileUpload` carrying the upload signature's `sourceContext`.
    pub fn new_file_upload(file_id: &str, source_context: &str) -> Value {
        event(
            "NewFileUpload",
            "FileUploadEvent",
            json!({
                "FileId": file_id,
                "MediaBasicInfo": {
                    "Name": "clip", "Description": "", "CreateTime": "2019-01-09T16:36:22Z",
                    "UpdateTime": "2019-01-09T16:36:24Z", "ExpireTime": "9999-12-31T23:59:59Z",
                    "ClassId": 0, "ClassName": "", "ClassPath": "", "CoverUrl": "",
                    "Type": "mp4",
                    "MediaUrl": format!("http://1500000000.vod2.myqcloud.com/f/{file_id}/f0.mp4"),
                    "SourceInfo": {"SourceType": "Upload", "SourceContext": source_context},
                    "StorageRegion": "ap-guangzhou", "StoragePath": "", "TagSet": [], "Vid": "",
                    "Category": "Video",
                    "Status": "Normal", "StorageClass": "STANDARD"
                },
                "ProcedureTaskId": "",
                "ReviewAudioVideoTaskId": "",
                "MetaData": null
            }),
        )
    }

    /// `ProcedureStateChanged`: the task flow on `file_id` finished with `err_code`.
    pub fn procedure_state_changed(file_id: &str, session_context: &str, err_code: i64) -> Value {
        event(
            "ProcedureStateChanged",
            "ProcedureStateChangeEvent",
            json!({
                "TaskId": format!("1500000000-procedurev2-{file_id}"),
                "Status": "FINISH",
                "ErrCode": err_code,
                "Message": if err_code == 0 { "SUCCESS" } else { "FAILED" },
                "FileId": file_id,
                "FileName": "clip",
                "FileUrl": format!("http://1500000000.vod2.myqcloud.com/f/{file_id}/f0.mp4"),
                "MetaData": null,
                "MediaProcessResultSet": [],
                "AiContentReviewResultSet": [],
                "AiAnalysisResultSet": [],
                "AiRecognitionResultSet": [],
                "TasksPriority": 0,
                "TasksNotifyMode": "",
                "SessionContext": session_context,
                "SessionId": "",
                "Operator": "",
                "OperationType": ""
            }),
        )
    }

    /// `FileDeleted` for `file_ids`.
    pub fn file_deleted(file_ids: &[&str]) -> Value {
        event(
            "FileDeleted",
            "FileDeleteEvent",
            json!({ "FileIdSet": file_ids, "FileDeleteResultInfo": [] }),
        )
    }
}
