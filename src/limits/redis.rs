//! The shared backend: counters in Redis, so every replica enforces one limit.
//!
//! Each check is one Lua script, atomic on the server (GCRA rate and quota together, see
//! `check.lua`), timed by the server's clock. Keys start with `key_prefix` and carry an expiry,
//! so Redis never accumulates stale state. The connection is a multiplexed
//! [`ConnectionManager`] created lazily: start-up does not need Redis, and after an outage it
//! reconnects by itself. Every call is bounded by `call_timeout_ms`.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use secrecy::ExposeSecret;

use super::config::{LimitsConfig, LimitsConfigError, PolicyLimits};
use super::decision::{Decision, LimitError, Window, retry_seconds};
use super::memory::Checked;

/// Why the backend gave no answer. Safe to log: it never contains the URL.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BackendError(pub String);

pub(crate) struct RedisBackend {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    check: Script,
    fail: Script,
    blocked: Script,
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

const FAIL: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return n";

const BLOCKED: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then return 0 end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then return 1 end
return left";

impl RedisBackend {
    /// Prepares the connection without opening it; the first call (or probe) connects.
    pub(crate) fn new(cfg: &LimitsConfig) -> Result<Self, LimitsConfigError> {
        let url = cfg.redis_url.as_ref().ok_or_else(|| {
            LimitsConfigError::new(
                "limits.redis_url",
                "required when limits.backend = \"redis\"",
            )
        })?;
        let unusable = |e: RedisError| {
            LimitsConfigError::new(
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
            fail: Script::new(FAIL),
            blocked: Script::new(BLOCKED),
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
        let [verdict, limit, left, reset, retry, qleft, qreset] = reply[..] else {
            return Err(BackendError(format!(
                "redis: check script returned {} values, expected 7",
                reply.len()
            )));
        };
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
    ) -> Result<Option<Duration>, BackendError> {
        let mut conn = self.conn.clone();
        let mut call = self.blocked.prepare_invoke();
        call.key(self.failure_key(ip)).arg(max);
        let left: i64 = self.bounded(call.invoke_async(&mut conn)).await?;
        Ok((left > 0).then(|| Duration::from_millis(left.unsigned_abs())))
    }

    pub(crate) async fn record_failure(
        &self,
        ip: IpAddr,
        window: Duration,
    ) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let mut call = self.fail.prepare_invoke();
        call.key(self.failure_key(ip)).arg(window.as_secs().max(1));
        let _count: i64 = self.bounded(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    pub(crate) async fn ping(&self) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let _pong: String = self.bounded(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    fn failure_key(&self, ip: IpAddr) -> String {
        format!("{}authfail:{ip}", self.prefix)
    }
}
