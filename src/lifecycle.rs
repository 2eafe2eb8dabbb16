//! The process lifecycle: the signals that drive the draining flag and the reloads (both
//! kept in [`crate::app::LongLived`]).
//!
//! SIGTERM or SIGINT starts a graceful stop: `/readyz` answers 503 at once, requests are
//! still served for `server.drain_delay_ms` so the load balancer takes the instance out of
//! rotation, then [`crate::server`] stops accepting and gives in-flight requests
//! `server.shutdown_grace_ms`. A second SIGTERM/SIGINT cuts the drain delay short.
//! SIGHUP reloads the configuration ([`crate::reload`]).

use std::time::Duration;

use crate::app::AppState;

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
