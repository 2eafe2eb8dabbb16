//! What a limit check tells the caller, and the HTTP headers that carry it.
//!
//! The headers are those of the IETF RateLimit header draft (`RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset`) plus `Retry-After` on refusals. When a policy has
//! both a rate and a quota, the headers describe whichever has fewer requests left.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

/// `RateLimit-Limit`.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The state of the binding limit after a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Requests the limit allows in its window: the burst for a rate, `max` for a quota.
    pub limit: u64,
    /// Requests left right now.
    pub remaining: u64,
    /// Seconds (rounded up) until `remaining` is back to `limit`: the bucket refilled, or the
    /// quota window over.
    pub reset_seconds: u64,
    /// True when the backend was unreachable and `on_backend_error = "allow"` let the request
    /// through: only `limit` is known, and only `RateLimit-Limit` is written.
    pub degraded: bool,
}

/// One limit's state, before choosing which one the headers describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub limit: u64,
    pub remaining: u64,
    pub reset: Duration,
}

impl Decision {
    /// The tighter of a rate and an optional quota: fewer remaining, then the later reset.
    pub(crate) fn tighter(rate: Window, quota: Option<Window>) -> Decision {
        let binding = match quota {
            Some(q)
                if (q.remaining, std::cmp::Reverse(q.reset))
                    <= (rate.remaining, std::cmp::Reverse(rate.reset)) =>
            {
                q
            }
            _ => rate,
        };
        Decision {
            limit: binding.limit,
            remaining: binding.remaining,
            reset_seconds: ceil_seconds(binding.reset),
            degraded: false,
        }
    }

    /// A decision made without the backend: the limit is known, nothing else.
    pub(crate) fn degraded(limit: u64) -> Decision {
        Decision {
            limit,
            remaining: 0,
            reset_seconds: 0,
            degraded: true,
        }
    }

    /// Writes `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (only the first
    /// when degraded), replacing any earlier values.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(self.limit));
        if self.degraded {
            return;
        }
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(self.remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(self.reset_seconds));
    }
}

/// Why a request may not go ahead now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Too many requests in a short time (envelope code 42901). Nothing was consumed.
    #[error("too many signature requests; retry in {retry_after} s")]
    Rate {
        /// Whole seconds, rounded up, until one request would be allowed.
        retry_after: u64,
        decision: Decision,
    },
    /// The principal's quota for this window is used up (envelope code 42902).
    #[error("the signature quota is used up; it renews in {retry_after} s")]
    Quota {
        /// Whole seconds, rounded up, until the quota window ends.
        retry_after: u64,
        decision: Decision,
    },
    /// The limiter's backend is unreachable and `on_backend_error = "deny"` (code 50301).
    #[error("the service is temporarily unable to check limits; retry shortly")]
    Unavailable,
}

impl LimitError {
    /// Seconds for `Retry-After`, where one applies.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            LimitError::Rate { retry_after, .. } | LimitError::Quota { retry_after, .. } => {
                Some(*retry_after)
            }
            LimitError::Unavailable => None,
        }
    }

    /// Writes `Retry-After` and, for 429s, the RateLimit headers.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        if let LimitError::Rate { decision, .. } | LimitError::Quota { decision, .. } = self {
            decision.write_headers(headers);
        }
        if let Some(seconds) = self.retry_after() {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
}

/// Whole seconds, rounded up: a client that waits this long will be let through.
pub fn ceil_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `Retry-After` for a wait: rounded up, and at least 1 so a refused client never retries
/// at once.
pub(crate) fn retry_seconds(d: Duration) -> u64 {
    ceil_seconds(d).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(limit: u64, remaining: u64, reset: u64) -> Window {
        Window {
            limit,
            remaining,
            reset: Duration::from_millis(reset),
        }
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(ceil_seconds(Duration::ZERO), 0);
        assert_eq!(ceil_seconds(Duration::from_nanos(1)), 1);
        assert_eq!(ceil_seconds(Duration::from_secs(2)), 2);
        assert_eq!(ceil_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(retry_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn headers_describe_the_limit_with_fewer_left() {
        let d = Decision::tighter(window(10, 9, 100), Some(window(1000, 3, 5000)));
        assert_eq!((d.limit, d.remaining, d.reset_seconds), (1000, 3, 5));
        let d = Decision::tighter(window(10, 2, 1500), Some(window(1000, 999, 5000)));
        assert_eq!((d.limit, d.remaining, d.reset_seconds), (10, 2, 2));
        let d = Decision::tighter(window(10, 0, 1500), Some(window(5, 0, 9000)));
        assert_eq!(d.limit, 5, "equal remaining: the later reset binds");
    }

    #[test]
    fn refusal_writes_retry_after_and_ratelimit_headers() {
        let decision = Decision::tighter(window(5, 0, 2500), None);
        let err = LimitError::Rate {
            retry_after: 1,
            decision,
        };
        let mut headers = HeaderMap::new();
        err.write_headers(&mut headers);
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(headers["ratelimit-limit"], "5");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert_eq!(headers["ratelimit-reset"], "3");
    }

    #[test]
    fn degraded_decision_writes_only_the_limit() {
        let mut headers = HeaderMap::new();
        Decision::degraded(7).write_headers(&mut headers);
        assert_eq!(headers["ratelimit-limit"], "7");
        assert!(headers.get("ratelimit-remaining").is_none());
    }
}
