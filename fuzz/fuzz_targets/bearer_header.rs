//! Any `Authorization` header value: extracting the bearer credential, checking it as an
//! API key, and reading it as a JWT (header, `iss`, shape checks) must answer a credential
//! or a refusal, never panic.
//! The checks live in the fuzz crate's library (`fuzz/src/lib.rs`), shared with the proptest
//! fallback.

#![no_main]

use vodsign_fuzz as harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| harness::bearer_header(data));
