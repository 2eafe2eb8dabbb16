//! One audit event per signature issued and per refusal, with who, what and where, and
//! never the signature, the API key or the SecretKey.

use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use vodsign::config::PolicyLimits;
use vodsign::config::{AuditDestination, PolicySettings};

use crate::support::app::*;
use crate::support::observe::*;

#[tokio::test]
async fn an_issuance_is_audited_once_with_its_parameters_and_a_fingerprint() {
    let app = spawn_app().await;
    let id = unique_id("audit-ok");
    let (status, _, body) = app
        .call(get_with(
            "/v1/signature?validitySeconds=600",
            &id,
            Some(&app.api_key),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let signature = body["data"]["signature"].as_str().expect("signature");
    let events = audit_events(&id);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["event"], "signature.issued");
    assert_eq!(event["code"], 0);
    assert_eq!(event["status"], 200);
    assert_eq!(event["request_id"], id.as_str());
    assert_eq!(event["subject"], "user-1");
    assert_eq!(event["credential_id"], "test");
    assert_eq!(event["credential_kind"], "api_key");
    assert_eq!(event["policy"], "default");
    assert_eq!(event["client_ip"], "203.0.113.7");
    assert_eq!(event["expire_time"], body["data"]["expireTime"]);
    assert_eq!(event["validity_seconds"], 600);
    assert_eq!(event["source_context"], "user-1");
    assert_eq!(event["one_time_valid"], true);
    assert!(event["random"].as_u64().is_some());
    assert!(
        event["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(event.get("time").is_none(), "one timestamp: {event}");
    let digest = hex::encode(Sha256::digest(signature.as_bytes()));
    assert_eq!(event["signature_sha256"], &digest[..16]);
    assert_no_secrets(event, &app, signature);
}

#[tokio::test]
async fn every_kind_of_refusal_is_audited_once_with_its_code() {
    let mut frozen = String::new();
    let app = spawn_app_with(|settings| {
        frozen = add_key(settings, "frozen", "user-2", "frozen");
        settings.policies.insert(
            "frozen".into(),
            PolicySettings {
                allow_upload: false,
                ..PolicySettings::default()
            },
        );
    })
    .await;
    let wrong = format!("{}x", app.api_key);
    let cases: [(&str, Option<&str>, u16, u64, bool); 5] = [
        ("/v1/signature", None, 401, 40101, false),
        ("/v1/signature", Some(&wrong), 401, 40102, false),
        (
            "/v1/signature?classId=abc",
            Some(&app.api_key),
            400,
            40001,
            true,
        ),
        (
            "/v1/signature?classId=9",
            Some(&app.api_key),
            403,
            40302,
            true,
        ),
        ("/v1/signature", Some(&frozen), 403, 40301, true),
    ];
    for (uri, credential, status, code, identified) in cases {
        let id = unique_id("audit-no");
        let (answered, _, body) = app.call(get_with(uri, &id, credential)).await;
        assert_eq!(answered.as_u16(), status, "{uri}: {body}");
        let events = audit_events(&id);
        assert_eq!(events.len(), 1, "{uri}: {events:?}");
        let event = &events[0];
        assert_eq!(event["event"], "signature.refused", "{event}");
        assert_eq!(event["code"], code, "{event}");
        assert_eq!(event["status"], status);
        assert_eq!(event["client_ip"], "203.0.113.7");
        assert_eq!(event["request_id"], id.as_str());
        assert_eq!(event["credential_id"].is_string(), identified, "{event}");
        assert!(event.get("signature_sha256").is_none());
        assert_no_secrets(event, &app, &wrong);
        assert!(!event.to_string().contains(&frozen));
    }
}

#[tokio::test]
async fn the_file_destination_appends_json_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").expect("seed the file");
    let audit_path = path.clone();
    let app = spawn_app_with(move |settings| {
        settings.audit.destination = AuditDestination::File;
        settings.audit.path = Some(audit_path);
    })
    .await;
    let ok = unique_id("file-ok");
    let refused = unique_id("file-no");
    app.call(get_with("/v1/signature", &ok, Some(&app.api_key)))
        .await;
    app.call(get_with("/v1/signature", &refused, None)).await;
    // The writer runs on its own thread: wait, boundedly, for both lines.
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let text = std::fs::read_to_string(&path).expect("read audit file");
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("every line is JSON"))
            .collect();
        if lines.len() >= 3 || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(lines.len(), 3, "appended after the earlier line: {lines:?}");
    assert_eq!(lines[0]["earlier"], true);
    assert_eq!(lines[1]["request_id"], ok.as_str());
    assert_eq!(lines[1]["event"], "signature.issued");
    assert_eq!(lines[1]["credential_id"], "test");
    assert_eq!(lines[2]["request_id"], refused.as_str());
    assert_eq!(lines[2]["code"], 40101);
    assert!(
        audit_events(&ok).is_empty(),
        "with a file destination, audit events are not logged too"
    );
    let text = std::fs::read_to_string(&path).expect("read audit file");
    assert!(!text.contains(&app.api_key) && !text.contains(&app.secret_key));
}

#[track_caller]
fn assert_no_secrets(event: &Value, app: &TestApp, signature: &str) {
    let text = event.to_string();
    for secret in [signature, app.api_key.as_str(), app.secret_key.as_str()] {
        assert!(!text.contains(secret), "a secret reached the audit event");
    }
}

#[tokio::test]
async fn a_rate_limited_request_is_audited_with_the_caller() {
    let app = spawn_app_with(|settings| {
        settings
            .policies
            .get_mut("default")
            .expect("default policy")
            .limits = Some(PolicyLimits::per_minute(1, 1).expect("valid limits"));
    })
    .await;
    let first = unique_id("rl-ok");
    let (status, _, _) = app
        .call(get_with("/v1/signature", &first, Some(&app.api_key)))
        .await;
    assert_eq!(status, 200);
    let second = unique_id("rl-no");
    let (status, _, body) = app
        .call(get_with("/v1/signature", &second, Some(&app.api_key)))
        .await;
    assert_eq!(status, 429, "{body}");
    let events = audit_events(&second);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "signature.refused");
    assert_eq!(events[0]["code"], body["code"]);
    assert_eq!(events[0]["credential_id"], "test");
    assert_eq!(events[0]["policy"], "default");
}

