//! What `vodsign events setup` and `vodsign events status` do with the VOD API: put the
//! account's event configuration where the relay needs it, and report it with the backlog.

use super::client::{EventConfig, EventConfigChange, EventsState, VodApi, VodApiError};

/// The mode the relay reads events in: VOD's reliable queue.
pub const PULL_MODE: &str = "PULL";
/// A switch turned on.
pub const ON: &str = "ON";

/// One setting `setup` changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// The VOD API's name of the setting.
    pub setting: &'static str,
    pub from: String,
    pub to: String,
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = if self.from.is_empty() {
            "(unset)"
        } else {
            &self.from
        };
        write!(f, "{}: {from} -> {}", self.setting, self.to)
    }
}

/// Why `setup` could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Api(#[from] VodApiError),
    /// VOD accepted the change but reads back something else.
    #[error("VOD accepted ModifyEventConfig but DescribeEventConfig still says {0}")]
    NotApplied(String),
}

/// The changes that would put `config` where the relay needs it: `Mode=PULL`,
/// `UploadMediaCompleteEventSwitch=ON` (off by default: without it no `NewFileUpload`
/// event is ever produced) and `DeleteMediaCompleteEventSwitch=ON` (without it no
/// `FileDeleted` event, and a ticket never reads `deleted`).
pub fn needed(config: &EventConfig) -> (EventConfigChange, Vec<Changed>) {
    let mut change = EventConfigChange::default();
    let mut changed = Vec::new();
    if config.mode != PULL_MODE {
        change.mode = Some(PULL_MODE.to_owned());
        changed.push(Changed {
            setting: "Mode",
            from: config.mode.clone(),
            to: PULL_MODE.to_owned(),
        });
    }
    if config.upload_media_complete_event_switch != ON {
        change.upload_media_complete_event_switch = Some(ON.to_owned());
        changed.push(Changed {
            setting: "UploadMediaCompleteEventSwitch",
            from: config.upload_media_complete_event_switch.clone(),
            to: ON.to_owned(),
        });
    }
    if config.delete_media_complete_event_switch != ON {
        change.delete_media_complete_event_switch = Some(ON.to_owned());
        changed.push(Changed {
            setting: "DeleteMediaCompleteEventSwitch",
            from: config.delete_media_complete_event_switch.clone(),
            to: ON.to_owned(),
        });
    }
    (change, changed)
}

/// Reads the configuration, changes only what the relay needs, and reads it back to check.
/// Returns what changed (empty when it was already set up).
pub async fn setup(api: &VodApi) -> Result<Vec<Changed>, SetupError> {
    let before = api.describe_event_config().await?;
    let (change, changed) = needed(&before);
    if change.is_empty() {
        return Ok(changed);
    }
    api.modify_event_config(&change).await?;
    let after = api.describe_event_config().await?;
    let (_, still) = needed(&after);
    if let Some(first) = still.first() {
        return Err(SetupError::NotApplied(format!(
            "{}={}",
            first.setting, first.from
        )));
    }
    Ok(changed)
}

/// What `status` reports.
#[derive(Clone, Debug)]
pub struct Status {
    pub config: EventConfig,
    pub state: EventsState,
}

impl Status {
    /// True when the account is configured as `setup` leaves it.
    pub fn is_set_up(&self) -> bool {
        needed(&self.config).1.is_empty()
    }

    /// The lines `vodsign events status` prints.
    pub fn render(&self) -> String {
        let or_none = |s: &str| {
            if s.is_empty() {
                "(none)".to_owned()
            } else {
                s.to_owned()
            }
        };
        format!(
            "Mode: {}\nUploadMediaCompleteEventSwitch: {}\nDeleteMediaCompleteEventSwitch: {}\n\
             NotificationUrl: {}\nevents waiting (approximate): {}\n",
            or_none(&self.config.mode),
            or_none(&self.config.upload_media_complete_event_switch),
            or_none(&self.config.delete_media_complete_event_switch),
            or_none(&self.config.notification_url),
            self.state.count_of_events_to_pull,
        )
    }
}

/// Reads the configuration and the approximate backlog.
pub async fn status(api: &VodApi) -> Result<Status, VodApiError> {
    Ok(Status {
        config: api.describe_event_config().await?,
        state: api.describe_events_state().await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_differs_is_changed() {
        let config = |mode: &str, upload: &str, delete: &str| EventConfig {
            mode: mode.into(),
            upload_media_complete_event_switch: upload.into(),
            delete_media_complete_event_switch: delete.into(),
            ..EventConfig::default()
        };
        let (change, changed) = needed(&config("PUSH", "OFF", "OFF"));
        assert_eq!(change.mode.as_deref(), Some("PULL"));
        assert_eq!(
            change.upload_media_complete_event_switch.as_deref(),
            Some("ON")
        );
        assert_eq!(
            change.delete_media_complete_event_switch.as_deref(),
            Some("ON")
        );
        assert_eq!(changed.len(), 3);
        assert_eq!(changed[0].to_string(), "Mode: PUSH -> PULL");
        let (change, changed) = needed(&config("PULL", "OFF", "ON"));
        assert!(change.mode.is_none() && change.delete_media_complete_event_switch.is_none());
        assert_eq!(changed.len(), 1);
        let (change, changed) = needed(&config("PULL", "ON", "ON"));
        assert!(change.is_empty() && changed.is_empty());
    }
}
