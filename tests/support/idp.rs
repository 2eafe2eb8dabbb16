//! A test identity provider on 127.0.0.1:0: a JWKS and an RFC 7662 introspection endpoint,
//! switchable between healthy, down, slow and garbage.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "vodsign-client";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Healthy,
    /// Answers 503.
    Down,
    /// Answers after two seconds.
    Slow,
    /// Answers 200 with a body that is not JSON.
    Garbage,
}

#[derive(Default)]
struct Inner {
    mode: Mutex<Option<Mode>>,
    jwks: Mutex<Value>,
    /// token -> introspection answer; unknown tokens are inactive.
    answers: Mutex<HashMap<String, Value>>,
    client_secret: Mutex<String>,
    jwks_hits: AtomicUsize,
    introspection_hits: AtomicUsize,
}

#[derive(Clone)]
pub struct TestIdp {
    inner: Arc<Inner>,
    pub base: String,
}

impl TestIdp {
    pub async fn start(client_secret: &str) -> TestIdp {
        let inner = Arc::new(Inner::default());
        *inner.client_secret.lock().unwrap() = client_secret.to_owned();
        *inner.jwks.lock().unwrap() = json!({"keys": []});
        let app = Router::new()
            .route("/jwks", get(jwks))
            .route("/introspect", post(introspect))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestIdp { inner, base }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.base)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = Some(mode);
    }

    pub fn set_jwks(&self, jwks: Value) {
        *self.inner.jwks.lock().unwrap() = jwks;
    }

    pub fn set_answer(&self, token: &str, answer: Value) {
        self.inner
            .answers
            .lock()
            .unwrap()
            .insert(token.to_owned(), answer);
    }

    pub fn jwks_hits(&self) -> usize {
        self.inner.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn introspection_hits(&self) -> usize {
        self.inner.introspection_hits.load(Ordering::SeqCst)
    }

    fn mode(&self) -> Mode {
        mode_of(&self.inner)
    }
}

fn mode_of(inner: &Inner) -> Mode {
    inner.mode.lock().unwrap().unwrap_or(Mode::Healthy)
}

/// Applies the current mode; `None` means answer normally.
async fn misbehave(inner: &Inner) -> Option<Response> {
    match mode_of(inner) {
        Mode::Healthy => None,
        Mode::Down => Some(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            None
        }
        Mode::Garbage => Some("<html>hello</html>".into_response()),
    }
}

async fn jwks(State(inner): State<Arc<Inner>>) -> Response {
    inner.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = misbehave(&inner).await {
        return r;
    }
    Json(inner.jwks.lock().unwrap().clone()).into_response()
}

async fn introspect(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    inner.introspection_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = misbehave(&inner).await {
        return r;
    }
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!(
            "{CLIENT_ID}:{}",
            inner.client_secret.lock().unwrap()
        ))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    let answer = inner.answers.lock().unwrap().get(&token).cloned();
    Json(answer.unwrap_or_else(|| json!({"active": false}))).into_response()
}

impl std::fmt::Debug for TestIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestIdp({}, {:?})", self.base, self.mode())
    }
}
