//! The VOD API client of the event queue: `PullEvents`, `ConfirmEvents`,
//! `DescribeEventConfig`, `ModifyEventConfig` and `DescribeEventsState`, each a signed
//! `POST` (see [`super::tc3`]) with typed answers and typed errors.
//!
//! VOD answers HTTP 200 even when it refuses a call, with
//! `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`: that becomes
//! [`VodApiError::Api`], keeping all three. A call that gets no answer in time is
//! [`VodApiError::Timeout`], one that cannot reach VOD [`VodApiError::Transport`], an answer
//! that is not VOD's envelope [`VodApiError::Malformed`]. The SecretKey is kept in a
//! [`SecretString`] and appears in no `Debug` output, log line or error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Map, Value};

use super::tc3::{self, SignedRequest};
use crate::config::{ConfigError, EventSettings, Settings};
use crate::credentials::{VodCredentials, load_named};

/// `X-TC-Version` of every VOD API call.
pub const API_VERSION: &str = "2018-07-17";
/// The service name in the TC3 credential scope.
pub const SERVICE: &str = "vod";
/// The most event handles one `ConfirmEvents` call takes (and events one `PullEvents` call
/// returns).
pub const MAX_HANDLES_PER_CONFIRM: usize = 16;
/// The `Content-Type` every call is sent (and signed) with.
const CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// Timeout of the calls that are not long polls.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of connecting to the VOD API.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read from the VOD API: 16 events of a few kilobytes each, with room.
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// A signed client of the VOD API for one credential and one (sub-)application.
pub struct VodApi {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    secret_id: String,
    secret_key: SecretString,
    region: Option<String>,
    sub_app_id: Option<u64>,
    pull_timeout: Duration,
}

impl std::fmt::Debug for VodApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VodApi")
            .field("endpoint", &self.url.as_str())
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"[REDACTED]")
            .field("region", &self.region)
            .field("sub_app_id", &self.sub_app_id)
            .field("pull_timeout", &self.pull_timeout)
            .finish()
    }
}

/// Why a VOD API call failed. Never carries the SecretKey.
#[derive(Debug, thiserror::Error)]
pub enum VodApiError {
    /// VOD refused the call: its error code and message, and the request id to quote to
    /// Tencent's support.
    #[error("VOD API {action} refused: {code}: {message} (RequestId {request_id})")]
    Api {
        action: &'static str,
        code: String,
        message: String,
        request_id: String,
    },
    /// No complete answer within the call's timeout.
    #[error("VOD API {action}: no answer within {} ms", after.as_millis())]
    Timeout {
        action: &'static str,
        after: Duration,
    },
    /// The VOD API could not be reached (connection, TLS, or the answer broke off).
    #[error("VOD API {action}: cannot reach {endpoint}: {reason}")]
    Transport {
        action: &'static str,
        endpoint: String,
        reason: String,
    },
    /// An answer that is not VOD's envelope, or not the shape of the action's answer.
    #[error("VOD API {action}: unexpected answer: {detail}")]
    Malformed {
        action: &'static str,
        detail: String,
    },
}

impl VodApiError {
    /// VOD's error code, for [`VodApiError::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// VOD's request id, for [`VodApiError::Api`].
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { request_id, .. } => Some(request_id),
            _ => None,
        }
    }

    /// True when `ConfirmEvents` was refused with a parameter error: what VOD answers (its
    /// "4000") for a handle past its 30 s, whose event it delivers again with a new handle.
    pub fn is_stale_handle(&self) -> bool {
        matches!(self, Self::Api { action: "ConfirmEvents", code, .. }
            if code.starts_with("InvalidParameter"))
    }
}

/// One event taken from the queue.
#[derive(Clone, Debug, PartialEq)]
pub struct PulledEvent {
    /// `EventHandle`: confirms this delivery (valid 30 s).
    pub handle: String,
    /// `EventType`, e.g. `NewFileUpload`.
    pub event_type: String,
    /// The whole event object as VOD sent it, its handle included.
    pub raw: Value,
}

impl PulledEvent {
    /// The event without its `EventHandle`: the same for every delivery of one event.
    pub fn content(&self) -> Value {
        let mut content = self.raw.clone();
        if let Some(object) = content.as_object_mut() {
            object.remove("EventHandle");
        }
        content
    }
}

/// The answer of `PullEvents`.
#[derive(Clone, Debug)]
pub struct PulledEvents {
    /// At most [`MAX_HANDLES_PER_CONFIRM`]; empty when the long poll ended without events.
    pub events: Vec<PulledEvent>,
    pub request_id: String,
}

