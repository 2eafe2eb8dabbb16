//! The fuzz targets' entry points driven by proptest, so CI exercises them even where
//! cargo-fuzz cannot build (it needs nightly flags). Same properties as `fuzz/`: every
//! input is refused or accepted, nothing panics, and what decodes encodes back the same.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use vodsign::app::{App, VodCredentials};
use vodsign::auth::api_key::{ApiKeys, hash_key};
use vodsign::auth::middleware::bearer;
use vodsign::auth::{AuthConfig, CredentialKind, Principal, TokenVerifier};
use vodsign::config::{ApiKeySettings, PolicySettings, Settings};
use vodsign::http::signature::{parse_json_request, parse_query_request};
use vodsign::inspect::inspect;
use vodsign::policy::{Policy, SignatureRequest};
use vodsign::signature::{DecodedSignature, SecretId, Signer, encode, sign_original};

const KEY: &[u8] = b"fuzz-key";

/// What the `signature_decode` target does with one input.
fn check_signature(text: &str) {
    let signer = Signer::new(KEY);
    if let Ok(report) = inspect(text, Some(&signer), 1_700_000_000) {
        let _ = report.render();
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

/// What the `request_parse` target does with a parsed request.
fn check_request(request: &SignatureRequest) {
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
        let params = grant.into_params(SecretId::try_from("AKIDfuzz").expect("valid"), 1, 7);
        let signature = Signer::new(KEY).sign(&params);
        let decoded = DecodedSignature::decode(&signature).expect("our output decodes");
        assert_eq!(decoded.params(), Ok(params));
    }
}

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

/// One HS256 provider with a fixed secret, as in the `bearer_header` target.
fn fuzz_tokens() -> &'static TokenVerifier {
    static TOKENS: OnceLock<TokenVerifier> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let auth: AuthConfig = serde_json::from_value(serde_json::json!({"jwt": [{
            "name": "fuzz", "issuer": "fuzz-issuer", "audiences": ["vodsign"],
            "algorithms": ["HS256"], "hmac_secret_env": "FUZZ_HS_SECRET",
            "access": {"default_policy": "default"},
        }]}))
        .expect("valid [auth]");
        let env = |name: &str| (name == "FUZZ_HS_SECRET").then(|| "fuzz-hmac-secret".to_owned());
        let policies = BTreeSet::from(["default".to_owned()]);
        ready(TokenVerifier::from_config_with_env(&auth, &policies, &env))
            .expect("no JWKS to fetch")
            .expect("the fuzz provider is valid")
    })
}

/// What the `bearer_header` target does with one header value.
fn check_bearer(bytes: &[u8], keys: &ApiKeys) {
    let Ok(value) = HeaderValue::from_bytes(bytes) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    if let Ok(credential) = bearer(&headers) {
        assert_eq!(
            keys.verify(credential).is_ok(),
            credential == "vsk_fuzz_secret"
        );
        // A JWT is parsed and refused (no input carries a valid HS256 MAC); an opaque
        // token is refused (no introspection provider).
        if let Some(result) = ready(fuzz_tokens().verify(credential)) {
            assert!(result.is_err(), "a fuzz input verified as a token");
        }
    }
}

fn fuzz_keys() -> ApiKeys {
    let settings = [ApiKeySettings {
        id: "fuzz".into(),
        sha256: hash_key("vsk_fuzz_secret"),
        subject: "fuzz-user".into(),
        policy: "default".into(),
    }];
    ApiKeys::from_settings(&settings, &BTreeSet::from(["default".to_owned()])).expect("valid")
}

/// `App::build` starts the key-refresh task, so it runs inside a runtime.
fn runtime() -> &'static tokio::runtime::Runtime {
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

/// What the `config_parse` target does with one text.
fn check_config(text: &str) {
    let Ok(mut settings) = Settings::from_toml_str(text) else {
        return;
    };
    offline(&mut settings);
    if let Err(error) = runtime().block_on(App::build(settings, VodCredentials::placeholder())) {
        assert!(!error.to_string().is_empty());
    }
}

