//! For the observability tests (and others that read logs or audit events): requests that carry a known request id and a
//! socket peer, and reading back the JSON log lines of one request.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use serde_json::Value;

use super::app::captured_logs;

/// The socket peer the test requests claim to come from.
pub const PEER: ([u8; 4], u16) = ([203, 0, 113, 7], 40_000);

/// A request id unique to one test call.
pub fn unique_id(tag: &str) -> String {
    format!("{tag}-{}", uuid::Uuid::new_v4())
}

/// `GET uri` with request id `id`, the peer [`PEER`] and, when given, a bearer credential.
pub fn get_with(uri: &str, id: &str, credential: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri)
        .header("x-request-id", id)
        .extension(ConnectInfo(SocketAddr::from(PEER)));
    if let Some(credential) = credential {
        builder = builder.header("authorization", format!("Bearer {credential}"));
    }
    builder.body(Body::empty()).expect("request")
}

/// Every captured JSON log line that mentions `id`.
pub fn lines_with(id: &str) -> Vec<Value> {
    captured_logs()
        .lines()
        .filter(|line| line.contains(id))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The audit events (target `vodsign::audit`) logged for request `id`.
pub fn audit_events(id: &str) -> Vec<Value> {
    lines_with(id)
        .into_iter()
        .filter(|line| line["target"] == "vodsign::audit")
        .collect()
}

/// The one access record of request `id`: the line with its `latency_us`. For a route that
/// writes an audit event to the JSON log, that is the audit line (one line per request);
/// for the others, the `request finished` line.
#[track_caller]
pub fn access_record(id: &str) -> Value {
    let records: Vec<_> = lines_with(id)
        .into_iter()
        .filter(|line| line.get("latency_us").is_some())
        .collect();
    assert_eq!(records.len(), 1, "exactly one access record: {records:?}");
    records.into_iter().next().expect("one line")
}
