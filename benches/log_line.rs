//! The per-request log line alone: the service's JSON subscriber (`telemetry::json`)
//! beside `json-subscriber` configured as the service configured it, both behind the same
//! `info` filter and writing to a sink.
//!
//! - `log_line/<formatter>`: the `request finished` event inside a request span made once;
//! - `request_span/<formatter>`: what a request pays for logging: its span made and
//!   entered, the event, the span closed.
//!
//! `cargo bench --bench log_line`. Figures, not assertions: see docs/performance.md (which
//! also says how to count instructions per line with callgrind).

mod support;

/// The binary's allocator (src/main.rs), so the bench measures what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tracing::{Dispatch, Span};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use vodsign::config::ServerSettings;

/// A request span as `http::request_span` makes it.
#[inline(never)]
fn request_span() -> Span {
    tracing::info_span!(
        "request",
        request_id = "6f1c1e2a-4a0b-4c39-9a5e-0d7c9b1f2e3d",
        method = %"POST",
        route = "/v1/signature",
        client_ip = tracing::field::display(std::net::Ipv4Addr::new(203, 0, 113, 7)),
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
        parent_span_id = "00f067aa0ba902b7",
    )
}

/// The request line as `http::log_response` logs it.
#[inline(never)]
fn log_line(latency_us: u64) {
    tracing::info!(
        target: "vodsign::http",
        status = 200u16,
        latency_us,
        credential_id = Some("mobile-app"),
        "request finished"
    );
}

/// A whole request's logging: span, line, span closed.
#[inline(never)]
fn span_and_line(latency_us: u64) {
    let span = request_span();
    let _entered = span.enter();
    log_line(latency_us);
}

/// The formatter the service used before `telemetry::json`, as it was configured.
fn json_subscriber() -> Dispatch {
    let mut json = json_subscriber::JsonLayer::new(std::io::sink);
    json.with_timer("timestamp", tracing_subscriber::fmt::time::SystemTime)
        .with_level("level")
        .with_target("target")
        .with_flattened_event()
        .with_top_level_flattened_current_span();
    Dispatch::new(
        tracing_subscriber::registry()
            .with(json)
            .with(EnvFilter::new("info")),
    )
}

fn lines(c: &mut Criterion<support::BenchClock>) {
    let formatters = [
        (
            "vodsign",
            vodsign::logging_dispatch(&ServerSettings::default(), std::io::sink),
        ),
        ("json_subscriber", json_subscriber()),
    ];
    for (name, dispatch) in &formatters {
        tracing::dispatcher::with_default(dispatch, || {
            let span = request_span();
            let _entered = span.enter();
            c.bench_function(&format!("log_line/{name}"), |b| {
                b.iter(|| log_line(black_box(843)))
            });
        });
        tracing::dispatcher::with_default(dispatch, || {
            c.bench_function(&format!("request_span/{name}"), |b| {
                b.iter(|| span_and_line(black_box(843)))
            });
        });
    }
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = lines
}
criterion_main!(benches);
