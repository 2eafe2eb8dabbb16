//! Live reload (SIGHUP, or `POST /-/reload` on the admin listener): read the configuration again, build a whole new [`App`] next to
//! the running one, and swap it in only if it validates.
//!
//! What is swapped is a [`Live`]: an [`AppState`] and the router built for it. Each request
//! takes the current `Live` once when it arrives and runs entirely against it, so a reload
//! never changes the rules under a request, and in-flight requests finish on the old one.
//! Everything built from configuration is in the new `App` (policies, API keys and the
//! authenticator, signing keys, CORS, timeouts); parts that must survive a reload (draining
//! flag, random source, counters) are in [`crate::app::LongLived`], shared by the new `App`.
//! A configuration that does not validate is refused with an error log; the old one keeps
//! serving. Reloads run one at a time, whatever asked for them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use secrecy::ExposeSecret as _;

use crate::app::{App, AppState};
use crate::config::{ConfigError, Settings};
use crate::credentials::Credentials;
use crate::lifecycle::ReloadSignal;
use crate::tls::{self, SharedTlsConfig};

/// Longest a reload may spend reading the configuration and secret files.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What requests are served with: an app and its router, replaced as one.
pub struct Live {
    pub state: AppState,
    pub router: Router,
}

impl Live {
    pub fn new(state: AppState) -> Self {
        Self {
            router: crate::http::router(state.clone()),
            state,
        }
    }
}

/// Where the configuration comes from: remembered so a reload reads the same sources.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The config file (`--config` or `VODSIGN_CONFIG`), if any.
    pub path: Option<PathBuf>,
    /// `--listen`, which overrides `server.listen`.
    pub listen: Option<SocketAddr>,
}

impl Source {
    /// The file, then the environment, then the command-line override; validated
    /// ([`Settings::validate_read_from`]) with the override applied.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let settings = self.probe_settings()?;
        settings.validate_read_from(self.path.as_deref())?;
        Ok(settings)
    }

    /// [`Source::settings`] without the validation: what `healthcheck` needs to find an
    /// instance already running (its address), whatever the file now says elsewhere.
    pub fn probe_settings(&self) -> Result<Settings, ConfigError> {
        let mut settings = Settings::read(self.path.as_deref())?;
        if let Some(listen) = self.listen {
            settings.server.listen = listen;
        }
        Ok(settings)
    }

    /// Settings plus every credential they name: what start-up and a reload both read.
    pub fn load(&self) -> Result<(Settings, Credentials), ConfigError> {
        let settings = self.settings()?;
        let credentials = Credentials::from_env(&settings)?;
        Ok((settings, credentials))
    }
}

/// The live configuration and the way to replace it. Cheap to clone.
#[derive(Clone)]
pub struct Reloader {
    source: Source,
    live: Arc<ArcSwap<Live>>,
    tls: Option<SharedTlsConfig>,
    /// Held for a whole reload: a SIGHUP and a `POST /-/reload` arriving together run one
    /// after the other, each reading the files as they are when it starts.
    running: Arc<tokio::sync::Mutex<()>>,
}

impl Reloader {
    /// Starts from a built state; loads the TLS configuration when `[server.tls]` is set.
    pub fn new(source: Source, state: AppState) -> Result<Self, ConfigError> {
        let tls = match &state.settings.server.tls {
            Some(settings) => Some(Arc::new(ArcSwap::new(tls::load(settings)?))),
            None => None,
        };
        Ok(Self {
            source,
            live: Arc::new(ArcSwap::from_pointee(Live::new(state))),
            tls,
            running: Arc::default(),
        })
    }

    /// The swapped cell the server reads for every request.
    pub fn live(&self) -> Arc<ArcSwap<Live>> {
        self.live.clone()
    }

    /// The TLS configuration new handshakes use; `None` when serving plain HTTP.
    pub fn tls(&self) -> Option<SharedTlsConfig> {
        self.tls.clone()
    }

    /// The state serving now.
    pub fn current(&self) -> AppState {
        self.live.load().state.clone()
    }

