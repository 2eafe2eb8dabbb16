//! `vodsign check-config` warns about settings that load but leave the service unusable or
//! unprotected, and tries the endpoints the configuration names (unless `--offline`),
//! without ever sending or printing a secret. Warnings never change the exit status.

use std::net::TcpListener;

use super::{text, vodsign};
use crate::support::idp::TestIdp;
use crate::support::redis::RedisServer;

const INTROSPECTION_SECRET: &str = "introspection-secret-never-printed-7f3a";
const REDIS_PASSWORD: &str = "redis-password-never-printed-91c2";

fn write_config(dir: &tempfile::TempDir, body: &str) -> String {
    let path = dir.path().join("vodsign.toml");
    std::fs::write(
        &path,
        format!("[vod]\ndevelopment_placeholder_credentials = true\n{body}"),
    )
    .expect("write config");
    path.to_str().expect("utf-8 path").to_owned()
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn check_config(path: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["check-config", "--config", path];
    args.extend_from_slice(extra);
    let out = vodsign(
        &args,
        &[("VODSIGN_INTROSPECTION_SECRET", INTROSPECTION_SECRET)],
        None,
    );
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn warns_when_nobody_can_authenticate_and_a_policy_has_no_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_config(&dir, "[policies.default]\n");
    let (code, stdout, stderr) = check_config(&path, &["--offline"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(
        stderr.contains("warning: nobody can authenticate"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: policy default has no [policies.default.limits]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("endpoints not tried (--offline)"),
        "{stderr}"
    );

    // With a key and limits, neither warning.
    let key = "vsk_k_0123456789abcdef0123456789abcdef";
    let path = write_config(
        &dir,
        &format!(
            "[[api_keys]]\nid = \"k\"\nsha256 = \"{}\"\nsubject = \"s\"\npolicy = \"default\"\n\
             [policies.default]\n[policies.default.limits]\nrate_per_second = 5\nburst = 5\n",
            vodsign::hash_key(key)
        ),
    );
    let (code, _, stderr) = check_config(&path, &["--offline"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning:"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tries_redis_jwks_and_introspection_and_reports_each() {
    let Some(redis) = RedisServer::start("check-config tries redis") else {
        return;
    };
    let idp = TestIdp::start(INTROSPECTION_SECRET).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let reachable = write_config(
        &dir,
        &format!(
            "[limits]\nbackend = \"redis\"\nredis_url = \"{redis}\"\n\
             [policies.default]\n\
             [[auth.jwt]]\nname = \"corp\"\nissuer = \"https://idp.test\"\n\
             audiences = [\"vodsign\"]\nalgorithms = [\"RS256\"]\njwks_url = \"{jwks}\"\n\
             access = {{ default_policy = \"default\" }}\n\
             [[auth.introspection]]\nname = \"oauth\"\nintrospection_url = \"{introspect}\"\n\
             client_id = \"vodsign\"\nclient_secret_env = \"VODSIGN_INTROSPECTION_SECRET\"\n\
             access = {{ default_policy = \"default\" }}\n",
            redis = redis.url(),
            jwks = idp.jwks_url(),
            introspect = idp.introspection_url(),
        ),
    );
    let jwks_hits_before = idp.jwks_hits();
    let (code, _, stderr) = tokio::task::spawn_blocking(move || check_config(&reachable, &[]))
        .await
        .expect("check-config ran");
    assert_eq!(code, Some(0), "{stderr}");
    let port = redis.port;
    assert!(
        stderr.contains(&format!(
            "reachable: limits.redis_url (127.0.0.1:{port}): PING answered PONG"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("reachable: auth.jwt corp jwks_url") && stderr.contains("0 keys"),
        "{stderr}"
    );
    assert!(
        stderr.contains("reachable: auth.introspection oauth introspection_url")
            && stderr.contains("TCP only"),
        "{stderr}"
    );
    assert!(idp.jwks_hits() > jwks_hits_before, "the JWKS was fetched");
    assert_eq!(
        idp.introspection_hits(),
        0,
        "check-config must never send a request (or the client secret) to introspection"
    );

    // The same endpoints, each unreachable: warnings, still exit 0, and no secret printed.
    let (dead_redis, dead_idp) = (closed_port(), closed_port());
    let unreachable = write_config(
        &dir,
        &format!(
            "[limits]\nbackend = \"redis\"\n\
             redis_url = \"redis://:{REDIS_PASSWORD}@127.0.0.1:{dead_redis}/0\"\n\
             [policies.default]\n\
             [[auth.jwt]]\nname = \"corp\"\nissuer = \"https://idp.test\"\n\
             audiences = [\"vodsign\"]\nalgorithms = [\"RS256\"]\n\
             jwks_url = \"http://127.0.0.1:{dead_idp}/jwks\"\n\
             access = {{ default_policy = \"default\" }}\n\
             [[auth.introspection]]\nname = \"oauth\"\n\
             introspection_url = \"http://127.0.0.1:{dead_idp}/introspect\"\n\
             client_id = \"vodsign\"\nclient_secret_env = \"VODSIGN_INTROSPECTION_SECRET\"\n\
             access = {{ default_policy = \"default\" }}\n"
        ),
    );
    let (code, stdout, stderr) =
        tokio::task::spawn_blocking(move || check_config(&unreachable, &[]))
            .await
            .expect("check-config ran");
    assert_eq!(code, Some(0), "{stderr}");
    for target in [
        format!("limits.redis_url (127.0.0.1:{dead_redis})"),
        "auth.jwt corp jwks_url".to_owned(),
        "auth.introspection oauth introspection_url".to_owned(),
    ] {
        assert!(
            stderr.contains(&format!("warning: unreachable: {target}")),
            "{target} in {stderr}"
        );
    }
    for secret in [REDIS_PASSWORD, INTROSPECTION_SECRET] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret was printed: {stdout}{stderr}"
        );
    }
}

#[test]
fn offline_tries_nothing() {
    let dead = closed_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_config(
        &dir,
        &format!(
            "[limits]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:{dead}/0\"\n\
             [policies.default]\n"
        ),
    );
    let (code, _, stderr) = check_config(&path, &["--offline"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("endpoints not tried (--offline)"),
        "{stderr}"
    );
    assert!(!stderr.contains("reachable"), "{stderr}");
    let (code, _, stderr) = check_config(&path, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: unreachable: limits.redis_url (127.0.0.1:{dead}): connection refused"
        )),
        "{stderr}"
    );
}
