//! A signature from the endpoint verifies with the key and carries exactly the policy's
//! parameters.

use vodsign::signature::DecodedSignature;
use vodsign::unix_now;

use crate::support::app::*;

fn decode(body: &serde_json::Value) -> DecodedSignature {
    let signature = body["data"]["signature"].as_str().expect("data.signature");
    DecodedSignature::decode(signature).expect("decodes")
}

#[tokio::test]
async fn issues_a_signature_that_verifies_with_the_key() {
    let app = spawn_app().await;
    let before = unix_now();
    let (status, headers, body) = app.post_signature("").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], 0);
    assert_eq!(body["message"], "ok");
    assert_eq!(headers["cache-control"], "no-store");
    let decoded = decode(&body);
    assert!(app.signer().verifies(&decoded));
    assert!(!vodsign::signature::Signer::new(b"another key").verifies(&decoded));
    let params = decoded.params().expect("parses");
    assert_eq!(params.secret_id.as_str(), app.secret_id);
    assert!((before..=unix_now()).contains(&params.current_time));
    assert_eq!(params.validity.seconds(), 3600);
    assert_eq!(body["data"]["expireTime"], params.expire_time());
    // The default policy: one-time, sourceContext = the subject, nothing else.
    assert_eq!(params.options.one_time_valid, Some(true));
    assert_eq!(
        params.options.source_context.as_ref().map(|s| s.as_str()),
        Some("user-1")
    );
    assert_eq!(params.options.procedure, None);
    assert_eq!(params.options.class_id, None);
    assert_eq!(params.options.storage_region, None);
}

#[tokio::test]
async fn get_and_post_with_an_empty_body_are_the_same_request() {
    let app = spawn_app().await;
    let (s1, _, get) = app.get_signature("").await;
    let (s2, _, post) = app
        .call(
            axum::http::Request::post("/v1/signature")
                .header("authorization", format!("Bearer {}", app.api_key))
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    let (a, b) = (
        decode(&get).params().expect("a"),
        decode(&post).params().expect("b"),
    );
    assert_eq!(a.options.source_context, b.options.source_context);
    assert_eq!(a.validity, b.validity);
}

#[tokio::test]
async fn every_signature_has_a_fresh_random() {
    let app = spawn_app().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let (_, _, body) = app.get_signature("").await;
        assert!(seen.insert(decode(&body).params().expect("parses").random));
    }
}

#[tokio::test]
async fn carries_exactly_the_policys_parameters() {
    let app = spawn_app_with(|s| {
        let p = s.policies.get_mut("default").expect("default policy");
        p.procedure = Some("review".into());
        p.task_priority = Some(3);
        p.task_notify_mode = Some("Finish".into());
        p.class_id = Some(12);
        p.storage_region = Some("ap-chongqing".into());
        p.vod_sub_app_id = Some(1_500_000_001);
        p.one_time_valid = false;
        p.validity_seconds = 120;
        p.max_validity_seconds = Some(600);
        p.source_context = "{{\"uid\":\"{subject}\",\"policy\":\"{policy}\"}}".into();
    })
    .await;
    let (status, _, body) = app.post_signature(r#"{"validitySeconds": 600}"#).await;
    assert_eq!(status, 200, "{body}");
    let decoded = decode(&body);
    assert!(app.signer().verifies(&decoded));
    let expected_tail = "&classId=12&procedure=review&taskPriority=3&taskNotifyMode=Finish\
        &sourceContext=%7B%22uid%22%3A%22user-1%22%2C%22policy%22%3A%22default%22%7D\
        &vodSubAppId=1500000001&storageRegion=ap-chongqing";
    assert!(
        decoded.original.ends_with(expected_tail),
        "{}",
        decoded.original
    );
    let params = decoded.params().expect("parses");
    assert_eq!(params.validity.seconds(), 600);
    assert_eq!(
        params.options.one_time_valid, None,
        "oneTimeValid left out when the policy turns it off"
    );
}
