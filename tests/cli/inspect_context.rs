//! `vodsign inspect` and vodsign's signed context: tokens made here by hand (HMAC-SHA256 of
//! `vs1.<uploadId>`, first 128 bits, URL-safe Base64; src/uploads/context.rs), not with
//! vodsign's own code, under keys generated per run.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

use super::{text, vodsign};
use crate::support::random_hex;

const NOW: u64 = 1_700_000_000;

/// A context key as `openssl rand -base64 32` makes one: 44 characters.
fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    STANDARD.encode(bytes)
}

fn new_upload_id() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!("upl_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// `vs1.<id>.<tag>`, built by hand.
fn token(key: &str, id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(format!("vs1.{id}").as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("vs1.{id}.{}", URL_SAFE_NO_PAD.encode(&digest[..16]))
}

/// A VOD signature, built by hand (docs/signature.md), valid at `NOW`.
fn signature(secret_key: &str, contexts: &[(&str, &str)]) -> String {
    let mut original = format!(
        "secretId=AKIDinspectcontext&currentTimeStamp={NOW}&expireTime={}&random=7",
        NOW + 3600
    );
    for (name, value) in contexts {
        original.push_str(&format!("&{name}={value}"));
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()).expect("any key length");
    mac.update(original.as_bytes());
    let mut bytes = mac.finalize().into_bytes().to_vec();
    bytes.extend_from_slice(original.as_bytes());
    STANDARD.encode(bytes)
}

/// `vodsign inspect INPUT` at `NOW` with `env`: exit code and standard output.
fn inspect(input: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let now = (NOW + 10).to_string();
    let out = vodsign(&["inspect", input, "--now", &now], env, None);
    assert!(
        text(&out.stderr).is_empty(),
        "nothing on stderr: {}",
        text(&out.stderr)
    );
    (out.status.code(), text(&out.stdout))
}

#[test]
fn a_genuine_token_names_its_upload_and_verifies() {
    let key = new_key();
    let id = new_upload_id();
    let token = token(&key, &id);
    let (code, report) = inspect(&token, &[("VODSIGN_CONTEXT_KEY", &key)]);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains(&format!("upload: {id}\n")), "{report}");
    assert!(
        report.contains("tag: verified with VODSIGN_CONTEXT_KEY (the current key)"),
        "{report}"
    );
    assert!(
        report.contains(&format!("verdict: GENUINE: made by vodsign for {id}")),
        "{report}"
    );
    assert!(!report.contains(&key), "the key is never printed");

    // From a file, and after a rotation: which key matched is named.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("context-key");
    std::fs::write(&file, format!("{}\n", new_key())).expect("write");
    let previous = format!("{},{key}", new_key());
    let (code, report) = inspect(
        &token,
        &[
            ("VODSIGN_CONTEXT_KEY_FILE", &file.display().to_string()),
            ("VODSIGN_CONTEXT_KEY_PREVIOUS", &previous),
        ],
    );
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("verified with previous key 2 of VODSIGN_CONTEXT_KEY_PREVIOUS"),
        "{report}"
    );

    // The variable that [uploads] context_key_env names.
    let now = (NOW + 10).to_string();
    let out = vodsign(
        &[
            "inspect",
            &token,
            "--now",
            &now,
            "--context-key-env",
            "APP_CONTEXT_KEY",
        ],
        &[("APP_CONTEXT_KEY", &key)],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("verified with APP_CONTEXT_KEY"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_tampered_or_foreign_token_is_refused_with_exit_1() {
    let key = new_key();
    let id = new_upload_id();
    let genuine = token(&key, &id);
    let env = [("VODSIGN_CONTEXT_KEY", key.as_str())];

    // One character of the tag changed.
    let mut tampered = genuine.clone().into_bytes();
    let at = tampered.len() - 3;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    // Another upload's id under this tag.
    let swapped = genuine.replace(&id, &new_upload_id());
    // A well-made token of another deployment's key.
    let foreign = token(&new_key(), &id);
    for bad in [&tampered, &swapped, &foreign] {
        let (code, report) = inspect(bad, &env);
        assert_eq!(code, Some(1), "{bad}: {report}");
        assert!(
            report.contains("tag: DOES NOT VERIFY with VODSIGN_CONTEXT_KEY or any previous key"),
            "{report}"
        );
        assert!(
            report.contains("verdict: REFUSED: forged, tampered with or foreign"),
            "{report}"
        );
    }
}

#[test]
fn a_malformed_token_is_refused_naming_what_is_wrong() {
    let genuine = token(&new_key(), &new_upload_id());
    let (head, tag) = genuine.rsplit_once('.').expect("a tag");
    for (bad, why) in [
        ("vs1.".to_owned(), "it has no tag"),
        (
            format!("vs1.upl_{}.{tag}", random_hex(4)),
            "its upload id is not upl_",
        ),
        (
            format!("{head}.{}", &tag[..10]),
            "its tag has 10 characters, not 22",
        ),
        (
            format!("{head}.{}/", &tag[1..]),
            "its tag is not URL-safe Base64",
        ),
    ] {
        let (code, report) = inspect(&bad, &[("VODSIGN_CONTEXT_KEY", &new_key())]);
        assert_eq!(code, Some(1), "{bad}: {report}");
        assert!(
            report.contains(&format!("not a vodsign context token: {why}")),
            "{bad}: {report}"
        );
        assert!(report.contains("verdict: INVALID"), "{report}");
    }
}

#[test]
fn without_a_key_it_says_it_cannot_verify() {
    let id = new_upload_id();
    let token = token(&new_key(), &id);
    let (code, report) = inspect(&token, &[]);
    assert_eq!(code, Some(0), "well formed, not checked: {report}");
    assert!(report.contains(&format!("upload: {id}")), "{report}");
    assert!(
        report.contains("tag: not checked (set VODSIGN_CONTEXT_KEY, or VODSIGN_CONTEXT_KEY_FILE"),
        "{report}"
    );
    assert!(
        report.contains("verdict: WELL FORMED, NOT VERIFIED"),
        "{report}"
    );

    // A key too short to be one is a configuration error, never quoted.
    let short = format!("s3cr3t-{}", random_hex(4));
    let now = (NOW + 10).to_string();
    let out = vodsign(
        &["inspect", &token, "--now", &now],
        &[("VODSIGN_CONTEXT_KEY", &short)],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("at least 32 bytes"));
    assert!(!text(&out.stderr).contains(&short));
}

#[test]
fn a_ticket_signature_names_its_upload_and_a_forged_context_makes_it_invalid() {
    let secret_key = format!("sk-{}", random_hex(16));
    let key = new_key();
    let id = new_upload_id();
    let genuine = token(&key, &id);
    let ticket = signature(
        &secret_key,
        &[("sourceContext", &genuine), ("sessionContext", &genuine)],
    );
    let env = [
        ("VODSIGN_SECRET_KEY", secret_key.as_str()),
        ("VODSIGN_CONTEXT_KEY", key.as_str()),
    ];
    let (code, report) = inspect(&ticket, &env);
    assert_eq!(code, Some(0), "{report}");
    for name in ["sourceContext", "sessionContext"] {
        assert!(
            report.contains(&format!(
                "context: {name}: vodsign context token naming upload {id}; tag verified with \
                 VODSIGN_CONTEXT_KEY"
            )),
            "{report}"
        );
    }
    assert!(report.contains("verdict: VALID\n"), "{report}");

    // Without the context key: named, not checked, still valid as a VOD signature.
    let (code, report) = inspect(&ticket, &[("VODSIGN_SECRET_KEY", &secret_key)]);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("tag not checked"), "{report}");

    // The same signature checked against another deployment's context key: its MAC is
    // fine, VOD would take it, but it is no ticket of this vodsign.
    let other = [
        ("VODSIGN_SECRET_KEY", secret_key.as_str()),
        ("VODSIGN_CONTEXT_KEY", &new_key()),
    ];
    let (code, report) = inspect(&ticket, &other);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("mac: verified"), "{report}");
    assert!(
        report.contains(
            "error: sourceContext: its context token does not verify: forged, tampered with \
             or foreign; not valid for an upload ticket"
        ),
        "{report}"
    );
    assert!(report.contains("verdict: INVALID"), "{report}");

    // A lookalike, and two different tokens in one signature.
    let lookalike = signature(&secret_key, &[("sourceContext", "vs1.upl_me.forged")]);
    let (code, report) = inspect(&lookalike, &env);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains(
            "error: sourceContext starts like a vodsign context token (vs1.) but is malformed"
        ),
        "{report}"
    );
    let mixed = signature(
        &secret_key,
        &[
            ("sourceContext", &genuine),
            ("sessionContext", &token(&key, &new_upload_id())),
        ],
    );
    let (code, report) = inspect(&mixed, &env);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("sourceContext and sessionContext carry different context tokens"),
        "{report}"
    );

    // A context that is no token at all is left alone.
    let plain = signature(&secret_key, &[("sourceContext", "user-42")]);
    let (code, report) = inspect(&plain, &env);
    assert_eq!(code, Some(0), "{report}");
    assert!(!report.contains("context:"), "{report}");
}
