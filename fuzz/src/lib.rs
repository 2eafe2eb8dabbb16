//! What each fuzz target does with one input, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*`, for which this is the fuzz crate's library) and their proptest
//! fallback (`tests/fuzz_fallback.rs`, which includes this file by path), so the two cannot
//! drift apart. Every function must refuse
//! or accept its input without panicking; the `assert!`s are the properties.
//!
//! Not every caller uses every function.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use vodsign::App;
use vodsign::VodCredentials;
use vodsign::config::{ApiKeySettings, AuthSettings, PolicySettings, Settings};
use vodsign::inspect;
use vodsign::principal::{CredentialKind, Principal};
use vodsign::signature::{DecodedSignature, SecretId, Signer, encode};
use vodsign::{ApiKeys, hash_key};
use vodsign::{Policy, SignatureRequest};
use vodsign::{TokenVerifier, bearer};
use vodsign::{parse_json_request, parse_query_request};

/// The signing key of every target.
pub const KEY: &[u8] = b"fuzz-key";
/// The one API key the `bearer_header` target accepts.
pub const API_KEY: &str = "vsk_fuzz_secret";

/// `signature_decode`: any text as a signature. Decoding, strict parameter parsing and
/// `inspect` refuse or explain it; whatever decodes to valid parameters encodes back to
/// the same parameters.
pub fn signature_decode(text: &str) {
    let signer = Signer::new(KEY);
    if let Ok(report) = inspect(text, Some(&signer), 1_700_000_000) {
        let _ = report.render();
        let _ = report.is_valid();
    }
    let Ok(decoded) = DecodedSignature::decode(text) else {
        return;
    };
    let _ = decoded.pairs();
    let _ = signer.verifies(&decoded);
    if let Ok(params) = decoded.params() {
        let again = DecodedSignature {
            mac: decoded.mac,
            original: encode::original(&params),
        };
        assert_eq!(again.params(), Ok(params), "encode/decode round trip");
    }
}

/// `request_parse`: the first byte picks the JSON body (even) or the query string (odd)
/// parser for the rest.
pub fn request_parse(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let parsed = if selector & 1 == 0 {
        parse_json_request(rest)
    } else {
        match std::str::from_utf8(rest) {
            Ok(query) => parse_query_request(query),
            Err(_) => return,
        }
    };
    if let Ok(request) = parsed {
        request_signed(&request);
    }
}

/// Parsed request fields go through a permissive policy (so values reach the parameter
/// types) and the signer, to a precise refusal or a signature that decodes back to the
/// same parameters.
pub fn request_signed(request: &SignatureRequest) {
    let settings = PolicySettings {
        max_validity_seconds: Some(7_776_000),
        source_context: "{subject}:{client}".to_owned(),
        allow_client_session_context: true,
        ..PolicySettings::default()
    };
    let policy = Policy::from_settings("fuzz", &settings).expect("the fuzz policy is valid");
    let principal = Principal {
        subject: "fuzz-user".to_owned(),
        policy: "fuzz".to_owned(),
        credential_id: "fuzz".to_owned(),
        kind: CredentialKind::ApiKey,
    };
    if let Ok(grant) = policy.grant(&principal, request) {
        let secret_id = SecretId::try_from("AKIDfuzz").expect("valid");
        let params = grant.into_params(secret_id, 1_700_000_000, 7);
        let signature = Signer::new(KEY).sign(&params);
        let decoded = DecodedSignature::decode(&signature).expect("our output decodes");
        assert_eq!(decoded.params(), Ok(params), "sign/decode round trip");
    }
}

/// `bearer_header`: any `Authorization` value. Extracting the bearer credential, checking
/// it as an API key and reading it as a JWT answer a credential or a refusal.
pub fn bearer_header(bytes: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(bytes) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    if let Ok(credential) = bearer(&headers) {
        assert_eq!(api_keys().verify(credential).is_ok(), credential == API_KEY);
        // A JWT is parsed and refused (no input carries a valid HS256 MAC); an opaque
        // token is refused (no introspection provider).
        if let Some(result) = ready(tokens().verify(credential)) {
            assert!(result.is_err(), "a fuzz input verified as a token");
        }
    }
}

/// `config_parse`: any TOML text. Reading it into `Settings` and building the `App` from
/// it (placeholder credentials, kept off the disk and the network) accept it or name the
/// bad key.
pub fn config_parse(text: &str) {
    let Ok(mut settings) = Settings::from_toml_str(text) else {
        return;
    };
    offline(&mut settings);
    if let Err(error) = runtime().block_on(App::build(settings, VodCredentials::placeholder())) {
        assert!(!error.to_string().is_empty());
    }
}

/// Polls a future that never waits (no network, fixed keys) to its end.
pub fn ready<F: Future>(future: F) -> Option<F::Output> {
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

/// The one API key, [`API_KEY`].
pub fn api_keys() -> &'static ApiKeys {
    static KEYS: OnceLock<ApiKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let settings = [ApiKeySettings {
            id: "fuzz".into(),
            sha256: hash_key(API_KEY),
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
        let auth: AuthSettings = serde_json::from_value(serde_json::json!({"jwt": [{
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

/// `App::build` starts the key-refresh task, so it runs inside a runtime.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// Keeps a fuzzed configuration off the disk and the network: `audit.destination =
/// "file"` would create the file the text names, a `jwks_url` would be fetched, and a Redis
/// backend would be probed.
fn offline(settings: &mut Settings) {
    settings.audit = Default::default();
    settings.limits.redis_url = None;
    for provider in &mut settings.auth.jwt {
        provider.jwks_url = None;
    }
}
