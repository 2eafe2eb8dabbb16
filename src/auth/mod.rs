//! The auth-check: who is calling, and may they upload at all?
//!
//! [`middleware::require_principal`], which the signature endpoint calls first, reads
//! `Authorization: Bearer <credential>`, picks the verifier from the credential's form (an
//! API key `vsk_...`, a JWT `xxx.yyy.zzz`, or an opaque token for introspection) and
//! returns the caller's [`Principal`] or the refusal. One file per credential kind.

pub mod api_key;
pub mod middleware;

use std::fmt;

mod claims;
mod idp_http;
mod introspection;
mod jwks;
mod jwt;
pub mod permission;
pub mod tokens;
mod verified_cache;

pub use tokens::{KeyRefreshTask, MAX_TOKEN_BYTES, TokenVerifier};

/// Which kind of credential proved the caller's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    ApiKey,
    Jwt,
    Introspection,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "api_key",
            CredentialKind::Jwt => "jwt",
            CredentialKind::Introspection => "introspection",
        }
    }
}

/// The proof that authentication ran: who the caller is and which policy applies.
///
/// Holds no secret: neither the presented credential nor anything derived from it that
/// could be replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user (or machine client) the request acts for; feeds the sourceContext template.
    pub subject: String,
    /// Name of the policy that decides what this caller may get.
    pub policy: String,
    /// Which credential was used: the API key's id, or the identity provider's name.
    pub credential_id: String,
    pub kind: CredentialKind,
}

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

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
