//! The load floor: a bare axum endpoint answering every `GET /` with a fixed JSON body.
//!
//! `scripts/load.sh` loads it in the same rounds as the service and divides each target's
//! requests/s by this one's: what is left of the ratio below 1 is vodsign's own work (its
//! layers, authentication, signing and logs) on top of axum, hyper, tokio and the kernel.
//! It uses the service's axum, tokio (a multi-thread runtime, as `vodsign serve` starts)
//! and allocator, and writes no logs.
//!
//! ```text
//! cargo build --release --example floor
//! target/release/examples/floor 127.0.0.1:8090
//! ```

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// About the size of the service's `/healthz` body.
const BODY: &str = r#"{"status":"ok"}"#;

fn main() -> std::process::ExitCode {
    let Some(listen) = std::env::args().nth(1) else {
        eprintln!("usage: floor ADDRESS (e.g. 127.0.0.1:8090)");
        return std::process::ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("floor: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(&listen)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {listen}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(listen: &str) -> std::io::Result<()> {
    let app = Router::new().route(
        "/",
        get(|| async { ([(CONTENT_TYPE, "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
