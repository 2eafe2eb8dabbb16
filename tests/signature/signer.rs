//! The signer against the spec's four test vectors, and round-trip properties.

use crate::support::reference::{self, ReferenceSigner, v3_params};
use proptest::prelude::*;
use vodsign::signature::DecodeError;
use vodsign::signature::encode;
use vodsign::signature::*;

fn hex_mac(signature: &str) -> String {
    hex::encode(DecodedSignature::decode(signature).expect("decodes").mac)
}

#[test]
fn v1_tencent_legacy_vector_matches_byte_for_byte() {
    let original = "s=AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv&f=tencent_test.mp4&t=1437995644&e=1437995704&r=2081660421";
    let signature = sign_original(b"bLcPnl88WU30VY57ipRhSePfPdOfSruK", original);
    assert_eq!(
        signature,
        "IEmbRAPy5IgIAFnt7XPAToaY3RRzPUFLSURVZkxVRVVpZ1FpWHFtN0NWU3NwS0pudWFpSUt0eHFBdiZmPXRlbmNlbnRfdGVzdC5tcDQmdD0xNDM3OTk1NjQ0JmU9MTQzNzk5NTcwNCZyPTIwODE2NjA0MjE="
    );
    assert_eq!(
        hex_mac(&signature),
        "20499b4403f2e488080059eded73c04e8698dd14"
    );
}

#[test]
fn v2_python_sample_vector_matches_but_its_validity_is_refused() {
    let original =
        "secretId=IamSecretId&currentTimeStamp=1571215095&expireTime=1886575095&random=220625";
    let signature = sign_original(b"IamSecretKey", original);
    assert_eq!(
        signature,
        "aG6ZX3aZf+6tg/yRDZdRSNtM39lzZWNyZXRJZD1JYW1TZWNyZXRJZCZjdXJyZW50VGltZVN0YW1wPTE1NzEyMTUwOTUmZXhwaXJlVGltZT0xODg2NTc1MDk1JnJhbmRvbT0yMjA2MjU="
    );
    assert_eq!(
        hex_mac(&signature),
        "686e995f76997feead83fc910d975148db4cdfd9"
    );
    // Ten years: our types cannot even express it, and decoding it back says why.
    assert!(Validity::try_from(1_886_575_095u64 - 1_571_215_095).is_err());
    let decoded = DecodedSignature::decode(&signature).expect("decodes");
    assert_eq!(decoded.params(), Err(DecodeError::BadExpiry));
}

#[test]
fn v3_every_optional_parameter_matches_byte_for_byte() {
    let params = v3_params();
    assert_eq!(
        encode::original(&params),
        "secretId=IamSecretId&currentTimeStamp=1571215095&expireTime=1571218695&random=4294967295&classId=42&procedure=QCVB_SimpleProcessFile%281%2C%201%29&taskPriority=-10&taskNotifyMode=Change&sourceContext=%7B%22uid%22%3A%22u%201%262%3D3%2B4%25%22%7D&sessionContext=%E4%BC%9A%E8%AF%9D%2Fctx%20~%21%2A%27%28%29&oneTimeValid=1&vodSubAppId=1500000001&storageRegion=ap-chongqing"
    );
    let signature = Signer::new(b"IamSecretKey").sign(&params);
    assert_eq!(
        signature,
        "rfeiSUt4iSmdvyUvTQ6QTCaYc8hzZWNyZXRJZD1JYW1TZWNyZXRJZCZjdXJyZW50VGltZVN0YW1wPTE1NzEyMTUwOTUmZXhwaXJlVGltZT0xNTcxMjE4Njk1JnJhbmRvbT00Mjk0OTY3Mjk1JmNsYXNzSWQ9NDImcHJvY2VkdXJlPVFDVkJfU2ltcGxlUHJvY2Vzc0ZpbGUlMjgxJTJDJTIwMSUyOSZ0YXNrUHJpb3JpdHk9LTEwJnRhc2tOb3RpZnlNb2RlPUNoYW5nZSZzb3VyY2VDb250ZXh0PSU3QiUyMnVpZCUyMiUzQSUyMnUlMjAxJTI2MiUzRDMlMkI0JTI1JTIyJTdEJnNlc3Npb25Db250ZXh0PSVFNCVCQyU5QSVFOCVBRiU5RCUyRmN0eCUyMH4lMjElMkElMjclMjglMjkmb25lVGltZVZhbGlkPTEmdm9kU3ViQXBwSWQ9MTUwMDAwMDAwMSZzdG9yYWdlUmVnaW9uPWFwLWNob25ncWluZw=="
    );
    assert_eq!(
        hex_mac(&signature),
        "adf7a2494b7889299dbf252f4d0e904c269873c8"
    );
    let decoded = DecodedSignature::decode(&signature).expect("decodes");
    assert_eq!(decoded.params(), Ok(params));
}

