//! A JWKS behind a URL: damped refresh on unknown kids, background refresh, key removal, an
//! identity provider that goes down, and readiness.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use vodsign::{AuthError, TokenVerifier};

use crate::support::idp::{Mode, TestIdp};
use crate::support::keys::{AUDIENCE, ISSUER, TestKey, good_claims, jwks};
use crate::support::tokens::{assert_invalid, verifier};

fn config(idp: &TestIdp, refresh_secs: u64, cooldown_secs: u64) -> Value {
    json!({"jwt": [{
        "name": "rotating", "issuer": ISSUER, "audiences": [AUDIENCE],
        "algorithms": ["RS256", "ES256"], "jwks_url": idp.jwks_url(),
        "jwks_refresh_secs": refresh_secs, "jwks_refresh_cooldown_secs": cooldown_secs,
        "jwks_timeout_ms": 500, "access": {"default_policy": "standard"}
    }]})
}

async fn accepts(v: &TokenVerifier, key: &TestKey) -> bool {
    v.verify(&key.sign(&good_claims("u1"))).await.is_ok()
}

#[tokio::test]
async fn new_kid_is_accepted_after_the_damped_refresh_and_random_kids_cannot_hammer() {
    let idp = TestIdp::start("unused").await;
    let old = TestKey::rsa("old-1", Algorithm::RS256);
    let new = TestKey::es256("new-1");
    idp.set_jwks(jwks(&[&old]));
    let v = verifier(config(&idp, 3600, 2), &[]).await;
    assert_eq!(idp.jwks_hits(), 1, "fetched once at start-up");
    assert!(accepts(&v, &old).await);

    idp.set_jwks(jwks(&[&old, &new]));
    // Within the cooldown of the start-up fetch: no refresh, however many unknown kids come.
    assert_invalid(
        "new kid inside cooldown",
        v.verify(&new.sign(&good_claims("u1"))).await,
    );
    let attacker = TestKey::es256("attacker");
    let random_kid = |i: usize| {
        let mut header = attacker.header();
        header.kid = Some(format!("random-{i}"));
        attacker.sign_with(header, &good_claims("u1"))
    };
    let started = std::time::Instant::now();
    for i in 0..50 {
        assert_invalid("random kid", v.verify(&random_kid(i)).await);
    }
    assert!(
        started.elapsed() < Duration::from_millis(1800),
        "flood ran inside the cooldown"
    );
    assert_eq!(
        idp.jwks_hits(),
        1,
        "unknown kids inside the cooldown fetch nothing"
    );

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        accepts(&v, &new).await,
        "new kid accepted after the cooldown"
    );
    assert_eq!(idp.jwks_hits(), 2);
    for i in 50..70 {
        assert_invalid("random kid", v.verify(&random_kid(i)).await);
    }
    assert_eq!(
        idp.jwks_hits(),
        2,
        "the refresh just made starts a new cooldown"
    );
    assert!(
        accepts(&v, &old).await,
        "old key still listed, still accepted"
    );
}

#[tokio::test]
async fn removed_key_is_refused_after_the_background_refresh_and_the_task_stops() {
    let idp = TestIdp::start("unused").await;
    let old = TestKey::rsa("old-1", Algorithm::RS256);
    let new = TestKey::rsa("new-2", Algorithm::RS256);
    idp.set_jwks(jwks(&[&old, &new]));
    let v = verifier(config(&idp, 1, 1), &[]).await;
    assert!(accepts(&v, &old).await);

    idp.set_jwks(jwks(&[&new]));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = v.spawn_key_refresh(async move {
        let _ = stopped.await;
    });
    assert!(
        accepts(&v, &old).await,
        "still cached until the next refresh"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(idp.jwks_hits() >= 2, "background refresh ran");
    assert_invalid("removed key", v.verify(&old.sign(&good_claims("u1"))).await);
    assert!(accepts(&v, &new).await);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(1), task.stopped())
        .await
        .expect("task stops");
    let hits = idp.jwks_hits();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(idp.jwks_hits(), hits, "no refresh after shutdown");
}

#[tokio::test]
async fn dropping_the_refresh_task_stops_it() {
    let idp = TestIdp::start("unused").await;
    idp.set_jwks(jwks(&[&TestKey::es256("k")]));
    let v = verifier(config(&idp, 1, 1), &[]).await;
    let task = v.spawn_key_refresh(std::future::pending());
    assert!(!task.is_finished());
    drop(task);
    let hits = idp.jwks_hits();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(idp.jwks_hits(), hits, "no refresh after drop");
}

#[tokio::test]
async fn cached_keys_keep_serving_while_the_identity_provider_is_down() {
    let idp = TestIdp::start("unused").await;
    let key = TestKey::rsa("k-1", Algorithm::RS256);
    idp.set_jwks(jwks(&[&key]));
    let v = verifier(config(&idp, 1, 1), &[]).await;
    let _task = v.spawn_key_refresh(std::future::pending());
    for mode in [Mode::Down, Mode::Garbage] {
        idp.set_mode(mode);
        let hits = idp.jwks_hits();
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(idp.jwks_hits() > hits, "{mode:?}: a refresh was tried");
        assert!(
            accepts(&v, &key).await,
            "{mode:?}: last good keys still serve"
        );
        assert!(v.can_verify(), "{mode:?}: keys loaded once, still usable");
        let problems = v.problems();
        assert!(
            problems.iter().any(|p| p.contains("last refresh failed")),
            "{mode:?}: the failing refresh is reported: {problems:?}"
        );
    }
    // Failed refreshes do not renew the keys: their age keeps growing past the outage.
    let ages = v.jwks_ages();
    assert_eq!(ages.len(), 1, "{ages:?}");
    assert!(ages[0].1 >= Duration::from_millis(2600), "{ages:?}");
}

#[tokio::test]
async fn provider_that_never_loaded_keys_is_unusable_and_unavailable_until_it_loads() {
    let idp = TestIdp::start("unused").await;
    let key = TestKey::rsa("k-1", Algorithm::RS256);
    idp.set_jwks(jwks(&[&key]));
    idp.set_mode(Mode::Down);
    let v = verifier(config(&idp, 3600, 1), &[]).await;
    assert!(!v.can_verify(), "no keys: no token can pass");
    let problems = v.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("rotating"), "{problems:?}");
    assert!(
        v.jwks_ages().is_empty(),
        "no age for keys that never loaded"
    );
    assert_eq!(
        v.verify(&key.sign(&good_claims("u1"))).await,
        Err(AuthError::Unavailable(
            "the identity provider's signing keys could not be loaded yet"
        ))
    );

    idp.set_mode(Mode::Healthy);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        accepts(&v, &key).await,
        "a token triggers the load once the cooldown passed"
    );
    assert!(v.problems().is_empty());
    assert!(v.can_verify());
}

#[tokio::test]
async fn slow_jwks_endpoint_times_out_without_blocking_long() {
    let idp = TestIdp::start("unused").await;
    idp.set_jwks(jwks(&[&TestKey::es256("k")]));
    idp.set_mode(Mode::Slow);
    let started = std::time::Instant::now();
    let v = verifier(config(&idp, 3600, 1), &[]).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "start-up fetch timed out at 500 ms"
    );
    assert!(!v.can_verify());
}
