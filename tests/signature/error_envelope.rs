//! Every error code this service can answer, each in the same envelope.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;

use crate::support::app::*;

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn no_credentials_get_40101_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let response = app.call(get_req("/v1/signature")).await;
    assert_error(&response, 401, 40101);
    assert_eq!(response.1["www-authenticate"], "Bearer");
    let basic = Request::get("/v1/signature")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(Body::empty())
        .expect("request");
    assert_error(&app.call(basic).await, 401, 40101);
}

#[tokio::test]
async fn bad_credentials_get_40102() {
    let app = spawn_app().await;
    let mut near = app.api_key.clone();
    near.pop();
    for credential in [
        near.as_str(),
        "vsk_test_nope",
        "garbage",
        "a.b.c",
        "vsk_unknown_x",
    ] {
        let request = Request::get("/v1/signature")
            .header("authorization", format!("Bearer {credential}"))
            .body(Body::empty())
            .expect("request");
        let response = app.call(request).await;
        assert_error(&response, 401, 40102);
        assert!(
            response.1["www-authenticate"]
                .to_str()
                .unwrap_or("")
                .contains("invalid_token")
        );
    }
    let empty = Request::get("/v1/signature")
        .header("authorization", "Bearer ")
        .body(Body::empty())
        .expect("request");
    assert_error(&app.call(empty).await, 401, 40102);
}

#[tokio::test]
async fn malformed_requests_get_40001() {
    let app = spawn_app().await;
    assert_error(&app.post_signature("{not json").await, 400, 40001);
    assert_error(&app.post_signature("[1, 2]").await, 400, 40001);
    assert_error(&app.get_signature("classId=abc").await, 400, 40001);
    assert_error(&app.get_signature("classId=1&classId=2").await, 400, 40001);
    let form = Request::post("/v1/signature")
        .header("authorization", format!("Bearer {}", app.api_key))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("classId=1"))
        .expect("request");
    let response = app.call(form).await;
    assert_error(&response, 400, 40001);
    assert!(
        response.2["message"]
            .as_str()
            .unwrap_or("")
            .contains("application/json")
    );
    // The media type is matched without case and without its parameters.
    let json_with_charset = Request::post("/v1/signature")
        .header("authorization", format!("Bearer {}", app.api_key))
        .header("content-type", "Application/JSON; charset=utf-8")
        .body(Body::from(r#"{"validitySeconds":600}"#))
        .expect("request");
    assert_eq!(app.call(json_with_charset).await.0, 200);
    let query_on_post = Request::post("/v1/signature?classId=1")
        .header("authorization", format!("Bearer {}", app.api_key))
        .body(Body::empty())
        .expect("request");
    assert_error(&app.call(query_on_post).await, 400, 40001);
}

#[tokio::test]
async fn unknown_path_gets_40401_and_wrong_method_40501() {
    let app = spawn_app().await;
    assert_error(&app.call(get_req("/v2/signature")).await, 404, 40401);
    let put = Request::put("/v1/signature")
        .body(Body::empty())
        .expect("request");
    let response = app.call(put).await;
    assert_error(&response, 405, 40501);
    assert_eq!(response.1["allow"], "GET, POST");
    // Refused before the auth-check: a wrong method with a valid key is still a 405.
    let delete = Request::delete("/v1/signature")
        .header("authorization", format!("Bearer {}", app.api_key))
        .body(Body::empty())
        .expect("request");
    assert_error(&app.call(delete).await, 405, 40501);
    // HEAD would sign and spend a signature nobody reads: 405 too (tests/signature/strictness.rs).
    let head = Request::head("/v1/signature?validitySeconds=600")
        .header("authorization", format!("Bearer {}", app.api_key))
        .body(Body::empty())
        .expect("request");
    // An answer to HEAD carries no content (RFC 9110, 9.3.2): the status and `Allow` say it;
    // its code, 40501, is in its audit event (tests/signature/strictness.rs).
    let (status, headers, body) = app.call(head).await;
    assert_eq!(status.as_u16(), 405);
    assert_eq!(headers["allow"], "GET, POST");
    assert_eq!(body, "", "an answer to HEAD has no content");
}

#[tokio::test]
async fn oversized_body_gets_41301() {
    let app = spawn_app().await;
    let huge = format!(r#"{{"sessionContext": "{}"}}"#, "x".repeat(20_000));
    assert_error(&app.post_signature(&huge).await, 413, 41301);
}

#[tokio::test]
async fn not_ready_gets_50301_and_healthz_stays_alive() {
    let app = spawn_app().await;
    assert_eq!(app.call(get_req("/readyz")).await.0, 200);
    app.state.start_draining();
    let response = app.call(get_req("/readyz")).await;
    assert_error(&response, 503, 50301);
    assert!(
        response.2["message"]
            .as_str()
            .unwrap_or("")
            .contains("shutting down")
    );
    let (status, _, body) = app.call(get_req("/healthz")).await;
    assert_eq!(
        (status.as_u16(), &body["code"]),
        (200, &serde_json::json!(0))
    );
}

async fn panics() -> &'static str {
    panic!("boom: do not leak this")
}

/// The layer stack of an app whose request timeout is `timeout_ms`, around routes that
/// misbehave on purpose.
async fn misbehaving(timeout_ms: u64) -> TestApp {
    let app = spawn_app_with(|s| {
        s.server.request_timeout_ms = timeout_ms;
        s.server.body_timeout_ms = s.server.body_timeout_ms.min(timeout_ms);
    })
    .await;
    let routes = Router::new().route("/panic", get(panics)).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    TestApp {
        router: vodsign::layered(routes, &app.state),
        ..app
    }
}

#[tokio::test]
async fn a_panic_gets_50001_without_its_cause() {
    let app = misbehaving(1000).await;
    let response = app.call(get_req("/panic")).await;
    assert_error(&response, 500, 50001);
    assert!(!response.2.to_string().contains("boom"));
}

#[tokio::test]
async fn a_timeout_gets_50301() {
    let app = misbehaving(50).await;
    assert_error(&app.call(get_req("/slow")).await, 503, 50301);
}

#[tokio::test]
async fn request_id_is_propagated_when_sane_and_replaced_otherwise() {
    let app = spawn_app().await;
    let with_id = |id: &str| {
        Request::get("/nope")
            .header("x-request-id", id)
            .body(Body::empty())
            .expect("request")
    };
    let response = app.call(with_id("abc-123")).await;
    assert_eq!(response.1["x-request-id"], "abc-123");
    assert_eq!(response.2["requestId"], "abc-123");
    let long = "a".repeat(200);
    for bad in [long.as_str(), "has space", "quote\"d"] {
        let response = app.call(with_id(bad)).await;
        let id = response.1["x-request-id"].to_str().expect("ascii");
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36, "a generated UUID");
        assert_eq!(response.2["requestId"], id);
    }
    let (status, headers, _) = app.get_signature("").await;
    assert_eq!(status, 200);
    assert!(
        headers.contains_key("x-request-id"),
        "success responses carry the id too"
    );
}
