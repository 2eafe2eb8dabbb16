//! Typed settings of the limiter: the service-wide `[limits]` table and the per-policy
//! `[policies.NAME.limits]` table.
//!
//! Both are parsed, not validated later: a [`PolicyLimits`] that exists is usable, and
//! [`LimitsSettings::validate`] names the offending key so start-up can stop with a clear message.

use std::num::NonZeroU32;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ConfigError;

/// The `[limits]` table. Every key is optional; the defaults are stated per field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Where counters live: `"memory"` (one instance, the default) or `"redis"` (shared by
    /// replicas).
    pub backend: BackendKind,
    /// Redis URL, `redis://[:password@]host:port[/db]` (or `rediss://`). Required when
    /// `backend = "redis"`; no default. It may carry a password: set it from the environment
    /// through the config loader rather than in the file. Never logged.
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key this service writes. Default `"vodsign:"`.
    pub key_prefix: String,
    /// Upper bound for one Redis round trip, connecting included, in milliseconds.
    /// Default `250`.
    pub call_timeout_ms: u64,
    /// How often the Redis backend is probed (PING) so readiness and reconnection do not
    /// depend on traffic, in milliseconds. Default `1000`.
    pub health_interval_ms: u64,
    /// What a request gets while the backend is unreachable: `"deny"` (503, code 50301, the
    /// default) or `"allow"` (served unlimited, a warning logged and counted).
    pub on_backend_error: OnBackendError,
    /// Proxies whose forwarding header is believed, as CIDRs (`"10.0.0.0/8"`, `"::1/128"`)
    /// or single addresses (`"10.0.0.1"`, read as `/32` or `/128`); a CIDR with host bits set
    /// (`"10.0.0.1/8"`) is refused. Default: none, so the client is always the socket peer.
    #[serde(deserialize_with = "trusted_proxies")]
    pub trusted_proxies: Vec<IpNet>,
    /// Which header a trusted proxy writes: `"x-forwarded-for"` (default) or `"forwarded"`
    /// (RFC 7239). Only one is read: a header the proxy does not rewrite is client-controlled.
    pub forwarded_header: ForwardedHeader,
    /// Per-IP limit on failed authentications.
    pub auth_failures: AuthFailureLimits,
    /// Requests handled at once before new ones get 503 (code 50301). Default `512`.
    pub max_in_flight: usize,
    /// Signature requests one caller (credential and subject) may have in progress at once,
    /// body upload included; the next gets 429 (code 42903). `0` turns it off; at most
    /// 1000000. Default `32`.
    pub max_in_flight_per_principal: usize,
    /// Memory backend only: most keys kept per table (rate buckets, quota counters, failure
    /// counters); the least useful are evicted beyond it. Default `100000`, i.e. at most
    /// about 3 x 100000 entries of roughly 200 bytes, some 60 MB.
    pub memory_max_keys: u64,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        LimitsSettings {
            backend: BackendKind::Memory,
            redis_url: None,
            key_prefix: "vodsign:".to_owned(),
            call_timeout_ms: 250,
            health_interval_ms: 1000,
            on_backend_error: OnBackendError::Deny,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            auth_failures: AuthFailureLimits::default(),
            max_in_flight: 512,
            max_in_flight_per_principal: 32,
            memory_max_keys: 100_000,
        }
    }
}

/// `trusted_proxies`: each entry through [`proxy_network`]. The entries are network
/// addresses, not secrets, so a refusal quotes the one at fault.
fn trusted_proxies<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(de)?
        .iter()
        .map(|entry| proxy_network(entry).map_err(serde::de::Error::custom))
        .collect()
}

/// A network in CIDR notation, or a single address as a network of one; a CIDR with host
/// bits set is refused with the network to write instead, since `10.0.0.1/8` may mean
/// `10.0.0.0/8` or a typo for `10.0.0.1/32`, and guessing wrong trusts the wrong hosts.
fn proxy_network(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<IpNet>() {
        if net.trunc() != net {
            return Err(format!(
                "{net} has host bits set; write {} (the network) or {}/{} (one address)",
                net.trunc(),
                net.addr(),
                net.max_prefix_len()
            ));
        }
        return Ok(net);
    }
    if let Ok(addr) = entry.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    Err(format!(
        "{entry:?} is not an IP address or CIDR; write e.g. \"10.0.0.0/8\", \"10.0.0.1\" or \"::1\""
    ))
}

