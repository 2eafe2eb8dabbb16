//! Helpers shared by every integration test binary (`integration.rs`, and
//! `auth_token_logs.rs`, which keeps a binary of its own), one file per kind of helper:
//!
//! - [`app`]: `spawn_app()`, the router with a generated key set, driven without a socket,
//!   `assert_error` for the envelope, and the captured JSON logs
//! - [`observe`]: requests with a known request id and peer; their log lines and audit events
//! - [`service`]: the real `vodsign serve` process, a bounded load, test certificates
//! - [`idp`]: the test identity provider on loopback (JWKS and introspection)
//! - [`fake_vod`]: the fake VOD API (event queue and configuration; verifies TC3 signatures)
//! - [`keys`]: JWT signing keys generated per run, and tokens minted with them
//! - [`tokens`]: token verifier builders and introspection answers
//! - [`redis`], [`limiter`]: a throwaway `redis-server`, and limiter builders
//! - [`postgres`]: a throwaway PostgreSQL cluster per test process, a database per test
//! - [`backends`]: `on_both_backends!`, one scenario suite run on SQLite and on PostgreSQL
//! - [`reference`]: the signer as first written, the oracle of the byte-for-byte property
//!
//! `keys` and `reference` are shared with the benches, which must not reach into `tests/`:
//! they live in `benches/support/` and are included here by path.

pub mod app;
pub mod backends;
pub mod fake_vod;
pub mod idp;
#[path = "../../benches/support/keys.rs"]
pub mod keys;
pub mod limiter;
pub mod observe;
pub mod postgres;
pub mod redis;
#[path = "../../benches/support/reference.rs"]
pub mod reference;
pub mod service;
pub mod tokens;

use std::time::{Duration, Instant};

/// `bytes` random bytes as lowercase hex: unique names and secrets for one test.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut buf);
    hex::encode(buf)
}

/// Waits (bounded) until `check` holds.
pub async fn eventually(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within {limit:?}");
}
