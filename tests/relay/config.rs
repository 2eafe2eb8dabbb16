//! What start-up refuses about the relay, naming the key: `[events]` without `[uploads]`,
//! a credential that is not configured, an endpoint whose secret is missing.

use secrecy::SecretString;
use vodsign::config::{EndpointSettings, PolicySettings, Settings};
use vodsign::signature::SecretId;
use vodsign::{App, VodCredentials};

fn settings(edit: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = Settings::default();
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    settings.events.enabled = true;
    settings.uploads.enabled = true;
    settings.events.api_endpoint = "http://127.0.0.1:9".into();
    edit(&mut settings);
    settings
}

fn credentials() -> VodCredentials {
    VodCredentials {
        secret_id: SecretId::try_from("AKIDrelayconfig").expect("valid"),
        secret_key: SecretString::from("relay-config-secret-key-0123456789"),
        placeholder: false,
    }
}

async fn refusal(settings: Settings) -> String {
    App::build_with_context_keys(settings, credentials(), crate::events::keys())
        .await
        .expect_err("refused")
        .to_string()
}

#[tokio::test]
async fn events_need_uploads() {
    let e = refusal(settings(|s| s.uploads.enabled = false)).await;
    assert!(
        e.contains("events.enabled") && e.contains("[uploads]"),
        "{e}"
    );
}

#[tokio::test]
async fn events_need_a_configured_credential() {
    let e = refusal(settings(|s| s.events.credential = "relayonly".into())).await;
    assert!(
        e.contains("events.credential") && e.contains("relayonly"),
        "{e}"
    );
}

/// `[credentials.relay]` read from files in `dir` (no environment needed).
fn file_credential(settings: &mut Settings, dir: &tempfile::TempDir) {
    let id = dir.path().join("id");
    let key = dir.path().join("key");
    std::fs::write(&id, "AKIDrelayfromfile").expect("write");
    std::fs::write(&key, "relay-file-secret-key-0123456789").expect("write");
    settings.credentials.insert(
        "relay".into(),
        vodsign::config::CredentialSettings {
            description: None,
            secret_id_file: Some(id),
            secret_key_file: Some(key),
        },
    );
    settings.events.credential = "relay".into();
}

#[tokio::test]
async fn an_endpoint_without_its_secret_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = refusal(settings(|s| {
        file_credential(s, &dir);
        s.webhooks.endpoints.push(EndpointSettings {
            name: "app".into(),
            url: "https://app.example/hooks".into(),
            secret_env: "VODSIGN_TEST_RELAY_SECRET_NOT_SET".into(),
            events: vec!["vod.unattributed".into()],
        });
    }))
    .await;
    assert!(
        e.contains("webhooks.endpoints[0].secret_env")
            && e.contains("VODSIGN_TEST_RELAY_SECRET_NOT_SET"),
        "{e}"
    );
    assert!(!e.contains("relay-file-secret-key"), "{e}");
}

#[tokio::test]
async fn a_relay_with_its_credential_builds_and_reports_vod_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = tempfile::tempdir().expect("tempdir");
    let app = App::build_with_context_keys(
        settings(|s| {
            file_credential(s, &dir);
            s.store.url = SecretString::from(format!(
                "sqlite://{}",
                store_dir.path().join("s.db").display()
            ));
        }),
        credentials(),
        crate::events::keys(),
    )
    .await
    .expect("builds");
    let dependencies = app.dependencies();
    assert!(
        dependencies
            .iter()
            .any(|(name, problem)| name == "vod_events" && problem.is_none()),
        "{dependencies:?}"
    );
    let debug = format!("{app:?}");
    assert!(
        !debug.contains("relay-file-secret-key"),
        "no secret in Debug"
    );
}
