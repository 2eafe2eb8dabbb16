//! The `vodsign` binary's offline commands: sign, inspect, check-config, hash-key.

use super::{text, vodsign};

const V3: &str = "rfeiSUt4iSmdvyUvTQ6QTCaYc8hzZWNyZXRJZD1JYW1TZWNyZXRJZCZjdXJyZW50VGltZVN0YW1wPTE1NzEyMTUwOTUmZXhwaXJlVGltZT0xNTcxMjE4Njk1JnJhbmRvbT00Mjk0OTY3Mjk1JmNsYXNzSWQ9NDImcHJvY2VkdXJlPVFDVkJfU2ltcGxlUHJvY2Vzc0ZpbGUlMjgxJTJDJTIwMSUyOSZ0YXNrUHJpb3JpdHk9LTEwJnRhc2tOb3RpZnlNb2RlPUNoYW5nZSZzb3VyY2VDb250ZXh0PSU3QiUyMnVpZCUyMiUzQSUyMnUlMjAxJTI2MiUzRDMlMkI0JTI1JTIyJTdEJnNlc3Npb25Db250ZXh0PSVFNCVCQyU5QSVFOCVBRiU5RCUyRmN0eCUyMH4lMjElMkElMjclMjglMjkmb25lVGltZVZhbGlkPTEmdm9kU3ViQXBwSWQ9MTUwMDAwMDAwMSZzdG9yYWdlUmVnaW9uPWFwLWNob25ncWluZw==";

#[test]
fn sign_reproduces_the_v3_vector_exactly() {
    let out = vodsign(
        &[
            "sign",
            "--secret-id",
            "IamSecretId",
            "--now",
            "1571215095",
            "--validity",
            "3600",
            "--random",
            "4294967295",
            "--class-id",
            "42",
            "--procedure",
            "QCVB_SimpleProcessFile(1, 1)",
            "--task-priority",
            "-10",
            "--task-notify-mode",
            "Change",
            "--source-context",
            r#"{"uid":"u 1&2=3+4%"}"#,
            "--session-context",
            "会话/ctx ~!*'()",
            "--one-time-valid",
            "true",
            "--vod-sub-app-id",
            "1500000001",
            "--storage-region",
            "ap-chongqing",
        ],
        &[("VODSIGN_SECRET_KEY", "IamSecretKey")],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), V3);
}

#[test]
fn sign_refuses_invalid_values_with_exit_2() {
    let out = vodsign(
        &["sign", "--secret-id", "x", "--validity", "315360000"],
        &[("VODSIGN_SECRET_KEY", "k")],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--validity must be"),
        "{}",
        text(&out.stderr)
    );
    let no_key = vodsign(&["sign", "--secret-id", "x"], &[], None);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(text(&no_key.stderr).contains("VODSIGN_SECRET_KEY"));
}

#[test]
fn inspect_verifies_and_reports_exit_codes() {
    let within = ["inspect", V3, "--now", "1571216000"];
    let ok = vodsign(&within, &[("VODSIGN_SECRET_KEY", "IamSecretKey")], None);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    let report = text(&ok.stdout);
    assert!(report.contains("verified"), "{report}");
    assert!(
        report.contains("sourceContext = \"{\\\"uid\\\":\\\"u 1&2=3+4%\\\"}\""),
        "{report}"
    );

    let wrong_key = vodsign(&within, &[("VODSIGN_SECRET_KEY", "other")], None);
    assert_eq!(wrong_key.status.code(), Some(1));
    assert!(text(&wrong_key.stdout).contains("DOES NOT VERIFY"));

    let expired = vodsign(&["inspect", V3, "--now", "1571218695"], &[], None);
    assert_eq!(expired.status.code(), Some(1));
    assert!(text(&expired.stdout).contains("EXPIRED"));

    let from_stdin = vodsign(
        &["inspect", "-", "--now", "1571216000"],
        &[],
        Some(&format!("{V3}\n")),
    );
    assert_eq!(
        from_stdin.status.code(),
        Some(0),
        "{}",
        text(&from_stdin.stdout)
    );

    let garbage = vodsign(&["inspect", "not base64!"], &[], None);
    assert_eq!(garbage.status.code(), Some(1));

    let usage = vodsign(&["inspect"], &[], None);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn check_config_names_the_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[policies.default]\nvalidity_seconds = 99999999\n").expect("write");
    let out = vodsign(
        &[
            "check-config",
            "--config",
            path.to_str().expect("utf-8 path"),
        ],
        &[("VODSIGN_SECRET_ID", "AKIDx"), ("VODSIGN_SECRET_KEY", "k")],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("policies.default.validity_seconds"),
        "{}",
        text(&out.stderr)
    );

    let dev = vodsign(
        &["check-config", "--config", "config/development.toml"],
        &[],
        None,
    );
    assert_eq!(dev.status.code(), Some(0), "{}", text(&dev.stderr));
    assert!(text(&dev.stdout).contains("PLACEHOLDER"));
}

