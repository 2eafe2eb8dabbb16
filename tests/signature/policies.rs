//! Each policy rule, through the HTTP API: 40302 names the field, 40001 names the field.

use crate::support::app::*;

#[tokio::test]
async fn a_value_outside_the_policy_gets_40302_naming_the_field() {
    let app = spawn_app_with(|s| {
        let p = s.policies.get_mut("default").expect("default policy");
        p.allowed_class_ids = vec![1];
        p.procedure = Some("review".into());
        p.allowed_storage_regions = vec!["ap-guangzhou".into()];
    })
    .await;
    for (query, field) in [
        ("classId=2", "classId"),
        ("procedure=other", "procedure"),
        ("storageRegion=ap-beijing", "storageRegion"),
        ("vodSubAppId=7", "vodSubAppId"),
        ("taskPriority=1", "taskPriority"),
        ("taskNotifyMode=None", "taskNotifyMode"),
        ("validitySeconds=3601", "validitySeconds"),
        ("sourceContext=someone-else", "sourceContext"),
        ("sessionContext=x", "sessionContext"),
    ] {
        let response = app.get_signature(query).await;
        assert_error(&response, 403, 40302);
        let message = response.2["message"].as_str().unwrap_or("");
        assert!(message.starts_with(field), "{query}: {message}");
    }
    assert_eq!(app.get_signature("classId=1").await.0, 200);
    assert_eq!(app.get_signature("storageRegion=ap-guangzhou").await.0, 200);
}

#[tokio::test]
async fn invalid_values_get_40001_naming_the_field() {
    let app = spawn_app_with(|s| {
        let p = s.policies.get_mut("default").expect("default policy");
        p.procedure = Some("review".into());
        p.source_context = "{subject}:{client}".into();
        p.allow_client_session_context = true;
    })
    .await;
    let long_session = "s".repeat(1001);
    for (body, field) in [
        (r#"{"validitySeconds": 0}"#.to_owned(), "validitySeconds"),
        (
            r#"{"validitySeconds": 7776001}"#.to_owned(),
            "validitySeconds",
        ),
        (r#"{"validitySeconds": 1.5}"#.to_owned(), "validitySeconds"),
        (r#"{"taskPriority": 11}"#.to_owned(), "taskPriority"),
        (
            r#"{"taskNotifyMode": "Always"}"#.to_owned(),
            "taskNotifyMode",
        ),
        (r#"{"storageRegion": "Mars"}"#.to_owned(), "storageRegion"),
        (r#"{"classId": -1}"#.to_owned(), "classId"),
        (
            format!(r#"{{"sessionContext": "{long_session}"}}"#),
            "sessionContext",
        ),
        (
            format!(r#"{{"sourceContext": "{}"}}"#, "x".repeat(244)),
            "sourceContext",
        ),
        (
            r#"{"sourceContext": "a\u0000b"}"#.to_owned(),
            "sourceContext",
        ),
        (r#"{"procedur": "typo"}"#.to_owned(), "procedur"),
    ] {
        let response = app.post_signature(&body).await;
        assert_error(&response, 400, 40001);
        let message = response.2["message"].as_str().unwrap_or("");
        assert!(message.contains(field), "{body}: {message}");
    }
    // "user-1:" is 7 characters: 243 more make 250, the most that fits.
    let (status, _, body) = app
        .post_signature(&format!(r#"{{"sourceContext": "{}"}}"#, "x".repeat(243)))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_suspended_policy_gets_40301() {
    let app = spawn_app_with(|s| {
        s.policies
            .get_mut("default")
            .expect("default policy")
            .allow_upload = false;
    })
    .await;
    assert_error(&app.get_signature("").await, 403, 40301);
}

#[tokio::test]
async fn each_key_gets_its_own_policy_and_subject() {
    let mut other_key = String::new();
    let app = spawn_app_with(|s| {
        s.policies.insert(
            "long".into(),
            vodsign::config::PolicySettings {
                validity_seconds: 86_400,
                source_context: "tenant-{credential_id}/{subject}".into(),
                ..Default::default()
            },
        );
        other_key = add_key(s, "partner", "user-9", "long");
    })
    .await;
    let (status, _, body) = app
        .call(
            axum::http::Request::get("/v1/signature")
                .header("authorization", format!("Bearer {other_key}"))
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let signature = body["data"]["signature"].as_str().expect("signature");
    let params = vodsign::signature::DecodedSignature::decode(signature)
        .expect("decodes")
        .params()
        .expect("parses");
    assert_eq!(params.validity.seconds(), 86_400);
    assert_eq!(
        params.options.source_context.as_ref().map(|s| s.as_str()),
        Some("tenant-partner/user-9")
    );
}

fn signed_context(body: &serde_json::Value) -> String {
    let signature = body["data"]["signature"].as_str().expect("signature");
    vodsign::signature::DecodedSignature::decode(signature)
        .expect("decodes")
        .params()
        .expect("parses")
        .options
        .source_context
        .expect("a sourceContext")
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn neither_a_client_nor_a_subject_can_change_the_attributed_uid() {
    let mut quoted_key = String::new();
    let app = spawn_app_with(|s| {
        s.policies
            .get_mut("default")
            .expect("default policy")
            .source_context = r#"{{"uid":"{subject}","c":"{client}"}}"#.into();
        quoted_key = add_key(s, "quoted", r#"x","uid":"root"#, "default");
    })
    .await;
    let (status, _, body) = app
        .post_signature(r#"{"sourceContext": "\",\"uid\":\"victim-user"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let context = signed_context(&body);
    let parsed: serde_json::Value = serde_json::from_str(&context).expect("JSON");
    assert_eq!(parsed["uid"], "user-1", "{context}");
    assert_eq!(parsed.as_object().map(|o| o.len()), Some(2), "{context}");

    let (status, _, body) = app
        .call(
            axum::http::Request::get("/v1/signature")
                .header("authorization", format!("Bearer {quoted_key}"))
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let context = signed_context(&body);
    let parsed: serde_json::Value = serde_json::from_str(&context).expect("JSON");
    assert_eq!(parsed["uid"], r#"x","uid":"root"#, "{context}");
}
