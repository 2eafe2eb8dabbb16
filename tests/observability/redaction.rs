//! Secrets never appear in logs, error bodies or Debug output.

use axum::body::Body;
use axum::http::Request;

use crate::support::app::*;

#[tokio::test]
async fn keys_and_secrets_stay_out_of_logs_and_bodies() {
    let app = spawn_app().await;
    let mut bodies = Vec::new();
    bodies.push(app.get_signature("").await.2.to_string());
    bodies.push(app.get_signature("classId=9").await.2.to_string());
    let wrong = format!("{}x", app.api_key);
    let request = Request::get("/v1/signature?sessionContext=hello")
        .header("authorization", format!("Bearer {wrong}"))
        .header("cookie", "session=cookie-secret-value")
        .body(Body::empty())
        .expect("request");
    bodies.push(app.call(request).await.2.to_string());
    let logs = captured_logs();
    assert!(
        logs.contains("request finished"),
        "the request log line exists: {logs}"
    );
    for secret in [
        app.api_key.as_str(),
        &wrong,
        &app.secret_key,
        "cookie-secret-value",
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
        for body in &bodies {
            assert!(!body.contains(secret), "a secret reached a response body");
        }
    }
    // The key's hash is not a secret one should spread either: it stays in the config.
    let hash = vodsign::hash_key(&app.api_key);
    assert!(!logs.contains(&hash));
}

#[tokio::test]
async fn debug_output_of_the_state_redacts_secrets() {
    let app = spawn_app().await;
    let debug = format!("{:?}", *app.state);
    assert!(
        debug.contains("Signer"),
        "the state is really printed: {debug}"
    );
    assert!(!debug.contains(&app.secret_key));
    assert!(!debug.contains(&app.api_key));
    assert!(!debug.contains(&vodsign::hash_key(&app.api_key)));
}
