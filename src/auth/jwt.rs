//! JWT access tokens, verified locally against a provider's keys.
//!
//! The provider is picked by the token's `iss`; everything else comes from that provider's
//! configuration, never from the token: the accepted algorithms, the keys (a token carrying
//! its own key in `jwk`, `jku`, `x5u` or `x5c` is refused), the audiences. Signature and the
//! registered claims are checked by `jsonwebtoken`; `iat`, `typ` and the permission rules
//! here. A token that passes is remembered in the provider's [`VerifiedCache`].

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Header, Validation};
use secrecy::ExposeSecret;

use crate::auth::AuthError;
use crate::auth::claims::{Claims, SubjectClaims, now_unix, numeric_date};
use crate::auth::jwks::{KeySet, RemoteKeySet, RemoteTiming};
use crate::auth::permission::AccessRules;
use crate::auth::verified_cache::VerifiedCache;
use crate::config::{ConfigError, EnvLookup, JwtProviderSettings, read_bounded, required_secret};
use crate::principal::{CredentialKind, Principal};

/// Longest `verified_cache_ttl_secs`: how long a token may outlive its key's removal.
const MAX_VERIFIED_CACHE_TTL_SECS: u64 = 3600;

/// Where a provider's keys live.
#[derive(Debug)]
enum Keys {
    Fixed(KeySet),
    Remote(Arc<RemoteKeySet>),
}

/// One `[[auth.jwt]]` provider, ready to verify.
pub(crate) struct JwtProvider {
    name: String,
    issuer: String,
    /// One prepared validation per configured algorithm.
    validations: Vec<(Algorithm, Validation)>,
    leeway: u64,
    keys: Keys,
    subject: SubjectClaims,
    access: AccessRules,
    verified: VerifiedCache,
}

