//! `POST /-/reload` on the admin listener and `vodsign reload`: a reload without a signal
//! (the distroless image has no `kill`), on the real binary over loopback.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::support::service::*;

/// The admin listener's address, from its start-up log line.
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

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// `POST /-/reload` with an optional bearer token: (status, JSON body, headers).
async fn post_reload(
    admin: SocketAddr,
    token: Option<&str>,
) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
    let mut request = client().post(format!("http://{admin}/-/reload"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("admin answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.expect("JSON body");
    (status, body, headers)
}

/// `POST /v1/signature` with `key`: the status.
async fn sign_status(service: &Service, key: &str) -> u16 {
    client()
        .post(service.url("/v1/signature"))
        .bearer_auth(key)
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16()
}

/// The value of the unlabelled series `name` on the admin listener's `/metrics`.
async fn gauge(admin: SocketAddr, name: &str) -> Option<f64> {
    let text = client()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
}

/// A second API key `id` for policy `default`: (key, entry).
fn second_key(id: &str) -> (String, String) {
    let key = vodsign::generate_key(id);
    let entry = format!(
        "[[api_keys]]\nid = \"{id}\"\nsha256 = \"{}\"\nsubject = \"user-{id}\"\npolicy = \"default\"\n",
        vodsign::hash_key(&key)
    );
    (key, entry)
}

fn start(admin: &str, entries: &str, env: &[(&str, String)]) -> Service {
    let vod = TestKey::new("admin");
    let mut all = vec![
        ("VODSIGN_SECRET_ID", vod.id.clone()),
        ("VODSIGN_SECRET_KEY", vod.key.clone()),
    ];
    all.extend(env.iter().cloned());
    Service::start(
        tempfile::tempdir().expect("tempdir"),
        &format!("[admin]\n{admin}\n{entries}\n[policies.default]\n"),
        &all,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_reload_applies_a_new_api_key_without_a_restart() {
    let (old_key, old_entry) = api_key_entry();
    let (new_key, new_entry) = second_key("added");
    let service = start("enable_reload = true", &old_entry, &[]);
    let admin = admin_address(&service);
    assert_eq!(sign_status(&service, &new_key).await, 401, "not yet known");
    assert_eq!(
        gauge(admin, "vodsign_config_last_reload_success").await,
        Some(1.0),
        "the start-up load counts as a good one"
    );
    let started_at = gauge(admin, "vodsign_config_last_reload_timestamp_seconds")
        .await
        .expect("timestamp at start-up");

    service.write_config(&format!(
        "[admin]\nenable_reload = true\n{old_entry}\n{new_entry}\n[policies.default]\n"
    ));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body, _) = post_reload(admin, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], 0, "{body}");
    assert_eq!(body["message"], "configuration reloaded", "{body}");

    assert_eq!(sign_status(&service, &new_key).await, 200, "the new key");
    assert_eq!(sign_status(&service, &old_key).await, 200, "the old key");
    assert_eq!(
        gauge(admin, "vodsign_config_last_reload_success").await,
        Some(1.0)
    );
    let reloaded_at = gauge(admin, "vodsign_config_last_reload_timestamp_seconds")
        .await
        .expect("timestamp");
    assert!(reloaded_at > started_at, "{reloaded_at} > {started_at}");
    assert!(service.wait_for_log("configuration reloaded").is_some());
}

/// A secret pasted into the config file, on a line that does not parse.
const PASTED: &str = "sk-PASTED-9c1f03";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_config_is_refused_over_http_and_the_old_one_keeps_serving() {
    let (key, entry) = api_key_entry();
    let service = start("enable_reload = true", &entry, &[]);
    let admin = admin_address(&service);

    // A policy naming a credential that does not exist.
    service.write_config(&format!(
        "[admin]\nenable_reload = true\n{entry}\n[policies.default]\ncredential = \"ghost\"\n"
    ));
    let (status, body, _) = post_reload(admin, None).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], 50002, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("previous configuration keeps serving"),
        "{message}"
    );
    assert!(message.contains("policies.default.credential"), "{message}");
    assert_eq!(
        gauge(admin, "vodsign_config_last_reload_success").await,
        Some(0.0)
    );

    // A line that is not TOML, holding a secret: named by its place, never repeated.
    service.write_config(&format!(
        "[admin]\nenable_reload = true\n{entry}\n[policies.default]\nsecret_key = \"{PASTED}\n"
    ));
    let (status, body, _) = post_reload(admin, None).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.to_string().contains("line "), "{body}");
    assert!(!body.to_string().contains("PASTED"), "{body}");
    assert!(!service.logs().contains("PASTED"));

    assert_eq!(sign_status(&service, &key).await, 200, "the old one serves");
    let ready = client()
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200, "a refused reload does not unready");
    assert!(!service.logs().contains("configuration reloaded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_is_off_by_default_and_never_runs_on_get() {
    let (_, entry) = api_key_entry();
    let service = start("", &entry, &[]);
    let admin = admin_address(&service);
    let (status, body, _) = post_reload(admin, None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], 40301, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("enable_reload = true"),
        "{body}"
    );

    let get = client()
        .get(format!("http://{admin}/-/reload"))
        .send()
        .await
        .expect("answer");
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    let body: serde_json::Value = get.json().await.expect("JSON");
    assert_eq!(body["code"], 40501, "{body}");

    // `vodsign reload` says so and exits 1.
    let out = reload_command(&service, admin, &[], &[]);
    assert_eq!(out.0, Some(1), "{}", out.1);
    assert!(out.1.contains("enable_reload"), "{}", out.1);
    assert!(!service.logs().contains("configuration reloaded"));
}