/// The `[limits.auth_failures]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthFailureLimits {
    /// Failed authentications an address may have within the window; past it the address is
    /// damped until the window ends: a further failure, and any credential that would need
    /// an introspection call, gets 429 (code 42901), while a valid API key or JWT is still
    /// served. Default `20`.
    pub max: u32,
    /// Length of the window, counted from the first failure, in seconds. Default `300`.
    pub window_seconds: u64,
    /// IPv6 clients are counted per network of this prefix length, since one host usually
    /// holds a whole /64. Default `64`; `128` counts single addresses.
    pub ipv6_prefix: u8,
}

impl Default for AuthFailureLimits {
    fn default() -> Self {
        AuthFailureLimits {
            max: 20,
            window_seconds: 300,
            ipv6_prefix: 64,
        }
    }
}

/// Where the limiter keeps its counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Memory,
    Redis,
}

/// Behaviour while the backend cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBackendError {
    Deny,
    Allow,
}

/// The forwarding header read from trusted proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    XForwardedFor,
    Forwarded,
}

impl LimitsSettings {
    /// The backend's name, as the metrics label it.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            BackendKind::Memory => "memory",
            BackendKind::Redis => "redis",
        }
    }

    /// Checks every value; the error names the first offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("limits.call_timeout_ms", self.call_timeout_ms),
            ("limits.health_interval_ms", self.health_interval_ms),
            ("limits.max_in_flight", self.max_in_flight as u64),
            ("limits.memory_max_keys", self.memory_max_keys),
            (
                "limits.auth_failures.max",
                u64::from(self.auth_failures.max),
            ),
            (
                "limits.auth_failures.window_seconds",
                self.auth_failures.window_seconds,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::key(key, "must be at least 1"));
            }
        }
        if self.max_in_flight_per_principal > 1_000_000 {
            return Err(ConfigError::key(
                "limits.max_in_flight_per_principal",
                "must be from 0 (no limit) to 1000000; keep it well below max_in_flight",
            ));
        }
        if self.auth_failures.ipv6_prefix > 128 {
            return Err(ConfigError::key(
                "limits.auth_failures.ipv6_prefix",
                "must be between 0 and 128",
            ));
        }
        if self.backend == BackendKind::Redis {
            let Some(url) = &self.redis_url else {
                return Err(ConfigError::key(
                    "limits.redis_url",
                    "required when limits.backend = \"redis\"",
                ));
            };
            if let Err(e) = redis::Client::open(url.expose_secret()) {
                // Only the error's kind: its detail could quote part of the URL.
                return Err(ConfigError::key(
                    "limits.redis_url",
                    format!(
                        "not a usable Redis URL ({:?}); expected redis://[:password@]host:port[/db]",
                        e.kind()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Upper bound for one backend round trip.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

/// The `[policies.NAME.limits]` table: how often and how much one principal may sign.
///
/// ```toml
/// rate_per_minute = 60                    # or rate_per_second; exactly one
/// burst = 10                              # default: the rate's number
/// quota = { max = 1000, per = "day" }     # optional; or { max = 100, window_seconds = 3600 }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawPolicyLimits")]
pub struct PolicyLimits {
    interval: Duration,
    burst: NonZeroU32,
    quota: Option<Quota>,
}

/// A count of signatures per window. Windows are aligned to the Unix epoch, so
/// `per = "day"` ends at 00:00 UTC and `window_seconds = 3600` at each full hour.
/// This is a fixed window, not a sliding one: up to `2 x max` can be issued around a boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub max: NonZeroU32,
    pub window_seconds: NonZeroU32,
}

impl Quota {
    /// The window holding `unix_seconds`: its index and the seconds left until it ends.
    pub fn window_at(&self, unix_seconds: u64) -> (u64, u64) {
        let len = u64::from(self.window_seconds.get());
        let index = unix_seconds / len;
        (index, (index + 1) * len - unix_seconds)
    }
}

impl PolicyLimits {
    /// `rate` signatures per second, `burst` at once.
    pub fn per_second(rate: u32, burst: u32) -> Result<Self, ConfigError> {
        Self::with_rate(Duration::from_secs(1), "rate_per_second", rate, Some(burst))
            .map_err(refused)
    }

    /// `rate` signatures per minute, `burst` at once.
    pub fn per_minute(rate: u32, burst: u32) -> Result<Self, ConfigError> {
        Self::with_rate(
            Duration::from_secs(60),
            "rate_per_minute",
            rate,
            Some(burst),
        )
        .map_err(refused)
    }

    /// Adds a quota of `max` signatures per window of `window_seconds` (86400 = UTC day).
    pub fn with_quota(self, max: u32, window_seconds: u32) -> Result<Self, ConfigError> {
        self.quota_of(max, window_seconds).map_err(refused)
    }

    fn quota_of(mut self, max: u32, window_seconds: u32) -> Result<Self, &'static str> {
        let max = NonZeroU32::new(max).ok_or("quota.max must be at least 1")?;
        let window_seconds =
            NonZeroU32::new(window_seconds).ok_or("quota.window_seconds must be at least 1")?;
        self.quota = Some(Quota {
            max,
            window_seconds,
        });
        Ok(self)
    }

    fn with_rate(
        unit: Duration,
        key: &'static str,
        rate: u32,
        burst: Option<u32>,
    ) -> Result<Self, &'static str> {
        let rate = NonZeroU32::new(rate).ok_or(match key {
            "rate_per_second" => "rate_per_second must be at least 1",
            _ => "rate_per_minute must be at least 1",
        })?;
        if unit.as_secs() == 1 && rate.get() > 1_000_000 {
            return Err("rate_per_second must be at most 1000000");
        }
        let burst = match burst {
            None => rate,
            Some(b) => NonZeroU32::new(b).ok_or("burst must be at least 1")?,
        };
        Ok(PolicyLimits {
            interval: unit / rate.get(),
            burst,
            quota: None,
        })
    }

    /// Time for one signature's worth of capacity to come back.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Signatures that may be issued at once after a quiet period.
    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    pub fn quota(&self) -> Option<Quota> {
        self.quota
    }

    /// The same rate, without the quota: what a request that spends rate but no quota
    /// (re-signing an upload, reading uploads) is checked against.
    pub fn without_quota(&self) -> Self {
        PolicyLimits {
            quota: None,
            ..self.clone()
        }
    }
}

/// A `[policies.NAME.limits]` rule broken by limits built in code, where the policy's name
/// is not known.
fn refused(rule: &'static str) -> ConfigError {
    ConfigError::key("policies.NAME.limits", rule)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicyLimits {
    rate_per_second: Option<u32>,
    rate_per_minute: Option<u32>,
    burst: Option<u32>,
    quota: Option<RawQuota>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuota {
    max: u32,
    per: Option<QuotaPeriod>,
    window_seconds: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum QuotaPeriod {
    Day,
}

impl TryFrom<RawPolicyLimits> for PolicyLimits {
    /// The rule broken, without the key: serde places it under the table's path.
    type Error = &'static str;

    fn try_from(raw: RawPolicyLimits) -> Result<Self, Self::Error> {
        let limits = match (raw.rate_per_second, raw.rate_per_minute) {
            (Some(r), None) => {
                Self::with_rate(Duration::from_secs(1), "rate_per_second", r, raw.burst)?
            }
            (None, Some(r)) => {
                Self::with_rate(Duration::from_secs(60), "rate_per_minute", r, raw.burst)?
            }
            _ => {
                return Err("set exactly one of rate_per_second and rate_per_minute");
            }
        };
        let Some(quota) = raw.quota else {
            return Ok(limits);
        };
        let window = match (quota.per, quota.window_seconds) {
            (Some(QuotaPeriod::Day), None) => 86_400,
            (None, Some(seconds)) => seconds,
            _ => {
                return Err("quota needs exactly one of per = \"day\" and window_seconds");
            }
        };
        limits.quota_of(quota.max, window)
    }
}
