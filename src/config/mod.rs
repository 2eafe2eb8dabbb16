//! The one configuration module: typed settings from one TOML file, then `VODSIGN_*`
//! environment overrides; secrets only from the environment or `*_FILE` files.
//!
//! [`Settings::load`] reads and merges the sources and checks every rule that needs no I/O
//! ([`Settings::validate`]), so the rest of the service only ever sees valid settings; a bad
//! value is refused with a [`ConfigError`] naming the key. What needs I/O or the runtime
//! objects (secrets, key and certificate files, policy templates) is checked where it is
//! read, with the same error. Every key is documented in `config/vodsign.example.toml`.
//!
//! One file per area, each with its settings and their rules: [`server`](ServerSettings)
//! (with TLS and CORS), [`admin`](AdminSettings), [`audit`](AuditSettings),
//! [`credentials`](CredentialSettings), [`api_keys`](ApiKeySettings),
//! [`policies`](PolicySettings), [`limits`](LimitsSettings), [`auth`](AuthSettings),
//! [`store`](StoreSettings), [`uploads`](UploadSettings), [`events`](EventSettings),
//! [`webhooks`](WebhookSettings); and
//! [`secrets`](secret_from_env) for reading secrets and bounded files. This module imports
//! nothing else from the crate: everything else imports its settings from here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod admin;
mod api_keys;
mod audit;
mod auth;
mod credentials;
mod error;
mod events;
mod limits;
mod load_error;
mod policies;
mod secrets;
mod server;
mod store;
mod uploads;
mod warnings;
mod webhooks;

pub use admin::AdminSettings;
pub use api_keys::ApiKeySettings;
pub use audit::{AuditDestination, AuditSettings};
pub use auth::{
    AccessSettings, AuthSettings, IntrospectionProviderSettings, JwtProviderSettings,
    RequiredClaim, RolePolicy,
};
pub use credentials::{
    CredentialSettings, DEFAULT_CREDENTIAL, VodSettings, is_secret_variable, variable_stem,
};
pub use error::ConfigError;
pub use events::{DEFAULT_API_ENDPOINT, EventSettings};
pub use limits::{
    AuthFailureLimits, BackendKind, ForwardedHeader, LimitsSettings, OnBackendError, PolicyLimits,
    Quota,
};
pub use policies::PolicySettings;
pub use secrets::{
    EnvLookup, SECRET_FILE_MAX_BYTES, read_bounded, read_bounded_file, read_secret_file,
    read_secret_text, required_secret, secret_from_env, secret_from_lookup,
};
pub use server::{CorsSettings, LogFormat, ServerSettings, TlsSettings};
pub use store::{DEFAULT_STORE_URL, STORE_URL_ENV, StoreKind, StoreSettings, store_kind};
pub use uploads::{DEFAULT_CONTEXT_KEY_ENV, UploadSettings};
pub use webhooks::{
    DEFAULT_RETRY_SCHEDULE_SECS, EndpointSettings, WEBHOOK_EVENT_TYPES, WebhookSettings,
};

/// Environment variable naming the configuration file (same as `--config`).
pub const CONFIG_ENV: &str = "VODSIGN_CONFIG";

/// The one setting read from a `VODSIGN_*` variable without a `__`: `api_keys` is an array of
/// tables, which only a whole TOML value can set (`VODSIGN_API_KEYS='[{id = ...}]'`).
const WHOLE_VALUE_OVERRIDES: [&str; 1] = ["api_keys"];

/// True for the `VODSIGN_*` variables (`key` after the prefix) read as settings:
/// `<SECTION>__<KEY>[__...]` with no empty part, and [`WHOLE_VALUE_OVERRIDES`]. Every other
/// `VODSIGN_*` variable (the config path, secrets, `VODSIGN_GIT_SHA` from a build platform,
/// the variables that `hmac_secret_env` and `client_secret_env` name) is not a setting and is
/// ignored here, so it can neither stop start-up nor have its value quoted in an error.
fn is_override(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if WHOLE_VALUE_OVERRIDES.contains(&key.as_str()) {
        return true;
    }
    key.contains("__") && key.split("__").all(|part| !part.is_empty()) && !is_secret_variable(&key)
}

