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
