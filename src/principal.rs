//! Who is calling: the proof the auth-check ([`crate::auth`]) leaves for everything after it.
//!
//! Plain data at the bottom of the module graph, so the layers that act on a caller (policy,
//! limits, audit, metrics) read it without depending on how it was proven.

use std::fmt;

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

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
