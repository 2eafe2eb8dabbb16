//! Verification keys: a JWKS turned into usable keys, and a remote JWKS kept fresh.
//!
//! A key is usable for an algorithm only if the configuration allows that algorithm, the key
//! type fits it (an RSA key never verifies an HS256 token), and the JWK's own `alg`/`use`
//! agree. A remote set is fetched at start-up, refreshed in the background, and refreshed
//! early when a token names an unknown `kid`, at most once per cooldown; a failed refresh
//! keeps the last good set serving.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use tokio::time::Instant;

use crate::auth::idp_http::{FetchError, send_capped};

/// Largest JWKS accepted, in bytes; real ones are a few KiB.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// One verification key and the algorithms it may verify.
pub(crate) struct VerificationKey {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// The keys a provider verifies with at one moment.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<VerificationKey>,
}

impl KeySet {
    /// A set of one key without a `kid` (an HMAC secret or a PEM file).
    pub(crate) fn single(key: DecodingKey, algorithms: Vec<Algorithm>) -> Self {
        KeySet {
            keys: vec![VerificationKey {
                kid: None,
                key,
                algorithms,
            }],
        }
    }

    /// Parses a JWKS document, keeping the keys usable with one of `allowed`.
    ///
    /// Encryption keys, symmetric (`oct`) keys and unknown key types are skipped; a set with
    /// no usable key at all is an error, since it would refuse every token.
    pub(crate) fn from_jwks(json: &[u8], allowed: &[Algorithm]) -> Result<Self, String> {
        let set: JwkSet =
            serde_json::from_slice(json).map_err(|e| format!("not a JWKS document: {e}"))?;
        let keys: Vec<VerificationKey> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let algorithms = usable_algorithms(jwk, allowed);
                if algorithms.is_empty() {
                    return None;
                }
                match DecodingKey::from_jwk(jwk) {
                    Ok(key) => Some(VerificationKey {
                        kid: jwk.common.key_id.clone(),
                        key,
                        algorithms,
                    }),
                    Err(e) => {
                        tracing::warn!(kid = ?jwk.common.key_id, error = %e, "skipping unreadable JWK");
                        None
                    }
                }
            })
            .collect();
        if keys.is_empty() {
            return Err(format!(
                "no key in the set fits the configured algorithms {allowed:?}"
            ));
        }
        Ok(KeySet { keys })
    }

    /// Whether a token naming `kid` has a key to look at; a key without `kid` fits any.
    pub(crate) fn knows_kid(&self, kid: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.kid.as_deref().is_none_or(|own| own == kid))
    }

    /// The keys that may verify a token with this `kid` (if any) and `alg`.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a DecodingKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| match (k.kid.as_deref(), kid) {
                (Some(own), Some(wanted)) => own == wanted,
                _ => true,
            })
            .filter(move |k| k.algorithms.contains(&alg))
            .map(|k| &k.key)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The algorithms of `allowed` this JWK may verify.
fn usable_algorithms(jwk: &Jwk, allowed: &[Algorithm]) -> Vec<Algorithm> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return Vec::new();
    }
    let own_alg = match jwk.common.key_algorithm {
        None => None,
        Some(ka) => match Algorithm::try_from(ka) {
            Ok(alg) => Some(alg),
            // An encryption algorithm such as RSA-OAEP: not a signing key.
            Err(_) => return Vec::new(),
        },
    };
    allowed
        .iter()
        .copied()
        .filter(|alg| own_alg.is_none_or(|own| own == *alg))
        .filter(|alg| key_fits(&jwk.algorithm, *alg))
        .collect()
}

fn key_fits(params: &AlgorithmParameters, alg: Algorithm) -> bool {
    match params {
        AlgorithmParameters::RSA(_) => alg.family() == AlgorithmFamily::Rsa,
        AlgorithmParameters::EllipticCurve(p) => matches!(
            (&p.curve, alg),
            (EllipticCurve::P256, Algorithm::ES256) | (EllipticCurve::P384, Algorithm::ES384)
        ),
        AlgorithmParameters::OctetKeyPair(p) => {
            p.curve == EllipticCurve::Ed25519 && alg == Algorithm::EdDSA
        }
        // Symmetric keys are never taken from a key set, and unknown types cannot verify.
        _ => false,
    }
}

