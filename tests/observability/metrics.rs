//! `/metrics` on the admin router only, with counters and histograms that follow traffic.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::support::app::*;
use crate::support::observe::*;

/// `GET /metrics` from the admin router of `app`: (status, content type, body).
async fn scrape(app: &TestApp) -> (u16, String, String) {
    let response = vodsign::admin_router(app.state.clone())
        .oneshot(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn metrics_follow_requests_by_route_status_policy_and_code() {
    let app = spawn_app().await;
    for _ in 0..2 {
        let (status, _, _) = app.get_signature("").await;
        assert_eq!(status, 200);
    }
    app.call(get_with("/v1/signature", &unique_id("m"), None))
        .await;
    app.get_signature("classId=9").await;
    app.call(get_with("/nowhere/42", &unique_id("m"), None))
        .await;

    let (status, content_type, text) = scrape(&app).await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for expected in [
        r#"vodsign_http_requests_total{route="/v1/signature",method="GET",status="200"} 2"#,
        r#"vodsign_http_requests_total{route="/v1/signature",method="GET",status="401"} 1"#,
        r#"vodsign_http_requests_total{route="/v1/signature",method="GET",status="403"} 1"#,
        r#"vodsign_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
        r#"vodsign_signatures_issued_total{policy="default",caller="test"} 2"#,
        r#"vodsign_signature_refusals_total{code="40101"} 1"#,
        r#"vodsign_signature_refusals_total{code="40302"} 1"#,
        r#"vodsign_auth_total{kind="api_key",provider="api_keys",outcome="ok"} 3"#,
        r#"vodsign_auth_total{kind="none",provider="unknown",outcome="missing"} 1"#,
        r#"vodsign_http_request_duration_seconds_bucket{route="/v1/signature",method="GET",le="+Inf"} 4"#,
        "vodsign_http_request_duration_seconds_count",
        "vodsign_auth_duration_seconds_bucket",
        "vodsign_build_info{version=",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    assert!(!text.contains("nowhere"), "raw paths never become labels");
}

#[tokio::test]
async fn metrics_are_served_on_the_admin_router_never_the_public_one() {
    let app = spawn_app().await;
    let response = app
        .call(get_with("/metrics", &unique_id("pub"), None))
        .await;
    assert_error(&response, 404, 40401);
    let (status, _, text) = scrape(&app).await;
    assert_eq!(status, 200);
    assert!(text.contains("vodsign_build_info"));
}

#[tokio::test]
async fn other_components_record_through_the_same_registry() {
    let app = spawn_app().await;
    let metrics = app.state.metrics();
    metrics.jwks_age("corp-idp", std::time::Duration::from_secs(42));
    metrics.rate_limit_backend_errors("redis", 1);
    metrics.config_reload(true);
    metrics.config_reload(false);
    let (_, _, text) = scrape(&app).await;
    for expected in [
        r#"vodsign_jwks_age_seconds{provider="corp-idp"} 42"#,
        r#"vodsign_rate_limit_backend_errors_total{backend="redis"} 1"#,
        r#"vodsign_config_reloads_total{outcome="ok"} 1"#,
        r#"vodsign_config_reloads_total{outcome="failed"} 1"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
}

#[tokio::test]
async fn sampling_copies_the_rate_limit_backends_error_count() {
    // A Redis nobody listens on: every limit check is a backend error.
    let app = spawn_app_with(|s| {
        s.limits = toml::from_str(
            "backend = \"redis\"\nredis_url = \"redis://127.0.0.1:1/\"\ncall_timeout_ms = 100\non_backend_error = \"allow\"\n",
        )
        .expect("limits settings");
        s.policies.get_mut("default").expect("default policy").limits =
            Some(vodsign::config::PolicyLimits::per_second(10, 10).expect("valid limits"));
    })
    .await;
    let (status, _, _) = app.get_signature("").await;
    assert_eq!(status, 200, "on_backend_error = allow serves");
    let errors = app.state.limiter().stats().backend_errors;
    assert!(errors >= 1, "the failed call was counted");
    app.state.sample_metrics();
    let (_, _, text) = scrape(&app).await;
    let line = text
        .lines()
        .find(|l| l.starts_with("vodsign_rate_limit_backend_errors_total{backend=\"redis\"}"))
        .unwrap_or_else(|| panic!("no backend error counter in:\n{text}"));
    let value: u64 = line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a count");
    assert!(value >= errors, "{line} (limiter counted {errors})");
}