impl fmt::Debug for JwtProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtProvider")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("keys", &self.keys)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl JwtProvider {
    /// Builds the provider from `[[auth.jwt]]` number `index`; a remote key set is returned
    /// unfetched, the caller loads it.
    pub(crate) fn new(
        index: usize,
        cfg: &JwtProviderSettings,
        policy_names: &BTreeSet<String>,
        env: EnvLookup<'_>,
        http: &reqwest::Client,
    ) -> Result<Self, ConfigError> {
        let table = format!("auth.jwt[{index}]");
        let key = |field: &str| format!("{table}.{field}");
        if cfg.name.is_empty() || cfg.issuer.is_empty() {
            return Err(ConfigError::key(
                key("name"),
                "name and issuer are required",
            ));
        }
        if cfg.audiences.is_empty() || cfg.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::key(
                key("audiences"),
                "list at least one non-empty audience this service accepts",
            ));
        }
        if cfg.algorithms.is_empty() {
            return Err(ConfigError::key(
                key("algorithms"),
                "list at least one algorithm",
            ));
        }
        if cfg.leeway_secs > 600 {
            return Err(ConfigError::key(key("leeway_secs"), "at most 600 seconds"));
        }
        if cfg.verified_cache_max_entries > 0
            && !(1..=MAX_VERIFIED_CACHE_TTL_SECS).contains(&cfg.verified_cache_ttl_secs)
        {
            return Err(ConfigError::key(
                key("verified_cache_ttl_secs"),
                "1 to 3600 seconds; set verified_cache_max_entries = 0 to turn the cache off",
            ));
        }
        let keys = key_source(cfg, &table, env, http)?;
        let validations = cfg
            .algorithms
            .iter()
            .map(|alg| (*alg, validation(cfg, *alg)))
            .collect();
        Ok(JwtProvider {
            name: cfg.name.clone(),
            issuer: cfg.issuer.clone(),
            validations,
            leeway: cfg.leeway_secs,
            keys,
            subject: SubjectClaims {
                primary: cfg.subject_claim.clone(),
                fallback: cfg.subject_fallback_claim.clone(),
            },
            access: AccessRules::new(&cfg.access, policy_names, &key("access"))?,
            verified: VerifiedCache::new(
                cfg.verified_cache_max_entries,
                Duration::from_secs(cfg.verified_cache_ttl_secs),
                cfg.leeway_secs,
            ),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The remote key set, if the keys come from a URL.
    pub(crate) fn remote_keys(&self) -> Option<&Arc<RemoteKeySet>> {
        match &self.keys {
            Keys::Remote(remote) => Some(remote),
            Keys::Fixed(_) => None,
        }
    }

    /// The caller behind a token this provider verified recently, by the token's SHA-256.
    pub(crate) fn cached(&self, digest: &[u8; 32]) -> Option<Principal> {
        self.verified.get(digest)
    }

    /// Tokens held in the verified-token cache.
    pub(crate) fn cached_count(&self) -> u64 {
        self.verified.entry_count()
    }

    /// Verifies a token whose header passed the shape checks and whose `iss` names this
    /// provider; `digest` is its SHA-256, the cache key it is remembered by if it passes.
    pub(crate) async fn verify(
        &self,
        token: &str,
        digest: [u8; 32],
        header: &Header,
    ) -> Result<Principal, AuthError> {
        let alg = header.alg;
        let Some((_, validation)) = self.validations.iter().find(|(a, _)| *a == alg) else {
            return Err(AuthError::Invalid(
                "the token's algorithm is not accepted for its issuer",
            ));
        };
        let kid = header.kid.as_deref();
        let claims = match &self.keys {
            Keys::Fixed(set) => verify_with(set, kid, alg, token, validation)?,
            Keys::Remote(remote) => {
                let mut set = remote.current();
                let unknown = set
                    .as_ref()
                    .is_none_or(|s| kid.is_some_and(|k| !s.knows_kid(k)));
                if unknown {
                    remote.refresh_for_unknown_kid().await;
                    set = remote.current();
                }
                let Some(set) = set else {
                    return Err(AuthError::Unavailable(
                        "the identity provider's signing keys could not be loaded yet",
                    ));
                };
                verify_with(&set, kid, alg, token, validation)?
            }
        };
        self.check_iat(&claims)?;
        let subject = self.subject.pick(&claims).ok_or(AuthError::Invalid(
            "the token names no caller in its subject claim",
        ))?;
        let policy = self.access.decide(&claims)?;
        let principal = Principal {
            subject,
            policy,
            credential_id: self.name.clone(),
            kind: CredentialKind::Jwt,
        };
        // `exp` is a required claim that `jsonwebtoken` has just checked.
        if let Ok(Some(exp)) = numeric_date(&claims, "exp") {
            self.verified.insert(digest, &principal, exp);
        }
        Ok(principal)
    }

    fn check_iat(&self, claims: &Claims) -> Result<(), AuthError> {
        match numeric_date(claims, "iat") {
            Err(()) => Err(AuthError::Invalid("the token's iat claim is not a date")),
            Ok(Some(iat)) if iat > now_unix().saturating_add(self.leeway) => {
                Err(AuthError::Invalid(
                    "the token was issued in the future; check the identity provider's clock",
                ))
            }
            Ok(_) => Ok(()),
        }
    }
}

/// The provider's keys, from exactly one of its key sources; `table` is the provider's
/// config path, e.g. `auth.jwt[0]`.
fn key_source(
    cfg: &JwtProviderSettings,
    table: &str,
    env: EnvLookup<'_>,
    http: &reqwest::Client,
) -> Result<Keys, ConfigError> {
    let key = |field: &str| format!("{table}.{field}");
    let sources = (
        &cfg.hmac_secret_env,
        &cfg.public_key_file,
        &cfg.jwks_file,
        &cfg.jwks_url,
    );
    let hmac = |a: &Algorithm| a.family() == AlgorithmFamily::Hmac;
    if let (Some(var), None, None, None) = sources {
        if !cfg.algorithms.iter().all(hmac) {
            return Err(ConfigError::key(
                key("algorithms"),
                "an HMAC secret verifies only HS256, HS384 and HS512",
            ));
        }
        let secret = required_secret(&key("hmac_secret_env"), var, env)?;
        let decoding = DecodingKey::from_secret(secret.expose_secret().as_bytes())
            .map_err(|e| ConfigError::key(key("hmac_secret_env"), e.to_string()))?;
        return Ok(Keys::Fixed(KeySet::single(
            decoding,
            cfg.algorithms.clone(),
        )));
    }
    if cfg.algorithms.iter().any(hmac) {
        return Err(ConfigError::key(
            key("algorithms"),
            "HS* algorithms need hmac_secret_env and no other key source",
        ));
    }
    match sources {
        (None, Some(path), None, None) => Ok(Keys::Fixed(
            pem_key_set(path, &cfg.algorithms)
                .map_err(|m| ConfigError::key(key("public_key_file"), m))?,
        )),
        (None, None, Some(path), None) => {
            let json = read_bounded(path, KEY_FILE_MAX_BYTES)
                .map_err(|message| ConfigError::key(key("jwks_file"), message))?;
            let set = KeySet::from_jwks(&json, &cfg.algorithms)
                .map_err(|m| ConfigError::key(key("jwks_file"), m))?;
            Ok(Keys::Fixed(set))
        }
        (None, None, None, Some(url)) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::key(key("jwks_url"), "must be an http(s) URL"));
            }
            let timing = RemoteTiming {
                timeout: positive_millis(cfg.jwks_timeout_ms, &key("jwks_timeout_ms"))?,
                refresh_every: positive_secs(cfg.jwks_refresh_secs, &key("jwks_refresh_secs"))?,
                cooldown: positive_secs(
                    cfg.jwks_refresh_cooldown_secs,
                    &key("jwks_refresh_cooldown_secs"),
                )?,
            };
            let allowed = cfg.algorithms.clone();
            let remote = RemoteKeySet::new(&cfg.name, url, http.clone(), allowed, timing);
            Ok(Keys::Remote(Arc::new(remote)))
        }
        _ => Err(ConfigError::key(
            table,
            "set exactly one of hmac_secret_env, public_key_file, jwks_file, jwks_url",
        )),
    }
}