/// Environment variable holding the Redis URL of `limits.backend = "redis"` (or
/// `VODSIGN_REDIS_URL_FILE`); it may carry a password, so it is read as a secret and takes
/// precedence over `limits.redis_url`.
pub const REDIS_URL_ENV: &str = "VODSIGN_REDIS_URL";

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub vod: VodSettings,
    /// API keys: `[[api_keys]]` tables.
    #[serde(default)]
    pub api_keys: Vec<ApiKeySettings>,
    /// Policies by name: `[policies.NAME]` tables.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicySettings>,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub audit: AuditSettings,
    /// Named VOD credentials: `[credentials.NAME]` tables (no secrets; see
    /// [`CredentialSettings`]). `default` needs no table.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialSettings>,
    /// JWT and OAuth2 introspection providers: `[[auth.jwt]]` and `[[auth.introspection]]`
    /// tables, documented in [`AuthSettings`].
    #[serde(default)]
    pub auth: AuthSettings,
    /// `[limits]`: rate-limit backend, per-IP auth-failure limit, load shedding, proxies.
    /// Not serialized: its defaults come from `LimitsSettings::default` when reading.
    #[serde(default, skip_serializing)]
    pub limits: LimitsSettings,
    /// `[store]`: where upload tickets live. Not serialized (its URL is a secret): its
    /// defaults come from `StoreSettings::default` when reading.
    #[serde(default, skip_serializing)]
    pub store: StoreSettings,
    /// `[uploads]`: upload tickets.
    #[serde(default)]
    pub uploads: UploadSettings,
    /// `[events]`: draining VOD's reliable event queue.
    #[serde(default)]
    pub events: EventSettings,
    /// `[webhooks]`: where the event relay sends its signed messages.
    #[serde(default)]
    pub webhooks: WebhookSettings,
}

impl Settings {
    /// Reads the file (if any), then `VODSIGN_*` overrides: `VODSIGN_SERVER__LISTEN` sets
    /// `server.listen`, `VODSIGN_POLICIES__DEFAULT__VALIDITY_SECONDS` sets
    /// `policies.default.validity_seconds`, `VODSIGN_API_KEYS` sets the `api_keys` array;
    /// values are parsed as TOML values. Any other `VODSIGN_*` variable is not a setting and
    /// is ignored (see `is_override`).
    /// The Redis URL comes from `VODSIGN_REDIS_URL[_FILE]` when set, the store URL from
    /// `VODSIGN_STORE_URL[_FILE]`. Then
    /// [`Settings::validate`].
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let settings = Self::read(path)?;
        settings.validate_read_from(path)?;
        Ok(settings)
    }

    /// [`Settings::validate`] for settings [read](Settings::read) from `path`: when no file
    /// was given and the environment set no policy either, the error says so and where to
    /// give one, rather than that a `[policies.NAME]` table is missing.
    pub fn validate_read_from(&self, path: Option<&Path>) -> Result<(), ConfigError> {
        if path.is_none() && self.policies.is_empty() {
            return Err(ConfigError::Load(format!(
                "no configuration file was given; pass --config PATH or set {CONFIG_ENV}=PATH \
                 (config/vodsign.example.toml documents every key; for local use: \
                 --config config/development.toml)"
            )));
        }
        self.validate()
    }

    /// [`Settings::load`] without [`Settings::validate`]: for `healthcheck`, which only
    /// needs the address of an instance already running, and for a caller that changes the
    /// settings (`--listen`) and validates the result itself.
    pub fn read(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut settings = Self::load_with_env(path, Env::prefixed("VODSIGN_"))?;
        if let Some(url) = secret_from_env(REDIS_URL_ENV)? {
            settings.limits.redis_url = Some(url);
        }
        if let Some(url) = secret_from_env(STORE_URL_ENV)? {
            settings.store.url = url;
        }
        Ok(settings)
    }

    /// Reads and validates settings from TOML text alone (defaults, then the text; no file,
    /// no environment). For tools and the fuzz targets; the service uses [`Settings::load`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        load_error::check_toml_syntax("the TOML text", text)?;
        let settings: Self = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| load_error::from_figment(e, None))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every rule that needs no I/O: at least one policy, `[server]` deadlines and
    /// limits, `[server.cors]`, `[admin]` against `[server]`, `[limits]`, `[store]`,
    /// `[uploads]`, `[events]`, credential names.
    /// (`[policies.NAME.limits]` cannot even be read when invalid.) The error names the
    /// first offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.policies.is_empty() {
            return Err(ConfigError::key(
                "policies",
                "at least one [policies.NAME] table is needed",
            ));
        }
        server::validate(&self.server)?;
        self.limits.validate()?;
        self.store.validate()?;
        self.uploads.validate()?;
        self.events.validate()?;
        self.webhooks.validate()?;
        admin::validate(self)?;
        credentials::validate(&self.credentials)
    }

    fn load_with_env(path: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = path {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist or is not a file",
                    path.display()
                )));
            }
            // Read once and checked here, so no parser message quotes a line of it.
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Load(format!("cannot read config file {}: {e}", path.display()))
            })?;
            load_error::check_toml_syntax(&format!("config file {}", path.display()), &text)?;
            figment = figment.merge(Toml::string(&text));
        }
        let env = env.filter(|key| is_override(key.as_str()));
        figment = figment.merge(env.split("__"));
        figment
            .extract()
            .map_err(|e| load_error::from_figment(e, path))
    }
}

