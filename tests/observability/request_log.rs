//! The one request log line: who asked what, how it ended, how long it took, no secrets;
//! and one flat schema shared by request lines and audit lines (docs/observability.md).

use serde_json::Value;
use vodsign::config::{PolicyLimits, PolicySettings};

use crate::support::app::*;
use crate::support::observe::*;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// The one access record of request `id` (see [`access_record`]).
#[track_caller]
fn request_line(id: &str) -> Value {
    access_record(id)
}

/// The fields every JSON line has, whatever its kind: an RFC 3339 UTC `timestamp`, a
/// `level`, a `target` and a `message`, all strings at the top level, and nothing nested.
#[track_caller]
fn assert_common_fields(line: &Value) {
    let object = line.as_object().expect("a JSON object");
    let timestamp = line["timestamp"].as_str().expect("timestamp");
    assert!(
        timestamp.len() >= 20 && timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
        "{timestamp}"
    );
    for key in ["level", "target", "message"] {
        assert!(
            line[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {line}"
        );
    }
    for forbidden in ["span", "spans", "fields", "time"] {
        assert!(object.get(forbidden).is_none(), "{forbidden} in {line}");
    }
    assert!(
        object.values().all(|v| !v.is_object() && !v.is_array()),
        "every field flat: {line}"
    );
}

#[tokio::test]
async fn the_request_line_names_id_method_route_status_latency_client_and_caller() {
    let app = spawn_app().await;
    let id = unique_id("log");
    let (status, _, _) = app
        .call(get_with(
            "/v1/signature?validitySeconds=60",
            &id,
            Some(&app.api_key),
        ))
        .await;
    assert_eq!(status, 200);
    let line = request_line(&id);
    assert_common_fields(&line);
    assert_eq!(line["level"], "INFO");
    // With audit events in the JSON log, the audit line is the request's access record.
    assert_eq!(line["target"], "vodsign::audit");
    assert_eq!(line["message"], "audit signature.issued");
    assert_eq!(
        lines_with(&id).len(),
        1,
        "one line for the request: {:?}",
        lines_with(&id)
    );
    assert_eq!(line["request_id"], id.as_str());
    assert_eq!(line["method"], "GET");
    assert_eq!(
        line["route"], "/v1/signature",
        "the template, not the raw path"
    );
    assert_eq!(line["client_ip"], "203.0.113.7");
    assert_eq!(line["credential_id"], "test");
    assert_eq!(line["status"], 200);
    assert!(line["latency_us"].as_u64().is_some(), "{line}");
    assert!(
        line.get("trace_id").is_none(),
        "no traceparent sent: {line}"
    );
    let text = line.to_string();
    assert!(
        !text.contains("validitySeconds"),
        "no query string in the line: {text}"
    );
    for secret in [&app.api_key, &app.secret_key] {
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached the log line"
        );
    }
}

#[tokio::test]
async fn request_lines_and_audit_lines_share_one_flat_schema() {
    let app = spawn_app().await;
    let id = unique_id("schema");
    let (status, _, _) = app
        .call(get_with("/v1/signature", &id, Some(&app.api_key)))
        .await;
    assert_eq!(status, 200);
    let audit = access_record(&id);
    assert_eq!(audit["target"], "vodsign::audit");
    let health = unique_id("schemahealth");
    let (status, _, _) = app.call(get_with("/healthz", &health, None)).await;
    assert_eq!(status, 200);
    let request = request_line(&health);
    assert_eq!(request["target"], "vodsign::http");
    assert_eq!(request["message"], "request finished");
    assert_common_fields(&audit);
    assert_common_fields(&request);
    assert_eq!(audit["message"], "audit signature.issued");
    // The fields naming a request have one name, and one kind of value, in both.
    for key in ["request_id", "method", "client_ip", "route"] {
        assert!(audit[key].is_string(), "{key}: {audit}");
        assert!(request[key].is_string(), "{key}: {request}");
    }
    assert_eq!(audit["client_ip"], request["client_ip"]);
    assert_eq!(audit["route"], "/v1/signature");
    assert_eq!(request["route"], "/healthz");
    for key in ["status", "latency_us"] {
        assert!(audit[key].is_u64(), "{key}: {audit}");
        assert!(request[key].is_u64(), "{key}: {request}");
    }
    assert_eq!(audit["credential_id"], "test");
}

