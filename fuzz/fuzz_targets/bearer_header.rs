//! Any `Authorization` header value: extracting the bearer credential and checking it as
//! an API key must answer a credential or a refusal, never panic.

#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use vodsign::auth::api_key::{ApiKeys, hash_key};
use vodsign::auth::middleware::bearer;
use vodsign::config::ApiKeySettings;

fn keys() -> &'static ApiKeys {
    static KEYS: OnceLock<ApiKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let settings = [ApiKeySettings {
            id: "fuzz".into(),
            sha256: hash_key("vsk_fuzz_secret"),
            subject: "fuzz-user".into(),
            policy: "default".into(),
        }];
        ApiKeys::from_settings(&settings, &BTreeSet::from(["default".to_owned()]))
            .expect("the fuzz key set is valid")
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
    }
});
