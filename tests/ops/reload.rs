//! SIGHUP under load: a key rotation to a new named credential, and refused bad reloads.

use std::time::{Duration, Instant};

use crate::support::service::*;

fn config(entry: &str, policy: &str, extra: &str) -> String {
    format!("{entry}\n[policies.default]\n{policy}\n{extra}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rotates_a_policy_to_a_new_credential_without_failing_a_request() {
    let old = TestKey::new("old");
    let new = TestKey::new("new");
    let (api_key, entry) = api_key_entry();
    let service = Service::start(
        tempfile::tempdir().expect("tempdir"),
        &config(&entry, "", ""),
        &[
            ("VODSIGN_SECRET_ID", old.id.clone()),
            ("VODSIGN_SECRET_KEY", old.key.clone()),
        ],
    );
    let load = Load::start(service.url("/v1/signature"), api_key, 4);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Step 1: the new key arrives as secret files; the config names them and switches the
    // policy over to it.
    let id_file = service.dir.path().join("next_id");
    let key_file = service.dir.path().join("next_key");
    std::fs::write(&id_file, format!("{}\n", new.id)).expect("write id");
    std::fs::write(&key_file, format!("{}\n", new.key)).expect("write key");
    service.write_config(&config(
        &entry,
        "credential = \"next\"",
        &format!(
            "[credentials.next]\ndescription = \"rotation target\"\nsecret_id_file = {:?}\nsecret_key_file = {:?}\n",
            id_file, key_file
        ),
    ));
    service.signal("HUP");
    service
        .wait_for_log("configuration reloaded")
        .unwrap_or_else(|| panic!("no reload:\n{}", service.logs()));
    let reloaded = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let outcomes = load.stop().await;
    let signatures = assert_all_succeeded(&outcomes);
    for (_, signature) in &signatures {
        assert!(old.signed(signature) || new.signed(signature));
    }
    let after: Vec<&String> = signatures
        .iter()
        .filter(|(at, _)| *at > reloaded)
        .map(|(_, s)| s)
        .collect();
    assert!(!after.is_empty(), "requests ran after the reload");
    for signature in after {
        assert!(new.signed(signature), "signed with the new key");
        assert!(!old.signed(signature), "not with the old one");
    }
    assert!(
        signatures
            .iter()
            .any(|(at, s)| *at < reloaded && old.signed(s)),
        "the old key served before the reload"
    );
    let logs = service.logs();
    assert!(
        !logs.contains(&new.key) && !logs.contains(&old.key),
        "no key in the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_reload_is_refused_and_the_old_configuration_keeps_serving() {
    let vod = TestKey::new("keep");
    let (api_key, entry) = api_key_entry();
    let service = Service::start(
        tempfile::tempdir().expect("tempdir"),
        &config(&entry, "", ""),
        &[
            ("VODSIGN_SECRET_ID", vod.id.clone()),
            ("VODSIGN_SECRET_KEY", vod.key.clone()),
        ],
    );
    let load = Load::start(service.url("/v1/signature"), api_key, 2);

    // A policy naming a credential that does not exist.
    service.write_config(&config(&entry, "credential = \"ghost\"", ""));
    service.signal("HUP");
    let refused = service
        .wait_for_log("reload refused")
        .unwrap_or_else(|| panic!("not refused:\n{}", service.logs()));
    assert!(refused.contains("policies.default.credential"), "{refused}");
    assert!(refused.contains("\"level\":\"ERROR\""), "{refused}");

    // A file that is not TOML at all.
    service.write_config("this is [not toml");
    service.signal("HUP");
    assert!(service.wait_for_nth_log("reload refused", 2).is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;

    let outcomes = load.stop().await;
    let signatures = assert_all_succeeded(&outcomes);
    assert!(!signatures.is_empty());
    assert!(
        signatures.iter().all(|(_, s)| vod.signed(s)),
        "the old key still signs"
    );
    assert!(!service.logs().contains("configuration reloaded"));
}

#[tokio::test]
async fn a_rebuild_shares_the_long_lived_parts() {
    use std::sync::Arc;
    use vodsign::App;
    use vodsign::VodCredentials;
    use vodsign::config::{PolicySettings, Settings};
    let mut settings = Settings::default();
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    let first = App::build(settings.clone(), VodCredentials::placeholder())
        .await
        .expect("valid");
    first.start_draining();
    let second = first
        .rebuild(settings, VodCredentials::placeholder().into())
        .await
        .expect("valid");
    assert!(Arc::ptr_eq(first.long_lived(), second.long_lived()));
    assert!(
        !second.readiness().is_empty(),
        "still draining after a reload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changing_admin_warns_that_it_needs_a_restart() {
    let vod = TestKey::new("admin");
    let (_, entry) = api_key_entry();
    let service = Service::start(
        tempfile::tempdir().expect("tempdir"),
        &config(&entry, "", ""),
        &[
            ("VODSIGN_SECRET_ID", vod.id.clone()),
            ("VODSIGN_SECRET_KEY", vod.key.clone()),
        ],
    );
    service.write_config(&config(&entry, "", "[admin]\nenabled = false\n"));
    service.signal("HUP");
    let warning = service
        .wait_for_log("takes effect only after a restart")
        .unwrap_or_else(|| panic!("no restart warning:\n{}", service.logs()));
    assert!(warning.contains("admin.enabled"), "{warning}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_files_that_are_not_small_regular_files_are_refused_on_reload() {
    let vod = TestKey::new("files");
    let (_, entry) = api_key_entry();
    let mut service = Service::start(
        tempfile::tempdir().expect("tempdir"),
        &config(&entry, "", ""),
        &[
            ("VODSIGN_SECRET_ID", vod.id.clone()),
            ("VODSIGN_SECRET_KEY", vod.key.clone()),
        ],
    );
    let fifo = service.dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let big = service.dir.path().join("big");
    std::fs::write(&big, "x".repeat(100 * 1024)).expect("write");
    let id_file = service.dir.path().join("id");
    std::fs::write(&id_file, "AKIDnext\n").expect("write");
    let table = |key_file: &std::path::Path| {
        format!(
            "[credentials.next]\nsecret_id_file = {:?}\nsecret_key_file = {:?}\n",
            id_file, key_file
        )
    };
    for (n, bad) in [std::path::Path::new("/dev/zero"), &fifo, &big]
        .into_iter()
        .enumerate()
    {
        service.write_config(&config(&entry, "", &table(bad)));
        let sent = Instant::now();
        service.signal("HUP");
        let refused = service
            .wait_for_nth_log("reload refused", n + 1)
            .unwrap_or_else(|| panic!("not refused:\n{}", service.logs()));
        assert!(sent.elapsed() < Duration::from_secs(2), "refused quickly");
        assert!(
            refused.contains("credentials.next.secret_key_file"),
            "{refused}"
        );
    }
    let good = service.dir.path().join("key");
    std::fs::write(&good, "next-key\n").expect("write");
    service.write_config(&config(&entry, "", &table(&good)));
    service.signal("HUP");
    assert!(
        service.wait_for_log("configuration reloaded").is_some(),
        "the next good reload applies:\n{}",
        service.logs()
    );
    service.signal("TERM");
    service.signal("TERM");
    assert!(
        service.wait_exit(Duration::from_secs(15)).is_some(),
        "SIGTERM ends the process"
    );
    assert!(!service.logs().contains("next-key"));
}

/// A secret pasted into the config file, on a line that does not parse.
const PASTED: &str = "sk-PASTED-e41b7d09";

#[test]
fn check_config_locates_a_bad_line_without_repeating_it_and_names_a_bad_template() {
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |config: &str| {
        let path = dir.path().join("vodsign.toml");
        std::fs::write(&path, config).expect("write config");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vodsign"))
            .arg("check-config")
            .arg("--config")
            .arg(&path)
            .env_clear()
            .env("VODSIGN_SECRET_ID", "AKIDcheck")
            .env("VODSIGN_SECRET_KEY", "check-key")
            .output()
            .expect("check-config runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (code, text) = check(&format!(
        "[policies.default]\nvalidity_seconds = 60\nsecret_key {PASTED}\n"
    ));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("line 3, column 12"), "{text}");
    assert!(!text.contains("PASTED"), "{text}");

    let (code, text) = check(&format!(
        "[policies.default]\nvalidity_seconds = \"{PASTED}\"\n"
    ));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("policies.default.validity_seconds"), "{text}");
    assert!(!text.contains("PASTED"), "{text}");

    let (code, text) = check("[policies.default]\nsource_context = '{{\"uid\":{subject}}}'\n");
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("policies.default.source_context"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_refusing_a_bad_line_does_not_log_it() {
    let vod = TestKey::new("pasted");
    let (_, entry) = api_key_entry();
    let service = Service::start(
        tempfile::tempdir().expect("tempdir"),
        &config(&entry, "", ""),
        &[
            ("VODSIGN_SECRET_ID", vod.id.clone()),
            ("VODSIGN_SECRET_KEY", vod.key.clone()),
        ],
    );
    service.write_config(&config(&entry, &format!("secret_key = \"{PASTED}"), ""));
    service.signal("HUP");
    let refused = service
        .wait_for_log("reload refused")
        .unwrap_or_else(|| panic!("not refused:\n{}", service.logs()));
    assert!(refused.contains("not valid TOML"), "{refused}");
    assert!(refused.contains("line "), "{refused}");
    assert!(!service.logs().contains("PASTED"), "{}", service.logs());
}
