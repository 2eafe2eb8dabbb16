//! The Redis backend: the shared scenarios, sharing between instances, outages, key hygiene.

use std::time::{Duration, Instant};

use vodsign::limits::{LimitError, Limiter, OnBackendError, PolicyLimits};

use crate::scenarios;
use crate::support::{RedisServer, eventually, limiter, redis_config};

async fn redis_limiter(server: &RedisServer, on_error: OnBackendError) -> Limiter {
    let mut cfg = redis_config(server, on_error);
    cfg.auth_failures.max = 3;
    limiter(&cfg).await
}

macro_rules! redis_or_skip {
    ($name:expr) => {
        match RedisServer::start($name) {
            Some(server) => server,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_burst_is_exact_under_concurrency() {
    let server = redis_or_skip!("redis_burst_is_exact_under_concurrency");
    let l = redis_limiter(&server, OnBackendError::Deny).await;
    scenarios::burst_is_exact_under_concurrency(&[&l], "p-burst").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_quota_is_exact_under_concurrency() {
    let server = redis_or_skip!("redis_quota_is_exact_under_concurrency");
    let l = redis_limiter(&server, OnBackendError::Deny).await;
    scenarios::quota_is_exact_under_concurrency(&[&l], "p-quota-day", 86_400).await;
    scenarios::quota_is_exact_under_concurrency(&[&l], "p-quota-hour", 3_600).await;
}

#[tokio::test]
async fn redis_rate_refusal_spends_no_quota() {
    let server = redis_or_skip!("redis_rate_refusal_spends_no_quota");
    let l = redis_limiter(&server, OnBackendError::Deny).await;
    scenarios::rate_refusal_spends_no_quota(&l, "p-refund").await;
    scenarios::first_success_reports_limit_and_remaining(&l, "p-first").await;
}

#[tokio::test]
async fn redis_auth_failures_block_per_address() {
    let server = redis_or_skip!("redis_auth_failures_block_per_address");
    scenarios::auth_failures_block_per_address(&redis_limiter(&server, OnBackendError::Deny).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_limiters_sharing_redis_enforce_one_limit() {
    let server = redis_or_skip!("two_limiters_sharing_redis_enforce_one_limit");
    let a = redis_limiter(&server, OnBackendError::Deny).await;
    let b = redis_limiter(&server, OnBackendError::Deny).await;
    scenarios::burst_is_exact_under_concurrency(&[&a, &b], "shared-burst").await;
    scenarios::quota_is_exact_under_concurrency(&[&a, &b], "shared-quota", 86_400).await;
    // Failures recorded through one instance block through the other.
    let ip = "192.0.2.44".parse().expect("address");
    for _ in 0..3 {
        a.record_auth_failure(ip).await;
    }
    assert!(b.ip_blocked(ip).await.expect("redis up").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_with_deny_refuses_then_recovers_on_restart() {
    let mut server = redis_or_skip!("redis_outage_with_deny_refuses_then_recovers_on_restart");
    let l = redis_limiter(&server, OnBackendError::Deny).await;
    let limits = PolicyLimits::per_second(100, 100).expect("valid");
    assert!(l.check_principal("p", &limits).await.is_ok());
    assert_eq!(l.readiness(), None);

    server.stop();
    let started = Instant::now();
    assert_eq!(
        l.check_principal("p", &limits).await,
        Err(LimitError::Unavailable)
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by call_timeout_ms"
    );
    let ip = "192.0.2.1".parse().expect("address");
    assert_eq!(l.ip_blocked(ip).await, Err(LimitError::Unavailable));
    l.record_auth_failure(ip).await;
    let why = l.readiness().expect("not ready while Redis is down");
    assert!(why.contains("redis"), "{why}");
    assert!(l.stats().backend_errors >= 2);

    server.restart();
    eventually("checks pass again", Duration::from_secs(15), async || {
        l.check_principal("p", &limits).await.is_ok()
    })
    .await;
    eventually("ready again", Duration::from_secs(5), async || {
        l.readiness().is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_with_allow_serves_and_counts() {
    let mut server = redis_or_skip!("redis_outage_with_allow_serves_and_counts");
    let l = redis_limiter(&server, OnBackendError::Allow).await;
    let limits = PolicyLimits::per_minute(1, 1).expect("valid");
    assert!(l.check_principal("p", &limits).await.is_ok());
    assert!(
        l.check_principal("p", &limits).await.is_err(),
        "limited while up"
    );

    server.stop();
    for _ in 0..3 {
        let d = l
            .check_principal("p", &limits)
            .await
            .expect("allowed while down");
        assert!(d.degraded);
        assert_eq!(d.limit, 1);
    }
    let ip = "192.0.2.2".parse().expect("address");
    assert_eq!(l.ip_blocked(ip).await, Ok(None));
    let stats = l.stats();
    assert_eq!(stats.allowed_on_backend_error, 4);
    assert!(!stats.backend_up);
    assert_eq!(
        l.readiness(),
        None,
        "allow mode keeps serving, so stays ready"
    );

    server.restart();
    eventually(
        "limits enforced again",
        Duration::from_secs(15),
        async || matches!(l.check_principal("q", &limits).await, Ok(d) if !d.degraded),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limiter_starts_without_redis_and_connects_when_it_appears() {
    let mut server = redis_or_skip!("limiter_starts_without_redis_and_connects_when_it_appears");
    server.stop();
    let l = redis_limiter(&server, OnBackendError::Deny).await;
    eventually("probe notices", Duration::from_secs(5), async || {
        l.readiness().is_some()
    })
    .await;
    server.restart();
    eventually("probe reconnects", Duration::from_secs(15), async || {
        l.readiness().is_none()
    })
    .await;
    let limits = PolicyLimits::per_second(1, 1).expect("valid");
    assert!(l.check_principal("p", &limits).await.is_ok());
}

#[tokio::test]
async fn redis_keys_are_prefixed_and_expire_on_their_own() {
    let server = redis_or_skip!("redis_keys_are_prefixed_and_expire_on_their_own");
    let l = redis_limiter(&server, OnBackendError::Deny).await;
    let limits = PolicyLimits::per_minute(10, 10)
        .and_then(|p| p.with_quota(5, 86_400))
        .expect("valid");
    l.check_principal("p", &limits).await.expect("passes");
    l.record_auth_failure("192.0.2.9".parse().expect("address"))
        .await;

    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    assert_eq!(keys.len(), 3, "{keys:?}");
    for key in keys {
        assert!(key.starts_with("vodsign-test:"), "{key}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("PTTL");
        assert!(ttl > 0, "{key} has no expiry");
    }
}
