//! The fuzz targets driven by proptest, so every test run exercises them, and so does CI
//! where cargo-fuzz cannot be installed. The checks are the targets' own (`fuzz/src/lib.rs`,
//! the fuzz crate's library, which `fuzz/fuzz_targets/*` call); what proptest adds is
//! structured generators: signed query strings, JSON bodies with known fields,
//! bearer/JWT-shaped headers, TOML fragments.
//!
//! A binary of its own, run alone by `scripts/fuzz.sh` when cargo-fuzz cannot build.

// The harness is compiled here from the fuzz crate's source, by path: the least bad of the
// ways to share it. The fuzz crate is its own workspace (own lock file, libfuzzer-sys), and
// this crate cannot depend on it: it depends on `vodsign`, so a dev-dependency would link a
// second `vodsign` whose types differ from this test's. Keeping the harness in `fuzz/` means
// the targets use it as a plain library and neither crate reaches into `tests/`.
#[path = "../fuzz/src/lib.rs"]
mod fuzz_harness;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fuzz_harness::{KEY, api_keys, bearer_header, config_parse, runtime, signature_decode};
use proptest::prelude::*;
use vodsign::App;
use vodsign::VodCredentials;
use vodsign::bearer;
use vodsign::config::Settings;
use vodsign::signature::sign_original;
use vodsign::{parse_json_request, parse_query_request};

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
        signature_decode(&text);
    }

    #[test]
    fn any_base64_as_a_signature_is_refused_or_explained(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        signature_decode(&STANDARD.encode(bytes));
    }

    #[test]
    fn signed_query_strings_decode_or_are_refused(text in signed_text()) {
        signature_decode(&text);
    }

    #[test]
    fn any_query_is_parsed_or_refused(query in prop_oneof![query_text(), ".{0,100}"]) {
        if let Ok(request) = parse_query_request(&query) {
            fuzz_harness::request_signed(&request);
        }
    }

    #[test]
    fn any_bytes_go_through_the_request_target(data in proptest::collection::vec(any::<u8>(), 0..120)) {
        fuzz_harness::request_parse(&data);
    }

    #[test]
    fn any_body_is_parsed_or_refused(body in prop_oneof![
        json_text().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..100),
    ]) {
        if let Ok(request) = parse_json_request(&body) {
            fuzz_harness::request_signed(&request);
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
        bearer_header(&bytes);
    }

    #[test]
    fn any_toml_is_a_configuration_or_a_named_error(text in prop_oneof![
        ".{0,200}",
        "\\[(server|vod|policies\\.default|policies\\.x)\\]\n(listen|validity_seconds|source_context|allowed_class_ids|log_level|one_time_valid) = (1|-1|\"\\{subject\\}\"|\"\\{x\"|true|\\[1, 2\\]|\"127.0.0.1:1\"|99999999999)\n",
    ]) {
        config_parse(&text);
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
    bearer_header(b"Bearer vsk_fuzz_secret");
    bearer_header(b"bearer   vsk_fuzz_secret  ");
    assert!(api_keys().verify(fuzz_harness::API_KEY).is_ok());
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Bearer vsk_fuzz_secret"),
    );
    assert_eq!(bearer(&headers), Ok("vsk_fuzz_secret"));
}
