//! The shared backend: counters in Redis, so every replica enforces one limit.
//!
//! Each check is one Lua script, atomic on the server (GCRA rate and quota together, see
//! `check.lua`), timed by the server's clock. Keys start with `key_prefix` and carry an expiry,
//! so Redis never accumulates stale state. The connection is a multiplexed
//! [`ConnectionManager`] created lazily: start-up does not need Redis, and after an outage it
//! reconnects by itself. Every call is bounded by `call_timeout_ms`.

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use secrecy::ExposeSecret;

use super::decision::{Decision, LimitError, Window, retry_seconds};
use super::memory::Checked;
use crate::config::{ConfigError, LimitsSettings, PolicyLimits};

/// Why the backend gave no answer. Safe to log: it never contains the URL.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BackendError(pub String);

pub(crate) struct RedisBackend {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    check: Script,
    reserve: Script,
    blocked: Script,
    release: Script,
    repairs: AtomicU64,
}

// The ConnectionManager's Debug would print the client's connection info.
impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

// The failure counter of one address: a count of at most ARGV[1] (max) with an expiry of at
// most ARGV[2] seconds (the window). Anything else in the key (another type, a non-integer,
// a negative count or one above max, no expiry or a longer one) is not state this service
// wrote: it is deleted and the address starts afresh, and the reply says so (last value).
const FAILURE_STATE: &str = r"
local key, max, window_ms = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]) * 1000
local repaired = 0
local n = 0
local kind = redis.call('TYPE', key).ok
if kind == 'string' then
  n = tonumber(redis.call('GET', key))
  local ttl = redis.call('PTTL', key)
  if n == nil or n ~= n or n < 0 or n > max or n % 1 ~= 0 or ttl < 0 or ttl > window_ms then
    redis.call('DEL', key)
    n, repaired = 0, 1
  end
elseif kind ~= 'none' then
  redis.call('DEL', key)
  repaired = 1
end
";

// Check and record in one step: takes a slot if fewer than max are taken ({1, 0, repaired}),
// else answers the block's remaining milliseconds ({0, ms, repaired}).
const RESERVE: &str = r"
if n >= max then
  return {0, math.max(redis.call('PTTL', key), 1), repaired}
end
if redis.call('INCR', key) == 1 then
  redis.call('PEXPIRE', key, window_ms)
end
return {1, 0, repaired}";

// Check only: {ms left in the block or 0, repaired}.
const BLOCKED: &str = r"
if n < max then return {0, repaired} end
return {math.max(redis.call('PTTL', key), 1), repaired}";

// Hands a slot back: the attempt that took it did not fail.
const RELEASE: &str = r"
if n >= 1 then redis.call('DECR', key) end
return {0, repaired}";

