//! JWT verification through `TokenVerifier::verify`: each algorithm uncached (the cost of a
//! first call, or of every call with `verified_cache_max_entries = 0`), and the cached hit
//! that a reused access token takes.
//!
//! No network: one provider per algorithm, keys from PEM files in a temp dir and the HMAC
//! secret from a looked-up variable, as `from_config_with_env` reads them. Keys are made per
//! run by the integration tests' key helpers. Run with `cargo bench --bench jwt`.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeSet, HashMap};
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::runtime::Runtime;
use vodsign::TokenVerifier;
use vodsign::config::AuthSettings;

use support::keys::{AUDIENCE, TestKey, good_claims, hmac_secret, hs256, with};

const SECRET_VAR: &str = "BENCH_HS_SECRET";

/// One signed token per algorithm, and the `[auth]` config that verifies all of them.
struct Setup {
    tokens: Vec<(&'static str, String)>,
    providers: Vec<Value>,
    secret: String,
    _dir: TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let secret = hmac_secret();
    let access = json!({"required_scopes": ["vod.upload"], "default_policy": "standard"});
    let provider = |alg: &str, source: (&str, Value)| {
        let mut p = json!({"name": alg, "issuer": issuer(alg), "audiences": [AUDIENCE],
            "algorithms": [alg], "access": access.clone()});
        p[source.0] = source.1;
        p
    };
    let mut tokens = vec![("HS256", hs256(&secret, &claims("HS256")))];
    let mut providers = vec![provider("HS256", ("hmac_secret_env", json!(SECRET_VAR)))];
    let keyed = [
        ("RS256", TestKey::rsa("rs-1", Algorithm::RS256)),
        ("ES256", TestKey::es256("es-1")),
        ("EdDSA", TestKey::ed25519("ed-1")),
    ];
    for (alg, key) in keyed {
        let pem = dir.path().join(format!("{alg}.pem"));
        std::fs::write(&pem, &key.public_pem).unwrap();
        providers.push(provider(alg, ("public_key_file", json!(pem))));
        tokens.push((alg, key.sign(&claims(alg))));
    }
    Setup {
        tokens,
        providers,
        secret,
        _dir: dir,
    }
}

fn issuer(alg: &str) -> String {
    format!("https://{}.idp.test/", alg.to_ascii_lowercase())
}

fn claims(alg: &str) -> Value {
    with(good_claims("bench-user"), "iss", json!(issuer(alg)))
}

/// A verifier of every provider, with `cache_entries` as `verified_cache_max_entries`.
fn verifier(rt: &Runtime, setup: &Setup, cache_entries: u64) -> TokenVerifier {
    let providers: Vec<Value> = setup
        .providers
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p["verified_cache_max_entries"] = json!(cache_entries);
            p
        })
        .collect();
    let cfg: AuthSettings = serde_json::from_value(json!({"jwt": providers})).unwrap();
    let policies: BTreeSet<String> = ["standard".to_owned()].into();
    let env: HashMap<String, String> = [(SECRET_VAR.to_owned(), setup.secret.clone())].into();
    let lookup = move |k: &str| env.get(k).cloned();
    rt.block_on(TokenVerifier::from_config_with_env(
        &cfg, &policies, &lookup,
    ))
    .unwrap()
}

fn bench_jwt(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let setup = setup();
    let uncached = verifier(&rt, &setup, 0);
    let cached = verifier(&rt, &setup, 10_000);

    let mut group = c.benchmark_group("jwt_verify_uncached");
    for (alg, token) in &setup.tokens {
        group.bench_function(*alg, |b| {
            b.iter(|| rt.block_on(uncached.verify(black_box(token))).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("jwt_verify_cached_hit");
    for (alg, token) in &setup.tokens {
        // The first call verifies and fills the cache; every measured call is a hit.
        rt.block_on(cached.verify(token)).unwrap();
        group.bench_function(*alg, |b| {
            b.iter(|| rt.block_on(cached.verify(black_box(token))).unwrap())
        });
    }
    group.finish();
    assert_eq!(cached.cached_jwt_count(), setup.tokens.len() as u64);
}

criterion_group!(benches, bench_jwt);
criterion_main!(benches);
