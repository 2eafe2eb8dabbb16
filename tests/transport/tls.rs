//! Native HTTPS with a certificate made by the test: HTTP/2 by ALPN, HTTP/1.1 for clients
//! that only speak it, a certificate reload that keeps open connections, and the
//! healthcheck over HTTPS.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use vodsign::App;
use vodsign::{Reloader, Source};

use crate::support::service::*;

fn client(ca_pem: &str, address: SocketAddr, http1_only: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .resolve("localhost", address)
        .no_proxy()
        .timeout(Duration::from_secs(5));
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

fn write_pair(dir: &Path, leaf: &str, key: &str) {
    std::fs::write(dir.join("cert.pem"), leaf).expect("write cert");
    std::fs::write(dir.join("key.pem"), key).expect("write key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_negotiates_h2_and_a_reloaded_certificate_keeps_open_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, leaf, key) = test_certificates();
    write_pair(dir.path(), &leaf, &key);
    let config = dir.path().join("vodsign.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\n[server.tls]\ncert_file = {:?}\nkey_file = {:?}\n[vod]\n\
             development_placeholder_credentials = true\n[policies.default]\n\
             [[api_keys]]\nid = \"tls\"\nsha256 = \"{}\"\nsubject = \"s\"\npolicy = \"default\"\n",
            dir.path().join("cert.pem"),
            dir.path().join("key.pem"),
            // Readiness needs a credential that can pass.
            vodsign::hash_key(&vodsign::generate_key("tls")),
        ),
    )
    .expect("write config");
    let source = Source {
        path: Some(config),
        listen: None,
    };
    let (settings, credentials) = source.load().expect("config loads");
    let app = App::build(settings, credentials).await.expect("valid");
    let reloader = Reloader::new(source, app.into_state()).expect("TLS loads");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(vodsign::serve(
        listener,
        reloader.live(),
        reloader.tls(),
        async {
            let _ = stopped.await;
        },
    ));
    let url = format!("https://localhost:{}/healthz", address.port());

    let old_ca_client = client(&ca, address, false);
    let response = old_ca_client.get(&url).send().await.expect("HTTPS request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2, "h2 by ALPN");
    let response = client(&ca, address, true)
        .get(&url)
        .send()
        .await
        .expect("HTTP/1.1 request");
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let ready = format!("https://127.0.0.1:{}/readyz", address.port());
    vodsign::healthcheck(&ready, Duration::from_secs(2))
        .await
        .expect("healthcheck over HTTPS");

    // Renew with a certificate from another CA and reload.
    let (new_ca, new_leaf, new_key) = test_certificates();
    write_pair(dir.path(), &new_leaf, &new_key);
    reloader
        .reload()
        .await
        .expect("reload with the new certificate");
    // The open HTTP/2 connection goes on (a new handshake would fail: this client does
    // not trust the new CA).
    let response = old_ca_client
        .get(&url)
        .send()
        .await
        .expect("same connection");
    assert_eq!(response.status(), 200);
    // New connections get the new certificate.
    let fresh = client(&new_ca, address, false).get(&url).send().await;
    assert_eq!(fresh.expect("new CA accepted").status(), 200);
    let stale = client(&ca, address, false).get(&url).send().await;
    assert!(
        stale.is_err(),
        "new handshakes no longer use the old certificate"
    );

    // A broken key file is refused and the current certificate stays.
    std::fs::write(dir.path().join("key.pem"), "not a key").expect("write");
    let err = reloader.reload().await.expect_err("refused");
    assert!(err.to_string().contains("server.tls.key_file"), "{err}");
    let again = client(&new_ca, address, false).get(&url).send().await;
    assert_eq!(again.expect("still served").status(), 200);

    stop.send(()).expect("server running");
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("stops")
        .expect("joined")
        .expect("served");
}