#[tokio::test]
async fn the_caller_is_named_on_refusals_after_the_auth_check() {
    let app = spawn_app_with(|settings| {
        settings.policies.insert(
            "default".into(),
            PolicySettings {
                limits: Some(PolicyLimits::per_minute(1, 1).expect("valid limits")),
                ..PolicySettings::default()
            },
        );
    })
    .await;
    // 403: a value the policy does not allow; 429: the second request of a rate of 1.
    let forbidden = unique_id("log403");
    let (status, _, _) = app
        .call(get_with(
            "/v1/signature?classId=9",
            &forbidden,
            Some(&app.api_key),
        ))
        .await;
    assert_eq!(status, 403);
    let limited = unique_id("log429");
    let (status, _, _) = app
        .call(get_with("/v1/signature", &limited, Some(&app.api_key)))
        .await;
    assert_eq!(status, 429);
    let unauthenticated = unique_id("log401");
    let (status, _, _) = app
        .call(get_with("/v1/signature", &unauthenticated, None))
        .await;
    assert_eq!(status, 401);

    for (id, status) in [(&forbidden, 403), (&limited, 429)] {
        let line = request_line(id);
        assert_eq!(line["status"], status);
        assert_eq!(line["credential_id"], "test", "{line}");
    }
    let line = request_line(&unauthenticated);
    assert!(line["credential_id"].is_null(), "no caller proven: {line}");
}

#[tokio::test]
async fn a_valid_traceparent_is_carried_into_the_request_line_and_the_audit_event() {
    let app = spawn_app().await;
    let id = unique_id("trace");
    let mut request = get_with("/v1/signature", &id, Some(&app.api_key));
    request.headers_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_ID}-01")
            .parse()
            .expect("value"),
    );
    let (status, headers, _) = app.call(request).await;
    assert_eq!(status, 200);
    assert!(headers.get("traceparent").is_none(), "never echoed");
    let line = request_line(&id);
    assert_eq!(line["trace_id"], TRACE_ID);
    assert_eq!(line["parent_span_id"], PARENT_ID);
    let audit = audit_events(&id);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["trace_id"], TRACE_ID);
    assert_eq!(audit[0]["parent_span_id"], PARENT_ID);
}

#[tokio::test]
async fn an_invalid_traceparent_is_ignored() {
    let app = spawn_app().await;
    for (n, value) in [
        format!("00-{}-{PARENT_ID}-01", TRACE_ID.to_uppercase()),
        format!("00-{}-{PARENT_ID}-01", "0".repeat(32)),
        format!("ff-{TRACE_ID}-{PARENT_ID}-01"),
        "00-not-a-trace-context".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let id = unique_id(&format!("badtrace{n}"));
        let mut request = get_with("/v1/signature", &id, Some(&app.api_key));
        request
            .headers_mut()
            .insert("traceparent", value.parse().expect("value"));
        let (status, _, _) = app.call(request).await;
        assert_eq!(
            status, 200,
            "{value}: the request is served as if it had none"
        );
        let line = request_line(&id);
        assert!(line.get("trace_id").is_none(), "{value}: {line}");
        assert!(line.get("parent_span_id").is_none(), "{value}: {line}");
        let audit = audit_events(&id);
        assert!(audit[0].get("trace_id").is_none(), "{value}: {audit:?}");
        assert!(!line.to_string().contains(value.as_str()));
    }
}

#[tokio::test]
async fn unmatched_paths_log_a_fixed_route_label() {
    let app = spawn_app().await;
    let id = unique_id("log404");
    let (status, _, _) = app.call(get_with("/no/such/path-12345", &id, None)).await;
    assert_eq!(status, 404);
    let line = request_line(&id);
    assert_common_fields(&line);
    assert_eq!(line["target"], "vodsign::http");
    assert_eq!(line["message"], "request finished");
    assert_eq!(line["route"], "unmatched");
    assert!(!line.to_string().contains("path-12345"));
}
