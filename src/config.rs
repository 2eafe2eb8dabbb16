//! Typed settings: one TOML file, then `VODSIGN_*` environment overrides; secrets only
//! from the environment or `*_FILE` files.
//!
//! [`Settings::load`] reads and merges the sources; [`crate::app::App::build`] turns the
//! raw settings into validated runtime values and is where a bad value is refused with a
//! message naming the key. Every key is documented in `config/vodsign.example.toml`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::limits::{LimitsConfig, PolicyLimits};

mod load_error;

/// Environment variable naming the configuration file (same as `--config`).
pub const CONFIG_ENV: &str = "VODSIGN_CONFIG";

/// Environment variables that carry secrets or the config path: never read as settings.
const NOT_SETTINGS: [&str; 7] = [
    "config",
    "secret_id",
    "secret_key",
    "secret_id_file",
    "secret_key_file",
    "redis_url",
    "redis_url_file",
];

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
    /// [`crate::credentials`]). `default` needs no table.
    #[serde(default)]
    pub credentials: BTreeMap<String, crate::credentials::CredentialSettings>,
    /// JWT and OAuth2 introspection providers: `[[auth.jwt]]` and `[[auth.introspection]]`
    /// tables, documented in [`crate::auth::token_config`].
    #[serde(default)]
    pub auth: crate::auth::AuthConfig,
    /// `[limits]`: rate-limit backend, per-IP auth-failure limit, load shedding, proxies.
    /// Not serialized: its defaults come from `LimitsConfig::default` when reading.
    #[serde(default, skip_serializing)]
    pub limits: LimitsConfig,
}

/// `[server]`: the listener and its protections.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address of the public listener. Default `0.0.0.0:8080`.
    pub listen: SocketAddr,
    /// Longest time a request may take before it is answered with 50301. Default 10 s.
    pub request_timeout_ms: u64,
    /// Longest time a signature request's body may take to arrive once the caller is
    /// authenticated; later gets 408 (40801). At most `request_timeout_ms`. Default 5 s.
    pub body_timeout_ms: u64,
    /// Largest request body accepted, in bytes; larger gets 41301. Default 16 KiB.
    pub body_limit_bytes: usize,
    /// `json` (one object per line, for log shippers) or `text`. Default `json`.
    pub log_format: LogFormat,
    /// A `tracing` filter directive such as `info` or `vodsign=debug,info`. Default `info`.
    pub log_level: String,
    /// After SIGTERM/SIGINT, how long `/readyz` answers 503 while requests are still served,
    /// so the load balancer takes the instance out of rotation. Default 5 s.
    pub drain_delay_ms: u64,
    /// Then, how long in-flight requests get to finish before connections are closed.
    /// Default 10 s.
    pub shutdown_grace_ms: u64,
    /// Largest request head (request line and headers) in bytes; larger gets 431. At least
    /// 8192. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Connections served at once; past it new connections wait in the listen backlog
    /// (and are refused by the kernel when that is full). Default 1024.
    pub max_connections: usize,
    /// Connections served at once from one peer address (not `[limits] trusted_proxies`);
    /// past it a new connection is closed at once. 0 turns it off. Default 64.
    pub max_connections_per_address: usize,
    /// A connection that sends nothing (after the TLS handshake, if any) is closed after
    /// this long. Default 10 s.
    pub first_byte_timeout_ms: u64,
    /// Longest time from a connection's first byte to its first complete request head
    /// (HTTP/2 preface included), and for each later HTTP/1 request head. Default 10 s.
    pub header_timeout_ms: u64,
    /// A connection (HTTP/1 keep-alive or HTTP/2) with no request in flight is closed after
    /// this long; also the HTTP/2 keep-alive ping interval. Default 60 s.
    pub keepalive_idle_ms: u64,
    /// A connection whose writes make no progress (a client that stops reading) is closed
    /// after this long; also the HTTP/2 ping answer timeout. Default 10 s.
    pub write_timeout_ms: u64,
    /// Longest TLS handshake. Default 10 s.
    pub tls_handshake_timeout_ms: u64,
    /// `[server.tls]`: serve HTTPS (HTTP/2 by ALPN) instead of plain HTTP. Default: off.
    pub tls: Option<crate::tls::TlsSettings>,
    /// `[server.cors]`: which web origins may call the API from a browser. Default: none.
    pub cors: crate::http::cors::CorsSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            request_timeout_ms: 10_000,
            body_timeout_ms: 5_000,
            body_limit_bytes: 16 * 1024,
            log_format: LogFormat::Json,
            log_level: "info".to_owned(),
            drain_delay_ms: 5_000,
            shutdown_grace_ms: 10_000,
            max_header_bytes: 16 * 1024,
            max_connections: 1024,
            max_connections_per_address: 64,
            first_byte_timeout_ms: 10_000,
            header_timeout_ms: 10_000,
            keepalive_idle_ms: 60_000,
            write_timeout_ms: 10_000,
            tls_handshake_timeout_ms: 10_000,
            tls: None,
            cors: crate::http::cors::CorsSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

