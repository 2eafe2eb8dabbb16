//! Signatures: the signer against the spec's test vectors and round-trip properties, then
//! through the API: issuance, each policy rule, strict input, and the error envelope.

mod error_envelope;
mod issuance;
mod policies;
mod signer;
mod strictness;