#[test]
fn secrets_can_come_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "IamSecretKey\n").expect("write");
    let out = vodsign(
        &[
            "sign",
            "--secret-id",
            "IamSecretId",
            "--now",
            "1571215095",
            "--random",
            "220625",
            "--validity",
            "60",
        ],
        &[("VODSIGN_SECRET_KEY_FILE", key_file.to_str().expect("utf-8"))],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check = vodsign(
        &["inspect", text(&out.stdout).trim(), "--now", "1571215100"],
        &[("VODSIGN_SECRET_KEY", "IamSecretKey")],
        None,
    );
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));
    let both = vodsign(
        &["sign", "--secret-id", "x"],
        &[
            ("VODSIGN_SECRET_KEY", "a"),
            ("VODSIGN_SECRET_KEY_FILE", "/nonexistent"),
        ],
        None,
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(text(&both.stderr).contains("not both"));
}

#[test]
fn hash_key_prints_an_entry_that_accepts_the_key() {
    let out = vodsign(
        &[
            "hash-key",
            "--id",
            "app-1",
            "--subject",
            "s",
            "--policy",
            "default",
        ],
        &[],
        None,
    );
    assert!(out.status.success());
    let key = text(&out.stderr)
        .lines()
        .last()
        .expect("key line")
        .trim()
        .to_owned();
    assert!(key.starts_with("vsk_app-1_"), "{key}");
    let entry = text(&out.stdout);
    assert!(entry.contains(&vodsign::hash_key(&key)), "{entry}");
    assert!(
        !entry.contains(&key),
        "the key itself never goes into the config"
    );
    let bad = vodsign(&["hash-key", "--id", "no spaces"], &[], None);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn sign_applies_the_api_rules_and_names_its_own_flags() {
    let key = [("VODSIGN_SECRET_KEY", "k")];
    let sign = |extra: &[&str]| {
        let mut args = vec!["sign", "--secret-id", "AKIDx"];
        args.extend_from_slice(extra);
        vodsign(&args, &key, None)
    };
    for (extra, needle) in [
        (
            &["--task-priority", "3"][..],
            "--task-priority is only meaningful with a procedure",
        ),
        (
            &["--task-notify-mode", "Finish"][..],
            "--task-notify-mode is only meaningful with a procedure",
        ),
        (&["--validity", "0"][..], "--validity must be between 1 and"),
        (
            &["--task-priority", "11", "--procedure", "p"][..],
            "--task-priority must be",
        ),
        (&["--storage-region", "AP"][..], "--storage-region must be"),
        (
            &["--source-context", ""][..],
            "--source-context must not be empty",
        ),
    ] {
        let out = sign(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
        for spec_name in [
            "validitySeconds",
            "taskPriority",
            "taskNotifyMode",
            "storageRegion",
        ] {
            assert!(!stderr.contains(spec_name), "{extra:?}: {stderr}");
        }
    }
    let with_procedure = sign(&["--procedure", "p", "--task-priority", "3"]);
    assert!(
        with_procedure.status.success(),
        "{}",
        text(&with_procedure.stderr)
    );
}
