//! `[vod]` and `[credentials.NAME]`: which VOD credentials exist and where their secrets
//! are kept, never the secrets. `crate::credentials` reads the secrets from the
//! environment or the named files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The credential a policy signs with when it names none.
pub const DEFAULT_CREDENTIAL: &str = "default";

/// Prefix of the per-credential secret variables (after `VODSIGN_`, lower-cased).
const VARIABLE_PREFIX: &str = "credential_";

/// `[vod]`: non-secret facts about the VOD account. The SecretId/SecretKey themselves come
/// from `VODSIGN_SECRET_ID`/`VODSIGN_SECRET_KEY` or their `_FILE` variants.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VodSettings {
    /// When the secrets are not in the environment, sign with built-in placeholder
    /// credentials instead of refusing to start. For local development only: VOD refuses
    /// every signature made with them. Default `false`.
    pub development_placeholder_credentials: bool,
}

/// One `[credentials.NAME]` table: only facts that are not secret.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSettings {
    /// Free text for operators (which VOD account, which rotation). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// File holding the SecretId, read at start-up and on every reload. Default: none, the
    /// SecretId then comes from `VODSIGN_CREDENTIAL_<NAME>_SECRET_ID[_FILE]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id_file: Option<PathBuf>,
    /// File holding the SecretKey, like `secret_id_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<PathBuf>,
}

/// True for the environment keys (after the `VODSIGN_` prefix) that carry credential
/// secrets: they are never read as settings.
pub fn is_secret_variable(key: &str) -> bool {
    key.to_ascii_lowercase().starts_with(VARIABLE_PREFIX)
}

/// The environment variable stem of credential `name`: `VODSIGN_SECRET` for `default`,
/// `VODSIGN_CREDENTIAL_<NAME>_SECRET` otherwise (upper case, `-` written `_`).
pub fn variable_stem(name: &str) -> String {
    if name == DEFAULT_CREDENTIAL {
        "VODSIGN_SECRET".to_owned()
    } else {
        let upper: String = name
            .chars()
            .map(|c| {
                if c == '-' {
                    '_'
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        format!("VODSIGN_CREDENTIAL_{upper}_SECRET")
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Refuses credential names that are not 1 to 64 letters, digits, `-` or `_`, and two
/// names that would read the same environment variables.
pub(super) fn validate(
    credentials: &BTreeMap<String, CredentialSettings>,
) -> Result<(), ConfigError> {
    let mut stems: BTreeMap<String, &str> = BTreeMap::new();
    for name in credentials.keys() {
        if !valid_name(name) {
            return Err(ConfigError::key(
                format!("credentials.{name}"),
                "a credential name must be 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        if let Some(other) = stems.insert(variable_stem(name), name) {
            return Err(ConfigError::key(
                format!("credentials.{name}"),
                format!("reads the same environment variables as credentials.{other}; rename one"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_follow_the_credential_name() {
        assert_eq!(variable_stem("default"), "VODSIGN_SECRET");
        assert_eq!(
            variable_stem("tenant-b"),
            "VODSIGN_CREDENTIAL_TENANT_B_SECRET"
        );
        assert!(is_secret_variable("CREDENTIAL_NEXT_SECRET_KEY_FILE"));
        assert!(!is_secret_variable("SERVER__LISTEN"));
    }
}
