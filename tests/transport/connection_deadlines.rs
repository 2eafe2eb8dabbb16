//! Connection deadlines and the per-address limit: a connection that sends nothing, part of
//! the HTTP/2 preface, or nothing more after a request (HTTP/1 keep-alive, h2c, TLS) is
//! closed by the server; one address cannot hold more than its share of the slots.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use vodsign::VodCredentials;
use vodsign::config::TlsSettings;
use vodsign::config::{PolicySettings, Settings};
use vodsign::{App, AppState};
use vodsign::{Reloader, Source};

use crate::support::service::test_certificates;

/// The deadlines the tests configure; a closed connection must be seen well before
/// `CLOSED_WITHIN`, and old code never closes one.
const SHORT_MS: u64 = 300;
const CLOSED_WITHIN: Duration = Duration::from_secs(4);
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const EMPTY_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

fn short_deadlines(settings: &mut Settings) {
    let server = &mut settings.server;
    server.first_byte_timeout_ms = SHORT_MS;
    server.header_timeout_ms = SHORT_MS;
    server.keepalive_idle_ms = SHORT_MS;
    server.write_timeout_ms = SHORT_MS;
    server.tls_handshake_timeout_ms = SHORT_MS;
}

/// Serves on 127.0.0.1 with `edit` applied to the defaults (HTTPS when it sets
/// `server.tls`); the server stops when the sender is dropped.
pub(crate) async fn spawn(edit: impl FnOnce(&mut Settings)) -> (SocketAddr, oneshot::Sender<()>) {
    let (address, stop, _state) = spawn_with_state(edit).await;
    (address, stop)
}

/// [`spawn`], also giving the state (for its metrics).
async fn spawn_with_state(
    edit: impl FnOnce(&mut Settings),
) -> (SocketAddr, oneshot::Sender<()>, AppState) {
    let mut settings = Settings::default();
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    edit(&mut settings);
    let state = App::build(settings, VodCredentials::placeholder())
        .await
        .expect("valid")
        .into_state();
    let reloader = Reloader::new(Source::default(), state.clone()).expect("TLS loads");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(vodsign::serve(
        listener,
        reloader.live(),
        reloader.tls(),
        async {
            let _ = stopped.await;
        },
    ));
    (address, stop, state)
}

/// HTTPS with a fresh certificate and short deadlines; the directory holds the key files
/// and the connector trusts the CA.
async fn spawn_tls() -> (
    SocketAddr,
    oneshot::Sender<()>,
    tempfile::TempDir,
    TlsConnector,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, leaf, key) = test_certificates();
    std::fs::write(dir.path().join("cert.pem"), leaf).expect("write cert");
    std::fs::write(dir.path().join("key.pem"), key).expect("write key");
    let tls = TlsSettings {
        cert_file: dir.path().join("cert.pem"),
        key_file: dir.path().join("key.pem"),
    };
    let (address, stop) = spawn(|s| {
        short_deadlines(s);
        s.server.tls = Some(tls);
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).expect("CA PEM"))
        .expect("CA added");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (address, stop, dir, TlsConnector::from(Arc::new(config)))
}

async fn connect_from(local: [u8; 4], address: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((local, 0)))
        .expect("bind the client address");
    socket.connect(address).await.expect("connect")
}

/// Reads (and discards) until the server closes; panics if it is still open after
/// `CLOSED_WITHIN`.
async fn assert_closed_by_server<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) {
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    let closed = tokio::time::timeout(CLOSED_WITHIN, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "still open after {:?}", started.elapsed());
}

