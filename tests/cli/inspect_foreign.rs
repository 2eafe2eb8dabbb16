//! `vodsign inspect` on signatures vodsign would not write itself: Tencent's Node.js
//! sample's empty parameters, and the development placeholder credentials.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{text, vodsign};

/// A test key, made for these tests: never a real credential.
const TEST_KEY: &str = "inspect-test-key-not-a-credential";
const NOW: u64 = 1_700_000_000;

/// `Base64(HMAC-SHA1(key, original) || original)`, built here by hand (docs/signature.md),
/// not with vodsign's signer.
fn sign_by_hand(key: &str, original: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(original.as_bytes());
    let mut bytes = mac.finalize().into_bytes().to_vec();
    bytes.extend_from_slice(original.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn inspect(signature: &str) -> (Option<i32>, String) {
    let now = (NOW + 10).to_string();
    let out = vodsign(
        &["inspect", signature, "--now", &now],
        &[("VODSIGN_SECRET_KEY", TEST_KEY)],
        None,
    );
    (out.status.code(), text(&out.stdout))
}

#[test]
fn inspect_accepts_the_empty_values_of_tencents_node_sample() {
    let original = format!(
        "secretId=AKIDinspecttest&currentTimeStamp={NOW}&expireTime={}&random=3941&procedure=&sourceContext=",
        NOW + 3600
    );
    let (code, report) = inspect(&sign_by_hand(TEST_KEY, &original));
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("mac: verified"), "{report}");
    for name in ["procedure", "sourceContext"] {
        assert!(
            report.contains(&format!(
                "note: {name} is empty: VOD treats an empty parameter as absent"
            )),
            "{report}"
        );
    }
    assert!(report.contains("verdict: VALID\n"), "{report}");
}

#[test]
fn inspect_warns_about_the_development_placeholder() {
    let original = format!(
        "secretId=AKIDvodsignDEVELOPMENTplaceholder&currentTimeStamp={NOW}&expireTime={}&random=7",
        NOW + 3600
    );
    let (code, report) = inspect(&sign_by_hand(TEST_KEY, &original));
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("warning: made with vodsign's development placeholder credentials"),
        "{report}"
    );
    assert!(report.contains("VOD refuses it"), "{report}");
    assert!(!report.contains("verdict: VALID\n"), "{report}");
}
