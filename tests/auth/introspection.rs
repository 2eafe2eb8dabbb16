//! Opaque tokens through RFC 7662 introspection: answers, caching, and an endpoint that fails.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use vodsign::principal::CredentialKind;
use vodsign::{AuthError, TokenVerifier};

use crate::support::idp::{Mode, TestIdp};
use crate::support::keys::now;
use crate::support::tokens::{SECRET_VAR, active, introspection_provider, opaque_token};
use crate::support::tokens::{assert_invalid, verifier};

/// A healthy provider with `secret` as both the IdP's and the verifier's client secret.
async fn setup(cache_ttl_secs: u64) -> (TestIdp, TokenVerifier) {
    let secret = "s3cret/with+odd=chars";
    let idp = TestIdp::start(&form_encoded(secret)).await;
    let cfg = json!({"introspection": [introspection_provider(&idp, cache_ttl_secs)]});
    let v = verifier(cfg, &[(SECRET_VAR, secret)]).await;
    (idp, v)
}

/// RFC 6749 2.3.1: the Basic credentials are form-encoded first.
fn form_encoded(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn edit(mut answer: Value, key: &str, value: Value) -> Value {
    let map = answer.as_object_mut().unwrap();
    if value.is_null() {
        map.remove(key);
    } else {
        map.insert(key.into(), value);
    }
    answer
}

#[tokio::test]
async fn active_token_is_accepted_and_cached() {
    let (idp, v) = setup(60).await;
    let token = opaque_token();
    idp.set_answer(&token, active("user-7", now() + 300));
    for _ in 0..3 {
        let p = v.verify(&token).await.unwrap();
        assert_eq!(p.subject, "user-7");
        assert_eq!(p.policy, "standard");
        assert_eq!(p.credential_id, "opaque");
        assert_eq!(p.kind, CredentialKind::Introspection);
    }
    assert_eq!(idp.introspection_hits(), 1, "answer reused");

    let machine = opaque_token();
    let answer = edit(active("", now() + 300), "sub", Value::Null);
    idp.set_answer(&machine, edit(answer, "roles", json!(["admin"])));
    let p = v.verify(&machine).await.unwrap();
    assert_eq!(p.subject, "mobile-app", "client_id when there is no sub");
    assert_eq!(p.policy, "unlimited", "role admin maps to unlimited");
}

#[tokio::test]
async fn positive_answers_are_reused_at_most_the_configured_ttl() {
    let (idp, v) = setup(1).await;
    let token = opaque_token();
    idp.set_answer(&token, active("u", now() + 300));
    v.verify(&token).await.unwrap();
    v.verify(&token).await.unwrap();
    assert_eq!(idp.introspection_hits(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    v.verify(&token).await.unwrap();
    assert_eq!(idp.introspection_hits(), 2);
}

#[tokio::test]
async fn cached_answer_never_outlives_the_token_exp() {
    let (idp, v) = setup(60).await;
    let token = opaque_token();
    let exp = now() + 2;
    // The endpoint keeps calling the token active even after its exp.
    idp.set_answer(&token, active("u", exp));
    v.verify(&token).await.unwrap();
    v.verify(&token).await.unwrap();
    assert_eq!(idp.introspection_hits(), 1);
    let at_exp = UNIX_EPOCH + Duration::from_secs(exp) + Duration::from_millis(50);
    tokio::time::sleep(at_exp.duration_since(SystemTime::now()).unwrap()).await;
    assert_invalid("past exp", v.verify(&token).await);
    assert_eq!(
        idp.introspection_hits(),
        2,
        "the cached answer ended at exp; asked again"
    );
}

#[tokio::test]
async fn inactive_answers_are_cached_briefly() {
    let (idp, v) = setup(60).await;
    let token = opaque_token();
    assert_invalid("unknown token", v.verify(&token).await);
    assert_invalid("unknown token, cached", v.verify(&token).await);
    assert_eq!(idp.introspection_hits(), 1);
    idp.set_answer(&token, active("u", now() + 300));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        v.verify(&token).await.is_ok(),
        "negative answer expired after 1 s"
    );
    assert_eq!(idp.introspection_hits(), 2);
}

#[tokio::test]
async fn endpoint_down_slow_or_garbage_is_unavailable_never_success() {
    let (idp, v) = setup(60).await;
    let token = opaque_token();
    idp.set_answer(&token, active("u", now() + 300));
    for mode in [Mode::Down, Mode::Slow, Mode::Garbage] {
        idp.set_mode(mode);
        let started = std::time::Instant::now();
        let result = v.verify(&token).await;
        assert!(
            matches!(result, Err(AuthError::Unavailable(_))),
            "{mode:?}: {result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{mode:?}: timed out at 300 ms"
        );
        let problems = v.problems();
        assert!(
            problems.iter().any(|p| p.contains("opaque")),
            "{mode:?}: {problems:?}"
        );
    }
    idp.set_mode(Mode::Healthy);
    assert!(v.verify(&token).await.is_ok(), "failures are not cached");
    assert!(v.problems().is_empty());
}

#[tokio::test]
async fn malformed_answers_are_unavailable() {
    let (idp, v) = setup(60).await;
    for (case, answer) in [
        (
            "active not a bool",
            edit(active("u", now() + 300), "active", json!("yes")),
        ),
        (
            "active missing",
            edit(active("u", now() + 300), "active", Value::Null),
        ),
        (
            "exp not a date",
            edit(active("u", now() + 300), "exp", json!("soon")),
        ),
        ("not an object", json!(["active", true])),
    ] {
        let token = opaque_token();
        idp.set_answer(&token, answer);
        let result = v.verify(&token).await;
        assert!(
            matches!(result, Err(AuthError::Unavailable(_))),
            "{case}: {result:?}"
        );
    }
}

#[tokio::test]
async fn wrong_client_credentials_or_closed_port_are_unavailable() {
    let idp = TestIdp::start("the-real-secret").await;
    let cfg = json!({"introspection": [introspection_provider(&idp, 60)]});
    let v = verifier(cfg, &[(SECRET_VAR, "a-wrong-secret")]).await;
    let token = opaque_token();
    idp.set_answer(&token, active("u", now() + 300));
    assert!(matches!(
        v.verify(&token).await,
        Err(AuthError::Unavailable(_))
    ));
    assert!(v.problems()[0].contains("refused"), "{:?}", v.problems());

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", closed.local_addr().unwrap());
    drop(closed);
    let mut cfg = introspection_provider(&idp, 60);
    cfg["introspection_url"] = json!(url);
    let v = verifier(json!({"introspection": [cfg]}), &[(SECRET_VAR, "x")]).await;
    assert!(matches!(
        v.verify(&token).await,
        Err(AuthError::Unavailable(_))
    ));
}

#[tokio::test]
async fn active_answers_are_still_checked() {
    let (idp, v) = setup(60).await;
    let cases = [
        (
            "wrong iss",
            edit(active("u", now() + 300), "iss", json!("https://evil.test/")),
        ),
        (
            "wrong aud",
            edit(active("u", now() + 300), "aud", json!("someone-else")),
        ),
        ("exp passed", active("u", now() - 10)),
        (
            "no subject",
            edit(
                edit(active("u", now() + 300), "sub", Value::Null),
                "client_id",
                Value::Null,
            ),
        ),
    ];
    for (case, answer) in cases {
        let token = opaque_token();
        idp.set_answer(&token, answer);
        assert_invalid(case, v.verify(&token).await);
    }
    let token = opaque_token();
    idp.set_answer(
        &token,
        edit(active("u", now() + 300), "scope", json!("openid")),
    );
    assert!(
        matches!(v.verify(&token).await, Err(AuthError::Forbidden(m)) if m.contains("vod.upload"))
    );
}
