//! CORS for browser uploads: preflight and calls from an allowed origin get the allow
//! headers; other origins get none; `*` with credentials is refused at start-up.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use tower::ServiceExt as _;
use vodsign::App;
use vodsign::VodCredentials;
use vodsign::config::{PolicySettings, Settings};

const ALLOWED: &str = "https://upload.example.com";

fn settings(origins: &[&str], credentials: bool) -> Settings {
    let mut settings = Settings::default();
    settings.server.cors.allowed_origins = origins.iter().map(|o| (*o).to_owned()).collect();
    settings.server.cors.allow_credentials = credentials;
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    settings
}

async fn call(settings: Settings, request: Request<Body>) -> (StatusCode, HeaderMap) {
    let state = App::build(settings, VodCredentials::placeholder())
        .await
        .expect("valid")
        .into_state();
    let response = vodsign::router(state)
        .oneshot(request)
        .await
        .expect("infallible");
    (response.status(), response.headers().clone())
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/signature")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .body(Body::empty())
        .expect("request")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_is_answered() {
    let (status, headers) = call(settings(&[ALLOWED], false), preflight(ALLOWED)).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), ALLOWED);
    let methods = header(&headers, "access-control-allow-methods").to_ascii_uppercase();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    let allowed = header(&headers, "access-control-allow-headers").to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert_eq!(header(&headers, "access-control-max-age"), "600");
}

#[tokio::test]
async fn a_call_from_an_allowed_origin_can_read_the_answer() {
    let request = Request::get("/v1/signature")
        .header("origin", ALLOWED)
        .body(Body::empty())
        .expect("request");
    let (status, headers) = call(settings(&[ALLOWED], false), request).await;
    assert_eq!(status, 401, "still authenticated");
    assert_eq!(header(&headers, "access-control-allow-origin"), ALLOWED);
    let exposed = header(&headers, "access-control-expose-headers").to_ascii_lowercase();
    for name in [
        "x-request-id",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
}

#[tokio::test]
async fn other_origins_get_no_allow_header() {
    let evil = "https://evil.example.net";
    let (_, headers) = call(settings(&[ALLOWED], false), preflight(evil)).await;
    assert!(headers.get("access-control-allow-origin").is_none());
    let request = Request::get("/healthz")
        .header("origin", evil)
        .body(Body::empty())
        .expect("request");
    let (_, headers) = call(settings(&[ALLOWED], false), request).await;
    assert!(headers.get("access-control-allow-origin").is_none());
    // Without [server.cors] there are no CORS headers at all.
    let (_, headers) = call(settings(&[], false), preflight(ALLOWED)).await;
    assert!(headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_star_with_credentials_is_refused_at_start_up() {
    let err = App::build(settings(&["*"], true), VodCredentials::placeholder())
        .await
        .expect_err("refused");
    let message = err.to_string();
    assert!(
        message.contains("server.cors.allowed_origins[0]"),
        "{message}"
    );
    assert!(message.contains("allow_credentials"), "{message}");
}

#[tokio::test]
async fn the_development_config_lets_a_local_dev_server_page_call() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/development.toml");
    let settings = Settings::load(Some(&path)).expect("the development config loads");
    for origin in ["http://localhost:3000", "http://127.0.0.1:5173"] {
        let (status, headers) = call(settings.clone(), preflight(origin)).await;
        assert!(status.is_success(), "{origin}: {status}");
        assert_eq!(header(&headers, "access-control-allow-origin"), origin);
    }
    let (_, headers) = call(settings, preflight("https://elsewhere.example")).await;
    assert_eq!(header(&headers, "access-control-allow-origin"), "");
}
