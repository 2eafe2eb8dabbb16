//! Rate limits, quotas, the per-IP auth-failure limit and load shedding, through the router.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use vodsign::config::PolicyLimits;
use vodsign::config::Settings;

use crate::support::app::*;

fn with_limits(settings: &mut Settings, limits: PolicyLimits) {
    settings
        .policies
        .get_mut("default")
        .expect("default policy")
        .limits = Some(limits);
}

/// `GET /v1/signature` from `peer`, with `key` and an optional `X-Forwarded-For`.
async fn get_from(
    app: &TestApp,
    peer: &str,
    key: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request =
        Request::get("/v1/signature").header("authorization", format!("Bearer {key}"));
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    let mut request = request.body(Body::empty()).expect("request");
    let peer: SocketAddr = peer.parse().expect("peer address");
    request.extensions_mut().insert(ConnectInfo(peer));
    app.call(request).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{name} header missing: {headers:?}"))
}

#[tokio::test]
async fn signature_responses_carry_ratelimit_headers() {
    let app = spawn_app_with(|s| {
        with_limits(s, PolicyLimits::per_minute(1, 3).expect("valid"));
    })
    .await;
    let (status, headers, body) = app.get_signature("").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "ratelimit-limit"), "3");
    assert_eq!(header(&headers, "ratelimit-remaining"), "2");
    assert_eq!(header(&headers, "ratelimit-reset"), "60");
}

#[tokio::test]
async fn exhausted_rate_gets_429_42901_with_retry_after() {
    let app = spawn_app_with(|s| {
        with_limits(s, PolicyLimits::per_minute(1, 2).expect("valid"));
    })
    .await;
    for _ in 0..2 {
        assert_eq!(app.get_signature("").await.0, 200);
    }
    let refused = app.get_signature("").await;
    assert_error(&refused, 429, 42901);
    let headers = &refused.1;
    assert_eq!(header(headers, "retry-after"), "60");
    assert_eq!(header(headers, "ratelimit-limit"), "2");
    assert_eq!(header(headers, "ratelimit-remaining"), "0");
    let message = refused.2["message"].as_str().expect("message");
    assert!(message.contains("retry after 60 seconds"), "{message}");
}

#[tokio::test]
async fn exhausted_quota_gets_429_42902_with_retry_after_to_midnight_utc() {
    let app = spawn_app_with(|s| {
        let limits = PolicyLimits::per_second(100, 100)
            .and_then(|l| l.with_quota(2, 86_400))
            .expect("valid");
        with_limits(s, limits);
    })
    .await;
    assert_eq!(app.get_signature("").await.0, 200);
    let (_, headers, _) = app.get_signature("").await;
    assert_eq!(
        header(&headers, "ratelimit-limit"),
        "2",
        "the quota binds now"
    );
    assert_eq!(header(&headers, "ratelimit-remaining"), "0");
    let refused = app.get_signature("").await;
    assert_error(&refused, 429, 42902);
    let retry: u64 = header(&refused.1, "retry-after").parse().expect("seconds");
    let to_midnight = 86_400 - vodsign::unix_now() % 86_400;
    assert!(retry.abs_diff(to_midnight) <= 1, "{retry} vs {to_midnight}");
    assert_eq!(header(&refused.1, "ratelimit-reset"), retry.to_string());
}

#[tokio::test]
async fn a_request_spends_its_rate_when_it_arrives_whatever_its_outcome() {
    let app = spawn_app_with(|s| {
        let limits = PolicyLimits::per_minute(1, 1).expect("valid");
        with_limits(s, limits);
    })
    .await;
    // Refused by the policy, after the auth-check: the unit is spent all the same, so a
    // caller cannot probe or flood for free.
    assert_error(&app.get_signature("classId=5").await, 403, 40302);
    assert_error(&app.get_signature("").await, 429, 42901);
}

