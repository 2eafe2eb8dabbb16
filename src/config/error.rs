//! The one error of configuration: a setting that breaks a rule, or a source that cannot
//! be loaded. Neither ever carries a value read from the configuration or a secret.

/// A configuration that could not be loaded or does not validate. The binary exits with
/// code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A setting (or the environment variable or flag standing for one) breaks a rule:
    /// `key` is its path, e.g. `auth.jwt[0].issuer`; `rule` says what is wrong and what
    /// to do.
    #[error("configuration error: {key}: {rule}")]
    Key { key: String, rule: String },
    /// A source cannot be loaded: a missing or unreadable file, TOML that does not parse, a
    /// value of the wrong type. The message says where and what kind of mistake, never the
    /// text read.
    #[error("configuration error: {0}")]
    Load(String),
}

impl ConfigError {
    /// Setting `key` breaks `rule`.
    pub fn key(key: impl std::fmt::Display, rule: impl std::fmt::Display) -> Self {
        Self::Key {
            key: key.to_string(),
            rule: rule.to_string(),
        }
    }

    /// The path of the offending setting, when one is to blame.
    pub fn setting(&self) -> Option<&str> {
        match self {
            Self::Key { key, .. } => Some(key),
            Self::Load(_) => None,
        }
    }

    /// What is wrong, without the key.
    pub fn rule(&self) -> &str {
        match self {
            Self::Key { rule, .. } => rule,
            Self::Load(message) => message,
        }
    }
}
