//! May this caller have a signature now? Rate limits, quotas, per-IP auth-failure limits and
//! load shedding.
//!
//! Where each check belongs in a request:
//! 1. Load shedding first: past `max_in_flight`, 503 at once. The signature route holds a
//!    slot of [`Limiter::shed`] for the auth-check and the limit check, never while a body
//!    uploads; [`Limiter::per_caller`] bounds each caller's requests in progress.
//! 2. Around authentication, per client address ([`Limiter::client_ip`]): a credential that
//!    costs a remote call (introspection) first takes a failure slot with
//!    [`Limiter::reserve_auth_attempt`] (a damped address gets 429, 42901, and the token is
//!    not examined) and hands it back with [`Limiter::release_auth_attempt`] unless it failed.
//!    A credential verified locally (API key, JWT) is verified first, so a valid one is
//!    served even from a damped address; only its failure takes a slot (or, damped, gets
//!    429). Check and record are one atomic step, so at most `auth_failures.max` failures
//!    per window are counted, and at most that many introspection calls are made from one
//!    address at once, however many attempts arrive together. Other refusals (no
//!    credential, an unavailable verifier) only ask [`Limiter::ip_blocked`].
//! 3. Right after authentication, before the body is read: [`Limiter::check_principal`].
//!    So a rate token and a quota unit are spent by every authenticated request as it
//!    arrives, whether or not it completes: a caller cannot flood with requests that never
//!    finish, or that the policy refuses, for free.
//!
//! Backends: [`memory`] (one instance) and [`redis`] (shared by replicas). When the backend
//! cannot be reached, `on_backend_error` decides: refuse (503, 50301) or serve unlimited,
//! counting it in [`LimiterStats::allowed_on_backend_error`]. A Redis key holding state this
//! service never writes (another type, an impossible value or expiry) is repaired, not
//! obeyed: deleted and counted afresh, counted in [`LimiterStats::repairs`], so one corrupt
//! key can neither refuse a caller for ever nor mark the backend unhealthy.

mod client_ip;
mod decision;
mod health;
mod memory;
mod redis;
mod shed;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use ipnet::Ipv6Net;
use sha2::{Digest, Sha256};

pub use client_ip::client_ip_from;
pub use decision::{Decision, LimitError, RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET};
pub use health::LimiterStats;
pub use shed::{CallerPermit, PerCaller, ShedBudget};

use crate::config::{BackendKind, ConfigError, LimitsSettings, OnBackendError, PolicyLimits};
use crate::principal::Principal;
use health::Health;
use memory::MemoryBackend;
use redis::{BackendError, RedisBackend};

/// The limiter; cheap to clone, clones share state.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    health: Health,
    config: LimitsSettings,
    shed: ShedBudget,
    per_caller: PerCaller,
}

