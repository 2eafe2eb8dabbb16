//! The relay's `/-/webhooks/` routes on the real binary: mounted on the admin listener when
//! the store and an endpoint are configured, behind the admin token, never on the public
//! port, and absent when the relay is not configured.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::service::*;

const TOKEN: &str = "ops-admin-token-0123456789";
const WEBHOOK_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const RECEIVER: &str = "http://127.0.0.1:9/hook-with-a-path";

fn admin_address(service: &Service) -> SocketAddr {
    let line = service
        .wait_for_log("admin listener")
        .unwrap_or_else(|| panic!("no admin listener:\n{}", service.logs()));
    let json: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
    json["address"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("address in the admin line")
}

/// `GET url` with an optional bearer token: (status, body text).
async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// The service with uploads on (a SQLite store in its directory) and `webhooks` as its
/// `[webhooks]` tables.
fn start(webhooks: &str) -> Service {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store.db");
    let vod = TestKey::new("hooks");
    let (_, entry) = api_key_entry();
    let config = format!(
        "[admin]\nenable_webhook_admin = true\nreload_token_env = \"VODSIGN_ADMIN_TOKEN\"\n\
         {entry}\n[store]\nurl = \"sqlite://{}\"\n[uploads]\nenabled = true\n{webhooks}\n\
         [policies.default]\n",
        store.display()
    );
    Service::start(
        dir,
        &config,
        &[
            ("VODSIGN_SECRET_ID", vod.id.clone()),
            ("VODSIGN_SECRET_KEY", vod.key.clone()),
            ("VODSIGN_CONTEXT_KEY", crate::support::random_hex(32)),
            ("VODSIGN_ADMIN_TOKEN", TOKEN.to_owned()),
            ("APP_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_routes_are_on_the_admin_listener_only_and_guarded() {
    let service = start(&format!(
        "[[webhooks.endpoints]]\nname = \"app\"\nurl = \"{RECEIVER}\"\n\
         secret_env = \"APP_WEBHOOK_SECRET\"\n"
    ));
    let admin = admin_address(&service);
    let endpoints = format!("http://{admin}/-/webhooks/endpoints");

    let mut bodies = Vec::new();
    let (status, body) = get(&endpoints, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}\n{}", service.logs());
    bodies.push(body.clone());
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["endpoints"][0]["name"], "app", "{json}");
    assert_eq!(json["endpoints"][0]["configured"], true);
    assert_eq!(json["endpoints"][0]["disabled"], false);
    let (status, body) = get(
        &format!("http://{admin}/-/webhooks/messages?status=dead"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    bodies.push(body);

    let (status, body) = get(&endpoints, None).await;
    assert_eq!(status, 401, "{body}");
    bodies.push(body);
    let (status, body) = get(&endpoints, Some("not-the-token")).await;
    assert_eq!(status, 401, "{body}");
    bodies.push(body);
    let (status, _) = get(&service.url("/-/webhooks/endpoints"), Some(TOKEN)).await;
    assert_eq!(status, 404, "never on the public port");

    let logs = service.logs();
    for secret in [TOKEN, WEBHOOK_SECRET.trim_start_matches("whsec_")] {
        assert!(!logs.contains(secret), "a secret in the logs");
        assert!(
            bodies.iter().all(|b| !b.contains(secret)),
            "a secret in a body"
        );
    }
    assert!(
        bodies.iter().all(|b| !b.contains(RECEIVER)),
        "the URL in a body"
    );
}

/// `vodsign webhooks ARGS --config <the service's> --admin ADDR` with the admin token in
/// the environment: (exit code, stdout, stderr).
fn cli(service: &Service, admin: SocketAddr, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vodsign"))
        .arg("webhooks")
        .args(args)
        .arg("--config")
        .arg(Service::config_path(&service.dir))
        .arg("--admin")
        .arg(admin.to_string())
        .env_clear()
        .env("VODSIGN_ADMIN_TOKEN", TOKEN)
        .env("APP_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhooks_command_talks_to_the_admin_listener() {
    let service = start(&format!(
        "[[webhooks.endpoints]]\nname = \"app\"\nurl = \"{RECEIVER}\"\n\
         secret_env = \"APP_WEBHOOK_SECRET\"\n"
    ));
    let admin = admin_address(&service);
    let (code, out, err) = cli(&service, admin, &["endpoints"]);
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("the JSON answer");
    assert_eq!(json["endpoints"][0]["name"], "app");
    let (code, out, err) = cli(
        &service,
        admin,
        &["list", "--status", "dead", "--limit", "5"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"messages\""), "{out}");
    let (code, out, err) = cli(&service, admin, &["enable", "app"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"wasDisabled\": false"), "{out}");
    let (code, _, err) = cli(&service, admin, &["enable", "nope"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("404") && err.contains("no endpoint"), "{err}");
    let (code, _, err) = cli(&service, admin, &["show", "msg_AAAAAAAAAAAAAAAAAAAAAA"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = cli(&service, admin, &["list", "--since", "yesterday"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("400") && err.contains("RFC 3339"), "{err}");
    let (code, _, err) = cli(&service, admin, &["replay"]);
    assert_eq!(code, 2, "neither an id nor an endpoint and a time: {err}");
    let (code, out, err) = cli(
        &service,
        admin,
        &["replay", "--endpoint", "app", "--since", "0"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"replayed\": 0"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_relay_there_are_no_webhook_routes() {
    let service = start("");
    let admin = admin_address(&service);
    let (status, _) = get(&format!("http://{admin}/-/webhooks/endpoints"), Some(TOKEN)).await;
    assert_eq!(status, 404);
    let (status, _) = get(&format!("http://{admin}/metrics"), None).await;
    assert_eq!(status, 200, "the rest of the admin listener serves");
}
