//! The admin listener: `/metrics` for Prometheus, on its own address (`[admin] listen`,
//! loopback by default), so operational data never shares a port with the public API.

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
use crate::config::{AdminSettings, ConfigError, Settings};

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
pub async fn bind(admin: &AdminSettings) -> Result<Option<TcpListener>, ConfigError> {
    if !admin.enabled {
        return Ok(None);
    }
    let listener = TcpListener::bind(admin.listen).await.map_err(|e| {
        ConfigError::key(
            "admin.listen",
            format!("cannot bind {}: {e}; pick a free address", admin.listen),
        )
    })?;
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

/// Refuses an admin listener on the public address: `/metrics` must never be public.
pub fn validate(settings: &Settings) -> Result<(), ConfigError> {
    let (admin, public) = (settings.admin.listen, settings.server.listen);
    if settings.admin.enabled && admin.port() == public.port() && admin.port() != 0 {
        return Err(ConfigError::key(
            "admin.listen",
            format!(
                "must not share port {} with server.listen; pick another port (default 9090)",
                admin.port()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_port_must_differ_from_the_public_one() {
        let mut settings = Settings::default();
        assert!(validate(&settings).is_ok());
        settings.admin.listen = settings.server.listen;
        let err = validate(&settings).unwrap_err();
        assert!(err.to_string().contains("admin.listen"), "{err}");
        settings.admin.enabled = false;
        assert!(validate(&settings).is_ok());
    }
}
