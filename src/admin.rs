//! The admin listener: `/metrics` for Prometheus, the probes `/healthz` and `/readyz` (the
//! same answers as on the public listener), and `POST /-/reload` (the SIGHUP reload, for
//! where no signal can be sent: a distroless image has no `kill`). It has its own address
//! (`[admin] listen`, loopback by default), so operational data never shares a port with the
//! public API (`[admin]` is checked against `server.listen` when the configuration is
//! loaded). Its settings are read at start-up only.
//!
//! `POST /-/reload` answers only when `[admin] enable_reload = true` (403 otherwise), and
//! with `[admin] reload_token_env` set, only to `Authorization: Bearer <that token>` (401).
//! Every answer of the reload and the probes is the API's JSON envelope. [`webhooks`] adds
//! the event relay's `/-/webhooks/` routes, behind their own switch and the same token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use crate::auth::bearer;
use crate::config::{AdminSettings, ConfigError, required_secret};
use crate::http::error::ApiError;
use crate::http::health;

pub mod webhooks;

/// Content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The path of the reload endpoint (Prometheus's lifecycle endpoint has the same shape).
pub const RELOAD_PATH: &str = "/-/reload";

/// Envelope code of a refused reload (HTTP 500, as Prometheus answers a failed reload).
pub const RELOAD_REFUSED: u32 = 50002;

/// Longest the admin listener spends on one request. A reload gives up reading files after
/// 10 s; this leaves it room to build and swap.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A reload in progress, as a boxed future (the trait stays object-safe).
pub type Reloading<'a> = Pin<Box<dyn Future<Output = Result<(), ConfigError>> + Send + 'a>>;

/// What the admin listener needs from the running service: the state serving now (it changes
/// on every reload) and the reload itself. [`crate::server`] provides it for the reloader.
pub trait Control: Send + Sync + 'static {
    /// The state serving now.
    fn current(&self) -> AppState;
    /// Runs the same reload as SIGHUP and says how it went.
    fn reload(&self) -> Reloading<'_>;
}

/// A fixed state that cannot reload: the admin routes of a test, or of [`router`].
impl Control for AppState {
    fn current(&self) -> AppState {
        self.clone()
    }

    fn reload(&self) -> Reloading<'_> {
        Box::pin(async {
            Err(ConfigError::Load(
                "this admin listener serves a fixed configuration and cannot reload it".into(),
            ))
        })
    }
}

/// Who may call `POST /-/reload`: read from `[admin]` once, at start-up.
#[derive(Clone, Default)]
pub struct ReloadAccess {
    enabled: bool,
    /// SHA-256 of the token, compared in constant time; `None`: no token asked for.
    token_digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for ReloadAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadAccess")
            .field("enabled", &self.enabled)
            .field("token", &self.token_digest.map(|_| "[redacted]"))
            .finish()
    }
}

impl ReloadAccess {
    /// From `[admin]`: the token from the variable `reload_token_env` names (or its
    /// `_FILE`), which must be set when it is named.
    pub fn from_settings(admin: &AdminSettings) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: admin.enable_reload,
            token_digest: token_digest(admin)?,
        })
    }

    /// `Ok` when this request may reload; otherwise the refusal to send.
    fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if !self.enabled {
            return Err(ApiError::Forbidden(
                "reloading over HTTP is off: set [admin] enable_reload = true and restart, or \
                 send SIGHUP"
                    .into(),
            ));
        }
        check_token(self.token_digest.as_ref(), headers, "reload")
    }
}

/// The digest of the token `[admin] reload_token_env` names (or its `_FILE`), which must be
/// set when it is named; `None` when no token is asked for. The reload and the
/// `/-/webhooks/` routes share it.
fn token_digest(admin: &AdminSettings) -> Result<Option<[u8; 32]>, ConfigError> {
    let token = match &admin.reload_token_env {
        Some(var) => Some(required_secret("admin.reload_token_env", var, &|name| {
            std::env::var(name).ok()
        })?),
        None => None,
    };
    Ok(token.as_ref().map(digest))
}

/// SHA-256 of a token: what is kept of it, compared in constant time.
fn digest(token: &SecretString) -> [u8; 32] {
    Sha256::digest(token.expose_secret().as_bytes()).into()
}

/// `Ok` when no token is asked for (`expected` is `None`) or the request's bearer token
/// has the digest `expected`; the refusal names `what` the token guards, never a token.
fn check_token(
    expected: Option<&[u8; 32]>,
    headers: &HeaderMap,
    what: &str,
) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let presented = bearer(headers).map_err(|_| ApiError::Unauthenticated)?;
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if bool::from(digest.ct_eq(expected)) {
        Ok(())
    } else {
        Err(ApiError::InvalidCredentials(format!(
            "the {what} token is not the one [admin] reload_token_env names"
        )))
    }
}

