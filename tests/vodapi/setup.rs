//! The event configuration: DescribeEventConfig/ModifyEventConfig/DescribeEventsState, and
//! `vodsign events setup|status` (the real binary) against the fake.

use std::process::Output;
use std::time::Duration;

use vodsign::vodapi::EventConfigChange;
use vodsign::vodapi::setup::{setup, status};

use super::{Keys, client, fake, keys};
use crate::cli::{text, vodsign};
use crate::support::fake_vod::FakeVod;
use crate::support::fake_vod::events::new_file_upload;

#[tokio::test]
async fn the_configuration_reads_and_changes_as_vods_does() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let api = client(&fake, &keys);
    let config = api.describe_event_config().await.expect("described");
    assert_eq!(config.mode, "PUSH");
    assert_eq!(config.upload_media_complete_event_switch, "OFF");
    assert!(!config.request_id.is_empty());

    api.modify_event_config(&EventConfigChange {
        delete_media_complete_event_switch: Some("ON".into()),
        ..EventConfigChange::default()
    })
    .await
    .expect("modified");
    let config = api.describe_event_config().await.expect("described");
    assert_eq!(config.delete_media_complete_event_switch, "ON");
    assert_eq!(config.mode, "PUSH", "what the change leaves out stays");
    let refused = api
        .modify_event_config(&EventConfigChange {
            mode: Some("SOMETIMES".into()),
            ..EventConfigChange::default()
        })
        .await
        .expect_err("not a mode");
    assert_eq!(refused.code(), Some("InvalidParameterValue"));

    fake.push_all([new_file_upload("a", ""), new_file_upload("b", "")]);
    let state = api.describe_events_state().await.expect("state");
    assert_eq!(state.count_of_events_to_pull, 2);
}

#[tokio::test]
async fn setup_changes_only_what_is_needed_and_a_second_run_nothing() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let api = client(&fake, &keys);
    fake.set_config("Mode", "PULL");
    let changed = setup(&api).await.expect("set up");
    let names: Vec<&str> = changed.iter().map(|c| c.setting).collect();
    assert_eq!(
        names,
        [
            "UploadMediaCompleteEventSwitch",
            "DeleteMediaCompleteEventSwitch"
        ],
        "Mode was PULL already"
    );
    assert_eq!(fake.config("UploadMediaCompleteEventSwitch"), "ON");
    assert_eq!(fake.config("DeleteMediaCompleteEventSwitch"), "ON");
    assert!(setup(&api).await.expect("set up").is_empty());
    let modifies = fake
        .calls()
        .iter()
        .filter(|c| c.action == "ModifyEventConfig")
        .count();
    assert_eq!(modifies, 1, "the second run only reads");
    assert!(status(&api).await.expect("status").is_set_up());
}

/// Runs `vodsign events ACTION` against `fake` with `keys` in the environment.
async fn events_command(fake: &FakeVod, keys: &Keys, action: &str) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vodsign.toml");
    std::fs::write(
        &path,
        format!(
            "[policies.default]\nvalidity_seconds = 60\n[events]\napi_endpoint = \"{}\"\n",
            fake.endpoint()
        ),
    )
    .expect("write the config");
    let (id, key, action) = (keys.id.clone(), keys.key.clone(), action.to_owned());
    tokio::task::spawn_blocking(move || {
        let config = path.display().to_string();
        let env = [
            ("VODSIGN_SECRET_ID", id.as_str()),
            ("VODSIGN_SECRET_KEY", key.as_str()),
        ];
        let out = vodsign(&["events", &action, "--config", &config], &env, None);
        drop(dir);
        out
    })
    .await
    .expect("the command ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_setup_turns_the_upload_and_delete_switches_on_once() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;

    let out = events_command(&fake, &keys, "setup").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("changed Mode: PUSH -> PULL"), "{stdout}");
    assert!(
        stdout.contains("changed UploadMediaCompleteEventSwitch: OFF -> ON"),
        "{stdout}"
    );
    assert!(
        stdout.contains("changed DeleteMediaCompleteEventSwitch: OFF -> ON"),
        "{stdout}"
    );
    assert_eq!(fake.config("Mode"), "PULL");
    assert_eq!(fake.config("UploadMediaCompleteEventSwitch"), "ON");
    assert_eq!(fake.config("DeleteMediaCompleteEventSwitch"), "ON");

    let out = events_command(&fake, &keys, "setup").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("nothing to change"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stdout).contains("changed"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_status_prints_the_configuration_and_the_backlog() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    fake.push_all((0..3).map(|i| new_file_upload(&i.to_string(), "")));

    let out = events_command(&fake, &keys, "status").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Mode: PUSH"), "{stdout}");
    assert!(
        stdout.contains("UploadMediaCompleteEventSwitch: OFF"),
        "{stdout}"
    );
    assert!(
        stdout.contains("events waiting (approximate): 3"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("vodsign events setup"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_commands_exit_1_when_vod_refuses_and_2_without_a_key() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let wrong = Keys {
        id: keys.id.clone(),
        key: super::keys().key,
    };
    let out = events_command(&fake, &wrong, "status").await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("AuthFailure.SignatureFailure"), "{stderr}");
    assert!(!stderr.contains(&wrong.key), "{stderr}");
    assert_eq!(fake.config("Mode"), "PUSH", "nothing changed");

    let no_key = Keys {
        id: keys.id.clone(),
        key: String::new(),
    };
    let out = events_command(&fake, &no_key, "setup").await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