/// The answer of `DescribeEventConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventConfig {
    /// `PUSH` (VOD posts to `notification_url`) or `PULL` (the reliable queue).
    pub mode: String,
    pub notification_url: String,
    /// `ON` or `OFF`: whether `NewFileUpload` events are produced.
    pub upload_media_complete_event_switch: String,
    /// `ON` or `OFF`: whether `FileDeleted` events are produced.
    pub delete_media_complete_event_switch: String,
    pub request_id: String,
}

/// The parameters of `ModifyEventConfig`: what to change; `None` leaves it as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventConfigChange {
    pub mode: Option<String>,
    pub notification_url: Option<String>,
    pub upload_media_complete_event_switch: Option<String>,
    pub delete_media_complete_event_switch: Option<String>,
}

impl EventConfigChange {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.params().is_empty()
    }

    fn params(&self) -> Map<String, Value> {
        [
            ("Mode", &self.mode),
            ("NotificationUrl", &self.notification_url),
            (
                "UploadMediaCompleteEventSwitch",
                &self.upload_media_complete_event_switch,
            ),
            (
                "DeleteMediaCompleteEventSwitch",
                &self.delete_media_complete_event_switch,
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), Value::from(value.as_deref()?))))
        .collect()
    }
}

/// The answer of `DescribeEventsState`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventsState {
    /// Events waiting to be pulled: approximate, seconds stale.
    pub count_of_events_to_pull: u64,
    pub request_id: String,
}

impl VodApi {
    /// A client for `[events]` signing with `credentials`.
    pub fn new(settings: &EventSettings, credentials: VodCredentials) -> Result<Self, ConfigError> {
        let url = reqwest::Url::parse(&settings.api_endpoint)
            .map_err(|e| ConfigError::key("events.api_endpoint", format!("is not a URL: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(ConfigError::key("events.api_endpoint", "has no host")),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Load(format!("cannot build the VOD API client: {e}")))?;
        Ok(Self {
            http,
            url,
            host,
            secret_id: credentials.secret_id.as_str().to_owned(),
            secret_key: credentials.secret_key,
            region: settings.region.clone(),
            sub_app_id: settings.sub_app_id,
            pull_timeout: settings.pull_timeout(),
        })
    }

    /// A client for the settings' `[events]`, with the credential `events.credential` names.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let credentials = load_named(settings, "events.credential", &settings.events.credential)?;
        Self::new(&settings.events, credentials)
    }

    /// The endpoint calls go to.
    pub fn endpoint(&self) -> &str {
        self.url.as_str()
    }

    /// `PullEvents`: a long poll that VOD answers at once when events wait, or after up to
    /// about 5 s with none. At most 16 events, each to be confirmed within 30 s.
    pub async fn pull_events(&self) -> Result<PulledEvents, VodApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            #[serde(default)]
            event_set: Option<Vec<Value>>,
            #[serde(default)]
            request_id: String,
        }
        const ACTION: &str = "PullEvents";
        let answer: Answer = self.call(ACTION, Map::new(), self.pull_timeout).await?;
        let events = answer
            .event_set
            .unwrap_or_default()
            .into_iter()
            .map(|raw| {
                let text = |field: &str| raw.get(field).and_then(Value::as_str).map(str::to_owned);
                match (text("EventHandle"), text("EventType")) {
                    (Some(handle), Some(event_type)) if !handle.is_empty() => Ok(PulledEvent {
                        handle,
                        event_type,
                        raw,
                    }),
                    _ => Err(VodApiError::Malformed {
                        action: ACTION,
                        detail: "an event without an EventHandle or an EventType".into(),
                    }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PulledEvents {
            events,
            request_id: answer.request_id,
        })
    }

    /// `ConfirmEvents`, in calls of at most 16 handles. On an error, the calls before it
    /// have confirmed their handles; the rest are unconfirmed (VOD delivers them again).
    pub async fn confirm_events(&self, handles: &[String]) -> Result<(), VodApiError> {
        for chunk in handles.chunks(MAX_HANDLES_PER_CONFIRM) {
            let mut params = Map::new();
            params.insert("EventHandles".into(), Value::from(chunk.to_vec()));
            let _: IgnoredAny = self.call("ConfirmEvents", params, CALL_TIMEOUT).await?;
        }
        Ok(())
    }

    /// `DescribeEventConfig`: the mode and the event switches.
    pub async fn describe_event_config(&self) -> Result<EventConfig, VodApiError> {
        self.call("DescribeEventConfig", Map::new(), CALL_TIMEOUT)
            .await
    }

    /// `ModifyEventConfig` with what `change` sets.
    pub async fn modify_event_config(&self, change: &EventConfigChange) -> Result<(), VodApiError> {
        let _: IgnoredAny = self
            .call("ModifyEventConfig", change.params(), CALL_TIMEOUT)
            .await?;
        Ok(())
    }

    /// `DescribeEventsState`: how many events wait (approximate).
    pub async fn describe_events_state(&self) -> Result<EventsState, VodApiError> {
        self.call("DescribeEventsState", Map::new(), CALL_TIMEOUT)
            .await
    }

    /// One signed call: the body is `params` plus `SubAppId` when configured.
    async fn call<T: DeserializeOwned>(
        &self,
        action: &'static str,
        mut params: Map<String, Value>,
        timeout: Duration,
    ) -> Result<T, VodApiError> {
        if let Some(id) = self.sub_app_id {
            params.insert("SubAppId".into(), Value::from(id));
        }
        let body = Value::Object(params).to_string().into_bytes();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let authorization = tc3::authorization(
            &self.secret_id,
            self.secret_key.expose_secret().as_bytes(),
            &SignedRequest {
                service: SERVICE,
                host: &self.host,
                content_type: CONTENT_TYPE,
                payload: &body,
                timestamp,
            },
        );
        let mut request = self
            .http
            .post(self.url.clone())
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header("X-TC-Action", action)
            .header("X-TC-Version", API_VERSION)
            .header("X-TC-Timestamp", timestamp.to_string());
        if let Some(region) = &self.region {
            request = request.header("X-TC-Region", region);
        }
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                VodApiError::Timeout {
                    action,
                    after: timeout,
                }
            } else {
                VodApiError::Transport {
                    action,
                    endpoint: self.url.as_str().to_owned(),
                    reason: error_chain(&e),
                }
            }
        };
        let response = request.body(body).send().await.map_err(failed)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(failed)?;
        let malformed = |detail: String| VodApiError::Malformed { action, detail };
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(malformed(format!(
                "{} bytes, more than expected",
                bytes.len()
            )));
        }
        let envelope: Value = serde_json::from_slice(&bytes)
            .map_err(|_| malformed(format!("HTTP {status} with a body that is not JSON")))?;
        let Some(Value::Object(mut answer)) = envelope.get("Response").cloned() else {
            return Err(malformed(format!(
                "HTTP {status} without a Response object"
            )));
        };
        let request_id = answer
            .get("RequestId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(error) = answer.remove("Error") {
            let field = |name: &str| {
                error
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            tracing::debug!(
                action,
                request_id,
                code = field("Code"),
                "VOD API refused a call"
            );
            return Err(VodApiError::Api {
                action,
                code: field("Code"),
                message: field("Message"),
                request_id,
            });
        }
        tracing::debug!(action, request_id, "VOD API call answered");
        serde_json::from_value(Value::Object(answer))
            .map_err(|e| malformed(format!("not the shape of a {action} answer: {e}")))
    }
}

/// An error and its causes, one line ("connection refused" sits a few sources down).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::SecretId;

