//! SIGTERM under load: readiness turns 503 at once, the drain delay is served, an in-flight
//! request finishes after the listener closed, no request fails, and the exit code is 0.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::service::*;

const DRAIN_MS: u64 = 1500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_finishes_in_flight_requests_and_exits_zero() {
    let vod = TestKey::new("term");
    let (api_key, entry) = api_key_entry();
    let config = format!(
        "[server]\ndrain_delay_ms = {DRAIN_MS}\nshutdown_grace_ms = 5000\n\n{entry}\n[policies.default]\n"
    );
    let mut service = Service::start(
        tempfile::tempdir().expect("tempdir"),
        &config,
        &[
            ("VODSIGN_SECRET_ID", vod.id.clone()),
            ("VODSIGN_SECRET_KEY", vod.key.clone()),
        ],
    );
    let probe = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let ready = probe
        .get(service.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);

    let load = Load::start(service.url("/v1/signature"), api_key.clone(), 4);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A request whose body is still arriving when the listener closes.
    let body = br#"{"validitySeconds":60}"#;
    let mut slow = TcpStream::connect(service.address).await.expect("connect");
    let head = format!(
        "POST /v1/signature HTTP/1.1\r\nHost: vodsign\r\nAuthorization: Bearer {api_key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.expect("write head");
    slow.write_all(&body[..5])
        .await
        .expect("write part of the body");

    service.signal("TERM");
    let signalled = Instant::now();
    // Readiness answers 503 at once (within the time the signal takes to arrive).
    loop {
        let status = probe
            .get(service.url("/readyz"))
            .send()
            .await
            .expect("readyz during drain")
            .status();
        if status == 503 {
            break;
        }
        assert!(
            signalled.elapsed() < Duration::from_millis(500),
            "readyz still {status} 500 ms after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The load balancer needs a moment to notice; clients keep coming meanwhile.
    tokio::time::sleep(Duration::from_millis(DRAIN_MS / 2)).await;
    let outcomes = load.stop().await;
    let signatures = assert_all_succeeded(&outcomes);
    let during_drain = signatures.iter().filter(|(at, _)| *at > signalled).count();
    assert!(
        during_drain > 0,
        "requests were served during the drain delay"
    );
    assert!(signatures.iter().all(|(_, s)| vod.signed(s)));

    // After the drain delay the listener is closed: new connections are refused.
    let closed_at = loop {
        if TcpStream::connect(service.address).await.is_err() {
            break signalled.elapsed();
        }
        assert!(signalled.elapsed() < PATIENCE, "the listener never closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        closed_at >= Duration::from_millis(DRAIN_MS - 100),
        "stopped accepting after {closed_at:?}, before the drain delay"
    );

    // The in-flight request still completes.
    slow.write_all(&body[5..])
        .await
        .expect("write the rest of the body");
    let mut answer = String::new();
    tokio::time::timeout(PATIENCE, slow.read_to_string(&mut answer))
        .await
        .expect("answered in time")
        .expect("read the answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let json = &answer[answer.find("\r\n\r\n").expect("head ends") + 4..];
    let json: serde_json::Value = serde_json::from_str(json).expect("JSON body");
    assert!(vod.signed(json["data"]["signature"].as_str().expect("signature")));

    let status = service
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("still running after the grace time:\n{}", service.logs()));
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        service.logs()
    );
    assert!(service.logs().contains("all connections closed"));
}
