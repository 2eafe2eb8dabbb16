//! The verified-token cache of JWT providers: hits skip verification, only successes are
//! cached, entries end with the token, the cache is bounded, can be turned off, holds no
//! token, and a reload starts empty.
//!
//! A hit is proven without timing: the key that signed a cached token is rotated out of the
//! key set and the identity provider goes down, yet the cached token still passes while a
//! fresh token signed by the same key is refused.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::Digest;
use vodsign::App;
use vodsign::VodCredentials;
use vodsign::config::{PolicySettings, Settings};
use vodsign::principal::CredentialKind;
use vodsign::{AuthError, TokenVerifier};

use crate::support::idp::{Mode, TestIdp};
use crate::support::keys::{
    AUDIENCE, ISSUER, TestKey, good_claims, hmac_secret, hs256, jwks, now, with,
};
use crate::support::tokens::{assert_invalid, try_verifier, verifier};

const SECRET_VAR: &str = "TEST_CACHE_SECRET";

/// An HS256 provider with `edit` applied over its defaults.
fn hs_provider(edit: Value) -> Value {
    let mut p = json!({"name": "hs", "issuer": ISSUER, "audiences": [AUDIENCE],
        "algorithms": ["HS256"], "hmac_secret_env": SECRET_VAR,
        "access": {"required_scopes": ["vod.upload"], "policy_claim": "vod_policy",
            "default_policy": "standard"}});
    for (k, v) in edit.as_object().expect("edit is an object") {
        p[k] = v.clone();
    }
    p
}

async fn hs_verifier(edit: Value) -> (TokenVerifier, String) {
    let secret = hmac_secret();
    let v = verifier(
        json!({"jwt": [hs_provider(edit)]}),
        &[(SECRET_VAR, &secret)],
    )
    .await;
    (v, secret)
}

