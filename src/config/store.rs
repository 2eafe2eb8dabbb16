//! `[store]`: where upload tickets live (`crate::uploads`). An embedded SQLite file for one
//! instance, PostgreSQL for replicas that share their tickets.
//!
//! The URL may carry a database password, so it is a secret: `VODSIGN_STORE_URL` (or
//! `VODSIGN_STORE_URL_FILE`) overrides `store.url`, it is redacted in `Debug`, and no error
//! quotes it.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ConfigError;

/// Environment variable holding the store URL (or `VODSIGN_STORE_URL_FILE`); it takes
/// precedence over `store.url`, so a PostgreSQL password never needs to be in the file.
pub const STORE_URL_ENV: &str = "VODSIGN_STORE_URL";

/// The store's URL when none is set: an SQLite file beside the working directory, created on
/// first start, so a development instance needs no set-up.
pub const DEFAULT_STORE_URL: &str = "sqlite://data/vodsign.sqlite3";

/// The `[store]` table. Every key is optional.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `sqlite://PATH` (a file, created with its directory on first start; one instance) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...]` (replicas share it).
    /// Default [`DEFAULT_STORE_URL`]. Never logged.
    pub url: SecretString,
    /// Connections kept open at most. Default `10`.
    pub max_connections: u32,
    /// Upper bound for one store operation, waiting for a connection included, in
    /// milliseconds; past it the operation fails as unavailable. Default `2000`.
    pub timeout_ms: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: SecretString::from(DEFAULT_STORE_URL),
            max_connections: 10,
            timeout_ms: 2000,
        }
    }
}

/// Which database a store URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

impl StoreKind {
    /// The backend's name, as metrics and logs label it.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

impl StoreSettings {
    /// The database the URL names, from its scheme alone (the rest of it is checked when
    /// the store opens, by the driver, with errors that never quote the URL).
    pub fn kind(&self) -> Result<StoreKind, ConfigError> {
        store_kind(self.url.expose_secret())
    }

    /// Checks every value; the error names the key, never the URL's text.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.kind()?;
        if self.max_connections == 0 || self.max_connections > 1000 {
            return Err(ConfigError::key(
                "store.max_connections",
                "must be from 1 to 1000",
            ));
        }
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            return Err(ConfigError::key(
                "store.timeout_ms",
                "must be from 1 to 60000; keep it below server.request_timeout_ms",
            ));
        }
        Ok(())
    }

    /// Upper bound for one store operation.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// The database a URL names, by its scheme.
pub fn store_kind(url: &str) -> Result<StoreKind, ConfigError> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme);
    match scheme.map(str::to_ascii_lowercase).as_deref() {
        Some("sqlite") => Ok(StoreKind::Sqlite),
        Some("postgres" | "postgresql") => Ok(StoreKind::Postgres),
        _ => Err(ConfigError::key(
            "store.url",
            format!(
                "must start with sqlite:// (e.g. {DEFAULT_STORE_URL}) or postgres://; \
                 a PostgreSQL URL with a password belongs in {STORE_URL_ENV}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: &str) -> StoreSettings {
        StoreSettings {
            url: SecretString::from(url),
            ..StoreSettings::default()
        }
    }

    #[test]
    fn the_default_is_an_sqlite_file() {
        let settings = StoreSettings::default();
        assert_eq!(settings.kind(), Ok(StoreKind::Sqlite));
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn both_schemes_of_postgres_are_read() {
        for url in [
            "postgres://u@h/db",
            "postgresql://u@h/db",
            "POSTGRES://u@h/db",
        ] {
            assert_eq!(with_url(url).kind(), Ok(StoreKind::Postgres), "{url}");
        }
    }

    #[test]
    fn an_unknown_scheme_is_refused_without_quoting_the_url() {
        let err = with_url("mysql://root:hunter2-pw@db/x")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("store.url"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = with_url("hunter2-no-scheme").validate().unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let settings = with_url("postgres://vodsign:hunter2-pw@db.internal/vodsign");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("db.internal"), "{debug}");
    }

    #[test]
    fn bounds_name_their_key() {
        let mut settings = StoreSettings {
            max_connections: 0,
            ..StoreSettings::default()
        };
        let err = settings.validate().unwrap_err();
        assert_eq!(err.setting(), Some("store.max_connections"));
        settings.max_connections = 5;
        settings.timeout_ms = 0;
        let err = settings.validate().unwrap_err();
        assert_eq!(err.setting(), Some("store.timeout_ms"));
    }
}
