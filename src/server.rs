//! Listeners, TLS and the graceful stop: the accept loop that serves the live router.
//!
//! Built on hyper-util's connection builder (what `axum::serve` uses inside) because the
//! service needs four things `axum::serve` does not offer: a cap on connections in flight
//! (a permit is taken before `accept`, so past `server.max_connections` new connections
//! wait in the kernel's backlog), a cap on the request head, TLS whose certificate can be
//! replaced between handshakes, and a router that a reload swaps under running connections.
//! On stop, the listener is closed, every connection is told to finish its in-flight
//! requests (HTTP/2 gets GOAWAY), and `server.shutdown_grace_ms` bounds the wait.
//!
//! Every connection state has a deadline ([`watchdog`]), and one peer address may hold at
//! most `server.max_connections_per_address` connections, so neither silence nor a flood of
//! reconnects from one address can take every slot.

mod watchdog;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::app::{App, AppState};
use crate::config::{ConfigError, ServerSettings};
use crate::lifecycle::{ReloadSignal, StopSignals, drain_on_signal};
use crate::reload::{Live, Reloader, Source};
use crate::tls::SharedTlsConfig;
use watchdog::{Activity, Deadlines, Watched};

/// Concurrent requests one HTTP/2 connection may carry.
const MAX_STREAMS_PER_CONNECTION: u32 = 200;

/// Serves `state` over plain HTTP on `listener` until `shutdown` completes, then finishes
/// in-flight requests. Tests pass their own `shutdown` future.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let live = Arc::new(ArcSwap::from_pointee(Live::new(state)));
    serve(listener, live, None, shutdown).await
}

/// Why the `serve` command stopped other than by a signal: a failure of the running
/// service, not of its configuration (except [`ServeError::Config`], the TLS files read
/// when serving starts).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// The address of `key` is taken or not this host's.
    #[error("cannot bind {address} ({key}): {source}; pick a free address")]
    Bind {
        key: &'static str,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Failed(std::io::Error),
}

/// The `serve` command: installs the signal handlers, binds, serves with reloads on SIGHUP
/// and drains on SIGTERM/SIGINT. Returns once every connection is closed.
pub async fn run_until_stopped(app: App, source: Source) -> Result<(), ServeError> {
    let stop = StopSignals::install().map_err(ServeError::Signals)?;
    let hangup = ReloadSignal::install().map_err(ServeError::Signals)?;
    let listen = app.settings.server.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            key: "server.listen",
            address: listen,
            source,
        })?;
    // The admin listener (/metrics) is bound now and read at start only; its registry is
    // long-lived, so it keeps counting across reloads.
    let admin_listen = app.settings.admin.listen;
    let admin = crate::admin::bind(&app.settings.admin)
        .await
        .map_err(|source| ServeError::Bind {
            key: "admin.listen",
            address: admin_listen,
            source,
        })?;
    let access = crate::admin::ReloadAccess::from_settings(&app.settings.admin)?;
    let reloader = Reloader::new(source, app.into_state())?;
    reloader.current().metrics().config_loaded(true);
    // The event relay's operator routes, when its store and endpoints are there.
    let webhook_admin = crate::admin::webhooks::for_state(&reloader.current())?;
    let admin = admin.map(|listener| {
        let routes = crate::admin::router_with(Arc::new(reloader.clone()), access);
        let routes = match webhook_admin {
            Some(webhooks) => routes.merge(webhooks),
            None => routes,
        };
        crate::admin::spawn(listener, routes)
    });
    let upkeep = reloader.current().metrics().spawn_upkeep();
    // The upload store's sweeper and health probe, for the life of the process.
    let store_upkeep = reloader.current().spawn_store_upkeep();
    // The event relay, for the life of the process; it reads the live context keys.
    let relay = reloader
        .current()
        .tickets()
        .map(|t| t.keys.clone())
        .and_then(|first| {
            let live = reloader.clone();
            let keys: crate::events::KeySource = Arc::new(move || {
                live.current()
                    .tickets()
                    .map_or_else(|| first.clone(), |t| t.keys.clone())
            });
            reloader.current().spawn_relay(keys)
        });
    // JWKS ages and the limiter's error count, copied into the registry on a timer from
    // whichever configuration is live.
    let sampler = {
        let reloader = reloader.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tick.tick().await;
                let state = reloader.current();
                state.sample_metrics();
            }
        })
    };
    let address = listener.local_addr().unwrap_or(listen);
    tracing::info!(
        %address,
        tls = reloader.tls().is_some(),
        version = env!("CARGO_PKG_VERSION"),
        "vodsign listening"
    );
    let reloads = tokio::spawn(reloader.clone().run(hangup));
    let current = reloader.clone();
    let shutdown = drain_on_signal(stop, move || current.current());
    let result = serve(listener, reloader.live(), reloader.tls(), shutdown).await;
    reloads.abort();
    // /metrics answered through the drain; it stops once the public listener has.
    if let Some(admin) = admin {
        admin.abort();
    }
    upkeep.abort();
    sampler.abort();
    // After the last request: pulling stops, deliveries in flight are given back.
    if let Some(relay) = relay {
        relay.stop(std::time::Duration::from_secs(5)).await;
    }
    if let Some(store_upkeep) = store_upkeep {
        store_upkeep.stop(std::time::Duration::from_secs(5)).await;
    }
    result.map_err(ServeError::Failed)
}

