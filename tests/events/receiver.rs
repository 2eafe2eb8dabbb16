//! A fake webhook receiver on loopback: checks every message's Standard Webhooks signature
//! with its own HMAC (not vodsign's code), records it, and answers as the test scripts it:
//! 2xx, 500, 429 or 503 with `Retry-After`, 410, or never (a hang).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How the receiver answers one message.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Ok,
    Status(u16),
    RetryAfter(u16, u64),
    Hang,
}

/// One message as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub webhook_id: String,
    pub timestamp: i64,
    pub body: serde_json::Value,
    /// The signature verified under the receiver's secret.
    pub verified: bool,
}

struct Inner {
    key: Vec<u8>,
    script: VecDeque<Reply>,
    default: Reply,
    received: Vec<Received>,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts a receiver checking signatures under `secret` (`whsec_…`), answering
    /// `default` unless scripted.
    pub async fn start(secret: &str, default: Reply) -> Receiver {
        let key = STANDARD
            .decode(secret.trim_start_matches("whsec_"))
            .expect("a Base64 secret");
        let inner = Arc::new(Mutex::new(Inner {
            key,
            script: VecDeque::new(),
            default,
            received: Vec::new(),
        }));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds loopback");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    /// The next answers, before the default applies again.
    pub fn script(&self, replies: &[Reply]) {
        self.inner
            .lock()
            .expect("lock")
            .script
            .extend(replies.iter().copied());
    }

    pub fn set_default(&self, reply: Reply) {
        self.inner.lock().expect("lock").default = reply;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signatures) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let reply = {
        let mut inner = inner.lock().expect("lock");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&inner.key).expect("any key");
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        let verified = headers
            .get("content-type")
            .is_some_and(|v| v == "application/json")
            && signatures.split(' ').any(|s| s == expected);
        inner.received.push(Received {
            webhook_id: id,
            timestamp: timestamp.parse().unwrap_or(-1),
            body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            verified,
        });
        if !verified {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let default = inner.default;
        inner.script.pop_front().unwrap_or(default)
    };
    match reply {
        Reply::Ok => StatusCode::NO_CONTENT.into_response(),
        Reply::Status(code) => StatusCode::from_u16(code)
            .expect("a status")
            .into_response(),
        Reply::RetryAfter(code, secs) => (
            StatusCode::from_u16(code).expect("a status"),
            [("retry-after", secs.to_string())],
        )
            .into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::NO_CONTENT.into_response()
        }
    }
}
