//! `[uploads]`: upload tickets (`crate::uploads`): how long a ticket may be signed for, how
//! often it may be re-signed, how much metadata it carries, how long its row is kept, and
//! where the key of its signed context comes from.
//!
//! The context key itself is never a setting: the file names an environment variable
//! (`context_key_env`), and the key is read from it or from `<VAR>_FILE`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The default of `uploads.context_key_env`.
pub const DEFAULT_CONTEXT_KEY_ENV: &str = "VODSIGN_CONTEXT_KEY";

/// Longest ticket lifetime accepted: VOD's own longest signature validity (90 days).
const MAX_TTL_SECS: u64 = 7_776_000;

/// The `[uploads]` table. Every key is optional.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadSettings {
    /// Serve the upload-ticket endpoints (`/v1/uploads`). Default `false`: turning it on
    /// needs a context key and a store, so an existing deployment does not start needing
    /// them on an upgrade. Read at start-up only.
    pub enabled: bool,
    /// How long an upload may be signed for and attributed, in seconds; its signatures
    /// never outlive it. Default `86400` (one day); at most 7776000.
    pub ttl_secs: u64,
    /// Signatures one upload may get, the first included. Default `10`; at most 1000.
    pub max_signatures: u32,
    /// Largest `metadata` object, serialized, in bytes. Default `4096`; at most 65536.
    pub max_metadata_bytes: usize,
    /// Days an upload's row is kept after it was created; older rows are purged. Default
    /// `90`; at least 1.
    pub retention_days: u32,
    /// Name of the environment variable holding the context key (or `<VAR>_FILE` naming
    /// a file that holds it); `<VAR>_PREVIOUS` (comma-separated) or `<VAR>_PREVIOUS_FILE`
    /// (one key a line) holds the keys still accepted after a rotation. Default
    /// `VODSIGN_CONTEXT_KEY`.
    pub context_key_env: String,
    /// When the context key is not in the environment, make a random one at start-up
    /// instead of refusing to start. For local development only: tokens made before a
    /// restart no longer verify after it, and the service says so loudly. Default `false`.
    pub development_ephemeral_context_key: bool,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            enabled: false,
            ttl_secs: 86_400,
            max_signatures: 10,
            max_metadata_bytes: 4096,
            retention_days: 90,
            context_key_env: DEFAULT_CONTEXT_KEY_ENV.to_owned(),
            development_ephemeral_context_key: false,
        }
    }
}

impl UploadSettings {
    /// Checks every value; the error names the first offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_TTL_SECS).contains(&self.ttl_secs) {
            return Err(ConfigError::key(
                "uploads.ttl_secs",
                format!("must be from 1 to {MAX_TTL_SECS} (90 days)"),
            ));
        }
        if !(1..=1000).contains(&self.max_signatures) {
            return Err(ConfigError::key(
                "uploads.max_signatures",
                "must be from 1 to 1000; an upload SDK asks 2 to 4 times per upload",
            ));
        }
        if !(2..=65_536).contains(&self.max_metadata_bytes) {
            return Err(ConfigError::key(
                "uploads.max_metadata_bytes",
                "must be from 2 (an empty object) to 65536",
            ));
        }
        if self.retention_days == 0 {
            return Err(ConfigError::key(
                "uploads.retention_days",
                "must be at least 1",
            ));
        }
        let name = &self.context_key_env;
        let valid_name = !name.is_empty()
            && name.len() <= 128
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(ConfigError::key(
                "uploads.context_key_env",
                "must name an environment variable: letters, digits and _, not starting \
                 with a digit (default VODSIGN_CONTEXT_KEY)",
            ));
        }
        Ok(())
    }

    /// How long an upload may be signed for.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        let settings = UploadSettings::default();
        assert!(settings.validate().is_ok());
        assert!(!settings.enabled, "off unless asked for");
        assert!(!settings.development_ephemeral_context_key);
        assert_eq!(settings.ttl_secs, 86_400);
        assert_eq!(settings.max_signatures, 10);
        assert_eq!(settings.max_metadata_bytes, 4096);
        assert_eq!(settings.context_key_env, "VODSIGN_CONTEXT_KEY");
    }

    #[test]
    fn each_bound_names_its_key() {
        type Breaker = fn(&mut UploadSettings);
        let cases: [(&str, Breaker); 6] = [
            ("uploads.ttl_secs", |s| s.ttl_secs = 0),
            ("uploads.ttl_secs", |s| s.ttl_secs = MAX_TTL_SECS + 1),
            ("uploads.max_signatures", |s| s.max_signatures = 0),
            ("uploads.max_metadata_bytes", |s| s.max_metadata_bytes = 1),
            ("uploads.retention_days", |s| s.retention_days = 0),
            ("uploads.context_key_env", |s| {
                s.context_key_env = "BAD-NAME".into()
            }),
        ];
        for (key, break_it) in cases {
            let mut settings = UploadSettings::default();
            break_it(&mut settings);
            let err = settings.validate().expect_err(key);
            assert_eq!(err.setting(), Some(key), "{err}");
        }
    }
}
