//! Strict input: one JSON object per body, UTF-8 queries, and no signature for `HEAD`.

use axum::body::Body;
use axum::http::Request;
use vodsign::config::PolicyLimits;

use crate::support::app::*;
use crate::support::observe::*;

#[track_caller]
fn assert_message_mentions(
    response: &(
        axum::http::StatusCode,
        axum::http::HeaderMap,
        serde_json::Value,
    ),
    words: &str,
) {
    let message = response.2["message"].as_str().unwrap_or("");
    assert!(
        message.contains(words),
        "{message:?} should mention {words:?}"
    );
}

#[tokio::test]
async fn data_after_the_json_object_gets_40001() {
    let app = spawn_app().await;
    let trailing = app
        .post_signature(r#"{"validitySeconds":60}{"validitySeconds":600}"#)
        .await;
    assert_error(&trailing, 400, 40001);
    assert_message_mentions(&trailing, "after its object");
    assert_error(
        &app.post_signature(r#"{"validitySeconds":60} x"#).await,
        400,
        40001,
    );
    // Whitespace around the object is not data.
    let spaced = app
        .post_signature(" \n{\"validitySeconds\":60}\r\n\t ")
        .await;
    assert_eq!(spaced.0, 200, "{}", spaced.2);
}

#[tokio::test]
async fn a_json_array_or_scalar_body_gets_40001() {
    let app = spawn_app().await;
    // Nine fields by position: serde would read the last one as validitySeconds.
    let positional = app
        .post_signature("[null,null,null,null,null,null,null,null,600]")
        .await;
    assert_error(&positional, 400, 40001);
    assert_message_mentions(&positional, "one object");
    for scalar in ["600", "\"x\"", "null", "true"] {
        assert_error(&app.post_signature(scalar).await, 400, 40001);
    }
}

#[tokio::test]
async fn a_query_that_is_not_utf8_once_decoded_gets_40001() {
    let app = spawn_app().await;
    for query in [
        "sessionContext=%FF",
        "sessionContext=ok%C3",
        "%FF=1",
        "sessionContext=%E4%B8",
    ] {
        let refused = app.get_signature(query).await;
        assert_error(&refused, 400, 40001);
        assert_message_mentions(&refused, "UTF-8");
    }
    // Percent-encoded UTF-8 and `+` for a space still work.
    let parsed = vodsign::parse_query_request("sessionContext=%E4%B8%AD+x").expect("valid UTF-8");
    assert_eq!(parsed.session_context.as_deref(), Some("\u{4e2d} x"));
}

#[tokio::test]
async fn head_gets_405_with_allow_and_spends_nothing() {
    let app = spawn_app_with(|settings| {
        settings
            .policies
            .get_mut("default")
            .expect("default policy")
            .limits = Some(
            PolicyLimits::per_minute(1, 1)
                .and_then(|l| l.with_quota(1, 86_400))
                .expect("valid limits"),
        );
    })
    .await;
    let id = unique_id("head");
    let head = Request::head("/v1/signature?validitySeconds=600")
        .header("authorization", format!("Bearer {}", app.api_key))
        .header("x-request-id", &id)
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = app.call(head).await;
    // An answer to HEAD carries no content (RFC 9110, 9.3.2): its code is in the audit event.
    assert_eq!(status.as_u16(), 405);
    assert_eq!(headers["allow"], "GET, POST");
    assert_eq!(body, "", "an answer to HEAD has no content");
    let events = audit_events(&id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "signature.refused");
    assert_eq!(events[0]["code"], 40501);
    // The one signature of the rate and the quota is still there.
    let (status, _, body) = app.get_signature("").await;
    assert_eq!(status, 200, "{body}");
}