/// The admin listener reads the live state and reloads through the reloader.
impl crate::admin::Control for Reloader {
    fn current(&self) -> AppState {
        Reloader::current(self)
    }

    fn reload(&self) -> crate::admin::Reloading<'_> {
        Box::pin(Reloader::reload(self))
    }
}

/// The accept loop. Limits come from the configuration at start; the grace period from the
/// configuration current when `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    live: Arc<ArcSwap<Live>>,
    tls: Option<SharedTlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let server = live.load().state.settings.server.clone();
    let builder = connection_builder(&server);
    let handshake_timeout = Duration::from_millis(server.tls_handshake_timeout_ms);
    let deadlines = Deadlines {
        first_byte: Duration::from_millis(server.first_byte_timeout_ms),
        header: Duration::from_millis(server.header_timeout_ms),
        idle: Duration::from_millis(server.keepalive_idle_ms),
        write: Duration::from_millis(server.write_timeout_ms),
    };
    let permits = Arc::new(Semaphore::new(server.max_connections));
    let per_address = PerAddress::new(server.max_connections_per_address);
    // Read at start, like the rest of `[limits]`.
    let trusted_proxies = live.load().state.settings.limits.trusted_proxies.clone();
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let ip = peer.ip().to_canonical();
        // A load balancer carries many clients: it is not held to one address's share.
        let slot = if trusted_proxies.iter().any(|net| net.contains(&ip)) {
            None
        } else {
            match per_address.take(ip) {
                Some(slot) => Some(slot),
                None => {
                    // Closed at once: neither the socket nor the permit is kept.
                    tracing::debug!(
                        %peer,
                        limit = server.max_connections_per_address,
                        "connection refused: too many from this address"
                    );
                    live.load()
                        .state
                        .metrics()
                        .connection_closed("per_address_limit");
                    drop(stream);
                    drop(permit);
                    continue;
                }
            }
        };
        let connection = Connection {
            builder: builder.clone(),
            deadlines,
            live: live.clone(),
            peer,
            watcher: graceful.watcher(),
        };
        let tls = tls.as_ref().map(|cell| cell.load_full());
        // The registry outlives reloads: the gauge stays right across one.
        let open = live.load().state.metrics().connection_open();
        tokio::spawn(async move {
            let _permit = permit;
            let _slot = slot;
            let _open = open;
            match tls {
                None => connection.serve(stream).await,
                Some(config) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            connection.closed("tls_handshake");
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    let open = graceful.count();
    let grace_ms = live.load().state.settings.server.shutdown_grace_ms;
    tracing::info!(
        open_connections = open,
        grace_ms,
        "finishing in-flight requests"
    );
    match tokio::time::timeout(Duration::from_millis(grace_ms), graceful.shutdown()).await {
        Ok(()) => tracing::info!("all connections closed"),
        Err(_) => tracing::warn!(
            grace_ms,
            "grace period over: closing the connections still open; raise \
             server.shutdown_grace_ms if requests need longer"
        ),
    }
    Ok(())
}

fn connection_builder(server: &ServerSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_buf_size(server.max_header_bytes)
        .header_read_timeout(Duration::from_millis(server.header_timeout_ms));
    // Pings find dead peers of connections with streams open; a connection with none is
    // closed by the idle deadline, which pings do not reset.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(server.keepalive_idle_ms / 2 + 1))
        .keep_alive_timeout(Duration::from_millis(server.write_timeout_ms))
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .max_header_list_size(u32::try_from(server.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// One accepted connection, before its HTTP protocol is known.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    deadlines: Deadlines,
    live: Arc<ArcSwap<Live>>,
    peer: SocketAddr,
    watcher: Watcher,
}

impl Connection {
    /// Counts a connection the server closed before serving it.
    fn closed(&self, reason: &'static str) {
        self.live.load().state.metrics().connection_closed(reason);
    }

    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            builder,
            deadlines,
            live,
            peer,
            watcher,
        } = self;
        let metrics = live.load().state.metrics().clone();
        let activity = Activity::new();
        let io = Watched::new(stream, activity.clone());
        let requests = activity.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let in_flight = requests.request();
            request.extensions_mut().insert(ConnectInfo(peer));
            // One load per request: the whole request runs on the configuration current
            // when it arrived.
            let router = live.load().router.clone();
            async move {
                let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
                drop(in_flight);
                Ok::<_, Infallible>(response)
            }
        });
        let connection = builder.serve_connection(TokioIo::new(io), service);
        // Past a deadline the connection is dropped, which closes the socket.
        tokio::select! {
            result = watcher.watch(connection) => if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            },
            expired = activity.expired(deadlines) => {
                tracing::debug!(%peer, deadline = expired.as_str(), "connection closed: deadline passed");
                metrics.connection_closed(expired.label());
            }
        }
    }
}