impl RedisBackend {
    /// Prepares the connection without opening it; the first call (or probe) connects.
    pub(crate) fn new(cfg: &LimitsSettings) -> Result<Self, ConfigError> {
        let url = cfg.redis_url.as_ref().ok_or_else(|| {
            ConfigError::key(
                "limits.redis_url",
                "required when limits.backend = \"redis\"",
            )
        })?;
        let unusable = |e: RedisError| {
            ConfigError::key(
                "limits.redis_url",
                format!("not a usable Redis URL ({:?})", e.kind()),
            )
        };
        let client = redis::Client::open(url.expose_secret()).map_err(unusable)?;
        let timeout = cfg.call_timeout();
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        let conn =
            ConnectionManager::new_lazy_with_config(client, manager_config).map_err(unusable)?;
        Ok(RedisBackend {
            conn,
            prefix: cfg.key_prefix.clone(),
            timeout,
            check: Script::new(include_str!("check.lua")),
            reserve: Script::new(&format!("{FAILURE_STATE}{RESERVE}")),
            blocked: Script::new(&format!("{FAILURE_STATE}{BLOCKED}")),
            release: Script::new(&format!("{FAILURE_STATE}{RELEASE}")),
            repairs: AtomicU64::new(0),
        })
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, BackendError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(BackendError(format!("redis: {e}"))),
            Err(_) => Err(BackendError(format!(
                "redis: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    pub(crate) async fn check(
        &self,
        key: &str,
        limits: &PolicyLimits,
    ) -> Result<Checked, BackendError> {
        let interval_us = u64::try_from(limits.interval().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let burst = limits.burst().get();
        let (qmax, qwindow) = limits
            .quota()
            .map_or((0, 1), |q| (q.max.get(), q.window_seconds.get()));
        let mut conn = self.conn.clone();
        let mut call = self.check.prepare_invoke();
        call.key(format!("{}rate:{interval_us}:{burst}:{key}", self.prefix))
            .key(format!("{}quota:{qmax}:{qwindow}:{key}", self.prefix))
            .arg(interval_us)
            .arg(burst)
            .arg(qmax)
            .arg(qwindow);
        let reply: Vec<i64> = self.bounded(call.invoke_async(&mut conn)).await?;
        let [verdict, limit, left, reset, retry, qleft, qreset, repaired] = reply[..] else {
            return Err(reply_error(reply.len(), 8));
        };
        self.count_repairs(repaired, "rate or quota");
        let ms = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        let rate = Window {
            limit: count(limit),
            remaining: count(left),
            reset: ms(reset),
        };
        let quota = (qmax > 0).then(|| Window {
            limit: u64::from(qmax),
            remaining: count(qleft),
            reset: ms(qreset),
        });
        Ok(match (verdict, quota) {
            (0, quota) => Ok(Decision::tighter(rate, quota)),
            (2, Some(quota)) => Err(LimitError::Quota {
                retry_after: retry_seconds(ms(retry)),
                decision: Decision::tighter(quota, None),
            }),
            _ => Err(LimitError::Rate {
                retry_after: retry_seconds(ms(retry)),
                decision: Decision::tighter(rate, None),
            }),
        })
    }

    /// Time left in the block, if `ip` has reached `max` failures.
    pub(crate) async fn ip_blocked(
        &self,
        ip: IpAddr,
        max: u32,
        window: Duration,
    ) -> Result<Option<Duration>, BackendError> {
        let reply = self.failure_call(&self.blocked, ip, max, window).await?;
        let [left, repaired] = reply[..] else {
            return Err(reply_error(reply.len(), 2));
        };
        self.count_repairs(repaired, "auth-failure counter");
        Ok((left > 0).then(|| Duration::from_millis(left.unsigned_abs())))
    }

    /// Takes one of `ip`'s `max` failure slots in one atomic step, or answers the time left
    /// in the block.
    pub(crate) async fn reserve_failure(
        &self,
        ip: IpAddr,
        max: u32,
        window: Duration,
    ) -> Result<Option<Duration>, BackendError> {
        let reply = self.failure_call(&self.reserve, ip, max, window).await?;
        let [taken, left, repaired] = reply[..] else {
            return Err(reply_error(reply.len(), 3));
        };
        self.count_repairs(repaired, "auth-failure counter");
        Ok((taken == 0).then(|| Duration::from_millis(left.unsigned_abs().max(1))))
    }

    /// Hands back a slot of an attempt that did not fail.
    pub(crate) async fn release_failure(
        &self,
        ip: IpAddr,
        max: u32,
        window: Duration,
    ) -> Result<(), BackendError> {
        let reply = self.failure_call(&self.release, ip, max, window).await?;
        let [_, repaired] = reply[..] else {
            return Err(reply_error(reply.len(), 2));
        };
        self.count_repairs(repaired, "auth-failure counter");
        Ok(())
    }

    async fn failure_call(
        &self,
        script: &Script,
        ip: IpAddr,
        max: u32,
        window: Duration,
    ) -> Result<Vec<i64>, BackendError> {
        let mut conn = self.conn.clone();
        let mut call = script.prepare_invoke();
        call.key(self.failure_key(ip))
            .arg(max)
            .arg(window.as_secs().max(1));
        self.bounded(call.invoke_async(&mut conn)).await
    }

    pub(crate) async fn ping(&self) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let _pong: String = self.bounded(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    /// Keys the scripts found corrupt (see `FAILURE_STATE` and `check.lua`) and reset.
    pub(crate) fn repairs(&self) -> u64 {
        self.repairs.load(Ordering::Relaxed)
    }

    /// Counts and logs keys a script reset. The log names the kind of key only: the key
    /// itself carries a principal's digest or a client address.
    fn count_repairs(&self, repaired: i64, what: &'static str) {
        if repaired > 0 {
            let total = self
                .repairs
                .fetch_add(repaired.unsigned_abs(), Ordering::Relaxed)
                + repaired.unsigned_abs();
            tracing::warn!(
                key_kind = what,
                repairs_total = total,
                "rate-limit key in Redis held state this service never writes; reset it"
            );
        }
    }

    fn failure_key(&self, ip: IpAddr) -> String {
        format!("{}authfail:{ip}", self.prefix)
    }
}

fn reply_error(got: usize, expected: usize) -> BackendError {
    BackendError(format!(
        "redis: script returned {got} values, expected {expected}"
    ))
}
