//! API keys: `Authorization: Bearer vsk_<id>_<secret>`.
//!
//! The configuration holds only the SHA-256 of each key, with its id, subject and policy.
//! The id inside the key finds the entry; the hashes are compared in constant time (and an
//! unknown id is compared against a dummy, so both failures take the same path).

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AuthError;
use crate::config::{ApiKeySettings, ConfigError};
use crate::principal::{CredentialKind, Principal};

/// Every API key starts with this, so the middleware can tell it from a JWT.
pub const PREFIX: &str = "vsk_";
/// Longer presented keys are refused before hashing.
const MAX_KEY_LEN: usize = 256;

struct Entry {
    sha256: [u8; 32],
    subject: String,
    policy: String,
}

/// The configured API keys, by id.
pub struct ApiKeys {
    by_id: HashMap<String, Entry, foldhash::quality::RandomState>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.by_id.keys().collect();
        ids.sort();
        f.debug_struct("ApiKeys").field("ids", &ids).finish()
    }
}

/// True for ids of letters, digits and `-`, 1 to 64 long.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Hex SHA-256 of a key: what goes into the configuration.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key for `id`: 256 bits from the thread-local CSPRNG (ChaCha, seeded and
/// periodically reseeded from the operating system).
pub fn generate_key(id: &str) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(secret))
}

impl ApiKeys {
    /// Validates `[[api_keys]]`; every policy named must exist.
    pub fn from_settings(
        settings: &[ApiKeySettings],
        policies: &BTreeSet<String>,
    ) -> Result<Self, ConfigError> {
        let mut by_id = HashMap::default();
        for (i, key) in settings.iter().enumerate() {
            let at = |field: &str| format!("api_keys[{i}].{field}");
            if !valid_id(&key.id) {
                return Err(ConfigError::key(
                    at("id"),
                    "must be 1 to 64 letters, digits or '-'",
                ));
            }
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(&key.sha256, &mut sha256).map_err(|_| {
                ConfigError::key(
                    at("sha256"),
                    "must be 64 hex digits, as printed by `vodsign hash-key`",
                )
            })?;
            if key.subject.is_empty() || key.subject.chars().any(char::is_control) {
                return Err(ConfigError::key(
                    at("subject"),
                    "must be non-empty text without control characters",
                ));
            }
            if !policies.contains(&key.policy) {
                return Err(ConfigError::key(
                    at("policy"),
                    format!("names policy {:?}, which is not in [policies]", key.policy),
                ));
            }
            let entry = Entry {
                sha256,
                subject: key.subject.clone(),
                policy: key.policy.clone(),
            };
            if by_id.insert(key.id.clone(), entry).is_some() {
                return Err(ConfigError::key(
                    at("id"),
                    format!("{:?} is used by two keys", key.id),
                ));
            }
        }
        Ok(Self { by_id })
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Checks a presented key. Every failure is the same `Invalid`, so a caller cannot
    /// learn whether an id exists.
    pub fn verify(&self, key: &str) -> Result<Principal, AuthError> {
        const INVALID: AuthError = AuthError::Invalid("the API key is not valid");
        if key.len() > MAX_KEY_LEN {
            return Err(INVALID);
        }
        let id = key
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .map_or("", |(id, _)| id);
        let presented: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let entry = self.by_id.get(id);
        let expected = entry.map_or([0u8; 32], |e| e.sha256);
        let matches: bool = presented.ct_eq(&expected).into();
        match entry {
            Some(entry) if matches => Ok(Principal {
                subject: entry.subject.clone(),
                policy: entry.policy.clone(),
                credential_id: id.to_owned(),
                kind: CredentialKind::ApiKey,
            }),
            _ => Err(INVALID),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(key: &str) -> ApiKeys {
        let settings = vec![ApiKeySettings {
            id: "mobile".into(),
            sha256: hash_key(key),
            subject: "app:mobile".into(),
            policy: "default".into(),
        }];
        ApiKeys::from_settings(&settings, &BTreeSet::from(["default".to_owned()])).expect("valid")
    }

    #[test]
    fn accepts_the_key_and_nothing_near_it() {
        let key = generate_key("mobile");
        let keys = keys(&key);
        let principal = keys.verify(&key).expect("valid key");
        assert_eq!(principal.subject, "app:mobile");
        assert_eq!(principal.credential_id, "mobile");
        let mut near = key.clone();
        near.pop();
        near.push('!');
        for bad in [
            near.as_str(),
            "vsk_mobile_",
            "vsk_other_abc",
            "",
            "vsk_",
            &key[..key.len() - 1],
        ] {
            assert_eq!(
                keys.verify(bad),
                Err(AuthError::Invalid("the API key is not valid")),
                "{bad}"
            );
        }
        assert!(keys.verify(&"a".repeat(10_000)).is_err());
    }

    #[test]
    fn generated_keys_differ_and_carry_their_id() {
        let a = generate_key("x");
        assert!(a.starts_with("vsk_x_"));
        assert_ne!(a, generate_key("x"));
        assert_eq!(a.len(), "vsk_x_".len() + 43);
    }

    #[test]
    fn settings_errors_name_the_key() {
        let policies = BTreeSet::from(["default".to_owned()]);
        let base = ApiKeySettings {
            id: "a".into(),
            sha256: hash_key("k"),
            subject: "s".into(),
            policy: "default".into(),
        };
        let check = |edit: fn(&mut ApiKeySettings), key: &str| {
            let mut s = base.clone();
            edit(&mut s);
            let err = ApiKeys::from_settings(&[s], &policies).expect_err("invalid");
            assert!(err.to_string().contains(key), "{err}");
        };
        check(|s| s.id = "a_b".into(), "api_keys[0].id");
        check(|s| s.sha256 = "zz".into(), "api_keys[0].sha256");
        check(|s| s.policy = "nope".into(), "api_keys[0].policy");
        check(|s| s.subject = String::new(), "api_keys[0].subject");
        let dup = ApiKeys::from_settings(&[base.clone(), base], &policies).expect_err("duplicate");
        assert!(dup.to_string().contains("api_keys[1].id"), "{dup}");
    }

    #[test]
    fn debug_shows_ids_only() {
        let keys = keys("vsk_mobile_secret");
        let debug = format!("{keys:?}");
        assert!(debug.contains("mobile") && !debug.contains(&hash_key("vsk_mobile_secret")));
    }
}