/// Connections open per peer address; shared by the accept loop and the connections.
struct PerAddress {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `ip`, or `None` past the limit. With the limit
    /// off every connection gets a slot that counts nothing.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        if self.limit == 0 {
            return Some(AddressSlot { owner: None, ip });
        }
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            owner: Some(self.clone()),
            ip,
        })
    }
}

/// One connection's place in its address's count, given back when the connection ends.
struct AddressSlot {
    owner: Option<Arc<PerAddress>>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let Some(owner) = &self.owner else { return };
        let mut open = owner
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_slots_back_when_connections_end() {
        let per_address = PerAddress::new(2);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 1].into();
        let first = per_address.take(a).expect("first");
        let _second = per_address.take(a).expect("second");
        assert!(
            per_address.take(a).is_none(),
            "a third from the same address"
        );
        assert!(
            per_address.take(b).is_some(),
            "another address is not counted"
        );
        drop(first);
        assert!(per_address.take(a).is_some(), "a slot given back");
    }

    #[test]
    fn a_zero_limit_counts_nothing() {
        let per_address = PerAddress::new(0);
        let ip: IpAddr = [127, 0, 0, 2].into();
        let slots: Vec<_> = (0..1000).filter_map(|_| per_address.take(ip)).collect();
        assert_eq!(slots.len(), 1000);
        assert!(per_address.open.lock().expect("not poisoned").is_empty());
    }
}
