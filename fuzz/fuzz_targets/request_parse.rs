//! Any `/v1/signature` request body or query string: parsing must answer fields or a
//! 40001, never panic; and parsed fields must go through the default policy and the signer
//! to a signature or a precise refusal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vodsign::auth::{CredentialKind, Principal};
use vodsign::config::PolicySettings;
use vodsign::http::signature::{parse_json_request, parse_query_request};
use vodsign::policy::Policy;
use vodsign::signature::{SecretId, Signer};

fuzz_target!(|data: &[u8]| {
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
    let Ok(request) = parsed else {
        return;
    };
    // A permissive policy, so parsed values reach the parameter types and the signer.
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
    if let Ok(grant) = policy.grant(&principal, &request) {
        let secret_id = SecretId::try_from("AKIDfuzz").expect("valid");
        let params = grant.into_params(secret_id, 1_700_000_000, 7);
        let _ = Signer::new(b"fuzz-key").sign(&params);
    }
});
