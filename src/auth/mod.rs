//! The auth-check: who is calling, and may they upload at all?
//!
//! The [`Authenticator`] takes the credential of `Authorization: Bearer <credential>`
//! ([`bearer`]), picks the verifier from its form (an API key `vsk_...`, a JWT
//! `xxx.yyy.zzz`, or an opaque token for introspection) and returns the caller's
//! [`Principal`](crate::principal::Principal) or an [`AuthError`]. One file per credential
//! kind. The HTTP side of the auth-check (damping, metrics, the envelope) is in `http::auth`.

pub mod api_key;
mod authenticator;

mod claims;
mod idp_http;
mod introspection;
mod jwks;
mod jwt;
pub mod permission;
pub mod tokens;
mod verified_cache;

pub use authenticator::{Authenticator, bearer};
pub use tokens::{KeyRefreshTask, TokenVerifier};

/// Why a caller was not let through. Maps onto the envelope codes 40101/40102/40301/50301.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header, or not a Bearer credential.
    #[error("send an Authorization: Bearer <token> header")]
    Missing,
    /// The credential is malformed, unknown, expired or its signature does not verify.
    /// The reason is for logs and the client; it never contains the credential itself.
    #[error("{0}")]
    Invalid(&'static str),
    /// Authenticated, but not permitted to upload (missing scope/role, unknown policy).
    #[error("{0}")]
    Forbidden(String),
    /// A dependency needed to decide (introspection endpoint, key set) is unavailable.
    #[error("{0}")]
    Unavailable(&'static str),
}
