//! Transport limits: an oversized request head is refused with 431, and past
//! `server.max_connections` a new connection waits instead of being served.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use vodsign::App;
use vodsign::VodCredentials;
use vodsign::config::{PolicySettings, Settings};

use super::connection_deadlines::spawn;
use crate::support::service::PATIENCE;

async fn get(stream: &mut TcpStream, extra_header: &str) -> String {
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{extra_header}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    answer
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let (address, _stop) = spawn(|s| s.server.max_header_bytes = 8192).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let big = format!("X-Filler: {}\r\n", "a".repeat(10_000));
    let answer = get(&mut stream, &big).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let answer = get(&mut stream, "X-Small: yes\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn past_max_connections_a_new_connection_waits_for_a_free_slot() {
    let (address, _stop) = spawn(|s| s.server.max_connections = 1).await;
    let holder = TcpStream::connect(address).await.expect("first connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(address)
        .await
        .expect("queued in the backlog");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(400), waiting.read(&mut buf)).await;
    assert!(early.is_err(), "served while the only slot was taken");
    drop(holder);
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, waiting.read_to_end(&mut answer))
        .await
        .expect("served once the slot is free")
        .expect("read");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn limits_below_what_the_transport_supports_are_refused() {
    let mut settings = Settings::default();
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    settings.server.max_header_bytes = 1024;
    let err = App::build(settings, VodCredentials::placeholder())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("server.max_header_bytes"), "{err}");
}