    #[test]
    fn debug_shows_the_secret_id_never_the_key() {
        let api = VodApi::new(
            &EventSettings::default(),
            VodCredentials {
                secret_id: SecretId::try_from("AKIDdebugtest").expect("valid"),
                secret_key: SecretString::from("vodapi-debug-secret-key"),
                placeholder: false,
            },
        )
        .expect("builds");
        let debug = format!("{api:?}");
        assert!(debug.contains("AKIDdebugtest"), "{debug}");
        assert!(!debug.contains("vodapi-debug-secret-key"), "{debug}");
        assert_eq!(api.host, "vod.tencentcloudapi.com");
    }

    #[test]
    fn the_signed_host_keeps_a_port_that_is_not_the_schemes() {
        let settings = EventSettings {
            api_endpoint: "http://127.0.0.1:8099".into(),
            ..EventSettings::default()
        };
        let api = VodApi::new(&settings, VodCredentials::placeholder()).expect("builds");
        assert_eq!(api.host, "127.0.0.1:8099");
    }

    #[test]
    fn only_a_refused_confirmation_is_a_stale_handle() {
        let refused = |action, code: &str| VodApiError::Api {
            action,
            code: code.into(),
            message: String::new(),
            request_id: String::new(),
        };
        assert!(refused("ConfirmEvents", "InvalidParameterValue").is_stale_handle());
        assert!(!refused("ConfirmEvents", "AuthFailure.SignatureFailure").is_stale_handle());
        assert!(!refused("PullEvents", "InvalidParameterValue").is_stale_handle());
    }
}
