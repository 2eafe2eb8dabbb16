//! The JWT and introspection verifiers against a test identity provider on loopback, with
//! keys generated per run, and tokens through the router. Timings are short (1 s refreshes
//! and cache TTLs) so the whole area runs in a few seconds. That no token reaches the logs is
//! checked in `tests/auth_token_logs.rs`, a binary of its own.
#![allow(clippy::unwrap_used)]

mod config;
mod introspection;
mod jwks_rotation;
mod jwt_attacks;
mod jwt_via_api;
mod verified_cache;
