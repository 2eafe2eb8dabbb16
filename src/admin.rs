//! The admin listener: `/metrics` for Prometheus, on its own address (`[admin] listen`,
//! loopback by default), so operational data never shares a port with the public API
//! (`[admin]` is checked against `server.listen` when the configuration is loaded).

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use crate::config::AdminSettings;

/// Content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin routes: `/metrics` and a `/healthz` for the admin port itself.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found; try /metrics\n") })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(10),
        ))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.metrics().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROMETHEUS_TEXT),
    );
    response
}

/// Serves the admin routes on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `[admin] listen` when the admin listener is enabled.
pub async fn bind(admin: &AdminSettings) -> std::io::Result<Option<TcpListener>> {
    if !admin.enabled {
        return Ok(None);
    }
    let listener = TcpListener::bind(admin.listen).await?;
    tracing::info!(address = %admin.listen, "admin listener (/metrics) listening");
    Ok(Some(listener))
}

/// Serves the admin routes on `listener` in the background; abort the handle to stop.
pub fn spawn(listener: TcpListener, state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = run(listener, state, std::future::pending()).await {
            tracing::error!(error = %e, "the admin listener failed");
        }
    })
}
