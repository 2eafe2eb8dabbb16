//! `/readyz` says whether this instance can serve; optional dependencies are reported in its
//! body and in `vodsign_dependency_up`, never a reason to leave rotation. The admin listener
//! answers the same probes.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::support::app::*;
use crate::support::eventually;
use crate::support::redis::RedisServer;

/// `GET path` from the admin router of `app`: (status, body as JSON or text).
async fn admin_get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = vodsign::admin_router(app.state.clone())
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

async fn public_get(app: &TestApp, path: &str) -> (u16, Value) {
    let (status, _, body) = app
        .call(Request::get(path).body(Body::empty()).expect("request"))
        .await;
    (status.as_u16(), body)
}

/// The `vodsign_dependency_up` value for `dependency` on the admin `/metrics`.
async fn dependency_up(app: &TestApp, dependency: &str) -> Option<f64> {
    let (_, text) = admin_get(app, "/metrics").await;
    let needle = format!("vodsign_dependency_up{{dependency=\"{dependency}\"}} ");
    text.as_str()?
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_reported_not_unready_and_recovers() {
    let Some(mut server) = RedisServer::start("redis_down_is_reported_not_unready_and_recovers")
    else {
        return;
    };
    let app = spawn_app_with(|s| {
        s.limits.backend = vodsign::config::BackendKind::Redis;
        s.limits.redis_url = Some(server.url().into());
        s.limits.health_interval_ms = 100;
        // The strict mode: requests of limited policies get 503 while Redis is down, and
        // still the instance stays in rotation (every replica shares the same Redis).
        s.limits.on_backend_error = vodsign::config::OnBackendError::Deny;
    })
    .await;
    eventually("redis reported up", Duration::from_secs(5), async || {
        public_get(&app, "/readyz").await.1["data"]["dependencies"]["redis"] == "up"
    })
    .await;
    assert_eq!(dependency_up(&app, "redis").await, Some(1.0));

    server.stop();
    eventually("redis reported down", Duration::from_secs(5), async || {
        let (status, body) = public_get(&app, "/readyz").await;
        assert_eq!(status, 200, "Redis down keeps the instance ready: {body}");
        body["data"]["dependencies"]["redis"]
            .as_str()
            .is_some_and(|s| s.starts_with("down: "))
    })
    .await;
    let (status, body) = admin_get(&app, "/readyz").await;
    assert_eq!(status, 200, "the admin probe answers alike: {body}");
    assert!(
        body["data"]["dependencies"]["redis"]
            .as_str()
            .is_some_and(|s| s.starts_with("down: ")),
        "{body}"
    );
    assert!(!body.to_string().contains("127.0.0.1"), "no host: {body}");
    assert_eq!(dependency_up(&app, "redis").await, Some(0.0));

    server.restart();
    eventually(
        "redis reported up again",
        Duration::from_secs(15),
        async || public_get(&app, "/readyz").await.1["data"]["dependencies"]["redis"] == "up",
    )
    .await;
    assert_eq!(dependency_up(&app, "redis").await, Some(1.0));
}

#[tokio::test]
async fn the_memory_backend_is_no_dependency() {
    let app = spawn_app().await;
    let (status, body) = public_get(&app, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], 0);
    assert_eq!(body["message"], "ready");
    assert_eq!(
        body["data"]["dependencies"],
        serde_json::json!({}),
        "{body}"
    );
}

#[tokio::test]
async fn draining_is_unready_on_both_listeners_while_liveness_stays() {
    let app = spawn_app().await;
    assert_eq!(admin_get(&app, "/readyz").await.0, 200);
    app.state.start_draining();
    for (listener, (status, body)) in [
        ("public", public_get(&app, "/readyz").await),
        ("admin", admin_get(&app, "/readyz").await),
    ] {
        assert_eq!(status, 503, "{listener}: {body}");
        assert_eq!(body["code"], 50301, "{listener}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("shutting down")),
            "{listener}: {body}"
        );
    }
    for (listener, (status, body)) in [
        ("public", public_get(&app, "/healthz").await),
        ("admin", admin_get(&app, "/healthz").await),
    ] {
        assert_eq!(status, 200, "{listener}: {body}");
        assert_eq!(
            body,
            serde_json::json!({"code": 0, "message": "alive"}),
            "{listener}"
        );
    }
}

#[tokio::test]
async fn a_failing_introspection_endpoint_is_reported_and_api_keys_keep_it_ready() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/introspect", closed.local_addr().expect("addr"));
    drop(closed);
    let auth: vodsign::config::AuthSettings = serde_json::from_value(serde_json::json!({
        "introspection": [{"name": "corp", "introspection_url": url, "client_id": "vodsign",
            // Any variable the environment always has: nothing answers to check it.
            "client_secret_env": "PATH", "timeout_ms": 300,
            "access": {"default_policy": "default"}}]
    }))
    .expect("auth config");
    let app = spawn_app_with(|s| s.auth = auth).await;
    assert_eq!(
        public_get(&app, "/readyz").await.1["data"]["dependencies"]["introspection:corp"],
        "up",
        "not called yet"
    );
    let response = app
        .call(
            Request::get("/v1/signature")
                .header("authorization", "Bearer opaque-token-abcdefghijklmnop")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_error(&response, 503, 50301);
    let (status, body) = public_get(&app, "/readyz").await;
    assert_eq!(status, 200, "API keys still work: {body}");
    let corp = body["data"]["dependencies"]["introspection:corp"]
        .as_str()
        .unwrap_or_default();
    assert!(corp.starts_with("down: last call unreachable"), "{body}");
    assert!(!body.to_string().contains(&url), "no URL: {body}");
    assert_eq!(dependency_up(&app, "introspection:corp").await, Some(0.0));
    assert_eq!(app.get_signature("").await.0, 200);
}
