//! Recently verified JWTs, so a client re-sending the same access token does not pay for
//! its signature check again.
//!
//! An ES256 check costs about 0.4 ms of CPU with the pure-Rust curve code (RS256 0.1 ms,
//! EdDSA 0.06 ms; docs/performance.md), several times a whole API-key request, while a
//! client typically sends one token for every upload of its lifetime. An entry is keyed by
//! the SHA-256 of the token (the token itself is not kept) and holds the [`Principal`] the
//! full verification produced.
//!
//! Bounds, so the cache never answers differently from a fresh verification for long:
//! - an entry is used only strictly before the token's `exp` (no leeway: after that the
//!   full verification decides, leeway included), and never more than [`TTL`] after it
//!   was verified, so a key removed from a provider's JWKS stops being honoured within
//!   [`TTL`];
//! - only successful verifications are kept, at most [`CAPACITY`] of them;
//! - the cache belongs to one `TokenVerifier`: a configuration reload builds a new,
//!   empty one.

use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest as _, Sha256};

use crate::auth::Principal;

/// Longest time a verification is reused.
pub const TTL: Duration = Duration::from_secs(60);
/// Most tokens remembered at once.
pub const CAPACITY: u64 = 10_000;

#[derive(Clone)]
struct Entry {
    principal: Principal,
    /// The token's `exp`, Unix seconds.
    expires_at: u64,
}

/// The SHA-256 of a token: what the cache is keyed by.
pub type TokenDigest = [u8; 32];

pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

pub struct VerifiedJwts {
    entries: Cache<TokenDigest, Entry>,
}

impl Default for VerifiedJwts {
    fn default() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
        }
    }
}

impl std::fmt::Debug for VerifiedJwts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedJwts")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl VerifiedJwts {
    /// The principal of a token verified less than [`TTL`] ago whose `exp` is still ahead
    /// of `now`.
    pub fn get(&self, digest: &TokenDigest, now: u64) -> Option<Principal> {
        let entry = self.entries.get(digest)?;
        if now < entry.expires_at {
            Some(entry.principal)
        } else {
            self.entries.invalidate(digest);
            None
        }
    }

    /// Remembers a successful verification of a token expiring at `expires_at`.
    pub fn insert(&self, digest: TokenDigest, principal: &Principal, expires_at: u64) {
        self.entries.insert(
            digest,
            Entry {
                principal: principal.clone(),
                expires_at,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::CredentialKind;

    fn principal() -> Principal {
        Principal {
            subject: "user-1".into(),
            policy: "default".into(),
            credential_id: "idp".into(),
            kind: CredentialKind::Jwt,
        }
    }

    #[test]
    fn a_verified_token_is_reused_until_its_exp() {
        let cache = VerifiedJwts::default();
        let key = digest("a.b.c");
        assert_eq!(cache.get(&key, 100), None);
        cache.insert(key, &principal(), 200);
        assert_eq!(cache.get(&key, 100), Some(principal()));
        assert_eq!(cache.get(&key, 199), Some(principal()));
        assert_eq!(
            cache.get(&key, 200),
            None,
            "not at exp: the full check decides"
        );
        assert_eq!(cache.get(&key, 150), None, "an expired entry is dropped");
    }

    #[test]
    fn another_token_is_not_served() {
        let cache = VerifiedJwts::default();
        cache.insert(digest("a.b.c"), &principal(), 200);
        assert_eq!(cache.get(&digest("a.b.d"), 100), None);
    }
}