/// Runs `vodsign reload --config <the service's file>` with the admin address and `env`:
/// (exit code, stdout and stderr).
fn reload_command(
    service: &Service,
    admin: SocketAddr,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vodsign"))
        .arg("reload")
        .arg("--config")
        .arg(Service::config_path(&service.dir))
        .args(args)
        .env_clear()
        .env("VODSIGN_ADMIN__LISTEN", admin.to_string())
        .envs(env.iter().copied())
        .output()
        .expect("vodsign reload runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reload_command_reloads_a_running_server_with_its_token() {
    let token = format!("admin-token-{}", crate::support::random_hex(12));
    let (_, entry) = api_key_entry();
    let (new_key, new_entry) = second_key("cli");
    let admin_table = "enable_reload = true\nreload_token_env = \"VODSIGN_ADMIN_TOKEN\"";
    let service = start(
        admin_table,
        &entry,
        &[("VODSIGN_ADMIN_TOKEN", token.clone())],
    );
    let admin = admin_address(&service);

    // Without the token, or with a wrong one: 401, nothing reloaded.
    let (status, body, headers) = post_reload(admin, None).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (401, Some(40101)),
        "{body}"
    );
    assert!(headers.contains_key("www-authenticate"));
    let (status, body, _) = post_reload(admin, Some("not-the-token")).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (401, Some(40102)),
        "{body}"
    );

    service.write_config(&format!(
        "[admin]\n{admin_table}\n{entry}\n{new_entry}\n[policies.default]\n"
    ));
    // The command finds the token where the config says (here from a file).
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).expect("write token");
    let token_path = token_file.to_str().expect("utf-8 path");
    let (code, text) = reload_command(
        &service,
        admin,
        &[],
        &[("VODSIGN_ADMIN_TOKEN_FILE", token_path)],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("configuration reloaded"), "{text}");
    assert_eq!(sign_status(&service, &new_key).await, 200, "applied");

    // Without its token the command says which variable is missing; with --admin too.
    let (code, text) = reload_command(&service, admin, &[], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("VODSIGN_ADMIN_TOKEN"), "{text}");
    let (code, text) = reload_command(
        &service,
        admin,
        &["--admin", &format!("http://{admin}/")],
        &[("VODSIGN_ADMIN_TOKEN", "wrong")],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("401"), "{text}");

    // A reload the service refuses: exit 1 with its reason.
    service.write_config(&format!(
        "[admin]\n{admin_table}\n{entry}\n[policies.default]\ncredential = \"ghost\"\n"
    ));
    let (code, text) = reload_command(
        &service,
        admin,
        &["--admin", &admin.to_string()],
        &[("VODSIGN_ADMIN_TOKEN", &token)],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("policies.default.credential"), "{text}");

    assert!(
        !service.logs().contains(&token),
        "the token is never logged"
    );
    assert!(!text.contains(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reload_command_gives_up_in_bounded_time_when_nothing_answers() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = free.local_addr().expect("address");
    drop(free);
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_vodsign"))
        .args([
            "reload",
            "--admin",
            &closed.to_string(),
            "--timeout-ms",
            "1500",
        ])
        .env_clear()
        .output()
        .expect("vodsign reload runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("not reachable"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reloads_run_one_after_the_other_and_all_apply() {
    let (key, entry) = api_key_entry();
    let service = start("enable_reload = true", &entry, &[]);
    let admin = admin_address(&service);
    let posts: Vec<_> = (0..4)
        .map(|_| tokio::spawn(post_reload(admin, None)))
        .collect();
    for post in posts {
        let (status, body, _) = post.await.expect("task");
        assert_eq!(status, 200, "{body}");
    }
    assert!(
        service
            .wait_for_nth_log("configuration reloaded", 4)
            .is_some(),
        "{}",
        service.logs()
    );
    let text = client()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("vodsign_config_reloads_total{outcome=\"ok\"} 4"),
        "{text}"
    );
    // Each reload logged its end before the next one started.
    let logs = service.logs();
    let order: Vec<&str> = logs
        .lines()
        .filter_map(|l| {
            if l.contains("reload started") {
                Some("start")
            } else if l.contains("configuration reloaded") {
                Some("end")
            } else {
                None
            }
        })
        .collect();
    assert_eq!(order, ["start", "end"].repeat(4), "{logs}");
    assert_eq!(sign_status(&service, &key).await, 200);
}
