//! Builders for token verifiers and introspection answers, against the test identity
//! provider ([`super::idp`]) and the per-run keys ([`super::keys`]).
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use vodsign::config::{AuthSettings, ConfigError};
use vodsign::principal::Principal;
use vodsign::{AuthError, TokenVerifier};

use super::idp::{CLIENT_ID, TestIdp};
use super::keys::random_bytes;

/// The policies the service under test defines.
pub fn policies() -> BTreeSet<String> {
    ["standard", "unlimited"].map(String::from).into()
}

/// Builds a verifier from a JSON form of `[auth]`, with `env` as the environment.
pub async fn verifier(auth: Value, env: &[(&str, &str)]) -> TokenVerifier {
    try_verifier(auth, env).await.expect("config is valid")
}

pub async fn try_verifier(auth: Value, env: &[(&str, &str)]) -> Result<TokenVerifier, ConfigError> {
    let cfg: AuthSettings = serde_json::from_value(auth).expect("config deserializes");
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TokenVerifier::from_config_with_env(&cfg, &policies(), &move |k: &str| env.get(k).cloned())
        .await
}

#[track_caller]
pub fn assert_invalid(case: &str, result: Result<Principal, AuthError>) {
    assert!(
        matches!(result, Err(AuthError::Invalid(_))),
        "{case}: expected Invalid, got {result:?}"
    );
}

pub const OAUTH_ISS: &str = "https://oauth.test/";
pub const SECRET_VAR: &str = "TEST_INTROSPECTION_SECRET";

pub fn opaque_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}

/// An `[[auth.introspection]]` table for `idp`: 300 ms timeout, 1 s negative cache.
pub fn introspection_provider(idp: &TestIdp, cache_ttl_secs: u64) -> Value {
    json!({
        "name": "opaque", "introspection_url": idp.introspection_url(),
        "client_id": CLIENT_ID, "client_secret_env": SECRET_VAR,
        "timeout_ms": 300, "cache_ttl_secs": cache_ttl_secs, "negative_cache_ttl_secs": 1,
        "issuer": OAUTH_ISS, "audiences": ["vodsign"],
        "access": {"required_scopes": ["vod.upload"], "default_policy": "standard",
            "role_policies": [{"role": "admin", "policy": "unlimited"}]}
    })
}

/// An introspection answer that passes every check of [`introspection_provider`].
pub fn active(sub: &str, exp: u64) -> Value {
    json!({"active": true, "sub": sub, "scope": "openid vod.upload", "exp": exp,
        "iss": OAUTH_ISS, "aud": ["vodsign", "other"], "client_id": "mobile-app"})
}