enum Backend {
    Memory(MemoryBackend),
    Redis(RedisBackend),
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("backend", &self.inner.config.backend)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Builds the limiter. Does not wait for Redis: while it is unreachable the limiter
    /// answers per `on_backend_error` and [`Limiter::backend_problem`] says why. Must run inside a
    /// tokio runtime (the Redis backend spawns its health probe).
    pub async fn from_config(cfg: &LimitsSettings) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let backend = match cfg.backend {
            BackendKind::Memory => Backend::Memory(MemoryBackend::new(cfg.memory_max_keys)),
            BackendKind::Redis => Backend::Redis(RedisBackend::new(cfg)?),
        };
        let limiter = Limiter {
            inner: Arc::new(Inner {
                backend,
                health: Health::new(cfg.backend),
                config: cfg.clone(),
                shed: ShedBudget::new(cfg.max_in_flight),
                per_caller: PerCaller::new(cfg.max_in_flight_per_principal),
            }),
        };
        if cfg.backend == BackendKind::Redis {
            limiter.spawn_probe(Duration::from_millis(cfg.health_interval_ms));
        }
        Ok(limiter)
    }

    /// Spends one signature of `principal_key`'s rate and quota, or says why not.
    /// Call it right after authentication; see the module docs.
    pub async fn check_principal(
        &self,
        principal_key: &str,
        limits: &PolicyLimits,
    ) -> Result<Decision, LimitError> {
        let outcome = match &self.inner.backend {
            Backend::Memory(m) => Ok(m.check(principal_key, limits)),
            Backend::Redis(r) => r.check(principal_key, limits).await,
        };
        let unknown = Decision::degraded(u64::from(limits.burst().get()));
        self.degrade(outcome, Ok(unknown))?
    }

    /// `Some(seconds)` to wait if `ip` has no failure slot left (answer 429, 42901, with
    /// `Retry-After`). Only looks: takes no slot.
    pub async fn ip_blocked(&self, ip: IpAddr) -> Result<Option<u64>, LimitError> {
        let key = self.ip_key(ip);
        let (max, window) = self.failure_limit();
        let outcome = match &self.inner.backend {
            Backend::Memory(m) => Ok(m.ip_blocked(key, max)),
            Backend::Redis(r) => r.ip_blocked(key, max, window).await,
        };
        Ok(self.degrade(outcome, None)?.map(decision::retry_seconds))
    }

    /// Takes one of `ip`'s failure slots before an attempt is evaluated: `Ok(None)` when
    /// taken (evaluate, then [`Limiter::release_auth_attempt`] unless the attempt failed),
    /// `Ok(Some(seconds))` when the address is damped (answer 429, 42901, with
    /// `Retry-After`). Check and record are one atomic step on either backend.
    pub async fn reserve_auth_attempt(&self, ip: IpAddr) -> Result<Option<u64>, LimitError> {
        let key = self.ip_key(ip);
        let (max, window) = self.failure_limit();
        let outcome = match &self.inner.backend {
            Backend::Memory(m) => Ok(m.reserve_failure(key, max, window)),
            Backend::Redis(r) => r.reserve_failure(key, max, window).await,
        };
        Ok(self.degrade(outcome, None)?.map(decision::retry_seconds))
    }

    /// Hands back the slot [`Limiter::reserve_auth_attempt`] took, for an attempt that did
    /// not fail. Backend errors are logged and counted only.
    pub async fn release_auth_attempt(&self, ip: IpAddr) {
        let key = self.ip_key(ip);
        let (max, window) = self.failure_limit();
        let outcome = match &self.inner.backend {
            Backend::Memory(m) => {
                m.release_failure(key);
                Ok(())
            }
            Backend::Redis(r) => r.release_failure(key, max, window).await,
        };
        let _ = self.inner.health.observe(outcome);
    }

    /// Counts a failed authentication from `ip` (a slot taken and kept; an address already
    /// at the limit stays there). Backend errors are logged and counted only.
    pub async fn record_auth_failure(&self, ip: IpAddr) {
        let key = self.ip_key(ip);
        let (max, window) = self.failure_limit();
        let outcome = match &self.inner.backend {
            Backend::Memory(m) => Ok(m.reserve_failure(key, max, window)),
            Backend::Redis(r) => r.reserve_failure(key, max, window).await,
        };
        // Nothing to refuse here: the next check applies on_backend_error.
        let _ = self.inner.health.observe(outcome);
    }

    fn failure_limit(&self) -> (u32, Duration) {
        let cfg = &self.inner.config.auth_failures;
        (cfg.max, Duration::from_secs(cfg.window_seconds))
    }

    /// The client's address for this request, per `trusted_proxies` and `forwarded_header`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let cfg = &self.inner.config;
        client_ip_from(peer, headers, &cfg.trusted_proxies, cfg.forwarded_header)
    }

    /// `None` while the backend answers (always for memory); otherwise what is wrong, with no
    /// cause (that is logged: it may name the host). Reported by `/readyz` and the
    /// dependency gauge, never a reason to be unready: every replica shares the backend, so
    /// taking them out of rotation would turn each `on_backend_error` answer into a
    /// connection error.
    pub fn backend_problem(&self) -> Option<String> {
        self.inner.health.problem()
    }

    /// The backend's name as a dependency, when it is one (Redis); `None` for memory.
    pub fn dependency_name(&self) -> Option<&'static str> {
        (self.inner.config.backend == BackendKind::Redis).then_some("redis")
    }

    /// Counters for metrics.
    pub fn stats(&self) -> LimiterStats {
        let (entries, repairs) = match &self.inner.backend {
            Backend::Memory(m) => (Some(m.entries()), 0),
            Backend::Redis(r) => (None, r.repairs()),
        };
        LimiterStats {
            repairs,
            ..self.inner.health.stats(entries)
        }
    }

    /// The shared load-shedding slots, `max_in_flight` of them.
    pub fn shed(&self) -> &ShedBudget {
        &self.inner.shed
    }

    /// Each caller's slots, `max_in_flight_per_principal` of them.
    pub fn per_caller(&self) -> &PerCaller {
        &self.inner.per_caller
    }

    /// Passes a backend answer through; without one, applies `on_backend_error`.
    fn degrade<T>(&self, outcome: Result<T, BackendError>, fallback: T) -> Result<T, LimitError> {
        match self.inner.health.observe(outcome) {
            Some(value) => Ok(value),
            None => match self.inner.config.on_backend_error {
                OnBackendError::Deny => Err(LimitError::Unavailable),
                OnBackendError::Allow => {
                    self.inner.health.count_allowed();
                    Ok(fallback)
                }
            },
        }
    }

    /// IPv6 clients are counted per network (`ipv6_prefix`), IPv4 per address.
    fn ip_key(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = self.inner.config.auth_failures.ipv6_prefix;
                Ipv6Net::new(v6, prefix).map_or(IpAddr::V6(v6), |n| IpAddr::V6(n.network()))
            }
            v4 => v4,
        }
    }

    fn spawn_probe(&self, every: Duration) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if let Backend::Redis(r) = &inner.backend {
                    let _ = inner.health.observe(r.ping().await);
                }
            }
        });
    }
}

/// A stable, opaque limit key for a principal: the same caller through the same credential
/// source always maps to the same key, and no user id is stored in Redis in the clear.
pub fn principal_key(principal: &Principal) -> String {
    let mut hash = Sha256::new();
    for part in [
        principal.kind.as_str(),
        &principal.credential_id,
        &principal.subject,
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}
