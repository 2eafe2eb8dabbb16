//! `[webhooks]`: where the event relay (`crate::events`) sends its signed messages, how long
//! one attempt may take, and when a failed message is tried again.
//!
//! Each `[[webhooks.endpoints]]` table names a receiver, its URL, the environment variable
//! holding its `whsec_…` secret (or `<VAR>_FILE`), and the message types it wants. The
//! secret itself is never a setting; it is read where the endpoints are built.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Every message type the relay sends, in the order the docs list them.
pub const WEBHOOK_EVENT_TYPES: [&str; 6] = [
    "upload.completed",
    "upload.processing",
    "upload.processed",
    "upload.failed",
    "upload.deleted",
    "vod.unattributed",
];

/// The default retry schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about a day).
pub const DEFAULT_RETRY_SCHEDULE_SECS: [u64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// Longest delay before one retry: a week.
const MAX_RETRY_DELAY_SECS: u64 = 7 * 86_400;

/// Most retries a schedule may list.
const MAX_RETRIES: usize = 30;

/// Shortest `retention_days`: VOD redelivers an unconfirmed event for up to 4 days, and an
/// event's deduplication key must outlive every redelivery of it.
pub const MIN_RETENTION_DAYS: u32 = 4;

/// Longest retention of either kind: ten years.
const MAX_RETENTION_DAYS: u32 = 3650;

/// The `[webhooks]` table. Every key is optional; without endpoints nothing is sent.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Longest one delivery attempt may take, connecting included, in milliseconds.
    /// Default `15000`; from 100 to 120000.
    pub timeout_ms: u64,
    /// Seconds before each retry of a failed message: the first attempt is immediate and
    /// each entry is one more attempt, so `[5, 300]` means three attempts in all, after
    /// which the message is dead-lettered (kept for replay). Each delay gets up to ±10 %
    /// jitter. Default `[5, 300, 1800, 7200, 18000, 36000, 36000]`.
    pub retry_schedule_secs: Vec<u64>,
    /// Days a delivered message and a received event (its deduplication key) are kept,
    /// counted from delivery and from receipt; older ones are purged in batches by the
    /// store's sweeper. Default `7`; at least 4 (VOD's redelivery window) and at most 3650.
    pub retention_days: u32,
    /// Days a dead-lettered message is kept for replay, counted from its last attempt.
    /// Default `30`; at least `retention_days`. A replay makes it pending again, and pending
    /// messages are never purged.
    pub dead_letter_retention_days: u32,
    /// The receivers: `[[webhooks.endpoints]]` tables.
    pub endpoints: Vec<EndpointSettings>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            timeout_ms: 15_000,
            retry_schedule_secs: DEFAULT_RETRY_SCHEDULE_SECS.to_vec(),
            retention_days: 7,
            dead_letter_retention_days: 30,
            endpoints: Vec::new(),
        }
    }
}

/// One `[[webhooks.endpoints]]` table.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    /// The endpoint's name in logs, metrics and the admin listing: letters, digits, `-`
    /// and `_`, at most 64 characters, unique.
    pub name: String,
    /// `https://…` (or `http://…`, for a receiver on a private network or loopback).
    pub url: String,
    /// The environment variable holding the endpoint's `whsec_…` secret, or `<VAR>_FILE`
    /// naming a file that holds it.
    pub secret_env: String,
    /// The message types it receives. Default: all of [`WEBHOOK_EVENT_TYPES`].
    #[serde(default = "all_event_types")]
    pub events: Vec<String>,
}

fn all_event_types() -> Vec<String> {
    WEBHOOK_EVENT_TYPES
        .iter()
        .map(|t| (*t).to_owned())
        .collect()
}

