//! One caller cannot starve the others: bodies are awaited outside the shared load-shedding
//! slots and within their own deadline, each caller has its own share of requests in
//! progress, and every such refusal (and a request the timeout ends) is audited.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use vodsign::config::PolicyLimits;
use vodsign::config::PolicySettings;

use crate::support::app::*;
use crate::support::observe::*;

/// An HTTP/1.1 connection from `from` that sends a `POST` head with `Content-Length: 100`
/// and request id `id`, one byte of body, and then nothing.
async fn stalled_upload(
    from: [u8; 4],
    to: SocketAddr,
    key: &str,
    id: &str,
) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    let mut stream = socket.connect(to).await?;
    let head = format!(
        "POST /v1/signature HTTP/1.1\r\nhost: vodsign\r\nauthorization: Bearer {key}\r\n\
         x-request-id: {id}\r\nconnection: close\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await?;
    Ok(stream)
}

/// The status and JSON body the server answers on `stream` (it closes the connection),
/// waiting at most 5 s.
async fn answer_of(mut stream: TcpStream) -> (u16, serde_json::Value) {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("answered within 5 s")
        .expect("read");
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or_default())
}

const LOOPBACK: [u8; 4] = [127, 0, 0, 1];
const ATTACKER: [u8; 4] = [127, 0, 0, 2];

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_40801_and_is_audited() {
    let app = spawn_app_with(|s| s.server.body_timeout_ms = 100).await;
    let served = serve(&app).await;
    let id = unique_id("slow-body");
    let started = Instant::now();
    let stream = stalled_upload(LOOPBACK, served.address, &app.api_key, &id)
        .await
        .expect("connect");
    let (status, body) = answer_of(stream).await;
    assert_eq!(
        (status, &body["code"]),
        (408, &serde_json::json!(40801)),
        "{body}"
    );
    assert_eq!(body["requestId"], id.as_str());
    assert!(started.elapsed() < Duration::from_secs(5));
    let events = audit_events(&id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "signature.refused");
    assert_eq!(events[0]["code"], 40801);
    assert_eq!(events[0]["credential_id"], "test");
    served.stop(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_request_ended_by_the_request_timeout_is_audited() {
    let app = spawn_app_with(|s| {
        s.server.request_timeout_ms = 150;
        s.server.body_timeout_ms = 150;
    })
    .await;
    let served = serve(&app).await;
    let id = unique_id("timed-out");
    let stream = stalled_upload(LOOPBACK, served.address, &app.api_key, &id)
        .await
        .expect("connect");
    let (status, body) = answer_of(stream).await;
    assert_eq!(
        (status, &body["code"]),
        (503, &serde_json::json!(50301)),
        "{body}"
    );
    let events = audit_events(&id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "signature.refused");
    assert_eq!(events[0]["status"], 503);
    assert_eq!(events[0]["code"], 50301);
    assert_eq!(
        events[0]["credential_id"], "test",
        "audited with the caller"
    );
    served.stop(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_callers_requests_past_its_share_get_42903_and_others_are_served() {
    let mut other = String::new();
    let app = spawn_app_with(|s| {
        s.limits.max_in_flight = 4;
        s.limits.max_in_flight_per_principal = 2;
        other = add_key(s, "other", "user-2", "default");
    })
    .await;
    let served = serve(&app).await;
    let mut own = Vec::new();
    for n in 0..2 {
        let id = unique_id(&format!("own-{n}"));
        own.push(
            stalled_upload(ATTACKER, served.address, &app.api_key, &id)
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = unique_id("third");
    let third = stalled_upload(ATTACKER, served.address, &app.api_key, &id)
        .await
        .expect("connect");
    let (status, body) = answer_of(third).await;
    assert_eq!(
        (status, &body["code"]),
        (429, &serde_json::json!(42903)),
        "{body}"
    );
    let events = audit_events(&id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["code"], 42903);
    assert_eq!(events[0]["credential_id"], "test");
    // Another caller is served: the two stalled uploads hold no shared slot.
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(LOOPBACK))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for _ in 0..8 {
        let response = client
            .get(format!("http://{}/v1/signature", served.address))
            .bearer_auth(&other)
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
    }
    drop(own);
    served.stop(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_stalled_uploads_under_one_key_leaves_other_callers_served() {
    const FLOOD: usize = 100;
    const BYSTANDER: usize = 100;
    let mut bystander = String::new();
    let mut attacker = String::new();
    let app = spawn_app_with(|s| {
        s.limits.max_in_flight = 16;
        s.limits.max_in_flight_per_principal = 4;
        s.server.body_timeout_ms = 5_000;
        bystander = add_key(s, "bystander", "user-b", "default");
        attacker = add_key(s, "attacker", "user-a", "flooded");
        s.policies.insert(
            "flooded".into(),
            PolicySettings {
                limits: Some(PolicyLimits::per_minute(30, 30).expect("valid limits")),
                ..PolicySettings::default()
            },
        );
    })
    .await;
    let served = serve(&app).await;
    let address = served.address;

    // The attacker, from 127.0.0.2: uploads that never finish.
    let mut stalled = Vec::with_capacity(FLOOD);
    for n in 0..FLOOD {
        let id = unique_id(&format!("flood-{n}"));
        stalled.push(
            stalled_upload(ATTACKER, address, &attacker, &id)
                .await
                .expect("loopback connection"),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The bystander, from 127.0.0.1, meanwhile.
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(LOOPBACK))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut ok = 0;
    for n in 0..BYSTANDER {
        let request = client
            .post(format!("http://{address}/v1/signature"))
            .bearer_auth(&bystander);
        let request = if n % 2 == 0 {
            request.json(&serde_json::json!({"validitySeconds": 60}))
        } else {
            request
        };
        if let Ok(response) = request.send().await
            && response.status() == 200
        {
            ok += 1;
        }
    }
    assert!(
        ok * 100 >= BYSTANDER * 95,
        "only {ok} of {BYSTANDER} bystander requests were served"
    );
    // Each stalled upload spent a unit of the attacker's rate as it arrived.
    let spent = client
        .get(format!("http://{address}/v1/signature"))
        .bearer_auth(&attacker)
        .send()
        .await
        .expect("response");
    assert_eq!(spent.status(), 429);
    let body: serde_json::Value = spent.json().await.expect("json");
    assert_eq!(body["code"], 42901, "{body}");

    drop(stalled);
    served.stop(Duration::from_secs(10)).await;
}