/// A JWKS behind a URL, with the last good copy.
pub(crate) struct RemoteKeySet {
    provider: String,
    url: String,
    http: reqwest::Client,
    timeout: Duration,
    allowed: Vec<Algorithm>,
    refresh_every: Duration,
    cooldown: Duration,
    current: RwLock<Option<Arc<KeySet>>>,
    /// When the current key set was fetched: the JWKS age metric.
    loaded_at: RwLock<Option<Instant>>,
    /// When the last fetch started; held across a fetch so concurrent callers wait for it.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    /// Why the last fetch failed; `None` once one succeeds. Texts name no secret.
    last_error: RwLock<Option<String>>,
}

impl fmt::Debug for RemoteKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeySet")
            .field("provider", &self.provider)
            .field("url", &self.url)
            .field("loaded", &self.current().is_some())
            .finish_non_exhaustive()
    }
}

/// Timing of a remote key set, from its provider's config.
pub(crate) struct RemoteTiming {
    pub(crate) timeout: Duration,
    pub(crate) refresh_every: Duration,
    pub(crate) cooldown: Duration,
}

impl RemoteKeySet {
    pub(crate) fn new(
        provider: &str,
        url: &str,
        http: reqwest::Client,
        allowed: Vec<Algorithm>,
        timing: RemoteTiming,
    ) -> Self {
        RemoteKeySet {
            provider: provider.to_owned(),
            url: url.to_owned(),
            http,
            timeout: timing.timeout,
            allowed,
            refresh_every: timing.refresh_every,
            cooldown: timing.cooldown,
            current: RwLock::new(None),
            loaded_at: RwLock::new(None),
            last_fetch: tokio::sync::Mutex::new(None),
            last_error: RwLock::new(None),
        }
    }

    /// `None` when the last fetch succeeded; otherwise what is wrong, for `/readyz` and the
    /// dependency gauge: keys never loaded, or the last refresh failed (the keys held keep
    /// serving).
    pub(crate) fn problem(&self) -> Option<String> {
        let error = self
            .last_error
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match (self.age(), error) {
            (None, why) => Some(format!(
                "signing keys never loaded from jwks_url ({})",
                why.as_deref().unwrap_or("no fetch finished yet")
            )),
            (Some(age), Some(why)) => Some(format!(
                "last refresh failed ({why}); the keys fetched {} s ago keep serving",
                age.as_secs()
            )),
            (Some(_), None) => None,
        }
    }

    /// How long ago the current key set was fetched; `None` if none ever loaded.
    pub(crate) fn age(&self) -> Option<Duration> {
        self.loaded_at
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|at| at.elapsed())
    }

    /// The last good key set, if one ever loaded.
    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Fetches now (start-up and the background loop). Returns whether it succeeded.
    pub(crate) async fn refresh(&self) -> bool {
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch_and_swap().await
    }

    /// Fetches unless a fetch started within the cooldown: the damped refresh for an unknown
    /// `kid`. A caller that waited for a fetch in flight sees its result without a new one.
    pub(crate) async fn refresh_for_unknown_kid(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.cooldown) {
            return;
        }
        *last = Some(Instant::now());
        self.fetch_and_swap().await;
    }

    async fn fetch_and_swap(&self) -> bool {
        match self.fetch().await {
            Ok(set) => {
                tracing::info!(provider = %self.provider, keys = set.len(), "JWKS loaded");
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(set));
                *self
                    .loaded_at
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                *self
                    .last_error
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                true
            }
            Err(reason) => {
                tracing::warn!(provider = %self.provider, url = %self.url, %reason,
                    "JWKS refresh failed; the last good key set keeps serving");
                *self
                    .last_error
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(reason);
                false
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let body = send_capped(self.http.get(&self.url), self.timeout, MAX_JWKS_BYTES)
            .await
            .map_err(FetchError::as_str)?;
        KeySet::from_jwks(&body, &self.allowed)
    }

    /// Refreshes forever: every `refresh_every`, or every cooldown while no set has loaded.
    pub(crate) async fn refresh_loop(self: Arc<Self>) {
        loop {
            let wait = if self.current().is_some() {
                self.refresh_every
            } else {
                self.cooldown.min(self.refresh_every)
            };
            tokio::time::sleep(wait).await;
            self.refresh().await;
        }
    }

    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }
}
