//! A flaky Standard Webhooks receiver for `scripts/relay-soak.sh`: checks every message's
//! signature with its own HMAC, and fails a fraction of the requests on purpose (500, 503,
//! 429 with `Retry-After: 1`, or no answer for `FLAKY_HANG_MS`), so the relay's retries are
//! exercised. `GET /stats` reports what it saw.
//!
//! ```text
//! HOOK_SECRET=whsec_... FLAKY_RATE=0.2 cargo run --example flaky_receiver
//! ```
//!
//! Serves on a free loopback port, prints `listening http://ADDRESS` on one line, and runs
//! until SIGTERM or SIGINT. `/stats`: `requests`, `delivered` (2xx answers), `unique`
//! (distinct `webhook-id`s answered 2xx), `duplicates` (2xx answers for an id already
//! answered 2xx), `failed_on_purpose`, `bad_signatures`.

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Default)]
struct Stats {
    requests: u64,
    delivered: u64,
    duplicates: u64,
    failed_on_purpose: u64,
    bad_signatures: u64,
    ids: HashSet<String>,
}

struct Shared {
    key: Vec<u8>,
    rate: f64,
    hang: Duration,
    stats: Mutex<Stats>,
}

fn verified(key: &[u8], headers: &HeaderMap, body: &str) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (id, timestamp, signatures) = (
        header("webhook-id")?,
        header("webhook-timestamp")?,
        header("webhook-signature")?,
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    signatures
        .split(' ')
        .any(|s| s == expected)
        .then(|| id.to_owned())
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let Some(id) = verified(&shared.key, &headers, &body) else {
        let mut stats = shared.stats.lock().expect("stats");
        stats.requests += 1;
        stats.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let draw: f64 = rand::random();
    let failure = draw < shared.rate;
    {
        let mut stats = shared.stats.lock().expect("stats");
        stats.requests += 1;
        if failure {
            stats.failed_on_purpose += 1;
        } else {
            stats.delivered += 1;
            if !stats.ids.insert(id) {
                stats.duplicates += 1;
            }
        }
    }
    if !failure {
        return StatusCode::NO_CONTENT.into_response();
    }
    // Which failure: half 500, a quarter 429, most of the rest 503, a few never answer.
    let which = draw / shared.rate;
    if which < 0.5 {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    } else if which < 0.75 {
        (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
    } else if which < 0.95 {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    } else {
        tokio::time::sleep(shared.hang).await;
        StatusCode::GATEWAY_TIMEOUT.into_response()
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let stats = shared.stats.lock().expect("stats");
    axum::Json(serde_json::json!({
        "requests": stats.requests,
        "delivered": stats.delivered,
        "unique": stats.ids.len(),
        "duplicates": stats.duplicates,
        "failed_on_purpose": stats.failed_on_purpose,
        "bad_signatures": stats.bad_signatures,
    }))
    .into_response()
}

fn main() -> std::process::ExitCode {
    let Ok(secret) = std::env::var("HOOK_SECRET") else {
        eprintln!("flaky_receiver: set HOOK_SECRET (whsec_...)");
        return std::process::ExitCode::from(2);
    };
    let Ok(key) = STANDARD.decode(secret.trim_start_matches("whsec_")) else {
        eprintln!("flaky_receiver: HOOK_SECRET is not whsec_ followed by Base64");
        return std::process::ExitCode::from(2);
    };
    let number = |name: &str, default: f64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let shared = Arc::new(Shared {
        key,
        rate: number("FLAKY_RATE", 0.2).clamp(0.0, 0.99),
        hang: Duration::from_millis(number("FLAKY_HANG_MS", 3000.0) as u64),
        stats: Mutex::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let app = Router::new()
            .route("/hook", post(receive))
            .route("/stats", get(stats))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds loopback");
        println!(
            "listening http://{}",
            listener.local_addr().expect("an address")
        );
        let _ = std::io::stdout().flush();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM can be watched");
        tokio::select! {
            result = axum::serve(listener, app) => result.expect("serves"),
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    std::process::ExitCode::SUCCESS
}