impl WebhookSettings {
    /// Checks every value; the error names the first offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err(ConfigError::key(
                "webhooks.timeout_ms",
                "must be from 100 to 120000 (the Standard Webhooks advice is 15 to 30 s)",
            ));
        }
        if self.retry_schedule_secs.len() > MAX_RETRIES {
            return Err(ConfigError::key(
                "webhooks.retry_schedule_secs",
                format!("may list at most {MAX_RETRIES} retries"),
            ));
        }
        if self
            .retry_schedule_secs
            .iter()
            .any(|d| !(1..=MAX_RETRY_DELAY_SECS).contains(d))
        {
            return Err(ConfigError::key(
                "webhooks.retry_schedule_secs",
                format!("each delay must be from 1 to {MAX_RETRY_DELAY_SECS} seconds (a week)"),
            ));
        }
        if !(MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&self.retention_days) {
            return Err(ConfigError::key(
                "webhooks.retention_days",
                format!(
                    "must be from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}: VOD redelivers \
                     an event for up to 4 days, and its deduplication key must be kept longer"
                ),
            ));
        }
        if !(self.retention_days..=MAX_RETENTION_DAYS).contains(&self.dead_letter_retention_days) {
            return Err(ConfigError::key(
                "webhooks.dead_letter_retention_days",
                format!(
                    "must be from webhooks.retention_days ({}) to {MAX_RETENTION_DAYS}",
                    self.retention_days
                ),
            ));
        }
        let mut names = BTreeSet::new();
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            let key = |field: &str| format!("webhooks.endpoints[{index}].{field}");
            endpoint.validate(&key)?;
            if !names.insert(endpoint.name.as_str()) {
                return Err(ConfigError::key(
                    key("name"),
                    format!(
                        "{:?} names another endpoint too; names must be unique",
                        endpoint.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl EndpointSettings {
    fn validate(&self, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(ConfigError::key(
                key("name"),
                "must be 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        let url_ok = self
            .url
            .parse::<http::Uri>()
            .ok()
            .filter(|uri| matches!(uri.scheme_str(), Some("http" | "https")))
            .is_some_and(|uri| uri.host().is_some_and(|h| !h.is_empty()));
        if !url_ok {
            return Err(ConfigError::key(
                key("url"),
                "must be an absolute http:// or https:// URL with a host",
            ));
        }
        let env_ok = !self.secret_env.is_empty()
            && self
                .secret_env
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !env_ok {
            return Err(ConfigError::key(
                key("secret_env"),
                "must name an environment variable (letters, digits and '_') holding a whsec_ secret",
            ));
        }
        if self.events.is_empty() {
            return Err(ConfigError::key(
                key("events"),
                "must list at least one message type (leave it out for all of them)",
            ));
        }
        if let Some(unknown) = self
            .events
            .iter()
            .find(|t| !WEBHOOK_EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(ConfigError::key(
                key("events"),
                format!(
                    "{unknown:?} is not a message type; expected some of {}",
                    WEBHOOK_EVENT_TYPES.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(name: &str) -> EndpointSettings {
        EndpointSettings {
            name: name.into(),
            url: "https://app.example/hooks/vod".into(),
            secret_env: "APP_WEBHOOK_SECRET".into(),
            events: all_event_types(),
        }
    }

    fn refused(settings: &WebhookSettings) -> String {
        settings.validate().expect_err("refused").to_string()
    }

    #[test]
    fn defaults_are_valid_and_follow_the_standard_webhooks_advice() {
        let settings = WebhookSettings::default();
        settings.validate().expect("valid");
        assert_eq!(settings.timeout_ms, 15_000);
        assert_eq!(
            settings.retry_schedule_secs,
            [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
        );
    }

    #[test]
    fn retention_covers_vods_redelivery_window_and_dead_letters_outlive_it() {
        let defaults = WebhookSettings::default();
        assert_eq!(
            (defaults.retention_days, defaults.dead_letter_retention_days),
            (7, 30)
        );
        let mut s = WebhookSettings {
            retention_days: 3,
            ..WebhookSettings::default()
        };
        let e = refused(&s);
        assert!(
            e.contains("webhooks.retention_days") && e.contains("4 days"),
            "{e}"
        );
        s.retention_days = MIN_RETENTION_DAYS;
        s.dead_letter_retention_days = MIN_RETENTION_DAYS;
        s.validate().expect("four days each is enough");
        s.retention_days = 10;
        s.dead_letter_retention_days = 9;
        assert!(refused(&s).contains("webhooks.dead_letter_retention_days"));
        s.dead_letter_retention_days = 3651;
        assert!(refused(&s).contains("webhooks.dead_letter_retention_days"));
        s.retention_days = 3651;
        assert!(refused(&s).contains("webhooks.retention_days"));
    }

    #[test]
    fn events_default_to_all_types() {
        let toml = "name = \"app\"\nurl = \"https://a.example/\"\nsecret_env = \"S\"\n";
        let parsed: EndpointSettings = toml::from_str(toml).expect("parses");
        assert_eq!(parsed.events, WEBHOOK_EVENT_TYPES);
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut s = WebhookSettings {
            timeout_ms: 0,
            ..WebhookSettings::default()
        };
        assert!(refused(&s).contains("webhooks.timeout_ms"));
        s.timeout_ms = 1000;
        s.retry_schedule_secs = vec![5, 0];
        assert!(refused(&s).contains("webhooks.retry_schedule_secs"));
        s.retry_schedule_secs = vec![5];
        s.endpoints = vec![endpoint("app"), endpoint("app")];
        let e = refused(&s);
        assert!(
            e.contains("webhooks.endpoints[1].name") && e.contains("unique"),
            "{e}"
        );
        s.endpoints = vec![endpoint("app one")];
        assert!(refused(&s).contains("webhooks.endpoints[0].name"));
        for url in ["ftp://x/", "/relative", "https://", "not a url"] {
            let mut bad = endpoint("app");
            bad.url = url.into();
            s.endpoints = vec![bad];
            assert!(refused(&s).contains("webhooks.endpoints[0].url"), "{url}");
        }
        let mut bad = endpoint("app");
        bad.secret_env = "whsec_pasted+secret/=".into();
        s.endpoints = vec![bad];
        let e = refused(&s);
        assert!(e.contains("secret_env") && !e.contains("pasted"), "{e}");
        let mut bad = endpoint("app");
        bad.events = vec!["upload.done".into()];
        s.endpoints = vec![bad];
        assert!(refused(&s).contains("upload.done"));
        let mut bad = endpoint("app");
        bad.events = vec![];
        s.endpoints = vec![bad];
        assert!(refused(&s).contains("events"));
        s.endpoints = vec![endpoint("app"), endpoint("crm_2")];
        s.validate().expect("valid");
    }
}