#[tokio::test]
async fn a_trusted_proxy_forwarded_client_is_the_audited_and_logged_ip() {
    let app = spawn_app_with(|settings| {
        settings.limits.trusted_proxies = vec!["203.0.113.0/24".parse().expect("net")];
    })
    .await;
    let id = unique_id("xff");
    let mut request = get_with("/v1/signature", &id, Some(&app.api_key));
    request
        .headers_mut()
        .insert("x-forwarded-for", "198.51.100.23".parse().expect("value"));
    let (status, _, _) = app.call(request).await;
    assert_eq!(status, 200);
    let lines = lines_with(&id);
    let audit = lines
        .iter()
        .find(|l| l["target"] == "vodsign::audit")
        .expect("an audit event");
    assert_eq!(audit["client_ip"], "198.51.100.23");
    assert_eq!(access_record(&id)["client_ip"], "198.51.100.23");
    let health = unique_id("xffhealth");
    let mut request = get_with("/healthz", &health, None);
    request
        .headers_mut()
        .insert("x-forwarded-for", "198.51.100.24".parse().expect("value"));
    app.call(request).await;
    let finished = access_record(&health);
    assert_eq!(finished["message"], "request finished");
    assert_eq!(finished["client_ip"], "198.51.100.24");
}

/// A request dropped before it was answered (the client left while its body was still
/// coming) is audited once, as the timeout's refusal: with audit events in the JSON log,
/// the line the request held back to merge with its access record is written when the
/// request's future is dropped, not lost.
#[tokio::test]
async fn a_request_dropped_half_way_is_still_audited_once() {
    use std::net::SocketAddr;

    use axum::body::{Body, Bytes};
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use tower::ServiceExt as _;

    let app = spawn_app().await;
    let id = unique_id("left");
    let (_sender, body) = http_body_util::Channel::<Bytes, std::convert::Infallible>::new(1);
    let request = Request::post("/v1/signature")
        .header("x-request-id", &id)
        .header("authorization", format!("Bearer {}", app.api_key))
        .header("content-type", "application/json")
        .extension(ConnectInfo(SocketAddr::from(PEER)))
        .body(Body::new(body))
        .expect("request");
    let call = app.router.clone().oneshot(request);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), call)
            .await
            .is_err(),
        "the body never ends, so neither does the request"
    );
    let audit = audit_events(&id);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["event"], "signature.refused");
    assert_eq!(audit[0]["status"], 503);
}
