//! The process lifecycle: the draining flag, the reload counters, and the signals that
//! drive them.
//!
//! SIGTERM or SIGINT starts a graceful stop: `/readyz` answers 503 at once, requests are
//! still served for `server.drain_delay_ms` so the load balancer takes the instance out of
//! rotation, then [`crate::server`] stops accepting and gives in-flight requests
//! `server.shutdown_grace_ms`. A second SIGTERM/SIGINT cuts the drain delay short.
//! SIGHUP reloads the configuration ([`crate::reload`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::app::AppState;

/// Lifecycle facts that outlive a reload (held in [`crate::app::LongLived`]).
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
    /// Reload outcomes, for the metrics exporter.
    pub reloads: ReloadCounters,
}

impl Lifecycle {
    /// From now on readiness answers 503. Never undone: the process is going away.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// How many reloads were applied and how many were refused since start.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    succeeded: AtomicU64,
    failed: AtomicU64,
}

impl ReloadCounters {
    pub fn succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, applied: bool) {
        let counter = if applied {
            &self.succeeded
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// SIGTERM and SIGINT, installed once at start-up so that neither kills the process
/// before the drain has run.
pub struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Completes on the next SIGTERM or SIGINT.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// SIGHUP, installed at start-up (its default action would end the process).
pub struct ReloadSignal {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl ReloadSignal {
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                hangup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Completes on the next SIGHUP; `None` when no more can come.
    pub async fn recv(&mut self) -> Option<()> {
        #[cfg(unix)]
        return self.hangup.recv().await;
        #[cfg(not(unix))]
        std::future::pending().await
    }
}

/// Waits for SIGTERM/SIGINT, then drains: readiness turns 503 at once and requests are
/// still served for the drain delay of the configuration current at that moment. Completes
/// when the server should stop accepting. `current` reads the live state (it may have been
/// reloaded since start-up).
pub async fn drain_on_signal(mut signals: StopSignals, current: impl Fn() -> AppState) {
    signals.recv().await;
    let state = current();
    state.start_draining();
    let delay = Duration::from_millis(state.settings.server.drain_delay_ms);
    tracing::info!(
        drain_delay_ms = state.settings.server.drain_delay_ms,
        "stop signal received: /readyz answers 503; still serving during the drain delay"
    );
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = signals.recv() => {
            tracing::warn!("second stop signal: skipping the rest of the drain delay");
        }
    }
    tracing::info!("drain delay over: no longer accepting connections");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_count_each_outcome() {
        let counters = ReloadCounters::default();
        counters.record(true);
        counters.record(false);
        counters.record(true);
        assert_eq!((counters.succeeded(), counters.failed()), (2, 1));
    }

    #[test]
    fn draining_is_sticky() {
        let lifecycle = Lifecycle::default();
        assert!(!lifecycle.is_draining());
        lifecycle.start_draining();
        assert!(lifecycle.is_draining());
    }
}