#[tokio::test]
async fn cached_token_passes_after_its_key_is_rotated_away_and_the_idp_is_down() {
    let idp = TestIdp::start("unused").await;
    let old = TestKey::es256("old-1");
    let new = TestKey::es256("new-1");
    idp.set_jwks(jwks(&[&old]));
    let cfg = json!({"jwt": [{
        "name": "rotating", "issuer": ISSUER, "audiences": [AUDIENCE],
        "algorithms": ["ES256"], "jwks_url": idp.jwks_url(),
        "jwks_refresh_secs": 3600, "jwks_refresh_cooldown_secs": 1, "jwks_timeout_ms": 500,
        "access": {"default_policy": "standard"}
    }]});
    let v = verifier(cfg, &[]).await;
    let cached = old.sign(&good_claims("cached-user"));
    let first = v.verify(&cached).await.unwrap();
    assert_eq!(v.cached_jwt_count(), 1);

    // Rotation: the old key leaves the set; a token of the new key makes the verifier fetch
    // it once the cooldown of the start-up fetch has passed.
    idp.set_jwks(jwks(&[&new]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(v.verify(&new.sign(&good_claims("u2"))).await.is_ok());
    assert_eq!(idp.jwks_hits(), 2, "the rotated set was fetched");
    idp.set_mode(Mode::Down);

    // The documented trade-off: the cached token still passes, with the same principal,
    // until its entry ends (at most verified_cache_ttl_secs); nothing was verified for it.
    assert_eq!(v.verify(&cached).await, Ok(first));
    // An uncached token signed by the same, now removed, key is verified and refused.
    assert_invalid(
        "fresh token of the removed key",
        v.verify(&old.sign(&good_claims("other-user"))).await,
    );
}

#[tokio::test]
async fn hit_returns_the_same_principal_and_policy_as_the_verification() {
    let (v, secret) = hs_verifier(json!({})).await;
    let token = hs256(
        &secret,
        &with(good_claims("u1"), "vod_policy", json!("unlimited")),
    );
    let verified = v.verify(&token).await.unwrap();
    assert_eq!(
        (verified.subject.as_str(), verified.policy.as_str()),
        ("u1", "unlimited")
    );
    assert_eq!(
        (verified.credential_id.as_str(), verified.kind),
        ("hs", CredentialKind::Jwt)
    );
    assert_eq!(v.cached_jwt_count(), 1);
    for _ in 0..3 {
        assert_eq!(v.verify(&token).await.as_ref(), Ok(&verified));
    }
    assert_eq!(v.cached_jwt_count(), 1);
}

#[tokio::test]
async fn refused_tokens_are_never_cached_and_are_refused_every_time() {
    let (v, secret) = hs_verifier(json!({})).await;
    let good = hs256(&secret, &good_claims("u1"));
    v.verify(&good).await.unwrap();
    // One byte changed in the middle of the signature.
    let mut bytes = good.clone().into_bytes();
    let i = good.rfind('.').unwrap() + 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    // Permission failures are failures too: a token without the scope is never cached.
    let no_scope = hs256(&secret, &with(good_claims("u1"), "scope", json!("openid")));
    for round in 0..3 {
        assert_invalid("tampered", v.verify(&tampered).await);
        assert!(
            matches!(v.verify(&no_scope).await, Err(AuthError::Forbidden(_))),
            "round {round}"
        );
    }
    assert_eq!(v.cached_jwt_count(), 1, "only the good token is cached");
    assert!(v.verify(&good).await.is_ok());
}

#[tokio::test]
async fn token_refused_for_nbf_is_verified_again_and_passes_once_valid() {
    let (v, secret) = hs_verifier(json!({"leeway_secs": 0})).await;
    let token = hs256(&secret, &with(good_claims("u1"), "nbf", json!(now() + 2)));
    assert_eq!(
        v.verify(&token).await,
        Err(AuthError::Invalid("the token is not valid yet (nbf)"))
    );
    assert_eq!(v.cached_jwt_count(), 0);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(
        v.verify(&token).await.is_ok(),
        "the refusal was not remembered"
    );
    assert_eq!(v.cached_jwt_count(), 1);
}

#[tokio::test]
async fn cached_entry_is_refused_once_the_token_expires() {
    let (v, secret) = hs_verifier(json!({"leeway_secs": 0})).await;
    let token = hs256(&secret, &with(good_claims("u1"), "exp", json!(now() + 2)));
    assert!(v.verify(&token).await.is_ok());
    assert_eq!(v.cached_jwt_count(), 1);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        v.verify(&token).await,
        Err(AuthError::Invalid("the token has expired; get a new one"))
    );
    assert_eq!(v.cached_jwt_count(), 0, "the entry ended with the token");
}

#[tokio::test]
async fn cache_holds_at_most_its_configured_entries() {
    let (v, secret) = hs_verifier(json!({"verified_cache_max_entries": 5})).await;
    for i in 0..40 {
        let token = hs256(&secret, &good_claims(&format!("user-{i}")));
        assert!(v.verify(&token).await.is_ok(), "token {i}");
    }
    let held = v.cached_jwt_count();
    assert!((1..=5).contains(&held), "{held} entries");
}

#[tokio::test]
async fn zero_entries_turns_the_cache_off() {
    let (v, secret) = hs_verifier(json!({"verified_cache_max_entries": 0})).await;
    let token = hs256(&secret, &good_claims("u1"));
    for _ in 0..3 {
        assert!(v.verify(&token).await.is_ok());
    }
    assert_eq!(v.cached_jwt_count(), 0);
}

#[tokio::test]
async fn cache_ttl_must_be_between_one_second_and_an_hour_unless_the_cache_is_off() {
    let env = [(SECRET_VAR, "s")];
    for ttl in [0, 3601] {
        let cfg = json!({"jwt": [hs_provider(json!({"verified_cache_ttl_secs": ttl}))]});
        let err = try_verifier(cfg, &env).await.expect_err("refused");
        assert_eq!(
            err.setting(),
            Some("auth.jwt[0].verified_cache_ttl_secs"),
            "{ttl}: {err}"
        );
    }
    let off = hs_provider(json!({"verified_cache_ttl_secs": 0, "verified_cache_max_entries": 0}));
    assert!(try_verifier(json!({"jwt": [off]}), &env).await.is_ok());
}

#[tokio::test]
async fn debug_print_holds_no_token_nor_its_digest_nor_the_cached_caller() {
    let (v, secret) = hs_verifier(json!({})).await;
    let token = hs256(&secret, &good_claims("cached-subject-7"));
    v.verify(&token).await.unwrap();
    let text = format!("{v:?}");
    assert!(text.contains("VerifiedCache"), "{text}");
    for segment in token.split('.') {
        assert!(!text.contains(segment), "a token segment leaked: {text}");
    }
    let digest = sha2::Sha256::digest(token.as_bytes());
    assert!(!text.contains(&hex::encode(&digest[..6])), "{text}");
    let as_bytes = format!("{:?}", digest.as_slice());
    assert!(!text.contains(&as_bytes[..12]), "{text}");
    assert!(!text.contains("cached-subject-7"), "{text}");
}

/// A reload builds a new `App`, hence new verifiers: the old cache does not come along.
#[tokio::test]
async fn reload_starts_with_an_empty_cache() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("idp.pem");
    let before = TestKey::es256("k-1");
    std::fs::write(&pem, &before.public_pem).unwrap();
    let mut settings = Settings::default();
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    settings.auth = serde_json::from_value(json!({"jwt": [{
        "name": "pem", "issuer": ISSUER, "audiences": [AUDIENCE], "algorithms": ["ES256"],
        "public_key_file": pem, "access": {"default_policy": "default"}
    }]}))
    .unwrap();
    let first = App::build(settings.clone(), VodCredentials::placeholder())
        .await
        .expect("valid");
    let token = before.sign(&good_claims("u1"));
    assert!(first.authenticator().authenticate(&token).await.is_ok());

    // The provider's key changes and the configuration is reloaded.
    let after = TestKey::es256("k-2");
    std::fs::write(&pem, &after.public_pem).unwrap();
    let second = first
        .rebuild(settings, VodCredentials::placeholder().into())
        .await
        .expect("valid");
    assert_invalid(
        "token accepted before the reload",
        second.authenticator().authenticate(&token).await,
    );
    assert!(
        first.authenticator().authenticate(&token).await.is_ok(),
        "the replaced configuration still has its own cache and key"
    );
    let fresh = after.sign(&good_claims("u1"));
    assert!(second.authenticator().authenticate(&fresh).await.is_ok());
}
