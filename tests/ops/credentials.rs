//! Named credentials: each policy signs with the credential it names; an unknown name is
//! refused naming the key; `Debug` shows no key.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use secrecy::SecretString;
use tower::ServiceExt as _;
use vodsign::App;
use vodsign::Credentials;
use vodsign::VodCredentials;
use vodsign::config::{ApiKeySettings, PolicySettings, Settings};
use vodsign::signature::SecretId;

use crate::support::service::*;

fn pair(key: &TestKey) -> VodCredentials {
    VodCredentials {
        secret_id: SecretId::try_from(key.id.as_str()).expect("valid"),
        secret_key: SecretString::from(key.key.clone()),
        placeholder: false,
    }
}

#[tokio::test]
async fn each_policy_signs_with_its_own_credential() {
    let (a, b) = (TestKey::new("tenanta"), TestKey::new("tenantb"));
    let mut settings = Settings::default();
    let mut keys = Vec::new();
    for (policy, credential) in [("alpha", "default"), ("beta", "tenant-b")] {
        settings.policies.insert(
            policy.into(),
            PolicySettings {
                credential: credential.into(),
                ..PolicySettings::default()
            },
        );
        let key = vodsign::generate_key(policy);
        settings.api_keys.push(ApiKeySettings {
            id: policy.into(),
            sha256: vodsign::hash_key(&key),
            subject: "s".into(),
            policy: policy.into(),
        });
        keys.push(key);
    }
    let credentials = Credentials::from(pair(&a)).with("tenant-b", pair(&b));
    let state = App::build(settings, credentials)
        .await
        .expect("valid")
        .into_state();
    let debug = format!("{:?}", *state);
    assert!(debug.contains("tenant-b"), "{debug}");
    assert!(
        !debug.contains(&a.key) && !debug.contains(&b.key),
        "{debug}"
    );
    let router = vodsign::router(state);
    let mut signatures = Vec::new();
    for key in &keys {
        let request = Request::get("/v1/signature")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 200);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        signatures.push(
            json["data"]["signature"]
                .as_str()
                .expect("signature")
                .to_owned(),
        );
    }
    assert!(a.signed(&signatures[0]) && !b.signed(&signatures[0]));
    assert!(b.signed(&signatures[1]) && !a.signed(&signatures[1]));
}

#[tokio::test]
async fn a_policy_naming_an_unknown_credential_is_refused() {
    let mut settings = Settings::default();
    settings.policies.insert(
        "default".into(),
        PolicySettings {
            credential: "next-key".into(),
            ..PolicySettings::default()
        },
    );
    let err = App::build(settings, VodCredentials::placeholder())
        .await
        .expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("policies.default.credential"), "{message}");
    assert!(
        message.contains("VODSIGN_CREDENTIAL_NEXT_KEY_SECRET_ID"),
        "{message}"
    );
}
