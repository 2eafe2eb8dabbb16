//! Any `/v1/signature` request body or query string: parsing must answer fields or a
//! 40001, never panic; and parsed fields must go through a policy and the signer to a
//! signature that decodes back to them, or a precise refusal.
//! The checks live in the fuzz crate's library (`fuzz/src/lib.rs`), shared with the proptest
//! fallback.

#![no_main]

use vodsign_fuzz as harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| harness::request_parse(data));