/// `[admin]`: the operators' listener (`/metrics`), never the public one.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Serve the admin listener at all. Default `true`.
    pub enabled: bool,
    /// Address of the admin listener; must differ from `server.listen`.
    /// Default `127.0.0.1:9090`.
    pub listen: SocketAddr,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

/// `[audit]`: where the audit events (one per signature issued or refused) go.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// `log` (a `tracing` event with target `vodsign::audit`), `file` (JSON lines appended
    /// to `path`), `stdout` or `stderr` (JSON lines). Default `log`.
    pub destination: AuditDestination,
    /// The file for `destination = "file"`; created if missing, always appended to.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditDestination {
    #[default]
    Log,
    File,
    Stdout,
    Stderr,
}

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

/// One `[[api_keys]]` entry. The key itself is never stored: only its SHA-256, which
/// `Debug` does not show either.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// The key's id: the part between `vsk_` and the next `_` of the key. Letters, digits, `-`.
    pub id: String,
    /// Hex SHA-256 of the whole key, as printed by `vodsign hash-key`.
    pub sha256: String,
    /// Who the key acts for: feeds the sourceContext template.
    pub subject: String,
    /// Name of the policy in `[policies]` that applies to this key.
    pub policy: String,
}

impl std::fmt::Debug for ApiKeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeySettings")
            .field("id", &self.id)
            .field("sha256", &"[REDACTED]")
            .field("subject", &self.subject)
            .field("policy", &self.policy)
            .finish()
    }
}

/// One `[policies.NAME]` table: what a caller with this policy may get. For each optional
/// VOD parameter, `X` is the value used when the client asks for nothing, and
/// `allowed_X` lists other values a client may ask for; a value outside both gets 40302.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// `false` refuses every caller of this policy with 40301 (e.g. a suspended app).
    pub allow_upload: bool,
    /// Validity when the client sends no `validitySeconds`. Default 3600.
    pub validity_seconds: u64,
    /// Longest validity a client may ask for. Default: `validity_seconds`.
    pub max_validity_seconds: Option<u64>,
    pub procedure: Option<String>,
    pub allowed_procedures: Vec<String>,
    pub class_id: Option<u64>,
    pub allowed_class_ids: Vec<u64>,
    pub storage_region: Option<String>,
    pub allowed_storage_regions: Vec<String>,
    pub vod_sub_app_id: Option<u64>,
    pub allowed_vod_sub_app_ids: Vec<u64>,
    pub task_priority: Option<i64>,
    pub allowed_task_priorities: Vec<i64>,
    pub task_notify_mode: Option<String>,
    pub allowed_task_notify_modes: Vec<String>,
    /// Sign with `oneTimeValid=1`. Default `true`.
    pub one_time_valid: bool,
    /// Template of the sourceContext the server writes: `{subject}`, `{credential_id}` and
    /// `{policy}` are replaced from the caller's identity; `{client}` by the client's own
    /// `sourceContext` (only a template containing `{client}` lets a client send one).
    /// Default `{subject}`. Set to `""` to send no sourceContext.
    pub source_context: String,
    /// Let clients send a `sessionContext`. Default `false`.
    pub allow_client_session_context: bool,
    /// Name of the VOD credential this policy signs with. Default `default`.
    pub credential: String,
    /// `[policies.NAME.limits]`: rate and quota per caller. Default: none (not limited).
    #[serde(skip_serializing)]
    pub limits: Option<PolicyLimits>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            allow_upload: true,
            validity_seconds: 3600,
            max_validity_seconds: None,
            procedure: None,
            allowed_procedures: Vec::new(),
            class_id: None,
            allowed_class_ids: Vec::new(),
            storage_region: None,
            allowed_storage_regions: Vec::new(),
            vod_sub_app_id: None,
            allowed_vod_sub_app_ids: Vec::new(),
            task_priority: None,
            allowed_task_priorities: Vec::new(),
            task_notify_mode: None,
            allowed_task_notify_modes: Vec::new(),
            one_time_valid: true,
            source_context: "{subject}".to_owned(),
            allow_client_session_context: false,
            credential: crate::credentials::DEFAULT.to_owned(),
            limits: None,
        }
    }
}

/// A configuration that could not be loaded or does not validate. The message names the
/// key and the rule; the binary exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    pub fn key(key: impl std::fmt::Display, rule: impl std::fmt::Display) -> Self {
        Self(format!("{key}: {rule}"))
    }
}