#[derive(Clone)]
struct Admin {
    control: Arc<dyn Control>,
    access: ReloadAccess,
}

/// The admin routes over a fixed state, with reloading off.
pub fn router(state: AppState) -> Router {
    router_with(Arc::new(state), ReloadAccess::default())
}

/// The admin routes: `/metrics`, `/healthz`, `/readyz` and `POST /-/reload`.
pub fn router_with(control: Arc<dyn Control>, access: ReloadAccess) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(health::live))
        .route("/readyz", get(ready))
        .route(RELOAD_PATH, post(reload).fallback(reload_method))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found; try /metrics, /healthz, /readyz or POST /-/reload\n",
            )
        })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .with_state(Admin { control, access })
}

async fn metrics(State(admin): State<Admin>) -> Response {
    let state = admin.control.current();
    // Dependency health and the other sampled values as of now, not of the last tick.
    state.sample_metrics();
    let mut response = state.metrics().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROMETHEUS_TEXT),
    );
    response
}

async fn ready(State(admin): State<Admin>) -> Response {
    health::ready(State(admin.control.current()))
        .await
        .into_response()
}

/// `POST /-/reload`: 200 when the new configuration is in effect; 500 (50002) with the
/// reason when it was refused and the previous one keeps serving.
async fn reload(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if let Err(refusal) = admin.access.check(&headers) {
        tracing::warn!(code = refusal.code(), "POST /-/reload refused: {refusal}");
        return refusal.into_response();
    }
    tracing::info!("POST /-/reload: reloading the configuration");
    match admin.control.reload().await {
        Ok(()) => Json(serde_json::json!({"code": 0, "message": "configuration reloaded"}))
            .into_response(),
        // The error names the key and the rule, never a value (the reload's log line is
        // the same text).
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({
                "code": RELOAD_REFUSED,
                "message": format!("reload refused, the previous configuration keeps serving: {e}"),
            })),
        )
            .into_response(),
    }
}

/// Any method but POST on `/-/reload`: a reload changes state, so GET never triggers it.
async fn reload_method() -> Response {
    let mut response = ApiError::MethodNotAllowed.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// Serves the admin routes on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    routes: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `[admin] listen` when the admin listener is enabled.
pub async fn bind(admin: &AdminSettings) -> std::io::Result<Option<TcpListener>> {
    if !admin.enabled {
        return Ok(None);
    }
    let listener = TcpListener::bind(admin.listen).await?;
    tracing::info!(
        address = %listener.local_addr().unwrap_or(admin.listen),
        reload = admin.enable_reload,
        "admin listener (/metrics, /healthz, /readyz, POST /-/reload) listening"
    );
    Ok(Some(listener))
}

/// Serves `routes` on `listener` in the background; abort the handle to stop.
pub fn spawn(listener: TcpListener, routes: Router) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = run(listener, routes, std::future::pending()).await {
            tracing::error!(error = %e, "the admin listener failed");
        }
    })
}

/// `vodsign reload`: posts to `url` (`http://ADDR/-/reload`), with `token` when given, and
/// returns the service's message: `Ok` for a 200, `Err` for anything else, within `timeout`.
pub async fn request_reload(
    url: &str,
    token: Option<&SecretString>,
    timeout: Duration,
) -> Result<String, String> {
    let (status, body) = call("POST", url, &[], token, timeout).await?;
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.trim().chars().take(300).collect());
    if status.is_success() {
        Ok(message)
    } else {
        Err(format!("{status}: {message}"))
    }
}

/// One request to the admin listener from the command line (`vodsign reload`, `vodsign
/// webhooks`): `method` (`GET` or `POST`) to `url` with `query`, a bearer `token` when
/// given, no proxy, within `timeout`. Returns the status and the body as text; `Err` says
/// in one line why nothing came back and what to check.
pub async fn call(
    method: &str,
    url: &str,
    query: &[(&str, String)],
    token: Option<&SecretString>,
    timeout: Duration,
) -> Result<(reqwest::StatusCode, String), String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let mut request = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    }
    .query(query);
    if let Some(token) = token {
        request = request.bearer_auth(token.expose_secret());
    }
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("{url} did not answer within {} ms", timeout.as_millis())
        } else {
            format!(
                "{url} is not reachable; is the service running with its admin listener there? \
                 ({e})"
            )
        }
    })?;
    let status = response.status();
    Ok((status, response.text().await.unwrap_or_default()))
}