#[tokio::test]
async fn policy_without_limits_is_not_limited_and_sends_no_headers() {
    let app = spawn_app().await;
    for _ in 0..30 {
        let (status, headers, _) = app.get_signature("").await;
        assert_eq!(status, 200);
        assert!(headers.get("ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn damped_address_still_serves_valid_keys_and_refuses_bad_ones() {
    let app = spawn_app_with(|s| s.limits.auth_failures.max = 3).await;
    let shared = "203.0.113.5:4000";
    for _ in 0..3 {
        let r = get_from(&app, shared, "vsk_test_wrong", None).await;
        assert_error(&r, 401, 40102);
    }
    // One address, many clients (carrier-grade NAT): the valid key is still served...
    for _ in 0..3 {
        assert_eq!(get_from(&app, shared, &app.api_key, None).await.0, 200);
    }
    // ...and every further failure is refused.
    let blocked = get_from(&app, shared, "vsk_test_wrong", None).await;
    assert_error(&blocked, 429, 42901);
    let retry: u64 = header(&blocked.1, "retry-after").parse().expect("seconds");
    assert!((299..=300).contains(&retry), "{retry}");
    // Another address is unaffected.
    assert_eq!(
        get_from(&app, "198.51.100.1:4000", &app.api_key, None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn missing_credentials_do_not_count_as_failures() {
    let app = spawn_app_with(|s| s.limits.auth_failures.max = 2).await;
    for _ in 0..5 {
        let request = Request::get("/v1/signature")
            .body(Body::empty())
            .expect("request");
        assert_error(&app.call(request).await, 401, 40101);
    }
    assert_eq!(app.get_signature("").await.0, 200);
}

#[tokio::test]
async fn spoofed_x_forwarded_for_does_not_escape_the_block() {
    let app = spawn_app_with(|s| {
        s.limits.auth_failures.max = 3;
        s.limits.trusted_proxies = vec!["10.0.0.0/8".parse().expect("net")];
    })
    .await;
    let attacker = "203.0.113.6:4000";
    for i in 0..3 {
        let xff = format!("192.0.2.{i}");
        let r = get_from(&app, attacker, "vsk_test_wrong", Some(&xff)).await;
        assert_error(&r, 401, 40102);
    }
    let r = get_from(&app, attacker, "vsk_test_wrong", Some("192.0.2.99")).await;
    assert_error(&r, 429, 42901);
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_is_honoured() {
    let app = spawn_app_with(|s| {
        s.limits.auth_failures.max = 3;
        s.limits.trusted_proxies = vec!["10.0.0.0/8".parse().expect("net")];
    })
    .await;
    let proxy = "10.0.0.1:4000";
    for _ in 0..3 {
        let r = get_from(&app, proxy, "vsk_test_wrong", Some("6.6.6.6, 198.51.100.7")).await;
        assert_error(&r, 401, 40102);
    }
    let blocked = get_from(&app, proxy, "vsk_test_wrong", Some("198.51.100.7")).await;
    assert_error(&blocked, 429, 42901);
    // Another client behind the same proxy is not blocked, nor is the proxy itself.
    assert_eq!(
        get_from(&app, proxy, &app.api_key, Some("198.51.100.8"))
            .await
            .0,
        200
    );
    assert_eq!(get_from(&app, proxy, &app.api_key, None).await.0, 200);
}

/// A "Redis" that accepts connections and never answers: every limiter call takes the full
/// call timeout, holding its request in flight.
async fn silent_redis() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("redis://{}/", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_gets_50301_at_once_and_an_unanswering_backend_50301_in_bounded_time() {
    let (url, silent) = silent_redis().await;
    let app = spawn_app_with(|s| {
        s.limits.backend = vodsign::config::BackendKind::Redis;
        s.limits.redis_url = Some(url.clone().into());
        s.limits.call_timeout_ms = 1500;
        s.limits.max_in_flight = 1;
        // A valid key from an undamped address reaches the limiter only at the rate check.
        with_limits(s, PolicyLimits::per_second(100, 100).expect("valid"));
    })
    .await;
    let first = {
        let router = app.router.clone();
        let key = app.api_key.clone();
        tokio::spawn(async move {
            let request = Request::get("/v1/signature")
                .header("authorization", format!("Bearer {key}"))
                .body(Body::empty())
                .expect("request");
            tower::ServiceExt::oneshot(router, request)
                .await
                .expect("infallible")
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let shed = app.get_signature("").await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "no queueing"
    );
    assert_error(&shed, 503, 50301);
    assert!(
        shed.2["message"]
            .as_str()
            .unwrap_or("")
            .contains("overloaded"),
        "{}",
        shed.2
    );
    // The refusal is counted, and the first request is still in flight.
    let rendered = app.state.metrics().render();
    assert!(
        rendered.contains("\nvodsign_load_shed_total 1\n"),
        "{rendered}"
    );
    assert!(
        rendered.contains("\nvodsign_http_requests_in_flight 1\n"),
        "{rendered}"
    );

    let first = tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("bounded by call_timeout_ms")
        .expect("task");
    assert_eq!(first.status(), 503, "deny: no limit check, no signature");
    let ready = app
        .call(
            Request::get("/readyz")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    // Every replica shares the backend: reported, never a reason to leave rotation.
    assert_eq!(ready.0, 200, "{}", ready.2);
    let why = ready.2["data"]["dependencies"]["redis"]
        .as_str()
        .unwrap_or("");
    assert!(why.starts_with("down: rate-limit backend"), "{}", ready.2);
    assert!(!ready.2.to_string().contains(&url), "{}", ready.2);
    silent.abort();
}

#[tokio::test]
async fn auth_failure_limit_uses_the_socket_peer_over_a_real_socket() {
    let app = spawn_app_with(|s| s.limits.auth_failures.max = 2).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vodsign::run(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let url = format!("http://{address}/v1/signature");
    for _ in 0..2 {
        let r = client
            .get(&url)
            .bearer_auth("vsk_test_wrong")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401);
    }
    let r = client
        .get(&url)
        .bearer_auth("vsk_test_wrong")
        // Not from a trusted proxy: ignored.
        .header("x-forwarded-for", "198.51.100.200")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], 42901);
    stop.send(()).expect("server still running");
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}

/// An introspection endpoint on loopback that counts the connections it gets and answers
/// none of them (so a token it is asked about is `unavailable`).
async fn counting_endpoint() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/introspect",
        listener.local_addr().expect("address")
    );
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(socket);
        }
    });
    (url, hits, task)
}

#[tokio::test]
async fn damped_address_gets_429_for_introspection_tokens_without_a_remote_call() {
    let (url, hits, endpoint) = counting_endpoint().await;
    let auth: vodsign::config::AuthSettings = serde_json::from_value(serde_json::json!({
        "introspection": [{
            "name": "opaque", "introspection_url": url, "client_id": "vodsign",
            // Any variable the environment always has: this endpoint checks no secret.
            "client_secret_env": "PATH", "timeout_ms": 500,
            "access": {"default_policy": "default"}
        }]
    }))
    .expect("auth config");
    let app = spawn_app_with(|s| {
        s.auth = auth;
        s.limits.auth_failures.max = 3;
    })
    .await;
    let shared = "203.0.113.7:4000";
    for _ in 0..3 {
        assert_error(
            &get_from(&app, shared, "vsk_test_wrong", None).await,
            401,
            40102,
        );
    }
    let opaque = "opaque-token-from-a-damped-address";
    let refused = get_from(&app, shared, opaque, None).await;
    assert_error(&refused, 429, 42901);
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "refused before the endpoint was called"
    );
    // The valid API key from the same address is still served.
    assert_eq!(get_from(&app, shared, &app.api_key, None).await.0, 200);
    // From an address that is not damped, the same token is introspected.
    let elsewhere = get_from(&app, "198.51.100.2:4000", opaque, None).await;
    assert_ne!(elsewhere.0, 429, "{:?}", elsewhere.2);
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    endpoint.abort();
}

use crate::support::redis as redis_support;

/// An introspection endpoint on loopback that calls every token inactive and counts the
/// calls it answered.
async fn inactive_endpoint() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/introspect",
        listener.local_addr().expect("address")
    );
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let answer = axum::routing::post(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { axum::Json(serde_json::json!({"active": false})) }
    });
    let app = axum::Router::new().route("/introspect", answer);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, hits, task)
}

