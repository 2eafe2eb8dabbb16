//! The memory backend against the shared scenarios, plus its bound and the spoofing checks.

use std::net::IpAddr;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use vodsign::Limiter;
use vodsign::config::{LimitsSettings, PolicyLimits};

use super::scenarios;
use crate::support::limiter::{limiter, memory_config};

async fn memory_limiter() -> Limiter {
    let mut cfg = memory_config();
    cfg.auth_failures.max = 3;
    cfg.trusted_proxies = vec!["10.0.0.0/8".parse().expect("net")];
    limiter(&cfg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_burst_is_exact_under_concurrency() {
    let l = memory_limiter().await;
    scenarios::burst_is_exact_under_concurrency(&[&l], "p-burst").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_quota_per_day_is_exact_under_concurrency() {
    let l = memory_limiter().await;
    scenarios::quota_is_exact_under_concurrency(&[&l], "p-quota-day", 86_400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_quota_per_window_is_exact_under_concurrency() {
    let l = memory_limiter().await;
    scenarios::quota_is_exact_under_concurrency(&[&l], "p-quota-hour", 3_600).await;
}

#[tokio::test]
async fn memory_rate_refusal_spends_no_quota() {
    scenarios::rate_refusal_spends_no_quota(&memory_limiter().await, "p-refund").await;
}

#[tokio::test]
async fn memory_first_success_reports_limit_and_remaining() {
    scenarios::first_success_reports_limit_and_remaining(&memory_limiter().await, "p-first").await;
}

#[tokio::test]
async fn memory_auth_failures_block_per_address() {
    scenarios::auth_failures_block_per_address(&memory_limiter().await).await;
}

#[tokio::test]
async fn memory_principals_are_independent() {
    let l = memory_limiter().await;
    let limits = PolicyLimits::per_minute(1, 1).expect("valid");
    assert!(l.check_principal("alice", &limits).await.is_ok());
    assert!(l.check_principal("alice", &limits).await.is_err());
    assert!(l.check_principal("bob", &limits).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_stays_bounded_with_many_keys() {
    let cfg = LimitsSettings {
        memory_max_keys: 1_000,
        ..LimitsSettings::default()
    };
    let l = limiter(&cfg).await;
    let limits = PolicyLimits::per_minute(1, 5)
        .and_then(|p| p.with_quota(100, 86_400))
        .expect("valid");
    for i in 0..20_000u32 {
        let _ = l.check_principal(&format!("principal-{i}"), &limits).await;
        l.record_auth_failure(IpAddr::from(i.to_be_bytes())).await;
    }
    let held = l.stats().memory_entries.expect("memory backend");
    assert!(held <= 3_000, "3 tables of at most 1000 keys, held {held}");
}

#[tokio::test]
async fn memory_entries_expire_once_they_carry_no_state() {
    let l = memory_limiter().await;
    // Refills in 1 ms: a cell idle longer than that is equivalent to a fresh one.
    let limits = PolicyLimits::per_second(1000, 1).expect("valid");
    for i in 0..100 {
        l.check_principal(&format!("short-{i}"), &limits)
            .await
            .expect("passes");
    }
    assert_eq!(l.stats().memory_entries, Some(100));
    // moka's expiry timer wheel works in ticks of about a second.
    crate::support::eventually("cells expire", Duration::from_secs(5), async || {
        l.stats().memory_entries == Some(0)
    })
    .await;
}

fn xff(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "x-forwarded-for",
        HeaderValue::from_str(value).expect("header"),
    );
    h
}

#[tokio::test]
async fn spoofed_forwarded_for_from_untrusted_peer_does_not_escape_the_ip_limit() {
    let l = memory_limiter().await;
    let peer: IpAddr = "203.0.113.9".parse().expect("address");
    for i in 0..3 {
        let ip = l.client_ip(peer, &xff(&format!("192.0.2.{i}")));
        assert_eq!(ip, peer);
        l.record_auth_failure(ip).await;
    }
    let ip = l.client_ip(peer, &xff("192.0.2.200"));
    assert!(l.ip_blocked(ip).await.expect("memory").is_some());
}

#[tokio::test]
async fn forwarded_for_from_trusted_proxy_is_honoured() {
    let l = memory_limiter().await;
    let proxy: IpAddr = "10.0.0.1".parse().expect("address");
    let client: IpAddr = "198.51.100.1".parse().expect("address");
    for _ in 0..3 {
        let ip = l.client_ip(proxy, &xff("6.6.6.6, 198.51.100.1"));
        assert_eq!(ip, client);
        l.record_auth_failure(ip).await;
    }
    assert!(l.ip_blocked(client).await.expect("memory").is_some());
    let neighbour = l.client_ip(proxy, &xff("198.51.100.2"));
    assert_eq!(l.ip_blocked(neighbour).await, Ok(None));
    assert_eq!(
        l.ip_blocked(proxy).await,
        Ok(None),
        "the proxy itself is not blamed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_failure_slots_are_exact_under_concurrency() {
    let mut cfg = memory_config();
    cfg.auth_failures.max = 20;
    scenarios::failure_slots_are_exact_under_concurrency(&limiter(&cfg).await, 1_000, 20).await;
}