fn positive_secs(secs: u64, key: &str) -> Result<Duration, ConfigError> {
    positive_millis(secs.saturating_mul(1000), key)
}

fn positive_millis(millis: u64, key: &str) -> Result<Duration, ConfigError> {
    if millis == 0 {
        return Err(ConfigError::key(key, "must be positive"));
    }
    Ok(Duration::from_millis(millis))
}

/// The validation for one algorithm: `exp`, `iss` and `aud` required, `nbf` honoured.
fn validation(cfg: &JwtProviderSettings, alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.leeway = cfg.leeway_secs;
    v.set_issuer(&[&cfg.issuer]);
    v.set_audience(&cfg.audiences);
    v
}

/// Tries each key that fits; a signature failure moves on, any other failure is final (the
/// signature verified, a claim did not).
fn verify_with(
    set: &KeySet,
    kid: Option<&str>,
    alg: Algorithm,
    token: &str,
    validation: &Validation,
) -> Result<Claims, AuthError> {
    let mut outcome = Err(match kid {
        Some(_) => AuthError::Invalid("the token's signing key (kid) is unknown"),
        None => AuthError::Invalid("no configured key fits the token's algorithm"),
    });
    for key in set.candidates(kid, alg) {
        match jsonwebtoken::decode::<Claims>(token, key, validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
                outcome = Err(AuthError::Invalid("the token's signature does not verify"));
            }
            Err(e) => return Err(AuthError::Invalid(refusal(e.kind()))),
        }
    }
    outcome
}

fn refusal(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired; get a new one",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "the token's issuer is not trusted",
        ErrorKind::InvalidAudience => "the token is not meant for this service (aud)",
        ErrorKind::MissingRequiredClaim(c) if c == "exp" => "the token has no valid exp claim",
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => "the token has no valid aud claim",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
        ErrorKind::InvalidClaimFormat(_) => "a claim of the token has the wrong type",
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not fit the key",
        _ => "the token is malformed",
    }
}

/// Largest JWKS or PEM public-key file read: a key set of a few keys is a few KiB.
const KEY_FILE_MAX_BYTES: u64 = 1024 * 1024;

/// Reads a PEM public key of the family the configured algorithms share.
fn pem_key_set(path: &std::path::Path, algorithms: &[Algorithm]) -> Result<KeySet, String> {
    let Some(family) = algorithms.first().map(|a| a.family()) else {
        return Err("list at least one algorithm".into());
    };
    if algorithms.iter().any(|a| a.family() != family) {
        return Err(
            "one PEM key serves one algorithm family; list only RS*/PS*, ES* or EdDSA".into(),
        );
    }
    let pem = read_bounded(path, KEY_FILE_MAX_BYTES)?;
    let key = match family {
        AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(&pem),
        AlgorithmFamily::Ec => DecodingKey::from_ec_pem(&pem),
        AlgorithmFamily::Ed => DecodingKey::from_ed_pem(&pem),
        AlgorithmFamily::Hmac => return Err("HMAC secrets come from hmac_secret_env".into()),
    }
    .map_err(|e| {
        format!(
            "{} is not a usable public key for {family:?}: {e}",
            path.display()
        )
    })?;
    Ok(KeySet::single(key, algorithms.to_vec()))
}
