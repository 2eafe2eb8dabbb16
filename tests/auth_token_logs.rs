//! Tokens and secrets never reach the logs or a `Debug` print, whatever the outcome.
//!
//! A binary of its own: tracing's per-callsite interest cache is process-wide, so a
//! thread-local subscriber can miss events while other tests run in parallel threads (and the
//! integration binary installs a global subscriber). It shares `tests/support/` with the
//! integration binary, and uses only its token helpers.
#![allow(clippy::unwrap_used)]

#[allow(
    dead_code,
    unused_imports,
    unused_macros,
    reason = "this binary uses only the token helpers"
)]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use jsonwebtoken::Algorithm;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use support::idp::{CLIENT_ID, Mode, TestIdp};
use support::keys::{AUDIENCE, ISSUER, TestKey, good_claims, hmac_secret, hs256, jwks, now, with};
use support::tokens::{SECRET_VAR, active, introspection_provider, opaque_token, verifier};

/// Everything logged, at every level, from this crate and its dependencies.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn tokens_and_secrets_never_appear_in_logs_or_debug() {
    // `log` records (reqwest's) are forwarded to tracing too.
    let _ = tracing_log::LogTracer::init();
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let hs_secret = hmac_secret();
    let client_secret = format!("client-{}", hmac_secret());
    let idp = TestIdp::start(&client_secret).await;
    let rsa = TestKey::rsa("log-1", Algorithm::RS256);
    idp.set_jwks(jwks(&[&rsa]));
    let hs = |iss: &str| {
        json!({"name": "hs", "issuer": iss, "audiences": [AUDIENCE], "algorithms": ["HS256"],
            "hmac_secret_env": "LOG_HS_SECRET", "access": {"default_policy": "standard"}})
    };
    let remote = json!({"name": "remote", "issuer": ISSUER, "audiences": [AUDIENCE],
        "algorithms": ["RS256"], "jwks_url": idp.jwks_url(), "jwks_refresh_cooldown_secs": 1,
        "access": {"default_policy": "standard"}});
    let cfg = json!({"jwt": [hs("https://hs.test/"), remote],
        "introspection": [introspection_provider(&idp, 60)]});
    let v = verifier(
        cfg.clone(),
        &[("LOG_HS_SECRET", &hs_secret), (SECRET_VAR, &client_secret)],
    )
    .await;

    let hs_claims = with(good_claims("u1"), "iss", json!("https://hs.test/"));
    let good_jwt = hs256(&hs_secret, &hs_claims);
    let expired = hs256(
        &hs_secret,
        &with(hs_claims.clone(), "exp", json!(now() - 3600)),
    );
    let forged = hs256("guessed", &hs_claims);
    let rsa_jwt = rsa.sign(&good_claims("u2"));
    let mut jku = rsa.header();
    jku.jku = Some("http://127.0.0.1:9/jwks".into());
    let jku_jwt = rsa.sign_with(jku, &good_claims("u3"));
    let active_opaque = opaque_token();
    idp.set_answer(&active_opaque, active("u4", now() + 300));
    let unknown_opaque = opaque_token();
    let down_opaque = opaque_token();

    assert!(v.verify(&good_jwt).await.is_ok());
    assert!(v.verify(&rsa_jwt).await.is_ok());
    assert!(v.verify(&active_opaque).await.is_ok());
    for token in [&expired, &forged, &jku_jwt, &unknown_opaque] {
        assert!(v.verify(token).await.is_err());
    }
    idp.set_mode(Mode::Down);
    assert!(v.verify(&down_opaque).await.is_err());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let unknown_kid = TestKey::rsa("unknown-2", Algorithm::RS256).sign(&good_claims("u5"));
    assert!(
        v.verify(&unknown_kid).await.is_err(),
        "fails, and the JWKS refresh fails"
    );

    let logs = captured.text();
    let debug = format!(
        "{v:?}\n{:?}",
        serde_json::from_value::<vodsign::config::AuthSettings>(cfg)
    );
    // The logs really were captured: outcomes, failures and token fingerprints are there.
    for expected in [
        "token accepted",
        "token refused",
        "token introspection failed",
        "JWKS refresh failed",
    ] {
        assert!(
            logs.contains(expected),
            "missing {expected:?} in logs:\n{logs}"
        );
    }
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{CLIENT_ID}:{client_secret}"),
    );
    let tokens = [
        &good_jwt,
        &expired,
        &forged,
        &rsa_jwt,
        &jku_jwt,
        &active_opaque,
        &unknown_opaque,
        &down_opaque,
        &unknown_kid,
    ];
    let mut secrets: Vec<&str> = vec![&hs_secret, &client_secret, &basic];
    for token in tokens {
        secrets.push(token);
        // A JWT's signature alone would be enough to replay nothing, but its payload and
        // signature together are the token: neither may show.
        secrets.extend(token.split('.').skip(1).filter(|part| part.len() > 16));
    }
    for secret in secrets {
        assert!(
            !logs.contains(secret),
            "a token or secret was logged: {secret}"
        );
        assert!(
            !debug.contains(secret),
            "a token or secret is in Debug: {secret}"
        );
    }
    assert!(
        debug.contains("REDACTED"),
        "the client secret shows as redacted:\n{debug}"
    );
}