/// `attempts` different bad opaque tokens at once from one address, `auth_failures.max` 20:
/// exactly 20 reach the introspection endpoint (and get 401), the others get 429 at once.
async fn concurrent_bad_tokens_are_introspected_exactly_max_times(
    redis_url: Option<String>,
    attempts: usize,
) {
    let (url, hits, endpoint) = inactive_endpoint().await;
    let auth: vodsign::config::AuthSettings = serde_json::from_value(serde_json::json!({
        "introspection": [{
            "name": "opaque", "introspection_url": url, "client_id": "vodsign",
            // Any variable the environment always has: this endpoint checks no secret.
            "client_secret_env": "PATH", "timeout_ms": 5000,
            "access": {"default_policy": "default"}
        }]
    }))
    .expect("auth config");
    let app = spawn_app_with(|s| {
        s.auth = auth;
        s.limits.auth_failures.max = 20;
        // All of them in flight at once: none is shed.
        s.limits.max_in_flight = attempts;
        if let Some(url) = redis_url {
            s.limits.backend = vodsign::config::BackendKind::Redis;
            s.limits.redis_url = Some(url.into());
            s.limits.call_timeout_ms = 5_000;
        }
    })
    .await;
    let peer: SocketAddr = "203.0.113.9:4000".parse().expect("peer address");
    let tasks: Vec<_> = (0..attempts)
        .map(|i| {
            let router = app.router.clone();
            tokio::spawn(async move {
                let mut request = Request::get("/v1/signature")
                    .header("authorization", format!("Bearer bad-opaque-token-{i}"))
                    .body(Body::empty())
                    .expect("request");
                request.extensions_mut().insert(ConnectInfo(peer));
                tower::ServiceExt::oneshot(router, request)
                    .await
                    .expect("infallible")
                    .status()
            })
        })
        .collect();
    let (mut refused, mut damped) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => damped += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((refused, damped), (20, attempts - 20));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 20);
    endpoint.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_concurrent_bad_tokens_are_introspected_exactly_max_times() {
    concurrent_bad_tokens_are_introspected_exactly_max_times(None, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_concurrent_bad_tokens_are_introspected_exactly_max_times() {
    let test = "redis_concurrent_bad_tokens_are_introspected_exactly_max_times";
    let Some(server) = redis_support::RedisServer::start(test) else {
        return;
    };
    concurrent_bad_tokens_are_introspected_exactly_max_times(Some(server.url()), 1_000).await;
}

async fn redis_command(url: &str, args: &[&str]) -> redis::Value {
    let mut conn = redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(&mut conn).await.expect("command")
}

#[tokio::test]
async fn redis_damped_address_serves_valid_keys_and_corrupt_keys_are_repaired() {
    let test = "redis_damped_address_serves_valid_keys_and_corrupt_keys_are_repaired";
    let Some(server) = redis_support::RedisServer::start(test) else {
        return;
    };
    let app = spawn_app_with(|s| {
        s.limits.backend = vodsign::config::BackendKind::Redis;
        s.limits.redis_url = Some(server.url().into());
        s.limits.key_prefix = "vodsign-api:".into();
        s.limits.auth_failures.max = 3;
        with_limits(s, PolicyLimits::per_minute(1, 5).expect("valid"));
    })
    .await;
    let shared = "203.0.113.8:4000";
    for _ in 0..3 {
        assert_error(
            &get_from(&app, shared, "vsk_test_wrong", None).await,
            401,
            40102,
        );
    }
    assert_error(
        &get_from(&app, shared, "vsk_test_wrong", None).await,
        429,
        42901,
    );
    assert_eq!(
        get_from(&app, shared, &app.api_key, None).await.0,
        200,
        "a valid key from a damped address is served"
    );

    // The address's failure counter turned into a hash: repaired and counted afresh.
    let fail_key = "vodsign-api:authfail:203.0.113.8";
    redis_command(&server.url(), &["DEL", fail_key]).await;
    redis_command(&server.url(), &["HSET", fail_key, "n", "1"]).await;
    assert_error(
        &get_from(&app, shared, "vsk_test_wrong", None).await,
        401,
        40102,
    );

    // The principal's rate cell holding 1e300 without an expiry: repaired, not a 429 forever.
    let redis::Value::Array(keys) =
        redis_command(&server.url(), &["KEYS", "vodsign-api:rate:*"]).await
    else {
        panic!("KEYS answers an array");
    };
    let [redis::Value::BulkString(rate_key)] = &keys[..] else {
        panic!("one rate key: {keys:?}");
    };
    let rate_key = String::from_utf8(rate_key.clone()).expect("utf-8 key");
    redis_command(&server.url(), &["SET", &rate_key, "1e300"]).await;
    let served = get_from(&app, shared, &app.api_key, None).await;
    assert_eq!(served.0, 200, "{:?}", served.2);
    assert_eq!(header(&served.1, "ratelimit-remaining"), "4");

    let ready = app
        .call(
            Request::get("/readyz")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(
        ready.0, 200,
        "one bad key does not make the service unready: {:?}",
        ready.2
    );
    let repairs = app.state.limiter().stats().repairs;
    assert!(repairs >= 2, "{repairs}");
    app.state.sample_metrics();
    let text = app.state.metrics().render();
    assert!(
        text.contains(&format!(
            "vodsign_rate_limit_repairs_total{{backend=\"redis\"}} {repairs}"
        )),
        "{text}"
    );
}

use crate::support::keys;

#[tokio::test]
async fn damped_address_still_serves_valid_jwts_and_refuses_forged_ones() {
    let key = keys::TestKey::es256("corp-1");
    let dir = tempfile::tempdir().expect("temp dir");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, keys::jwks(&[&key]).to_string()).expect("write JWKS");
    let auth: vodsign::config::AuthSettings = serde_json::from_value(serde_json::json!({"jwt": [
        {"name": "corp", "issuer": keys::ISSUER, "audiences": [keys::AUDIENCE],
         "algorithms": ["ES256"], "jwks_file": jwks,
         "access": {"default_policy": "default"}},
    ]}))
    .expect("auth config");
    let app = spawn_app_with(|s| {
        s.auth = auth;
        s.limits.auth_failures.max = 3;
    })
    .await;
    let shared = "203.0.113.10:4000";
    let forged = keys::TestKey::es256("corp-1").sign(&keys::good_claims("mallory"));
    for _ in 0..3 {
        assert_error(&get_from(&app, shared, &forged, None).await, 401, 40102);
    }
    assert_error(&get_from(&app, shared, &forged, None).await, 429, 42901);
    let valid = key.sign(&keys::good_claims("alice"));
    let served = get_from(&app, shared, &valid, None).await;
    assert_eq!(
        served.0, 200,
        "a valid JWT from a damped address: {:?}",
        served.2
    );
}
