//! The configured receivers, ready to send to: URL parsed, secret read, message types
//! resolved.

use std::str::FromStr;

use super::message::MessageType;
use super::store::Route;
use super::webhook::WebhookSecret;
use crate::config::{ConfigError, EnvLookup, WebhookSettings};

/// One receiver of webhook messages.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub url: reqwest::Url,
    pub secret: WebhookSecret,
    pub types: Vec<MessageType>,
}

impl FromStr for MessageType {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        [
            MessageType::UploadCompleted,
            MessageType::UploadProcessing,
            MessageType::UploadProcessed,
            MessageType::UploadFailed,
            MessageType::UploadDeleted,
            MessageType::Unattributed,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
        .ok_or(())
    }
}

impl Endpoint {
    /// The endpoints of validated `[webhooks]` settings, their secrets read through `env`;
    /// a missing or malformed secret is an error naming the endpoint's `secret_env`.
    pub fn all_from_settings(
        settings: &WebhookSettings,
        env: EnvLookup<'_>,
    ) -> Result<Vec<Endpoint>, ConfigError> {
        settings
            .endpoints
            .iter()
            .enumerate()
            .map(|(index, e)| {
                let key = |field: &str| format!("webhooks.endpoints[{index}].{field}");
                let url = reqwest::Url::parse(&e.url)
                    .map_err(|_| ConfigError::key(key("url"), "is not a usable URL"))?;
                let secret = WebhookSecret::from_lookup(&key("secret_env"), &e.secret_env, env)?;
                let types = e
                    .events
                    .iter()
                    .map(|t| {
                        t.parse().map_err(|()| {
                            ConfigError::key(key("events"), format!("{t:?} is not a message type"))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Endpoint {
                    name: e.name.clone(),
                    url,
                    secret,
                    types,
                })
            })
            .collect()
    }

    /// Which message types this endpoint is sent, for [`crate::events::EventStore::ingest`].
    pub fn route(&self) -> Route {
        Route {
            endpoint: self.name.clone(),
            types: self.types.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    const TOML: &str = "[policies.default]\nvalidity_seconds = 60\n\
        [[webhooks.endpoints]]\nname = \"app\"\nurl = \"https://app.example/hooks\"\n\
        secret_env = \"APP_HOOK_SECRET\"\n\
        [[webhooks.endpoints]]\nname = \"crm\"\nurl = \"http://10.0.0.7:8080/vod\"\n\
        secret_env = \"CRM_HOOK_SECRET\"\nevents = [\"upload.deleted\"]\n";

    #[test]
    fn endpoints_are_built_from_the_settings_and_their_secrets() {
        let settings = Settings::from_toml_str(TOML).expect("valid");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("crm");
        std::fs::write(&file, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\n").expect("write");
        let path = file.display().to_string();
        let env = move |var: &str| match var {
            "APP_HOOK_SECRET" => Some("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned()),
            "CRM_HOOK_SECRET_FILE" => Some(path.clone()),
            _ => None,
        };
        let endpoints = Endpoint::all_from_settings(&settings.webhooks, &env).expect("built");
        assert_eq!(endpoints.len(), 2);
        assert_eq!(endpoints[0].types.len(), 6, "all types by default");
        assert_eq!(endpoints[1].route().types, [MessageType::UploadDeleted]);
        assert_eq!(endpoints[1].url.as_str(), "http://10.0.0.7:8080/vod");
        let debug = format!("{endpoints:?}");
        assert!(!debug.contains("C2FVsBQ"), "{debug}");
    }

    #[test]
    fn a_missing_or_short_secret_names_the_endpoint_and_never_the_secret() {
        let settings = Settings::from_toml_str(TOML).expect("valid");
        let env =
            |var: &str| (var == "APP_HOOK_SECRET").then(|| "whsec_c2hvcnQtcGFzdGVk".to_owned());
        let e = Endpoint::all_from_settings(&settings.webhooks, &env)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("webhooks.endpoints[0].secret_env"), "{e}");
        assert!(!e.contains("c2hvcnQtcGFzdGVk"), "{e}");
        let only_app = |var: &str| {
            (var == "APP_HOOK_SECRET").then(|| "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned())
        };
        let e = Endpoint::all_from_settings(&settings.webhooks, &only_app)
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("webhooks.endpoints[1].secret_env") && e.contains("CRM_HOOK_SECRET"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_webhooks_table_stops_loading_with_its_key() {
        let e = Settings::from_toml_str(
            "[policies.default]\nvalidity_seconds = 60\n[webhooks]\nretry_schedule_secs = [0]\n",
        )
        .expect_err("refused")
        .to_string();
        assert!(e.contains("webhooks.retry_schedule_secs"), "{e}");
        let e = Settings::from_toml_str(
            "[policies.default]\nvalidity_seconds = 60\n[webhooks]\ntimeout = 5\n",
        )
        .expect_err("refused")
        .to_string();
        assert!(e.contains("timeout"), "{e}");
    }
}
