//! Integration tests of the JWT and introspection verifiers against a test identity provider
//! on loopback, with keys generated per run. Timings are short (1 s refreshes and cache TTLs)
//! so the whole file runs in a few seconds.
#![allow(clippy::unwrap_used)]

mod attacks;
mod config;
mod idp;
mod introspection;
mod keys;
mod logging;
mod rotation;

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use vodsign::auth::{AuthConfig, AuthError, TokenVerifier};

/// The policies the service under test defines.
pub fn policies() -> BTreeSet<String> {
    ["standard", "unlimited"].map(String::from).into()
}

/// Builds a verifier from a JSON form of `[auth]`, with `env` as the environment.
pub async fn verifier(auth: Value, env: &[(&str, &str)]) -> TokenVerifier {
    try_verifier(auth, env).await.expect("config is valid")
}

pub async fn try_verifier(
    auth: Value,
    env: &[(&str, &str)],
) -> Result<TokenVerifier, vodsign::auth::AuthConfigError> {
    let cfg: AuthConfig = serde_json::from_value(auth).expect("config deserializes");
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TokenVerifier::from_config_with_env(&cfg, &policies(), &move |k: &str| env.get(k).cloned())
        .await
}

#[track_caller]
pub fn assert_invalid(case: &str, result: Result<vodsign::auth::Principal, AuthError>) {
    assert!(
        matches!(result, Err(AuthError::Invalid(_))),
        "{case}: expected Invalid, got {result:?}"
    );
}
