//! Any `Authorization` header value: extracting the bearer credential, checking it as an
//! API key, and reading it as a JWT (header, `iss`, shape checks) must answer a credential
//! or a refusal, never panic.

#![no_main]

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use vodsign::auth::api_key::{ApiKeys, hash_key};
use vodsign::auth::middleware::bearer;
use vodsign::auth::{AuthConfig, TokenVerifier};
use vodsign::config::ApiKeySettings;

/// Polls a future that never waits (no network, fixed keys) to its end.
fn ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn policies() -> BTreeSet<String> {
    BTreeSet::from(["default".to_owned()])
}

fn keys() -> &'static ApiKeys {
    static KEYS: OnceLock<ApiKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let settings = [ApiKeySettings {
            id: "fuzz".into(),
            sha256: hash_key("vsk_fuzz_secret"),
            subject: "fuzz-user".into(),
            policy: "default".into(),
        }];
        ApiKeys::from_settings(&settings, &policies()).expect("the fuzz key set is valid")
    })
}

/// One HS256 provider with a fixed secret: JWT parsing runs without any network.
fn tokens() -> &'static TokenVerifier {
    static TOKENS: OnceLock<TokenVerifier> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let auth: AuthConfig = serde_json::from_value(serde_json::json!({"jwt": [{
            "name": "fuzz", "issuer": "fuzz-issuer", "audiences": ["vodsign"],
            "algorithms": ["HS256"], "hmac_secret_env": "FUZZ_HS_SECRET",
            "access": {"default_policy": "default"},
        }]}))
        .expect("valid [auth]");
        let env = |name: &str| (name == "FUZZ_HS_SECRET").then(|| "fuzz-hmac-secret".to_owned());
        ready(TokenVerifier::from_config_with_env(
            &auth,
            &policies(),
            &env,
        ))
        .expect("no JWKS to fetch")
        .expect("the fuzz provider is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    if let Ok(credential) = bearer(&headers) {
        let accepted = keys().verify(credential).is_ok();
        assert_eq!(accepted, credential == "vsk_fuzz_secret");
        // Whatever the shape: a JWT is parsed and refused (no fuzz input carries a valid
        // HS256 MAC), an opaque token is refused (no introspection provider).
        if let Some(result) = ready(tokens().verify(credential)) {
            assert!(result.is_err(), "a fuzz input verified as a token");
        }
    }
});
