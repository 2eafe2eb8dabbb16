//! `spawn_app()` and friends: a router with a generated key set, driven without a socket.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use secrecy::SecretString;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;
use vodsign::VodCredentials;
use vodsign::config::{ApiKeySettings, LogFormat, PolicySettings, ServerSettings, Settings};
use vodsign::signature::{SecretId, Signer};
use vodsign::uploads::{ContextKey, ContextKeys};
use vodsign::{App, AppState};

use super::random_hex;

/// Everything a test needs to call the service and check what it says.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// A valid API key for policy "default" (subject "user-1").
    pub api_key: String,
    /// The SecretKey the service signs with, generated for this test.
    pub secret_key: String,
    pub secret_id: String,
    /// The upload tickets' context keys (generated per test unless given), used when the
    /// settings turn `[uploads]` on.
    pub context_keys: ContextKeys,
}

impl TestApp {
    pub fn signer(&self) -> Signer {
        Signer::new(self.secret_key.as_bytes())
    }

    pub async fn call(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, headers, body)
    }

    /// `GET /v1/signature?query` with the test API key.
    pub async fn get_signature(&self, query: &str) -> (StatusCode, HeaderMap, Value) {
        self.call(
            Request::get(format!("/v1/signature?{query}"))
                .header("authorization", format!("Bearer {}", self.api_key))
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    /// `POST /v1/signature` with a JSON body and the test API key.
    pub async fn post_signature(&self, body: &str) -> (StatusCode, HeaderMap, Value) {
        self.call(
            Request::post("/v1/signature")
                .header("authorization", format!("Bearer {}", self.api_key))
                .header("content-type", "application/json")
                .body(Body::from(body.to_owned()))
                .expect("request"),
        )
        .await
    }
}

/// Test settings: policy "default" and one API key for it; `edit` may change anything.
pub async fn spawn_app_with(edit: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_keys(generated_context_keys(), edit).await
}

/// Context keys made for one test: 64 random hex characters.
pub fn generated_context_keys() -> ContextKeys {
    let key = ContextKey::new(random_hex(32).as_bytes()).expect("long enough");
    ContextKeys::new(key, Vec::new())
}

/// [`spawn_app_with`] with these context keys (replicas of one service share them); with
/// `[uploads]` on, the store is migrated before the app is handed out.
pub async fn spawn_app_with_keys(
    context_keys: ContextKeys,
    edit: impl FnOnce(&mut Settings),
) -> TestApp {
    init_logs();
    let api_key = vodsign::generate_key("test");
    let mut settings = Settings {
        server: ServerSettings {
            log_format: LogFormat::Json,
            ..ServerSettings::default()
        },
        ..Settings::default()
    };
    settings.api_keys.push(ApiKeySettings {
        id: "test".into(),
        sha256: vodsign::hash_key(&api_key),
        subject: "user-1".into(),
        policy: "default".into(),
    });
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    edit(&mut settings);
    let secret_key = format!("test-secret-{}", random_hex(16));
    let secret_id = format!("AKIDtest{}", random_hex(4));
    let credentials = VodCredentials {
        secret_id: SecretId::try_from(secret_id.as_str()).expect("valid"),
        secret_key: SecretString::from(secret_key.clone()),
        placeholder: false,
    };
    let app = if settings.uploads.enabled {
        App::build_with_context_keys(settings, credentials, context_keys.clone()).await
    } else {
        App::build(settings, credentials).await
    };
    let app = app.expect("test settings are valid");
    app.migrate_store().await.expect("the store migrates");
    let state = app.into_state();
    TestApp {
        router: vodsign::router(state.clone()),
        state,
        api_key,
        secret_key,
        secret_id,
        context_keys,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Adds an API key with `id`, `subject` and `policy` to `settings`; returns the key.
pub fn add_key(settings: &mut Settings, id: &str, subject: &str, policy: &str) -> String {
    let key = vodsign::generate_key(id);
    settings.api_keys.push(ApiKeySettings {
        id: id.into(),
        sha256: vodsign::hash_key(&key),
        subject: subject.into(),
        policy: policy.into(),
    });
    key
}

/// Asserts the error envelope: HTTP status, code, a message and a request id that matches
/// the `x-request-id` header.
#[track_caller]
pub fn assert_error(
    (status, headers, body): &(StatusCode, HeaderMap, Value),
    expected_status: u16,
    expected_code: u64,
) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(body["code"], expected_code, "{body}");
    let message = body["message"].as_str().expect("message is a string");
    assert!(!message.is_empty());
    let header_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id header");
    assert_eq!(body["requestId"], header_id, "{body}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(data)?;
        }
        self.0.lock().expect("log buffer").extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the service's real JSON logger, writing into a buffer the tests can read
/// (and to stderr when TEST_LOG is set).
fn init_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let settings = ServerSettings {
            log_level: "debug".into(),
            ..ServerSettings::default()
        };
        vodsign::init_logging(&settings, move || Capture(writer.clone()));
        buffer
    });
}

/// Everything logged so far by this test binary.
pub fn captured_logs() -> String {
    let buffer = LOGS.get().expect("logs initialised by spawn_app");
    String::from_utf8_lossy(&buffer.lock().expect("log buffer")).into_owned()
}

/// `app` served on a loopback port; send on the sender to stop it.
pub struct Served {
    pub address: SocketAddr,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

pub async fn serve(app: &TestApp) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(vodsign::run(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    Served {
        address,
        stop,
        server,
    }
}

impl Served {
    /// Stops the server and checks that it ended cleanly within `limit`.
    pub async fn stop(self, limit: Duration) {
        self.stop.send(()).expect("server still running");
        let result = tokio::time::timeout(limit, self.server)
            .await
            .unwrap_or_else(|_| panic!("stops within {limit:?}"))
            .expect("task joined");
        assert!(result.is_ok());
    }
}
