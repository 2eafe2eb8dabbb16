//! Named VOD credentials: several SecretId/SecretKey pairs, each with a name, so policies can
//! sign for different VOD accounts (or tenants) and a key can be rotated without a restart.
//!
//! The file only names a credential (`[credentials.NAME]`, [`CredentialSettings`]) and may
//! say where its secrets are kept (file paths, which are not secret). The secrets come from
//! `VODSIGN_CREDENTIAL_<NAME>_SECRET_ID` / `_SECRET_KEY`, their `_FILE` variants, or the files
//! the table names; the credential `default` reads `VODSIGN_SECRET_ID` /
//! `VODSIGN_SECRET_KEY`. Everything here is read again on every reload (SIGHUP), so a
//! rotated secret file takes effect then. `Debug` never shows a key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::config::{
    ConfigError, CredentialSettings, DEFAULT_CREDENTIAL, Settings, read_secret_text,
    secret_from_env, variable_stem,
};
use crate::signature::{SecretId, Signer};

/// The SecretId/SecretKey pair signatures are made with.
pub struct VodCredentials {
    pub secret_id: SecretId,
    pub secret_key: SecretString,
    /// True for the built-in development placeholders, which VOD refuses.
    pub placeholder: bool,
}

impl std::fmt::Debug for VodCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VodCredentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"[REDACTED]")
            .field("placeholder", &self.placeholder)
            .finish()
    }
}

/// SecretId of the development placeholder credentials.
pub const PLACEHOLDER_SECRET_ID: &str = "AKIDvodsignDEVELOPMENTplaceholder";
/// Its SecretKey: public (it is in this source), so `inspect` can recognise its MAC.
pub(crate) const PLACEHOLDER_SECRET_KEY: &str = "vodsign-development-placeholder-key";

impl VodCredentials {
    /// Reads `VODSIGN_SECRET_ID` / `VODSIGN_SECRET_KEY` (or their `_FILE` variants). When
    /// both are absent and `allow_placeholder` is set, returns the development placeholders.
    pub fn from_env(allow_placeholder: bool) -> Result<Self, ConfigError> {
        let id = secret_from_env("VODSIGN_SECRET_ID")?;
        let key = secret_from_env("VODSIGN_SECRET_KEY")?;
        match (id, key) {
            (Some(id), Some(key)) => Ok(Self {
                secret_id: SecretId::try_from(id.expose_secret())
                    .map_err(|e| ConfigError::key("VODSIGN_SECRET_ID", e.rule))?,
                secret_key: key,
                placeholder: false,
            }),
            (None, None) if allow_placeholder => Ok(Self::placeholder()),
            (None, None) => Err(ConfigError::key(
                "VODSIGN_SECRET_ID/VODSIGN_SECRET_KEY",
                "are not set; set them (or their _FILE variants) to the VOD API key, or set \
                 vod.development_placeholder_credentials = true for local development",
            )),
            (Some(_), None) => Err(ConfigError::key(
                "VODSIGN_SECRET_KEY",
                "is not set, but VODSIGN_SECRET_ID is; set both",
            )),
            (None, Some(_)) => Err(ConfigError::key(
                "VODSIGN_SECRET_ID",
                "is not set, but VODSIGN_SECRET_KEY is; set both",
            )),
        }
    }

    pub fn placeholder() -> Self {
        Self {
            secret_id: SecretId::try_from(PLACEHOLDER_SECRET_ID).expect("constant is valid"),
            secret_key: SecretString::from(PLACEHOLDER_SECRET_KEY),
            placeholder: true,
        }
    }
}

/// One loaded credential, ready to sign: the SecretId and a signer keyed with the SecretKey.
pub struct SigningKey {
    name: String,
    secret_id: SecretId,
    signer: Signer,
    placeholder: bool,
}

