//! The one request log line: who asked what, how it ended, how long it took, no secrets.

use crate::support::app::*;
use crate::support::observe::*;

#[tokio::test]
async fn the_request_line_names_id_method_route_status_latency_client_and_principal() {
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
    let finished: Vec<_> = lines_with(&id)
        .into_iter()
        .filter(|line| line["message"] == "request finished")
        .collect();
    assert_eq!(finished.len(), 1, "exactly one request line: {finished:?}");
    let line = &finished[0];
    let span = &line["span"];
    assert_eq!(span["request_id"], id.as_str());
    assert_eq!(span["method"], "GET");
    assert_eq!(
        span["route"], "/v1/signature",
        "the template, not the raw path"
    );
    assert_eq!(span["client_ip"], "203.0.113.7");
    assert_eq!(line["principal"], "test", "the credential id");
    assert!(
        span.get("principal").is_none(),
        "a field of the line: {line}"
    );
    assert_eq!(line["status"], 200);
    assert!(line["latency_us"].as_u64().is_some(), "{line}");
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
async fn unmatched_paths_log_a_fixed_route_label() {
    let app = spawn_app().await;
    let id = unique_id("log404");
    let (status, _, _) = app.call(get_with("/no/such/path-12345", &id, None)).await;
    assert_eq!(status, 404);
    let line = lines_with(&id)
        .into_iter()
        .find(|line| line["message"] == "request finished")
        .expect("a request line");
    assert_eq!(line["span"]["route"], "unmatched");
    assert!(!line.to_string().contains("path-12345"));
}
