//! JWT access tokens through the router: the caller a token proves reaches the signature,
//! and each refusal gets its envelope code.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tempfile::TempDir;
use vodsign::config::AuthSettings;
use vodsign::config::PolicySettings;
use vodsign::signature::DecodedSignature;

use crate::support::app::*;

use crate::support::keys::{self, TestKey, good_claims, with};

const OTHER_ISSUER: &str = "https://unreachable-idp.test/";

/// An app trusting one ES256 provider (`corp`, keys from a JWKS file) and one whose
/// `jwks_url` points at a closed port (`gone`).
async fn spawn_app_with_tokens() -> (TestApp, TestKey, TempDir) {
    let key = TestKey::es256("corp-1");
    let dir = tempfile::tempdir().expect("temp dir");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, keys::jwks(&[&key]).to_string()).expect("write JWKS");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let gone_url = format!("http://{}/jwks", closed.local_addr().expect("addr"));
    drop(closed);
    let auth: AuthSettings = serde_json::from_value(json!({"jwt": [
        {"name": "corp", "issuer": keys::ISSUER, "audiences": [keys::AUDIENCE],
         "algorithms": ["ES256"], "jwks_file": jwks,
         "access": {"required_scopes": ["vod.upload"], "policy_claim": "vod_policy",
                    "default_policy": "default"}},
        {"name": "gone", "issuer": OTHER_ISSUER, "audiences": [keys::AUDIENCE],
         "algorithms": ["ES256"], "jwks_url": gone_url, "jwks_timeout_ms": 200,
         "access": {"default_policy": "default"}},
    ]}))
    .expect("auth config");
    let app = spawn_app_with(|s| {
        s.auth = auth;
        s.policies.insert(
            "partner".into(),
            PolicySettings {
                source_context: "{credential_id}/{subject}".into(),
                ..PolicySettings::default()
            },
        );
    })
    .await;
    (app, key, dir)
}

async fn get_with(
    app: &TestApp,
    token: &str,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Value) {
    app.call(
        Request::get("/v1/signature")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn jwt_caller_gets_a_signature_for_their_subject_and_policy() {
    let (app, key, _dir) = spawn_app_with_tokens().await;
    let claims = with(good_claims("alice"), "vod_policy", json!("partner"));
    let (status, _, body) = get_with(&app, &key.sign(&claims)).await;
    assert_eq!(status, 200, "{body}");
    let signature = body["data"]["signature"].as_str().expect("data.signature");
    let decoded = DecodedSignature::decode(signature).expect("decodes");
    assert!(app.signer().verifies(&decoded));
    let params = decoded.params().expect("parses");
    assert_eq!(
        params.options.source_context.as_ref().map(|s| s.as_str()),
        Some("corp/alice"),
        "credential_id is the provider, subject the token's sub"
    );
    // API keys keep working next to tokens.
    assert_eq!(app.get_signature("").await.0, 200);
}

#[tokio::test]
async fn a_token_subject_cannot_add_a_separator_to_the_context() {
    let (app, key, _dir) = spawn_app_with_tokens().await;
    let claims = with(
        good_claims("mallory/\"admin"),
        "vod_policy",
        json!("partner"),
    );
    let (status, _, body) = get_with(&app, &key.sign(&claims)).await;
    assert_eq!(status, 200, "{body}");
    let signature = body["data"]["signature"].as_str().expect("data.signature");
    let params = DecodedSignature::decode(signature)
        .expect("decodes")
        .params()
        .expect("parses");
    assert_eq!(
        params.options.source_context.as_ref().map(|s| s.as_str()),
        Some("corp/mallory%2F%22admin"),
        "the template's one '/' stays the only one"
    );
}

#[tokio::test]
async fn refused_tokens_get_40102_or_40301() {
    let (app, key, _dir) = spawn_app_with_tokens().await;
    let expired = with(good_claims("alice"), "exp", json!(keys::now() - 3600));
    assert_error(&get_with(&app, &key.sign(&expired)).await, 401, 40102);
    let forged = TestKey::es256("corp-1").sign(&good_claims("alice"));
    assert_error(&get_with(&app, &forged).await, 401, 40102);
    let no_scope = with(good_claims("alice"), "scope", json!("openid"));
    let response = get_with(&app, &key.sign(&no_scope)).await;
    assert_error(&response, 403, 40301);
    assert!(
        response.2["message"]
            .as_str()
            .unwrap_or("")
            .contains("vod.upload")
    );
    let unknown_policy = with(good_claims("alice"), "vod_policy", json!("gold"));
    assert_error(
        &get_with(&app, &key.sign(&unknown_policy)).await,
        403,
        40301,
    );
}

#[tokio::test]
async fn provider_without_keys_is_reported_down_while_api_keys_keep_the_service_ready() {
    let (app, _key, _dir) = spawn_app_with_tokens().await;
    let readyz = || {
        app.call(
            Request::get("/readyz")
                .body(Body::empty())
                .expect("request"),
        )
    };
    let (status, _, body) = readyz().await;
    assert_eq!(status, 200, "{body}");
    let gone = body["data"]["dependencies"]["jwks:gone"]
        .as_str()
        .unwrap_or_default();
    assert!(
        gone.starts_with("down: signing keys never loaded"),
        "{body}"
    );
    assert!(!gone.contains("http://"), "no URL in the report: {gone}");
    app.state.sample_metrics();
    let text = app.state.metrics().render();
    assert!(
        text.contains("vodsign_dependency_up{dependency=\"jwks:gone\"} 0"),
        "{text}"
    );
    let stranger = TestKey::es256("gone-1");
    let claims = with(good_claims("bob"), "iss", json!(OTHER_ISSUER));
    assert_error(&get_with(&app, &stranger.sign(&claims)).await, 503, 50301);
    assert_eq!(app.get_signature("").await.0, 200, "API keys still work");
}

#[tokio::test]
async fn no_api_key_and_no_provider_with_keys_makes_the_service_unready() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let gone_url = format!("http://{}/jwks", closed.local_addr().expect("addr"));
    drop(closed);
    let auth: AuthSettings = serde_json::from_value(json!({"jwt": [
        {"name": "gone", "issuer": OTHER_ISSUER, "audiences": [keys::AUDIENCE],
         "algorithms": ["ES256"], "jwks_url": gone_url, "jwks_timeout_ms": 200,
         "access": {"default_policy": "default"}},
    ]}))
    .expect("auth config");
    let app = spawn_app_with(|s| {
        s.auth = auth;
        s.api_keys.clear();
    })
    .await;
    let response = app
        .call(
            Request::get("/readyz")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_error(&response, 503, 50301);
    let message = response.2["message"].as_str().unwrap_or_default();
    assert!(message.contains("no credential can pass"), "{message}");
}