    /// Reads every source again and swaps the result in, or refuses it and keeps the old
    /// configuration. Either way the outcome is logged, counted and set in the last-reload
    /// gauges. Waits for a reload already running.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let _running = self.running.lock().await;
        tracing::info!("reload started");
        let result = self.try_reload().await;
        let current = self.current();
        let counters = &current.long_lived().lifecycle.reloads;
        counters.record(result.is_ok());
        current.metrics().config_reload(result.is_ok());
        match &result {
            Ok(()) => tracing::info!(
                reloads_succeeded = counters.succeeded(),
                credentials = %current.credentials().names().collect::<Vec<_>>().join(","),
                "configuration reloaded"
            ),
            Err(e) => tracing::error!(
                error = %e,
                reloads_failed = counters.failed(),
                "reload refused: the previous configuration keeps serving; fix the error and reload again"
            ),
        }
        result
    }

    async fn try_reload(&self) -> Result<(), ConfigError> {
        // Files are read on a blocking thread with a deadline: a file that never answers
        // cannot hold up the runtime, later reloads or the shutdown.
        let source = self.source.clone();
        let read = tokio::task::spawn_blocking(move || source.load());
        let (settings, credentials) = match tokio::time::timeout(READ_TIMEOUT, read).await {
            Ok(Ok(loaded)) => loaded?,
            Ok(Err(e)) => {
                return Err(ConfigError::Load(format!(
                    "reading the configuration failed: {e}"
                )));
            }
            Err(_) => {
                return Err(ConfigError::Load(format!(
                    "reading the configuration and secret files took longer than {} s",
                    READ_TIMEOUT.as_secs()
                )));
            }
        };
        let old = self.current();
        // Everything is built and checked before anything is swapped.
        let app: App = old.rebuild(settings, credentials).await?;
        let tls_config = match (&self.tls, &app.settings.server.tls) {
            (Some(_), Some(settings)) => Some(tls::load(settings)?),
            _ => None,
        };
        warn_restart_only(&old.settings, &app.settings);
        if app.uses_placeholder_credentials() {
            tracing::warn!(
                "DEVELOPMENT PLACEHOLDER CREDENTIALS in the reloaded configuration: VOD refuses \
                 their signatures"
            );
        }
        if let (Some(cell), Some(config)) = (&self.tls, tls_config) {
            cell.store(config);
        }
        self.live.store(Arc::new(Live::new(app.into_state())));
        Ok(())
    }

    /// Reloads on every SIGHUP, for as long as the process runs.
    pub async fn run(self, mut signal: ReloadSignal) {
        while signal.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading the configuration");
            let _ = self.reload().await;
        }
    }
}

/// Keys read once when the listener starts: a reload applies the rest and says so.
fn warn_restart_only(old: &Settings, new: &Settings) {
    // The limiter keeps its buckets across reloads, so its backend settings stay too.
    let limits_changed = format!("{:?}", old.limits) != format!("{:?}", new.limits);
    let admin = [
        ("admin.enabled", old.admin.enabled != new.admin.enabled),
        ("admin.listen", old.admin.listen != new.admin.listen),
        (
            "admin.enable_reload",
            old.admin.enable_reload != new.admin.enable_reload,
        ),
        (
            "admin.enable_webhook_admin",
            old.admin.enable_webhook_admin != new.admin.enable_webhook_admin,
        ),
        (
            "admin.reload_token_env",
            old.admin.reload_token_env != new.admin.reload_token_env,
        ),
    ];
    // The store is opened once; its sweeper reads the retention it started with.
    let uploads = [
        (
            "store.url",
            old.store.url.expose_secret() != new.store.url.expose_secret(),
        ),
        (
            "store.max_connections",
            old.store.max_connections != new.store.max_connections,
        ),
        (
            "store.timeout_ms",
            old.store.timeout_ms != new.store.timeout_ms,
        ),
        (
            "uploads.enabled",
            old.uploads.enabled != new.uploads.enabled,
        ),
        (
            "uploads.retention_days",
            old.uploads.retention_days != new.uploads.retention_days,
        ),
        // The relay's VOD client, endpoints and secrets are built once, at start-up.
        (
            "events",
            format!("{:?}", old.events) != format!("{:?}", new.events),
        ),
        (
            "webhooks",
            format!("{:?}", old.webhooks) != format!("{:?}", new.webhooks),
        ),
    ];
    let (old, new) = (&old.server, &new.server);
    let server = [
        ("limits", limits_changed),
        ("server.listen", old.listen != new.listen),
        (
            "server.tls (on/off)",
            old.tls.is_some() != new.tls.is_some(),
        ),
        (
            "server.max_connections",
            old.max_connections != new.max_connections,
        ),
        (
            "server.max_header_bytes",
            old.max_header_bytes != new.max_header_bytes,
        ),
        (
            "server.max_connections_per_address",
            old.max_connections_per_address != new.max_connections_per_address,
        ),
        (
            "server.first_byte_timeout_ms",
            old.first_byte_timeout_ms != new.first_byte_timeout_ms,
        ),
        (
            "server.header_timeout_ms",
            old.header_timeout_ms != new.header_timeout_ms,
        ),
        (
            "server.keepalive_idle_ms",
            old.keepalive_idle_ms != new.keepalive_idle_ms,
        ),
        (
            "server.write_timeout_ms",
            old.write_timeout_ms != new.write_timeout_ms,
        ),
        (
            "server.tls_handshake_timeout_ms",
            old.tls_handshake_timeout_ms != new.tls_handshake_timeout_ms,
        ),
        ("server.log_format", old.log_format != new.log_format),
        ("server.log_level", old.log_level != new.log_level),
    ];
    for (key, differs) in admin.into_iter().chain(uploads).chain(server) {
        if differs {
            tracing::warn!(
                key,
                "changed, but takes effect only after a restart; the rest of the reload applies"
            );
        }
    }
}
