//! The verified-token cache of a JWT provider: a token that verified once is not verified
//! again for a while, since an asymmetric signature costs tens of microseconds and apps reuse
//! one access token for several calls (the VOD SDK asks for 2-3 signatures per upload).
//!
//! What it holds and for how long:
//! - keyed by the token's SHA-256, never the token, and holding only the resulting
//!   [`Principal`] and the token's `exp`;
//! - only successes go in: a refused token (bad signature, expired, `nbf` in the future,
//!   missing scope) is verified again on every call;
//! - an entry lives `min(exp - now, verified_cache_ttl_secs)`, and a hit re-checks `exp`
//!   (with the provider's leeway, as verification would) so a late eviction cannot serve an
//!   expired token;
//! - at most `verified_cache_max_entries` entries (0 turns the cache off).
//!
//! The trade-off: a token cached before its signing key left the key set keeps passing until
//! its entry ends, at most `verified_cache_ttl_secs` later. A reload builds new providers and
//! so starts with an empty cache; it is the way to cut such tokens off at once.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use crate::auth::claims::{now_unix, until_unix};
use crate::principal::Principal;

/// A token that verified: who it names, and when it expires.
struct Verified {
    principal: Principal,
    exp: u64,
    /// How long the entry may live, fixed when it is inserted.
    ttl: Duration,
}

/// Gives each entry its own lifetime.
struct VerifiedExpiry;

impl Expiry<[u8; 32], Arc<Verified>> for VerifiedExpiry {
    fn expire_after_create(
        &self,
        _: &[u8; 32],
        entry: &Arc<Verified>,
        _: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// Successfully verified tokens of one provider, by SHA-256.
pub(crate) struct VerifiedCache {
    /// `None` when `verified_cache_max_entries` is 0.
    cache: Option<Cache<[u8; 32], Arc<Verified>>>,
    max_entries: u64,
    max_ttl: Duration,
    leeway: u64,
}

impl fmt::Debug for VerifiedCache {
    /// Sizes only: moka's own `Debug` would list every digest and principal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("max_entries", &self.max_entries)
            .field("max_ttl", &self.max_ttl)
            .field(
                "entries",
                &self.cache.as_ref().map_or(0, Cache::entry_count),
            )
            .finish()
    }
}

impl VerifiedCache {
    /// A cache of at most `max_entries` tokens (0: none), each kept at most `max_ttl`;
    /// `leeway` is the provider's tolerance on `exp`.
    pub(crate) fn new(max_entries: u64, max_ttl: Duration, leeway: u64) -> Self {
        let cache = (max_entries > 0).then(|| {
            Cache::builder()
                .max_capacity(max_entries)
                .expire_after(VerifiedExpiry)
                .build()
        });
        VerifiedCache {
            cache,
            max_entries,
            max_ttl,
            leeway,
        }
    }

    /// The caller behind a token that verified before, if it is cached and not expired.
    pub(crate) fn get(&self, digest: &[u8; 32]) -> Option<Principal> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(digest)?;
        // Entries end at `exp` by the monotonic clock; verification judges `exp` by the wall
        // clock. Should the two disagree, the wall clock wins, as it would on a miss.
        if now_unix() > entry.exp.saturating_add(self.leeway) {
            cache.invalidate(digest);
            return None;
        }
        Some(entry.principal.clone())
    }

    /// Remembers a token that just verified; `exp` is its `exp` claim. A token with less
    /// than a second left is not worth an entry.
    pub(crate) fn insert(&self, digest: [u8; 32], principal: &Principal, exp: u64) {
        let Some(cache) = &self.cache else {
            return;
        };
        let ttl = until_unix(exp).min(self.max_ttl);
        if ttl < Duration::from_secs(1) {
            return;
        }
        let entry = Verified {
            principal: principal.clone(),
            exp,
            ttl,
        };
        cache.insert(digest, Arc::new(entry));
    }

    /// Entries held, after pending evictions and expirations have run.
    pub(crate) fn entry_count(&self) -> u64 {
        self.cache.as_ref().map_or(0, |cache| {
            cache.run_pending_tasks();
            cache.entry_count()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::idp_http::token_digest;
    use crate::principal::CredentialKind;

    fn principal() -> Principal {
        Principal {
            subject: "u1".into(),
            policy: "standard".into(),
            credential_id: "idp".into(),
            kind: CredentialKind::Jwt,
        }
    }

    #[test]
    fn hit_returns_the_principal_and_is_keyed_by_the_digest() {
        let cache = VerifiedCache::new(10, Duration::from_secs(60), 0);
        let digest = token_digest("a.b.c");
        cache.insert(digest, &principal(), now_unix() + 300);
        assert_eq!(cache.get(&digest), Some(principal()));
        assert_eq!(cache.get(&token_digest("a.b.d")), None);
        let inner = cache.cache.as_ref().expect("enabled");
        assert!(inner.contains_key(&digest));
        let text = format!("{cache:?}");
        assert!(!text.contains("u1") && !text.contains("a.b.c"), "{text}");
    }

    #[test]
    fn entry_past_exp_is_refused_at_hit_even_if_not_yet_evicted() {
        let cache = VerifiedCache::new(10, Duration::from_secs(60), 5);
        let digest = token_digest("x.y.z");
        let inner = cache.cache.as_ref().expect("enabled");
        // As if the wall clock jumped past exp + leeway while the entry still had time left.
        let stale = Verified {
            principal: principal(),
            exp: now_unix() - 6,
            ttl: Duration::from_secs(60),
        };
        inner.insert(digest, Arc::new(stale));
        assert_eq!(cache.get(&digest), None);
        assert!(!inner.contains_key(&digest), "the stale entry is dropped");
        // Within the leeway it is still what verification would accept.
        let within = Verified {
            principal: principal(),
            exp: now_unix() - 1,
            ttl: Duration::from_secs(60),
        };
        inner.insert(digest, Arc::new(within));
        assert_eq!(cache.get(&digest), Some(principal()));
    }

    #[test]
    fn token_about_to_expire_is_not_cached_and_ttl_is_capped() {
        let cache = VerifiedCache::new(10, Duration::from_secs(2), 0);
        let soon = token_digest("soon");
        cache.insert(soon, &principal(), now_unix());
        assert_eq!(cache.get(&soon), None);
        let later = token_digest("later");
        cache.insert(later, &principal(), now_unix() + 3600);
        let inner = cache.cache.as_ref().expect("enabled");
        let ttl = inner.get(&later).expect("cached").ttl;
        assert_eq!(ttl, Duration::from_secs(2));
    }

    #[test]
    fn zero_entries_disables_the_cache() {
        let cache = VerifiedCache::new(0, Duration::from_secs(60), 0);
        let digest = token_digest("a.b.c");
        cache.insert(digest, &principal(), now_unix() + 300);
        assert_eq!(cache.get(&digest), None);
        assert_eq!(cache.entry_count(), 0);
    }
}
