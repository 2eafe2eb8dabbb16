//! Failures stay apart and keep what an operator needs (VOD's code, message, request id),
//! and never the SecretKey: not in errors, `Debug` output or logs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::instrument::WithSubscriber as _;
use vodsign::config::EventSettings;
use vodsign::vodapi::VodApiError;

use super::{client, client_with, fake, keys};

#[tokio::test]
async fn a_wrong_key_is_refused_with_vods_code_message_and_request_id() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let wrong_key = super::keys().key;
    let api = client_with(&fake, &keys.id, &wrong_key, EventSettings::default());
    let err = api.pull_events().await.expect_err("a wrong key");
    let VodApiError::Api {
        code,
        message,
        request_id,
        action,
    } = &err
    else {
        panic!("not VOD's refusal: {err:?}");
    };
    assert_eq!(code, "AuthFailure.SignatureFailure");
    assert_eq!(*action, "PullEvents");
    assert!(!message.is_empty() && !request_id.is_empty(), "{err:?}");
    assert_eq!(fake.refusals(), ["AuthFailure.SignatureFailure"]);
    assert!(fake.calls().is_empty(), "nothing was served");
    for shown in [err.to_string(), format!("{err:?}"), format!("{api:?}")] {
        assert!(!shown.contains(&wrong_key), "{shown}");
    }

    let unknown_id = client_with(
        &fake,
        "AKIDsomeoneelse",
        &keys.key,
        EventSettings::default(),
    );
    let err = unknown_id
        .describe_event_config()
        .await
        .expect_err("an unknown SecretId");
    assert_eq!(err.code(), Some("AuthFailure.SecretIdNotFound"));
}

#[tokio::test]
async fn a_long_poll_past_the_client_timeout_is_a_timeout() {
    let keys = keys();
    // The fake holds 5 s; the client gives up long before.
    let fake = fake(&keys, Duration::from_secs(5)).await;
    let api = client_with(
        &fake,
        &keys.id,
        &keys.key,
        EventSettings {
            pull_timeout_ms: 200,
            ..EventSettings::default()
        },
    );
    let err = api.pull_events().await.expect_err("no answer in time");
    assert!(
        matches!(err, VodApiError::Timeout { action: "PullEvents", after } if after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(err.to_string().contains("200 ms"), "{err}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let api = client(&fake, &keys);
    drop(fake);
    // The port is closed now: nothing listens.
    let err = api
        .describe_event_config()
        .await
        .expect_err("nobody answers");
    assert!(matches!(err, VodApiError::Transport { .. }), "{err:?}");
    assert!(err.code().is_none());
}

#[tokio::test]
async fn an_answer_that_is_not_vods_envelope_is_malformed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let proxy = tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async {
            (
                axum::http::StatusCode::BAD_GATEWAY,
                "<html>bad gateway</html>",
            )
        });
        axum::serve(listener, app).await.expect("serves");
    });
    let keys = keys();
    let api = vodsign::vodapi::VodApi::new(
        &EventSettings {
            api_endpoint: format!("http://{addr}"),
            ..EventSettings::default()
        },
        vodsign::VodCredentials {
            secret_id: vodsign::signature::SecretId::try_from(keys.id.as_str()).expect("valid"),
            secret_key: secrecy::SecretString::from(keys.key.clone()),
            placeholder: false,
        },
    )
    .expect("a client");
    let err = api.describe_events_state().await.expect_err("not VOD");
    assert!(matches!(err, VodApiError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("502"), "{err}");
    proxy.abort();
}

/// A `Write` into a shared buffer, for a tracing subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_log_line_carries_the_key() {
    let keys = keys();
    let fake = fake(&keys, Duration::from_millis(100)).await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let wrong_key = super::keys().key;
    async {
        let api = client(&fake, &keys);
        fake.push(crate::support::fake_vod::events::new_file_upload(
            "f", "ctx",
        ));
        let pulled = api.pull_events().await.expect("pulled");
        let handles: Vec<String> = pulled.events.iter().map(|e| e.handle.clone()).collect();
        api.confirm_events(&handles).await.expect("confirmed");
        let wrong = client_with(&fake, &keys.id, &wrong_key, EventSettings::default());
        let _ = wrong.pull_events().await.expect_err("refused");
    }
    .with_subscriber(subscriber)
    .await;
    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(logs.contains("PullEvents"), "the calls were logged: {logs}");
    assert!(
        !logs.contains(&keys.key) && !logs.contains(&wrong_key),
        "{logs}"
    );
}