impl Settings {
    /// Reads the file (if any), then `VODSIGN_*` overrides: `VODSIGN_SERVER__LISTEN` sets
    /// `server.listen`, `VODSIGN_POLICIES__DEFAULT__VALIDITY_SECONDS` sets
    /// `policies.default.validity_seconds`; values are parsed as TOML values.
    /// The Redis URL comes from `VODSIGN_REDIS_URL[_FILE]` when set.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut settings = Self::load_with_env(path, Env::prefixed("VODSIGN_"))?;
        if let Some(url) = secret_from_env(REDIS_URL_ENV)? {
            settings.limits.redis_url = Some(url);
        }
        Ok(settings)
    }

    /// Reads settings from TOML text alone (defaults, then the text; no file, no
    /// environment). For tools and the fuzz targets; the service uses [`Settings::load`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        load_error::check_toml_syntax("the TOML text", text)?;
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| load_error::from_figment(e, None))
    }

    fn load_with_env(path: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = path {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist or is not a file",
                    path.display()
                )));
            }
            // Read once and checked here, so no parser message quotes a line of it.
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!("cannot read config file {}: {e}", path.display()))
            })?;
            load_error::check_toml_syntax(&format!("config file {}", path.display()), &text)?;
            figment = figment.merge(Toml::string(&text));
        }
        let env = env
            .ignore(&NOT_SETTINGS)
            .filter(|key| !crate::credentials::is_secret_variable(key.as_str()));
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

/// Where a secret may come from: `NAME` or `NAME_FILE` (the Docker/Kubernetes convention).
/// Both set is an error; a file's trailing newline is dropped.
pub fn secret_from_env(name: &str) -> Result<Option<SecretString>, ConfigError> {
    secret_from_lookup(name, &|var| std::env::var(var).ok())
}

/// [`secret_from_env`] with the environment read through `lookup`, so the token verifiers
/// can be built from a test's own environment.
pub fn secret_from_lookup(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SecretString>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let direct = lookup(name);
    let file = lookup(&file_var);
    match (direct, file) {
        (Some(_), Some(_)) => Err(ConfigError::key(
            name,
            format!("set either {name} or {file_var}, not both"),
        )),
        (Some(value), None) => non_empty(name, value).map(Some),
        (None, Some(path)) => {
            let text = read_secret_text(&file_var, Path::new(&path))?;
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            non_empty(&file_var, value.to_owned()).map(Some)
        }
        (None, None) => Ok(None),
    }
}

/// Largest secret file read (`*_FILE` variables, credential files, the TLS private key):
/// a key or a token is a few hundred bytes, so anything larger is a wrong path.
pub const SECRET_FILE_MAX_BYTES: u64 = 64 * 1024;

/// Reads a secret file named by setting `key`: [`read_bounded_file`] with
/// [`SECRET_FILE_MAX_BYTES`]. Every secret file goes through here.
pub fn read_secret_file(key: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    read_bounded_file(key, path, SECRET_FILE_MAX_BYTES)
}

/// Reads a file named by setting `key`: [`read_bounded`], the message prefixed with the key.
pub fn read_bounded_file(key: &str, path: &Path, max: u64) -> Result<Vec<u8>, ConfigError> {
    read_bounded(path, max).map_err(|rule| ConfigError::key(key, rule))
}

/// Reads a file: regular files only (a FIFO, device, socket or directory is refused before
/// it is opened, so nothing blocks or streams forever), and at most `max` bytes (at most
/// `max + 1` are ever read). The error names the path, never the content.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        format!(
            "cannot read {}: {e}; check the path and its permissions",
            path.display()
        )
    };
    let not_regular = || {
        format!(
            "{} is not a regular file (a directory, FIFO, socket or device); point it at a file",
            path.display()
        )
    };
    let too_large = || {
        format!(
            "{} is larger than {max} bytes; check the path",
            path.display()
        )
    };
    let metadata = std::fs::metadata(path).map_err(cannot)?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    if metadata.len() > max {
        return Err(too_large());
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    // The path may have been replaced between the check and the open.
    if !file.metadata().map_err(cannot)?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_secret_file`] as UTF-8 text.
pub fn read_secret_text(key: &str, path: &Path) -> Result<String, ConfigError> {
    String::from_utf8(read_secret_file(key, path)?)
        .map_err(|_| ConfigError::key(key, format!("{} is not UTF-8 text", path.display())))
}

fn non_empty(name: &str, value: String) -> Result<SecretString, ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::key(name, "must not be empty"))
    } else {
        Ok(SecretString::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

#[cfg(test)]
mod secret_file_tests {
    use super::*;

    fn refused(path: &Path) -> String {
        let lookup =
            |var: &str| (var == "VODSIGN_TEST_SECRET_FILE").then(|| path.display().to_string());
        let started = std::time::Instant::now();
        let e = secret_from_lookup("VODSIGN_TEST_SECRET", &lookup)
            .expect_err("refused")
            .to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{e}");
        assert!(e.contains("VODSIGN_TEST_SECRET_FILE"), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
        e
    }

    #[test]
    fn secret_file_refuses_a_device() {
        let e = refused(Path::new("/dev/zero"));
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn secret_file_refuses_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        let e = refused(&fifo);
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn secret_file_refuses_a_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = refused(dir.path());
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn secret_file_refuses_more_than_64_kib_without_echoing_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big");
        std::fs::write(&big, "s3cr3t".repeat(100 * 1024 / 6)).expect("write");
        let e = refused(&big);
        assert!(e.contains("larger than 65536 bytes"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn secret_file_of_64_kib_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ok");
        let text = "k".repeat(64 * 1024);
        std::fs::write(&path, &text).expect("write");
        let bytes = read_secret_file("k", &path).expect("read");
        assert_eq!(bytes.len(), text.len());
    }
}