/// Query-string-ish text: the field names the parser knows, separators and escapes.
fn query_text() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("procedure"),
        Just("classId"),
        Just("storageRegion"),
        Just("vodSubAppId"),
        Just("taskPriority"),
        Just("taskNotifyMode"),
        Just("sessionContext"),
        Just("sourceContext"),
        Just("validitySeconds"),
        Just("x"),
    ];
    let value = "([a-z0-9%+=&-]|%[0-9A-Fa-f]{2}|%){0,12}";
    proptest::collection::vec((name, value), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// JSON-ish bodies: objects of known fields with values of every JSON type.
fn json_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        ".{0,20}".prop_map(|s| serde_json::Value::String(s).to_string()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
    ];
    let name = "(procedure|classId|storageRegion|vodSubAppId|taskPriority|taskNotifyMode|sessionContext|sourceContext|validitySeconds|x)";
    proptest::collection::vec((name, value), 0..5).prop_map(|pairs| {
        let fields: Vec<String> = pairs
            .into_iter()
            .map(|(n, v)| format!("\"{n}\":{v}"))
            .collect();
        format!("{{{}}}", fields.join(","))
    })
}

/// A query string with signature-parameter names, signed, so decoding gets past Base64.
fn signed_text() -> impl Strategy<Value = String> {
    let name = "(secretId|currentTimeStamp|expireTime|random|classId|procedure|taskPriority|taskNotifyMode|sourceContext|sessionContext|oneTimeValid|vodSubAppId|storageRegion|s|t|x)";
    let value = "([a-zA-Z0-9.~+-]|%[0-9A-Fa-f]{2}|%){0,12}";
    proptest::collection::vec((name, value), 0..8).prop_map(|pairs| {
        let original = pairs
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        sign_original(KEY, &original)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_as_a_signature_is_refused_or_explained(text in ".{0,200}") {
        check_signature(&text);
    }

    #[test]
    fn any_base64_as_a_signature_is_refused_or_explained(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_signature(&STANDARD.encode(bytes));
    }

    #[test]
    fn signed_query_strings_decode_or_are_refused(text in signed_text()) {
        check_signature(&text);
    }

    #[test]
    fn any_query_is_parsed_or_refused(query in prop_oneof![query_text(), ".{0,100}"]) {
        if let Ok(request) = parse_query_request(&query) {
            check_request(&request);
        }
    }

    #[test]
    fn any_body_is_parsed_or_refused(body in prop_oneof![
        json_text().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..100),
    ]) {
        if let Ok(request) = parse_json_request(&body) {
            check_request(&request);
        }
    }

    #[test]
    fn any_authorization_header_is_a_credential_or_a_refusal(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..100),
            "(Bearer|bearer|BEARER|Basic|) {0,3}(vsk_fuzz_secret|vsk_fuzz_|vsk_|[ -~]{0,40}) {0,2}".prop_map(String::into_bytes),
            "Bearer (eyJ[A-Za-z0-9_-]{0,40}|[A-Za-z0-9_-]{0,20})[.][A-Za-z0-9_=-]{0,40}[.][A-Za-z0-9_-]{0,20}".prop_map(String::into_bytes),
        ]
    ) {
        check_bearer(&bytes, &fuzz_keys());
    }

    #[test]
    fn any_toml_is_a_configuration_or_a_named_error(text in prop_oneof![
        ".{0,200}",
        "\\[(server|vod|policies\\.default|policies\\.x)\\]\n(listen|validity_seconds|source_context|allowed_class_ids|log_level|one_time_valid) = (1|-1|\"\\{subject\\}\"|\"\\{x\"|true|\\[1, 2\\]|\"127.0.0.1:1\"|99999999999)\n",
    ]) {
        check_config(&text);
    }
}

#[test]
fn the_sample_configurations_pass_the_config_target() {
    for path in ["config/development.toml", "config/vodsign.example.toml"] {
        let text = std::fs::read_to_string(path).expect("sample config exists");
        let settings = Settings::from_toml_str(&text).expect("sample config parses");
        let built = runtime().block_on(App::build(settings, VodCredentials::placeholder()));
        assert!(built.is_ok(), "{path} validates: {:?}", built.err());
    }
}

#[test]
fn the_bearer_target_accepts_exactly_its_key() {
    let keys = fuzz_keys();
    check_bearer(b"Bearer vsk_fuzz_secret", &keys);
    check_bearer(b"bearer   vsk_fuzz_secret  ", &keys);
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Bearer vsk_fuzz_secret"),
    );
    assert_eq!(bearer(&headers), Ok("vsk_fuzz_secret"));
}
