//! Any text as a signature: decoding, strict parameter parsing and `inspect` must refuse
//! or explain it, never panic; and whatever decodes to valid parameters must encode back
//! to the same parameters.
//! The checks live in the fuzz crate's library (`fuzz/src/lib.rs`), shared with the proptest
//! fallback.

#![no_main]

use vodsign_fuzz as harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        harness::signature_decode(text);
    }
});
