//! The embedded backend: counters in this process, for a single instance.
//!
//! Rates are `governor` GCRA cells (one atomic compare-and-swap per check); quotas and
//! auth-failure counts are atomics. Each lives in a `moka` cache bounded to
//! `memory_max_keys` entries per table, so memory stays bounded however many principals or
//! addresses appear. Entries also expire on their own once they carry no information: a rate
//! cell after it would have refilled completely, a quota counter when its window ends, a
//! failure counter when its window ends. If more live keys exist than the bound, the cache
//! evicts the least useful ones; a principal whose cell was evicted starts afresh (the limit
//! errs towards letting through, never towards refusing).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use moka::Expiry;
use moka::sync::Cache;

use super::decision::{Decision, LimitError, Window, retry_seconds};
use crate::config::{PolicyLimits, Quota};

type Gcra =
    governor::RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// The outcome of a check that reached its backend.
pub(crate) type Checked = Result<Decision, LimitError>;

pub(crate) struct MemoryBackend {
    rates: Cache<String, Arc<RateCell>>,
    quotas: Cache<String, Arc<CountCell>>,
    failures: Cache<IpAddr, Arc<CountCell>>,
}

struct RateCell {
    gcra: Gcra,
    /// Time for an empty bucket to refill: idle longer than this, the cell is a fresh one.
    refill: Duration,
}

struct CountCell {
    count: AtomicU32,
    created: Instant,
    /// Lifetime from creation: the rest of the window.
    ttl: Duration,
}

impl CountCell {
    fn new(ttl: Duration) -> Self {
        CountCell {
            count: AtomicU32::new(0),
            created: Instant::now(),
            ttl,
        }
    }
}

/// Rate cells live until refilled since their last use; counters until their window ends.
struct Lifetimes;

impl<K> Expiry<K, Arc<RateCell>> for Lifetimes {
    fn expire_after_create(&self, _: &K, cell: &Arc<RateCell>, _: Instant) -> Option<Duration> {
        Some(cell.refill)
    }

    fn expire_after_read(
        &self,
        _: &K,
        cell: &Arc<RateCell>,
        _: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        Some(cell.refill)
    }
}

impl<K> Expiry<K, Arc<CountCell>> for Lifetimes {
    fn expire_after_create(&self, _: &K, cell: &Arc<CountCell>, _: Instant) -> Option<Duration> {
        Some(cell.ttl)
    }
}

impl MemoryBackend {
    pub(crate) fn new(max_keys: u64) -> Self {
        MemoryBackend {
            rates: Cache::builder()
                .max_capacity(max_keys)
                .expire_after(Lifetimes)
                .build(),
            quotas: Cache::builder()
                .max_capacity(max_keys)
                .expire_after(Lifetimes)
                .build(),
            failures: Cache::builder()
                .max_capacity(max_keys)
                .expire_after(Lifetimes)
                .build(),
        }
    }

    /// Takes one signature from the quota, then from the rate; a refusal by either consumes
    /// nothing (a quota reservation is handed back when the rate refuses).
    pub(crate) fn check(&self, key: &str, limits: &PolicyLimits) -> Checked {
        let quota = match limits.quota() {
            Some(q) => Some(self.reserve_quota(key, q)?),
            None => None,
        };
        let rate = self.take_rate(key, limits);
        match (rate, quota) {
            (Ok(rate), quota) => Ok(Decision::tighter(rate, quota.map(|(_, w)| w))),
            (Err(refusal), Some((cell, _))) => {
                cell.count.fetch_sub(1, Ordering::AcqRel);
                Err(refusal)
            }
            (Err(refusal), None) => Err(refusal),
        }
    }

    fn reserve_quota(
        &self,
        key: &str,
        quota: Quota,
    ) -> Result<(Arc<CountCell>, Window), LimitError> {
        let now = unix_seconds(SystemTime::now());
        let (index, left) = quota.window_at(now);
        let left = Duration::from_secs(left);
        let max = quota.max.get();
        let cell_key = format!("{key}\u{1f}{max}/{}@{index}", quota.window_seconds);
        let cell = self
            .quotas
            .get_with(cell_key, || Arc::new(CountCell::new(left)));
        let taken = cell
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < max).then_some(used + 1)
            });
        let window = |used: u32| Window {
            limit: u64::from(max),
            remaining: u64::from(max.saturating_sub(used)),
            reset: left,
        };
        match taken {
            Ok(before) => Ok((cell, window(before + 1))),
            Err(_) => Err(LimitError::Quota {
                retry_after: retry_seconds(left),
                decision: Decision::tighter(window(max), None),
            }),
        }
    }

    fn take_rate(&self, key: &str, limits: &PolicyLimits) -> Result<Window, LimitError> {
        let interval = limits.interval();
        let burst = limits.burst();
        let cell_key = format!("{key}\u{1f}{}ns/{burst}", interval.as_nanos());
        let cell = self.rates.get_with(cell_key, || {
            let quota = governor::Quota::with_period(interval)
                .expect("PolicyLimits keeps the interval at 1 µs or more")
                .allow_burst(burst);
            Arc::new(RateCell {
                gcra: governor::RateLimiter::direct(quota)
                    .with_middleware::<StateInformationMiddleware>(),
                refill: interval * burst.get(),
            })
        });
        match cell.gcra.check() {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Ok(Window {
                    limit: u64::from(burst.get()),
                    remaining: u64::from(remaining),
                    // Upper bound: governor does not expose the fractional part.
                    reset: interval * (burst.get() - remaining),
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(cell.gcra.clock().now());
                let full = wait + interval * (burst.get() - 1);
                let window = Window {
                    limit: u64::from(burst.get()),
                    remaining: 0,
                    reset: full,
                };
                Err(LimitError::Rate {
                    retry_after: retry_seconds(wait),
                    decision: Decision::tighter(window, None),
                })
            }
        }
    }

    /// Time left in the block, if `ip` has reached `max` failures.
    pub(crate) fn ip_blocked(&self, ip: IpAddr, max: u32) -> Option<Duration> {
        let cell = self.failures.get(&ip)?;
        (cell.count.load(Ordering::Acquire) >= max)
            .then(|| cell.ttl.saturating_sub(cell.created.elapsed()))
    }

    /// Takes one of `ip`'s `max` failure slots for the window, or says how long the address
    /// waits: check and record in one atomic step, so concurrent attempts never take more
    /// than `max` slots.
    pub(crate) fn reserve_failure(
        &self,
        ip: IpAddr,
        max: u32,
        window: Duration,
    ) -> Option<Duration> {
        let cell = self
            .failures
            .get_with(ip, || Arc::new(CountCell::new(window)));
        let taken = cell
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < max).then_some(used + 1)
            });
        match taken {
            Ok(_) => None,
            Err(_) => Some(cell.ttl.saturating_sub(cell.created.elapsed())),
        }
    }

    /// Hands back a slot taken by [`MemoryBackend::reserve_failure`] for an attempt that did
    /// not fail.
    pub(crate) fn release_failure(&self, ip: IpAddr) {
        if let Some(cell) = self.failures.get(&ip) {
            let _ = cell
                .count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                    used.checked_sub(1)
                });
        }
    }

    /// Entries held, after running the caches' pending evictions.
    pub(crate) fn entries(&self) -> u64 {
        self.rates.run_pending_tasks();
        self.quotas.run_pending_tasks();
        self.failures.run_pending_tasks();
        self.rates.entry_count() + self.quotas.entry_count() + self.failures.entry_count()
    }
}

pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