impl SigningKey {
    fn new(name: &str, credentials: VodCredentials) -> Self {
        Self {
            name: name.to_owned(),
            signer: Signer::new(credentials.secret_key.expose_secret().as_bytes()),
            secret_id: credentials.secret_id,
            placeholder: credentials.placeholder,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn secret_id(&self) -> &SecretId {
        &self.secret_id
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// True for the built-in development placeholders, which VOD refuses.
    pub fn is_placeholder(&self) -> bool {
        self.placeholder
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("secret_id", &self.secret_id)
            .field("signer", &self.signer)
            .field("placeholder", &self.placeholder)
            .finish()
    }
}

/// Every loaded credential, by name.
#[derive(Debug, Default)]
pub struct Credentials {
    by_name: BTreeMap<String, SigningKey>,
}

/// A single pair is the credential `default` (what tests and older callers pass).
impl From<VodCredentials> for Credentials {
    fn from(credentials: VodCredentials) -> Self {
        Self::default().with(DEFAULT_CREDENTIAL, credentials)
    }
}

impl Credentials {
    /// Adds (or replaces) credential `name`.
    pub fn with(mut self, name: &str, credentials: VodCredentials) -> Self {
        self.by_name
            .insert(name.to_owned(), SigningKey::new(name, credentials));
        self
    }

    pub fn get(&self, name: &str) -> Option<&SigningKey> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &SigningKey> {
        self.by_name.values()
    }

    /// Loads every credential `settings` declares, plus `default` when a policy uses it or
    /// its variables are set. Missing secrets are refused naming the variables to set,
    /// unless `vod.development_placeholder_credentials` allows placeholders.
    pub fn from_env(settings: &Settings) -> Result<Self, ConfigError> {
        let allow_placeholder = settings.vod.development_placeholder_credentials;
        let used: BTreeSet<&str> = settings
            .policies
            .values()
            .map(|p| p.credential.as_str())
            .collect();
        let mut out = Self::default();
        for (name, table) in &settings.credentials {
            out = out.with(name, load_one(name, table, allow_placeholder)?);
        }
        if !settings.credentials.contains_key(DEFAULT_CREDENTIAL) {
            let default_set = ["VODSIGN_SECRET_ID", "VODSIGN_SECRET_KEY"].iter().any(|v| {
                std::env::var_os(v).is_some() || std::env::var_os(format!("{v}_FILE")).is_some()
            });
            if used.contains(DEFAULT_CREDENTIAL) || default_set {
                out = out.with(
                    DEFAULT_CREDENTIAL,
                    VodCredentials::from_env(allow_placeholder)?,
                );
            }
        }
        Ok(out)
    }
}

/// Loads the one credential `name` for the VOD API (setting `key` names it): from its
/// `[credentials.NAME]` table, or `VODSIGN_SECRET_ID`/`_KEY` for `default`. Never the
/// development placeholders: the VOD API refuses them.
pub fn load_named(
    settings: &Settings,
    key: &str,
    name: &str,
) -> Result<VodCredentials, ConfigError> {
    match settings.credentials.get(name) {
        Some(table) => load_one(name, table, false),
        None if name == DEFAULT_CREDENTIAL => VodCredentials::from_env(false),
        None => Err(ConfigError::key(
            key,
            format!(
                "names credential {name:?}, which is not configured; add a [credentials.{name}] \
                 table and set {stem}_ID and {stem}_KEY (or their _FILE variants)",
                stem = variable_stem(name)
            ),
        )),
    }
}

/// Policy name -> credential name, refusing a policy that names a credential not loaded.
pub fn assign(
    settings: &Settings,
    credentials: &Credentials,
) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    let mut out = std::collections::HashMap::new();
    for (policy, s) in &settings.policies {
        if credentials.get(&s.credential).is_none() {
            let known: Vec<&str> = credentials.names().collect();
            let stem = variable_stem(&s.credential);
            return Err(ConfigError::key(
                format!("policies.{policy}.credential"),
                format!(
                    "names credential {:?}, which is not configured; add a [credentials.{}] \
                     table and set {stem}_ID and {stem}_KEY (or their _FILE variants), or name \
                     one of: {}",
                    s.credential,
                    s.credential,
                    if known.is_empty() {
                        "(none loaded)".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        out.insert(policy.clone(), s.credential.clone());
    }
    Ok(out)
}

/// Reads one part (`ID` or `KEY`) from the environment or from the table's file.
fn part(
    name: &str,
    variable: &str,
    file_key: &str,
    file: Option<&Path>,
) -> Result<Option<SecretString>, ConfigError> {
    let from_env = secret_from_env(variable)?;
    match (from_env, file) {
        (Some(_), Some(_)) => Err(ConfigError::key(
            format!("credentials.{name}.{file_key}"),
            format!("{variable} (or {variable}_FILE) is set too; keep one source"),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => {
            let text = read_secret_text(&format!("credentials.{name}.{file_key}"), path)?;
            let value = text.trim_end_matches(['\n', '\r']);
            if value.trim().is_empty() {
                return Err(ConfigError::key(
                    format!("credentials.{name}.{file_key}"),
                    format!("{} is empty; write the secret into it", path.display()),
                ));
            }
            Ok(Some(SecretString::from(value.to_owned())))
        }
        (None, None) => Ok(None),
    }
}

fn load_one(
    name: &str,
    table: &CredentialSettings,
    allow_placeholder: bool,
) -> Result<VodCredentials, ConfigError> {
    let stem = variable_stem(name);
    let id_var = format!("{stem}_ID");
    let key_var = format!("{stem}_KEY");
    let id = part(
        name,
        &id_var,
        "secret_id_file",
        table.secret_id_file.as_deref(),
    )?;
    let key = part(
        name,
        &key_var,
        "secret_key_file",
        table.secret_key_file.as_deref(),
    )?;
    match (id, key) {
        (Some(id), Some(key)) => Ok(VodCredentials {
            secret_id: SecretId::try_from(id.expose_secret()).map_err(|e| {
                ConfigError::key(format!("credentials.{name}: the SecretId"), e.rule)
            })?,
            secret_key: key,
            placeholder: false,
        }),
        (None, None) if allow_placeholder => Ok(VodCredentials::placeholder()),
        (id, _) => {
            let missing = if id.is_none() { &id_var } else { &key_var };
            Err(ConfigError::key(
                format!("credentials.{name}"),
                format!(
                    "{missing} is not set; set it (or {missing}_FILE, or secret_{}_file in the table)",
                    if id.is_none() { "id" } else { "key" }
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_key() {
        let debug = format!("{:?}", VodCredentials::placeholder());
        assert!(!debug.contains(PLACEHOLDER_SECRET_KEY), "{debug}");
        assert!(debug.contains("REDACTED"));
    }

    #[test]
    fn debug_hides_every_key() {
        let credentials = Credentials::from(VodCredentials::placeholder()).with(
            "next",
            VodCredentials {
                secret_id: SecretId::try_from("AKIDnext").expect("valid"),
                secret_key: SecretString::from("next-very-secret-key"),
                placeholder: false,
            },
        );
        let debug = format!("{credentials:?}");
        assert!(
            debug.contains("AKIDnext") && debug.contains("next"),
            "{debug}"
        );
        assert!(!debug.contains("next-very-secret-key"), "{debug}");
    }

    #[test]
    fn table_files_are_read_and_both_sources_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = dir.path().join("id");
        let key = dir.path().join("key");
        std::fs::write(&id, "AKIDfromfile\n").expect("write");
        std::fs::write(&key, "key-from-file\n").expect("write");
        let table = CredentialSettings {
            description: None,
            secret_id_file: Some(id),
            secret_key_file: Some(key),
        };
        let loaded = load_one("file-only-test", &table, false).expect("loads");
        assert_eq!(loaded.secret_id.as_str(), "AKIDfromfile");
        assert_eq!(loaded.secret_key.expose_secret(), "key-from-file");
        let missing = load_one("file-only-test", &CredentialSettings::default(), false)
            .expect_err("no secret anywhere");
        assert!(
            missing
                .to_string()
                .contains("VODSIGN_CREDENTIAL_FILE_ONLY_TEST_SECRET_ID"),
            "{missing}"
        );
    }
}
