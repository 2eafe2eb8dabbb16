//! Binds the router to a listener and runs it until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::app::AppState;
use crate::http;

/// Serves `state` on `listener` until `shutdown` completes, then finishes in-flight
/// requests. Tests pass their own `shutdown` future.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = http::router(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on SIGTERM or SIGINT (Ctrl-C), after marking the service not ready.
pub async fn shutdown_signal(state: AppState) {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
    state.start_draining();
}
