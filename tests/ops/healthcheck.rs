//! `vodsign healthcheck`: 0 when the local instance is ready, 1 when it is not reachable
//! or not ready, and never a hang.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::service::*;

fn healthcheck(listen: &str) -> (i32, Duration) {
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_vodsign"))
        .args(["healthcheck", "--listen", listen, "--timeout-ms", "1500"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .status()
        .expect("run healthcheck");
    (status.code().expect("exited"), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exits_zero_when_ready_and_one_otherwise() {
    let vod = TestKey::new("health");
    let (_key, entry) = api_key_entry();
    let service = Service::start(
        tempfile::tempdir().expect("tempdir"),
        &format!("[server]\ndrain_delay_ms = 3000\n{entry}\n[policies.default]\n"),
        &[
            ("VODSIGN_SECRET_ID", vod.id.clone()),
            ("VODSIGN_SECRET_KEY", vod.key.clone()),
        ],
    );
    let listen = service.address.to_string();
    assert_eq!(healthcheck(&listen).0, 0, "ready");
    // Listening on every interface is probed on loopback.
    let wildcard = format!("0.0.0.0:{}", service.address.port());
    assert_eq!(healthcheck(&wildcard).0, 0, "0.0.0.0 probed on loopback");

    // Draining: reachable but not ready.
    service.signal("TERM");
    assert!(
        service
            .wait_for_log("still serving during the drain delay")
            .is_some()
    );
    assert_eq!(healthcheck(&listen).0, 1, "draining is not ready");

    // Nothing listening: 1, quickly.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = free.local_addr().expect("address").to_string();
    drop(free);
    let (code, took) = healthcheck(&closed);
    assert_eq!(code, 1, "not reachable");
    assert!(took < Duration::from_secs(5), "no hang: {took:?}");
}
