//! JWT fixtures for the benches: one provider per algorithm (HS256, RS256, ES256, EdDSA),
//! keys generated per run with the token tests' own key helpers, and one valid token each.

use std::collections::HashMap;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tempfile::TempDir;
use vodsign::TokenVerifier;
use vodsign::config::AuthSettings;

use super::keys;

pub use keys::TestKey;

pub const AUDIENCE: &str = keys::AUDIENCE;
/// The algorithms benched, in the order they are reported.
pub const ALGORITHMS: [&str; 4] = ["HS256", "RS256", "ES256", "EdDSA"];

/// The issuer of the bench provider for `alg`.
pub fn issuer(alg: &str) -> String {
    format!("vodsign-bench-{}", alg.to_ascii_lowercase())
}

/// Claims every bench provider accepts; `jti` makes each token distinct.
pub fn claims(alg: &str, jti: u64) -> Value {
    let now = keys::now();
    json!({
        "iss": issuer(alg),
        "aud": AUDIENCE,
        "sub": "user-1234567",
        "exp": now + 3600,
        "iat": now,
        "jti": jti.to_string(),
        "scope": "vod.upload",
    })
}

/// The `[auth]` JSON for the four providers, with their key files in `dir`, and one valid
/// token per algorithm (same order as [`ALGORITHMS`]). `policy` is every provider's
/// default policy.
pub struct Fixture {
    pub auth: AuthSettings,
    pub tokens: Vec<(&'static str, String)>,
    pub hmac_env: (&'static str, String),
    keys: Vec<(&'static str, TestKey)>,
    _dir: TempDir,
}

pub fn fixture(policy: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let secret = keys::hmac_secret();
    let rsa = TestKey::rsa("rsa-1", Algorithm::RS256);
    let es = TestKey::es256("es-1");
    let ed = TestKey::ed25519("ed-1");
    let mut providers = vec![json!({
        "name": "bench-hs256", "issuer": issuer("HS256"), "audiences": [AUDIENCE],
        "algorithms": ["HS256"], "hmac_secret_env": "VODSIGN_BENCH_HS_SECRET",
        "access": {"required_scopes": ["vod.upload"], "default_policy": policy},
    })];
    let mut tokens = vec![("HS256", keys::hs256(&secret, &claims("HS256", 0)))];
    for (alg, key) in [("RS256", &rsa), ("ES256", &es), ("EdDSA", &ed)] {
        let pem = dir.path().join(format!("{alg}.pem"));
        std::fs::write(&pem, &key.public_pem).expect("write the public key");
        providers.push(json!({
            "name": format!("bench-{}", alg.to_ascii_lowercase()), "issuer": issuer(alg),
            "audiences": [AUDIENCE], "algorithms": [alg], "public_key_file": pem,
            "access": {"required_scopes": ["vod.upload"], "default_policy": policy},
        }));
        tokens.push((alg, key.sign(&claims(alg, 0))));
    }
    let auth = serde_json::from_value(json!({ "jwt": providers })).expect("valid [auth]");
    Fixture {
        auth,
        tokens,
        hmac_env: ("VODSIGN_BENCH_HS_SECRET", secret),
        keys: vec![("RS256", rsa), ("ES256", es), ("EdDSA", ed)],
        _dir: dir,
    }
}

impl Fixture {
    /// A new valid token for `alg`, distinct from every other by its `jti`.
    pub fn fresh_token(&self, alg: &str, jti: u64) -> String {
        match self.keys.iter().find(|(a, _)| *a == alg) {
            Some((_, key)) => key.sign(&claims(alg, jti)),
            None => keys::hs256(&self.hmac_env.1, &claims(alg, jti)),
        }
    }

    /// A verifier for the four providers, secrets looked up in the fixture, not the
    /// process environment.
    pub async fn verifier(&self, policies: &std::collections::BTreeSet<String>) -> TokenVerifier {
        let env: HashMap<String, String> =
            HashMap::from([(self.hmac_env.0.to_owned(), self.hmac_env.1.clone())]);
        TokenVerifier::from_config_with_env(&self.auth, policies, &move |k: &str| {
            env.get(k).cloned()
        })
        .await
        .expect("the bench providers are valid")
    }
}
