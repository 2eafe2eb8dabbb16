//! Is the backend answering? Tracks it from every call and from the Redis probe, logs the
//! transitions once (not every failed request), and keeps the counters for metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::redis::BackendError;
use crate::config::BackendKind;

pub(crate) struct Health {
    backend: BackendKind,
    up: AtomicBool,
    errors: AtomicU64,
    allowed: AtomicU64,
}

/// Counters a metrics exporter can publish.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Whether the last backend call (or probe) succeeded.
    pub backend_up: bool,
    /// Backend calls that failed (unreachable, timed out, bad reply) since start.
    pub backend_errors: u64,
    /// Requests served without a limit check because the backend failed and
    /// `on_backend_error = "allow"`.
    pub allowed_on_backend_error: u64,
    /// Memory backend: entries held across its tables (bounded by 3 x `memory_max_keys`).
    pub memory_entries: Option<u64>,
    /// Redis backend: keys found holding state this service never writes (wrong type,
    /// impossible value or expiry) and reset since start.
    pub repairs: u64,
}

impl Health {
    pub(crate) fn new(backend: BackendKind) -> Self {
        Health {
            backend,
            up: AtomicBool::new(true),
            errors: AtomicU64::new(0),
            allowed: AtomicU64::new(0),
        }
    }

    /// The value of a successful call; `None` (logged on the first failure) otherwise.
    pub(crate) fn observe<T>(&self, outcome: Result<T, BackendError>) -> Option<T> {
        match outcome {
            Ok(value) => {
                if !self.up.swap(true, Ordering::AcqRel) {
                    tracing::info!(backend = ?self.backend, "rate-limit backend reachable again");
                }
                Some(value)
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if self.up.swap(false, Ordering::AcqRel) {
                    tracing::warn!(backend = ?self.backend, error = %e, "rate-limit backend unreachable");
                } else {
                    tracing::debug!(error = %e, "rate-limit backend still unreachable");
                }
                None
            }
        }
    }

    /// Counts a request let through unchecked; warns on the first and every 1000th.
    pub(crate) fn count_allowed(&self) {
        let n = self.allowed.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 || n.is_multiple_of(1000) {
            tracing::warn!(
                allowed_total = n,
                "serving without rate limits: backend unreachable and on_backend_error = allow"
            );
        }
    }

    pub(crate) fn problem(&self) -> Option<String> {
        if self.up.load(Ordering::Acquire) {
            return None;
        }
        let name = match self.backend {
            BackendKind::Memory => "memory",
            BackendKind::Redis => "redis",
        };
        // The cause is in the logs; `/readyz` is public and names no internals.
        Some(format!("rate-limit backend ({name}) unreachable"))
    }

    pub(crate) fn stats(&self, memory_entries: Option<u64>) -> LimiterStats {
        LimiterStats {
            backend_up: self.up.load(Ordering::Acquire),
            backend_errors: self.errors.load(Ordering::Relaxed),
            allowed_on_backend_error: self.allowed.load(Ordering::Relaxed),
            memory_entries,
            repairs: 0,
        }
    }
}