#[test]
fn v4_non_ascii_key_and_context_match_byte_for_byte() {
    let mut params = SignParams::new(
        SecretId::try_from("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE").expect("valid"),
        1_700_000_000,
        Validity::try_from(86_400).expect("valid"),
        0,
    );
    params.options.source_context =
        Some(SourceContext::try_from("user:42 視頻 😀 a+b=c&d").expect("valid"));
    assert_eq!(
        encode::original(&params),
        "secretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE&currentTimeStamp=1700000000&expireTime=1700086400&random=0&sourceContext=user%3A42%20%E8%A6%96%E9%A0%BB%20%F0%9F%98%80%20a%2Bb%3Dc%26d"
    );
    let signer = Signer::new("k3y with spaces & ünïcode".as_bytes());
    let signature = signer.sign(&params);
    assert_eq!(
        signature,
        "zzPHnCkqTyRJrWnEbPjl0oDc7MBzZWNyZXRJZD1BS0lEejhrcmJzSjV5S0JaUXBuNzRXRmttTFB4M0VYQU1QTEUmY3VycmVudFRpbWVTdGFtcD0xNzAwMDAwMDAwJmV4cGlyZVRpbWU9MTcwMDA4NjQwMCZyYW5kb209MCZzb3VyY2VDb250ZXh0PXVzZXIlM0E0MiUyMCVFOCVBNiU5NiVFOSVBMCVCQiUyMCVGMCU5RiU5OCU4MCUyMGElMkJiJTNEYyUyNmQ="
    );
    assert_eq!(
        hex_mac(&signature),
        "cf33c79c292a4f2449ad69c46cf8e5d280dcecc0"
    );
    assert!(signer.verifies(&DecodedSignature::decode(&signature).expect("decodes")));
}

#[test]
fn verification_fails_with_another_key_or_a_flipped_bit() {
    let params = v3_params();
    let signature = Signer::new(b"IamSecretKey").sign(&params);
    let mut decoded = DecodedSignature::decode(&signature).expect("decodes");
    assert!(Signer::new(b"IamSecretKey").verifies(&decoded));
    assert!(!Signer::new(b"IamSecretKeY").verifies(&decoded));
    decoded.original = decoded
        .original
        .replace("random=4294967295", "random=4294967294");
    assert!(!Signer::new(b"IamSecretKey").verifies(&decoded));
}

#[test]
fn unset_optional_parameters_are_left_out() {
    let params = SignParams::new(
        SecretId::try_from("id").expect("valid"),
        10,
        Validity::try_from(5).expect("valid"),
        7,
    );
    assert_eq!(
        encode::original(&params),
        "secretId=id&currentTimeStamp=10&expireTime=15&random=7"
    );
}

/// A text value: any Unicode except control characters, non-empty, up to `max` chars.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        any::<char>().prop_filter("no controls", |c| !c.is_control()),
        1..=max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

prop_compose! {
    fn arb_params()(
        secret_id in text(40),
        now in 0u64..4_000_000_000,
        validity in 1u64..=7_776_000,
        random in any::<u32>(),
        class_id in proptest::option::of(any::<u64>()),
        procedure in proptest::option::of(text(60)),
        priority in proptest::option::of(-10i64..=10),
        mode in proptest::option::of(prop_oneof![Just(TaskNotifyMode::Finish), Just(TaskNotifyMode::Change), Just(TaskNotifyMode::None)]),
        source in proptest::option::of(text(250)),
        session in proptest::option::of(text(1000)),
        one_time in proptest::option::of(any::<bool>()),
        app in proptest::option::of(any::<u64>()),
        region in proptest::option::of("[a-z]{2}-[a-z]{3,12}(-[0-9])?"),
    ) -> SignParams {
        let mut p = SignParams::new(
            SecretId::try_from(secret_id).expect("generated valid"),
            now,
            Validity::try_from(validity).expect("generated valid"),
            random,
        );
        p.options.class_id = class_id.map(ClassId);
        p.options.procedure = procedure.map(|v| Procedure::try_from(v).expect("generated valid"));
        p.options.task_priority = priority.map(|v| TaskPriority::try_from(v).expect("generated valid"));
        p.options.task_notify_mode = mode;
        p.options.source_context = source.map(|v| SourceContext::try_from(v).expect("generated valid"));
        p.options.session_context = session.map(|v| SessionContext::try_from(v).expect("generated valid"));
        p.options.one_time_valid = one_time;
        p.options.vod_sub_app_id = app.map(VodSubAppId);
        p.options.storage_region = region.map(|v| v.parse().expect("generated valid"));
        p
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sign_decode_parse_round_trips(params in arb_params(), key in proptest::collection::vec(any::<u8>(), 0..64)) {
        let signer = Signer::new(&key);
        let signature = signer.sign(&params);
        let decoded = DecodedSignature::decode(&signature).expect("our own output decodes");
        prop_assert!(signer.verifies(&decoded));
        prop_assert_eq!(decoded.params(), Ok(params));
    }

    #[test]
    fn form_urlencoded_and_strict_parsers_read_the_same_values(params in arb_params()) {
        let original = encode::original(&params);
        let strict = encode::parse_strict(&original).expect("strict parse");
        let form: Vec<(String, String)> = form_urlencoded::parse(original.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        prop_assert_eq!(&strict, &form);
        let source = strict.iter().find(|(k, _)| k == "sourceContext").map(|(_, v)| v.clone());
        prop_assert_eq!(source, params.options.source_context.map(|s| s.as_str().to_owned()));
        // Only unreserved characters, '%', '&' and '=' ever appear in the signed bytes.
        prop_assert!(original.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%&=".contains(&b)));
    }

    #[test]
    fn fast_encoder_and_signer_match_the_reference_byte_for_byte(
        params in arb_params(),
        key in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let original = encode::original(&params);
        prop_assert_eq!(&original, &reference::original(&params));
        prop_assert_eq!(Signer::new(&key).sign(&params), ReferenceSigner::new(&key).sign_original(&original));
    }

    #[test]
    fn sign_original_matches_the_reference_for_any_length(
        original in ".{0,64}",
        key in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assert_eq!(sign_original(&key, &original), ReferenceSigner::new(&key).sign_original(&original));
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(text in ".{0,300}") {
        if let Ok(decoded) = DecodedSignature::decode(&text) {
            let _ = decoded.params();
        }
    }
}
