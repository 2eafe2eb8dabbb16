//! The Redis backend: the shared scenarios, sharing between instances, outages, key hygiene.

use std::time::{Duration, Instant};

use vodsign::config::{OnBackendError, PolicyLimits};
use vodsign::{LimitError, Limiter};

use super::scenarios;
use crate::support::eventually;
use crate::support::limiter::{limiter, redis_config};
use crate::support::redis::RedisServer;

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
    assert_eq!(l.backend_problem(), None);

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
    let why = l.backend_problem().expect("not ready while Redis is down");
    assert!(why.contains("redis"), "{why}");
    assert!(l.stats().backend_errors >= 2);

    server.restart();
    eventually("checks pass again", Duration::from_secs(15), async || {
        l.check_principal("p", &limits).await.is_ok()
    })
    .await;
    eventually("ready again", Duration::from_secs(5), async || {
        l.backend_problem().is_none()
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
    assert!(
        l.backend_problem().is_some_and(|p| p.contains("redis")),
        "reported down in allow mode too"
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
        l.backend_problem().is_some()
    })
    .await;
    server.restart();
    eventually("probe reconnects", Duration::from_secs(15), async || {
        l.backend_problem().is_none()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_failure_slots_are_exact_under_concurrency() {
    let server = redis_or_skip!("redis_failure_slots_are_exact_under_concurrency");
    let mut cfg = redis_config(&server, OnBackendError::Deny);
    cfg.auth_failures.max = 20;
    cfg.call_timeout_ms = 5_000;
    scenarios::failure_slots_are_exact_under_concurrency(&limiter(&cfg).await, 1_000, 20).await;
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connects")
}

async fn run(conn: &mut redis::aio::MultiplexedConnection, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let _: redis::Value = cmd.query_async(conn).await.expect("command");
}

#[tokio::test]
async fn redis_failure_counter_of_the_wrong_type_or_value_is_repaired_not_obeyed() {
    let server =
        redis_or_skip!("redis_failure_counter_of_the_wrong_type_or_value_is_repaired_not_obeyed");
    let l = redis_limiter(&server, OnBackendError::Deny).await;
    let mut conn = raw(&server).await;
    let ip: std::net::IpAddr = "192.0.2.50".parse().expect("address");
    let key = format!("vodsign-test:authfail:{ip}");
    run(&mut conn, &["HSET", &key, "n", "1"]).await;
    assert_eq!(l.ip_blocked(ip).await, Ok(None), "wrong type: no 503");
    assert_eq!(
        l.backend_problem(),
        None,
        "one bad key does not make the service unready"
    );
    for value in ["1e300", "-4", "nan", "2.5"] {
        run(&mut conn, &["SET", &key, value]).await;
        assert_eq!(
            l.ip_blocked(ip).await,
            Ok(None),
            "{value}: no permanent block"
        );
    }
    // Counted correctly again afterwards.
    for _ in 0..3 {
        l.record_auth_failure(ip).await;
    }
    assert!(l.ip_blocked(ip).await.expect("up").is_some());
    // A block without an expiry would last forever: reset.
    run(&mut conn, &["PERSIST", &key]).await;
    assert_eq!(l.reserve_auth_attempt(ip).await, Ok(None));
    assert_eq!(l.backend_problem(), None);
    assert!(l.stats().repairs >= 6, "{:?}", l.stats());
}

#[tokio::test]
async fn redis_corrupt_rate_and_quota_keys_are_repaired_not_obeyed() {
    let server = redis_or_skip!("redis_corrupt_rate_and_quota_keys_are_repaired_not_obeyed");
    let l = redis_limiter(&server, OnBackendError::Deny).await;
    let mut conn = raw(&server).await;
    let limits = PolicyLimits::per_second(1, 1).expect("valid");
    let rate_key = "vodsign-test:rate:1000000:1:p-corrupt";
    // A TAT of 1e300 without an expiry would be a 429 forever.
    run(&mut conn, &["SET", rate_key, "1e300"]).await;
    let d = l
        .check_principal("p-corrupt", &limits)
        .await
        .expect("repaired, then allowed");
    assert_eq!((d.limit, d.remaining), (1, 0));
    let refused = l.check_principal("p-corrupt", &limits).await;
    assert!(
        matches!(refused, Err(LimitError::Rate { retry_after: 1, .. })),
        "an honest, bounded 429: {refused:?}"
    );
    run(&mut conn, &["DEL", rate_key]).await;
    run(&mut conn, &["LPUSH", rate_key, "x"]).await;
    assert!(
        l.check_principal("p-corrupt", &limits).await.is_ok(),
        "wrong type"
    );

    let quota = PolicyLimits::per_second(100, 100)
        .and_then(|p| p.with_quota(5, 86_400))
        .expect("valid");
    let quota_key = "vodsign-test:quota:5:86400:p-quota";
    for value in ["1e300", "-1", "abc"] {
        run(&mut conn, &["SET", quota_key, value]).await;
        let d = l
            .check_principal("p-quota", &quota)
            .await
            .unwrap_or_else(|e| panic!("{value}: {e:?}"));
        assert_eq!(d.remaining, 4, "{value}: counted afresh");
    }
    run(&mut conn, &["DEL", quota_key]).await;
    run(&mut conn, &["SADD", quota_key, "x"]).await;
    assert!(
        l.check_principal("p-quota", &quota).await.is_ok(),
        "wrong type"
    );
    assert_eq!(l.backend_problem(), None);
    assert!(l.stats().repairs >= 5, "{:?}", l.stats());
}
