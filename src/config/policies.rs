//! `[policies.NAME]`: what a caller with each policy may get. `crate::policy` turns each
//! table into the rules requests are checked against.

use serde::{Deserialize, Serialize};

use super::{DEFAULT_CREDENTIAL, PolicyLimits};

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
            credential: DEFAULT_CREDENTIAL.to_owned(),
            limits: None,
        }
    }
}