/// Resolves the config path: the `--config` flag, else `VODSIGN_CONFIG`, else none.
pub fn config_path(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    /// Loads `toml` with `env` set, inside a figment jail: a private directory and an
    /// environment restored afterwards, so tests never see each other's variables.
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    pub(super) fn load_str(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", toml)?;
            for (key, value) in env {
                jail.set_env(key, value);
            }
            out = Some(Settings::load(Some(Path::new("c.toml"))));
            Ok(())
        });
        out.expect("the jail ran the closure")
    }

    #[test]
    fn environment_overrides_the_file() {
        let s = load_str(
            "[server]\nlisten = \"127.0.0.1:1\"\n[policies.default]\nvalidity_seconds = 60\n",
            &[
                ("VODSIGN_SERVER__LISTEN", "127.0.0.1:2"),
                ("VODSIGN_POLICIES__DEFAULT__MAX_VALIDITY_SECONDS", "120"),
                ("VODSIGN_SECRET_KEY", "not-a-setting"),
            ],
        )
        .expect("loads");
        assert_eq!(s.server.listen.port(), 2);
        let policy = &s.policies["default"];
        assert_eq!(policy.validity_seconds, 60);
        assert_eq!(policy.max_validity_seconds, Some(120));
        assert!(
            policy.one_time_valid,
            "defaults fill what the file leaves out"
        );
    }

    /// A policy, so the file alone is valid.
    const MINIMAL: &str = "[policies.default]\nvalidity_seconds = 60\n";

    #[test]
    fn only_section_key_variables_are_overrides() {
        let s = load_str(
            MINIMAL,
            &[
                ("VODSIGN_GIT_SHA", "abc1234"),
                ("VODSIGN_JWT_CORP_SECRET", "hs-secret"),
                ("VODSIGN_INTROSPECTION_SECRET", "client-secret"),
                ("VODSIGN_AUDIT", "sk-PASTED-7f3a9c"),
                ("VODSIGN_SERVER_LISTEN", "127.0.0.1:3"),
                ("VODSIGN_SERVER__", "1"),
                ("VODSIGN___LISTEN", "1"),
                ("VODSIGN_CREDENTIAL_TENANT__B_SECRET_ID", "id"),
                ("VODSIGN_ADMIN__ENABLED", "false"),
            ],
        )
        .expect("variables that are not VODSIGN_<SECTION>__<KEY> are ignored");
        assert!(!s.admin.enabled, "VODSIGN_ADMIN__ENABLED still overrides");
        assert_ne!(
            s.server.listen.port(),
            3,
            "a single underscore is not a setting"
        );
    }

    #[test]
    fn api_keys_are_set_whole_from_one_variable() {
        let s = load_str(
            MINIMAL,
            &[(
                "VODSIGN_API_KEYS",
                "[{id=\"demo\", sha256=\"00\", subject=\"u\", policy=\"default\"}]",
            )],
        )
        .expect("loads");
        assert_eq!(s.api_keys.len(), 1);
    }

    #[test]
    fn a_bad_override_names_the_key_not_the_value() {
        let err = load_str(
            MINIMAL,
            &[("VODSIGN_AUDIT__DESTINATION", "sk-PASTED-7f3a9c")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("audit.destination"), "{err}");
        assert!(!err.contains("PASTED"), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn no_file_and_no_policy_says_to_give_a_file() {
        let mut out = None;
        figment::Jail::expect_with(|_| {
            out = Some(Settings::load(None));
            Ok(())
        });
        let err = out.expect("ran").unwrap_err().to_string();
        assert!(err.contains("no configuration file was given"), "{err}");
        assert!(
            err.contains("--config") && err.contains("VODSIGN_CONFIG"),
            "{err}"
        );
        assert!(err.contains("config/development.toml"), "{err}");
    }

    #[test]
    fn a_file_without_policies_still_says_a_policy_is_missing() {
        let err = load_str("", &[]).unwrap_err().to_string();
        assert!(err.contains("[policies.NAME]"), "{err}");
    }

    #[test]
    fn limits_tables_load_and_the_redis_url_is_a_secret() {
        let s = load_str(
            "[limits]\nbackend = \"redis\"\nmax_in_flight = 8\n\
             [policies.default.limits]\nrate_per_minute = 30\nquota = { max = 9, per = \"day\" }\n",
            &[
                ("VODSIGN_REDIS_URL", "redis://:pw@127.0.0.1:6379/"),
                ("VODSIGN_LIMITS__KEY_PREFIX", "vs:"),
            ],
        )
        .expect("loads");
        assert_eq!(s.limits.max_in_flight, 8);
        assert_eq!(s.limits.key_prefix, "vs:");
        assert!(s.limits.redis_url.is_some(), "read from VODSIGN_REDIS_URL");
        assert!(!format!("{s:?}").contains(":pw@"), "the URL is redacted");
        let limits = s.policies["default"].limits.as_ref().expect("limits");
        assert_eq!(limits.burst().get(), 30);
        assert_eq!(limits.quota().map(|q| q.max.get()), Some(9));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn store_and_uploads_default_and_the_store_url_is_a_secret() {
        let s = load_str(MINIMAL, &[]).expect("a file without [store] or [uploads] loads");
        assert_eq!(s.store.url.expose_secret(), DEFAULT_STORE_URL);
        assert_eq!(s.uploads.max_signatures, 10);

        let s = load_str(
            "[store]\nurl = \"sqlite://file.db\"\n[uploads]\nttl_secs = 600\n\
             [policies.default]\nvalidity_seconds = 60\n",
            &[("VODSIGN_STORE_URL", "postgres://vs:hunter2-pw@db/vs")],
        )
        .expect("loads");
        assert_eq!(s.store.kind(), Ok(StoreKind::Postgres), "the variable wins");
        assert_eq!(s.uploads.ttl_secs, 600);
        assert!(!format!("{s:?}").contains("hunter2"), "the URL is redacted");

        let err = load_str(
            MINIMAL,
            &[("VODSIGN_STORE_URL", "mysql://vs:hunter2-pw@db/vs")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("store.url") && !err.contains("hunter2"),
            "{err}"
        );
        // From a file, as a Kubernetes secret is mounted.
        let mut url = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", MINIMAL)?;
            jail.create_file("store-url", "postgres://vs:hunter2-pw@db/vs\n")?;
            jail.set_env("VODSIGN_STORE_URL_FILE", "store-url");
            let s = Settings::load(Some(Path::new("c.toml"))).expect("loads");
            url = Some(s.store.url.expose_secret().to_owned());
            Ok(())
        });
        assert_eq!(url.as_deref(), Some("postgres://vs:hunter2-pw@db/vs"));
        let err = load_str(&format!("{MINIMAL}[uploads]\nmax_signatures = 0\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("uploads.max_signatures"), "{err}");
    }

    #[test]
    fn bad_policy_limits_name_the_key() {
        let err = load_str("[policies.default.limits]\nburst = 3\n", &[]).unwrap_err();
        let err = err.to_string();
        assert!(err.contains("policies.default.limits"), "{err}");
        assert!(err.contains("rate_per_second and rate_per_minute"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = load_str("[server]\nlistn = \"127.0.0.1:1\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let err = load_str("[server]\nrequest_timeout_ms = \"soon\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("request_timeout_ms"), "{err}");
    }
}
