//! Behaviour every backend must show; `memory.rs` and `redis.rs` run these.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use vodsign::config::PolicyLimits;
use vodsign::{Decision, LimitError, Limiter};

/// Fires `n` checks at once, alternating between the limiters.
pub async fn concurrent_checks(
    limiters: &[&Limiter],
    key: &str,
    limits: &PolicyLimits,
    n: usize,
) -> Vec<Result<Decision, LimitError>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let limiter = limiters[i % limiters.len()].clone();
            let (key, limits) = (key.to_owned(), limits.clone());
            tokio::spawn(async move { limiter.check_principal(&key, &limits).await })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("check task does not panic"));
    }
    out
}

/// Burst 20 at one per minute: of 50 concurrent checks exactly 20 pass, the rest are told
/// to retry in 60 s (the next token), and the successes report remaining 19..0 once each.
pub async fn burst_is_exact_under_concurrency(limiters: &[&Limiter], key: &str) {
    let limits = PolicyLimits::per_minute(1, 20).expect("valid limits");
    let results = concurrent_checks(limiters, key, &limits, 50).await;
    let mut remaining: Vec<u64> = results.iter().flatten().map(|d| d.remaining).collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..20).collect::<Vec<_>>(), "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        match r {
            LimitError::Rate {
                retry_after,
                decision,
            } => {
                assert_eq!(*retry_after, 60, "one token per minute");
                assert_eq!((decision.limit, decision.remaining), (20, 0));
                assert!(
                    (1140..=1200).contains(&decision.reset_seconds),
                    "{decision:?}"
                );
            }
            other => panic!("expected Rate, got {other:?}"),
        }
    }
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 30);
}

/// Seconds until the end of the epoch-aligned window of `len` seconds.
fn seconds_to_window_end(len: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    len - now % len
}

/// Quota 15 (rate generous): of 40 concurrent checks exactly 15 pass; the rest get Quota with
/// Retry-After = seconds to the window's end (00:00 UTC for a day).
pub async fn quota_is_exact_under_concurrency(limiters: &[&Limiter], key: &str, window: u32) {
    let limits = PolicyLimits::per_second(1000, 1000)
        .and_then(|l| l.with_quota(15, window))
        .expect("valid limits");
    let results = concurrent_checks(limiters, key, &limits, 40).await;
    let expected = seconds_to_window_end(u64::from(window));
    let mut remaining: Vec<u64> = results.iter().flatten().map(|d| d.remaining).collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..15).collect::<Vec<_>>(), "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        let LimitError::Quota {
            retry_after,
            decision,
        } = r
        else {
            panic!("expected Quota, got {r:?}");
        };
        assert!(
            retry_after.abs_diff(expected) <= 1,
            "retry_after {retry_after}, window ends in {expected}"
        );
        assert_eq!((decision.limit, decision.remaining), (15, 0));
        assert_eq!(decision.reset_seconds, *retry_after);
    }
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 25);
}

/// A rate refusal spends no quota: quota 2, burst 1 per second; ok, refused, (1 s), ok.
pub async fn rate_refusal_spends_no_quota(limiter: &Limiter, key: &str) {
    let limits = PolicyLimits::per_second(1, 1)
        .and_then(|l| l.with_quota(2, 86_400))
        .expect("valid limits");
    let first = limiter
        .check_principal(key, &limits)
        .await
        .expect("first passes");
    assert_eq!(
        (first.limit, first.remaining, first.reset_seconds),
        (1, 0, 1)
    );
    let refused = limiter.check_principal(key, &limits).await;
    assert!(
        matches!(refused, Err(LimitError::Rate { retry_after: 1, .. })),
        "{refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let third = limiter
        .check_principal(key, &limits)
        .await
        .expect("the refusal did not spend the second unit of quota");
    assert_eq!((third.limit, third.remaining), (2, 0), "quota now binds");
    let fourth = limiter.check_principal(key, &limits).await;
    assert!(matches!(
        fourth,
        Err(LimitError::Rate { .. } | LimitError::Quota { .. })
    ));
}

/// Headers of a first success: limit = burst, one spent, full again after one interval.
pub async fn first_success_reports_limit_and_remaining(limiter: &Limiter, key: &str) {
    let limits = PolicyLimits::per_second(2, 5).expect("valid limits");
    let d = limiter.check_principal(key, &limits).await.expect("passes");
    assert_eq!(
        (d.limit, d.remaining, d.reset_seconds, d.degraded),
        (5, 4, 1, false)
    );
}

/// Failures below the threshold do not block; at it, the address waits out the window.
/// IPv6 addresses of one /64 count together; other addresses are unaffected.
pub async fn auth_failures_block_per_address(limiter: &Limiter) {
    let ip: IpAddr = "198.51.100.77".parse().expect("address");
    let other: IpAddr = "198.51.100.78".parse().expect("address");
    for _ in 0..2 {
        limiter.record_auth_failure(ip).await;
    }
    assert_eq!(limiter.ip_blocked(ip).await, Ok(None), "2 of 3 failures");
    limiter.record_auth_failure(ip).await;
    let wait = limiter
        .ip_blocked(ip)
        .await
        .expect("backend up")
        .expect("blocked");
    assert!((299..=300).contains(&wait), "window 300 s, got {wait}");
    assert_eq!(limiter.ip_blocked(other).await, Ok(None));

    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        limiter
            .record_auth_failure(host.parse().expect("address"))
            .await;
    }
    let sibling: IpAddr = "2001:db8:1:2::99".parse().expect("address");
    assert!(
        limiter
            .ip_blocked(sibling)
            .await
            .expect("backend up")
            .is_some()
    );
    let elsewhere: IpAddr = "2001:db8:1:3::1".parse().expect("address");
    assert_eq!(limiter.ip_blocked(elsewhere).await, Ok(None));
}

/// `attempts` concurrent failure reservations from one address with `auth_failures.max`
/// of `max`: exactly `max` are let through to be evaluated, the rest are damped with a wait.
pub async fn failure_slots_are_exact_under_concurrency(
    limiter: &Limiter,
    attempts: usize,
    max: usize,
) {
    let ip: IpAddr = "198.51.100.90".parse().expect("address");
    let tasks: Vec<_> = (0..attempts)
        .map(|_| {
            let l = limiter.clone();
            tokio::spawn(async move { l.reserve_auth_attempt(ip).await })
        })
        .collect();
    let mut evaluated = 0;
    let mut damped = 0;
    for task in tasks {
        match task.await.expect("task").expect("backend up") {
            None => evaluated += 1,
            Some(wait) => {
                assert!((1..=300).contains(&wait), "{wait}");
                damped += 1;
            }
        }
    }
    assert_eq!((evaluated, damped), (max, attempts - max));
    // A slot handed back (an attempt that did not fail) is free again, once.
    limiter.release_auth_attempt(ip).await;
    assert_eq!(limiter.reserve_auth_attempt(ip).await, Ok(None));
    assert!(
        limiter
            .reserve_auth_attempt(ip)
            .await
            .expect("up")
            .is_some()
    );
}
