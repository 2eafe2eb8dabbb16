//! One whole request through the router without a socket (`oneshot`): the full layer
//! stack, auth-check (API key, or an ES256 JWT), policy, signer and JSON envelope, against
//! `/healthz` through the same stack as the floor.
//!
//! `cargo bench --bench request`. Figures, not assertions: see docs/performance.md.

mod support;

/// The binary's allocator (src/main.rs), so the bench measures what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use support::BenchClock;
use tower::ServiceExt as _;
use vodsign::config::ServerSettings;

/// Sends `request` through `router` and reads the whole body, as a client would.
async fn send(router: &Router, request: Request<Body>) -> (StatusCode, usize) {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("in-memory body")
        .to_bytes();
    (status, body.len())
}

fn signature_request(credential: &str) -> Request<Body> {
    Request::post("/v1/signature")
        .header("authorization", format!("Bearer {credential}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"validitySeconds":600}"#))
        .expect("valid request")
}

fn healthz_request() -> Request<Body> {
    Request::get("/healthz")
        .body(Body::empty())
        .expect("valid request")
}

fn requests(c: &mut Criterion<BenchClock>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // JWT: the ES256 provider only (HS256 would need its secret in the process
    // environment, which a bench should not set).
    let fixture = support::jwt::fixture("default");
    let mut auth = fixture.auth.clone();
    auth.jwt.retain(|p| p.name == "bench-es256");
    let es256 = fixture
        .tokens
        .iter()
        .find(|(alg, _)| *alg == "ES256")
        .map(|(_, token)| token.clone())
        .expect("an ES256 token");
    let (state, key) = support::app_state_with(auth);
    let router = vodsign::router(state);
    // One check outside the timing that the requests are the ones we mean to measure.
    for credential in [&key, &es256] {
        let (status, _) = runtime.block_on(send(&router, signature_request(credential)));
        assert_eq!(
            status,
            StatusCode::OK,
            "the bench signature request must succeed"
        );
    }

    let mut group = c.benchmark_group("router");
    // The three requests, named `<request>/<logs>`.
    let mut bench_all = |logs: &str| {
        let requests: [(&str, &dyn Fn() -> Request<Body>); 3] = [
            ("signature_api_key", &|| signature_request(&key)),
            ("signature_jwt_es256", &|| signature_request(&es256)),
            ("healthz", &healthz_request),
        ];
        for (name, request) in requests {
            group.bench_function(format!("{name}/{logs}"), |b| {
                b.iter(|| runtime.block_on(send(&router, black_box(request()))))
            });
        }
    };
    bench_all("no_logs");

    // The same with the service's real JSON subscriber (writing to a sink), so the
    // cost of the per-request span and log line shows.
    // Installed for the rest of the process, as the binary does: from here on every event
    // and audit line is formatted and written (to a sink).
    assert!(
        vodsign::init_logging(&ServerSettings::default(), std::io::sink),
        "no subscriber was installed before"
    );
    bench_all("json_logs");
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = requests
}
criterion_main!(benches);