async fn healthz_from(local: [u8; 4], address: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = connect_from(local, address).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer.starts_with(b"HTTP/1.1 200"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let (address, _stop) = spawn(short_deadlines).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    assert_closed_by_server(&mut stream).await;
}

#[tokio::test]
async fn a_partial_http2_preface_is_closed() {
    let (address, _stop) = spawn(short_deadlines).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(&PREFACE[..10]).await.expect("write");
    assert_closed_by_server(&mut stream).await;
}

/// The request-head deadline is long here, so only the idle deadline can close it.
#[tokio::test]
async fn an_idle_http1_keepalive_connection_is_closed() {
    let (address, _stop) = spawn(|s| {
        short_deadlines(s);
        s.server.header_timeout_ms = 60_000;
    })
    .await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.expect("answered");
    assert_eq!(&head, b"HTTP/1.1 200");
    assert_closed_by_server(&mut stream).await;
}

/// One h2c request for /healthz (HPACK: indexed :method GET, :scheme http, literal :path
/// and :authority), then nothing.
#[tokio::test]
async fn an_idle_h2c_connection_is_closed_after_its_request() {
    let (address, _stop) = spawn(short_deadlines).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let mut block = vec![0x82, 0x86, 0x04, 8];
    block.extend_from_slice(b"/healthz");
    block.extend_from_slice(&[0x01, 1, b'x']);
    let mut frames = PREFACE.to_vec();
    frames.extend_from_slice(EMPTY_SETTINGS);
    let length = u8::try_from(block.len()).expect("small");
    // HEADERS, END_STREAM | END_HEADERS, stream 1.
    frames.extend_from_slice(&[0, 0, length, 1, 0x05, 0, 0, 0, 1]);
    frames.extend_from_slice(&block);
    stream.write_all(&frames).await.expect("write");
    // The answer: frames until a HEADERS frame on stream 1 (its status is not decoded).
    let answered = tokio::time::timeout(CLOSED_WITHIN, async {
        loop {
            let mut header = [0u8; 9];
            stream.read_exact(&mut header).await.expect("a frame");
            let len =
                usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
            let mut payload = vec![0u8; len];
            stream.read_exact(&mut payload).await.expect("its payload");
            if header[3] == 1 && header[5..9] == [0, 0, 0, 1] {
                break;
            }
        }
    })
    .await;
    assert!(answered.is_ok(), "no response on stream 1");
    // A live client: every PING is answered, so only the idle deadline can close it.
    let started = Instant::now();
    let closed = tokio::time::timeout(CLOSED_WITHIN, async {
        loop {
            let mut header = [0u8; 9];
            if stream.read_exact(&mut header).await.is_err() {
                break;
            }
            let len =
                usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
            let mut payload = vec![0u8; len];
            if stream.read_exact(&mut payload).await.is_err() {
                break;
            }
            if header[3] == 6 && header[4] & 1 == 0 {
                let mut ack = vec![0, 0, 8, 6, 1, 0, 0, 0, 0];
                ack.extend_from_slice(&payload);
                if stream.write_all(&ack).await.is_err() {
                    break;
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "still open after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_tls_handshake_that_stalls_is_closed() {
    let (address, _stop, _dir, _connector) = spawn_tls().await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    assert_closed_by_server(&mut stream).await;
}

#[tokio::test]
async fn an_idle_tls_connection_after_its_handshake_is_closed() {
    let (address, _stop, _dir, connector) = spawn_tls().await;
    let stream = TcpStream::connect(address).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector
        .connect(name, stream)
        .await
        .expect("TLS handshake");
    assert_closed_by_server(&mut tls).await;
}

#[tokio::test]
async fn one_address_past_its_limit_is_refused_while_another_is_served() {
    let (address, _stop, state) =
        spawn_with_state(|s| s.server.max_connections_per_address = 2).await;
    let _first = connect_from([127, 0, 0, 2], address).await;
    let _second = connect_from([127, 0, 0, 2], address).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = connect_from([127, 0, 0, 2], address).await;
    let mut buf = [0u8; 16];
    let refused = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buf)).await;
    assert!(
        matches!(refused, Ok(Ok(0) | Err(_))),
        "the third connection from 127.0.0.2 was kept: {refused:?}"
    );
    assert!(
        healthz_from([127, 0, 0, 1], address).await,
        "127.0.0.1 not served"
    );
    let rendered = state.metrics().render();
    assert!(
        rendered.contains(r#"vodsign_connections_closed_total{reason="per_address_limit"} 1"#),
        "{rendered}"
    );
}

/// `vodsign_connections_open` follows the connections the server holds.
#[tokio::test]
async fn the_open_connections_gauge_follows_connections() {
    let (address, _stop, state) = spawn_with_state(|_| {}).await;
    let gauge = |state: &AppState| {
        state.metrics().render().lines().find_map(|l| {
            l.strip_prefix("vodsign_connections_open ")?
                .parse::<f64>()
                .ok()
        })
    };
    let first = connect_from([127, 0, 0, 2], address).await;
    let second = connect_from([127, 0, 0, 3], address).await;
    crate::support::eventually("two connections open", CLOSED_WITHIN, async || {
        gauge(&state) == Some(2.0)
    })
    .await;
    drop((first, second));
    crate::support::eventually("no connection open", CLOSED_WITHIN, async || {
        gauge(&state) == Some(0.0)
    })
    .await;
}

/// Closing a connection gives its address's slot back: the limit is on connections open,
/// not on connections ever made.
#[tokio::test]
async fn a_closed_connection_gives_its_slot_back() {
    let (address, _stop) = spawn(|s| s.server.max_connections_per_address = 1).await;
    for _ in 0..5 {
        assert!(
            healthz_from([127, 0, 0, 2], address).await,
            "a fresh connection after the last one closed was refused"
        );
    }
}

#[tokio::test]
async fn a_trusted_proxy_is_exempt_from_the_per_address_limit() {
    let (address, _stop) = spawn(|s| {
        s.server.max_connections_per_address = 1;
        s.limits.trusted_proxies = vec!["127.0.0.2/32".parse().expect("network")];
    })
    .await;
    let _held = connect_from([127, 0, 0, 2], address).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        healthz_from([127, 0, 0, 2], address).await,
        "the proxy was refused"
    );
}

/// 300 idle connections from 127.0.0.2 against 64 slots: /healthz from 127.0.0.1 still
/// answers. Bounded: 40 probes, 2 s each at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_flood_from_one_address_does_not_starve_another() {
    let (address, _stop) = spawn(|s| {
        s.server.max_connections = 64;
        s.server.max_connections_per_address = 16;
    })
    .await;
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(connect_from([127, 0, 0, 2], address).await);
    }
    let mut served = 0;
    for _ in 0..40 {
        if healthz_from([127, 0, 0, 1], address).await {
            served += 1;
        }
    }
    drop(flood);
    assert!(served >= 38, "only {served} of 40 probes answered");
}
