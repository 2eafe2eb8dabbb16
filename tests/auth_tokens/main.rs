//! Integration tests of the JWT and introspection verifiers against a test identity provider
//! on loopback, with keys generated per run. Timings are short (1 s refreshes and cache TTLs)
//! so the whole file runs in a few seconds.
#![allow(clippy::unwrap_used)]

mod attacks;
mod config;
mod introspection;
mod rotation;
mod support;
mod verified_cache;

pub use support::{assert_invalid, idp, keys, try_verifier, verifier};
