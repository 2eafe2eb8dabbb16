//! What an upload ticket is: its owner, status, lifetime, metadata, and the signing
//! parameters granted when it was made, kept so it can be re-signed the same way.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::id::UploadId;
use crate::principal::{CredentialKind, Principal};
use crate::signature::{InvalidParam, RawUploadOptions, UploadOptions, Validity};

/// Who owns an upload: the kind of credential, the authority that vouches for the subject,
/// and the subject. Only the owner sees, lists and re-signs an upload.
///
/// The authority is the identity provider's configured name for a JWT or an introspected
/// token (a subject is only unique within its issuer), and empty for API keys: every API key
/// speaks for the `subject` the configuration gives it, so a rotated key (a new id, the same
/// subject) keeps its uploads. Renaming a provider in the configuration leaves its users'
/// earlier uploads behind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    pub kind: String,
    pub authority: String,
    pub subject: String,
}

impl Owner {
    /// The owner a proven caller acts as.
    pub fn of(principal: &Principal) -> Self {
        let authority = match principal.kind {
            CredentialKind::ApiKey => String::new(),
            CredentialKind::Jwt | CredentialKind::Introspection => principal.credential_id.clone(),
        };
        Owner {
            kind: principal.kind.as_str().to_owned(),
            authority,
            subject: principal.subject.clone(),
        }
    }
}

/// Where an upload is in its life. This module moves `authorized` to `expired`; the event
/// relay moves it on to `uploaded`, `processed` or `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, and may be signed until it expires.
    Authorized,
    /// VOD reported the file uploaded.
    Uploaded,
    /// VOD finished processing it.
    Processed,
    /// VOD's processing failed.
    Failed,
    /// Its time ran out before an upload was reported.
    Expired,
    /// Deleted; gone for its owner.
    Deleted,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Authorized,
        Status::Uploaded,
        Status::Processed,
        Status::Failed,
        Status::Expired,
        Status::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Authorized => "authorized",
            Status::Uploaded => "uploaded",
            Status::Processed => "processed",
            Status::Failed => "failed",
            Status::Expired => "expired",
            Status::Deleted => "deleted",
        }
    }
}

/// A text that is not a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an upload status: expected authorized, uploaded, processed, failed, expired or deleted"
)]
pub struct InvalidStatus;

impl FromStr for Status {
    type Err = InvalidStatus;

    fn from_str(text: &str) -> Result<Self, InvalidStatus> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or(InvalidStatus)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An upload's `metadata`: a JSON object, kept as the text it was given (key order and
/// number spelling included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata(String);

/// Metadata that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMetadata {
    #[error("metadata must be a JSON object")]
    NotAnObject,
    #[error("metadata must be at most {max} bytes as JSON; it is {len}")]
    TooLarge { len: usize, max: usize },
}

impl Metadata {
    /// Metadata from JSON text: an object of at most `max_bytes` bytes.
    pub fn from_json(text: &str, max_bytes: usize) -> Result<Self, InvalidMetadata> {
        if text.len() > max_bytes {
            return Err(InvalidMetadata::TooLarge {
                len: text.len(),
                max: max_bytes,
            });
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(_)) => Ok(Metadata(text.to_owned())),
            _ => Err(InvalidMetadata::NotAnObject),
        }
    }

    /// Metadata from a parsed value, serialized compactly.
    pub fn from_value(
        value: &serde_json::Value,
        max_bytes: usize,
    ) -> Result<Self, InvalidMetadata> {
        if !value.is_object() {
            return Err(InvalidMetadata::NotAnObject);
        }
        Self::from_json(&value.to_string(), max_bytes)
    }

    /// Text read back from the store, where only checked metadata is written.
    pub(super) fn stored(text: String) -> Self {
        Metadata(text)
    }

    /// No metadata: `{}`.
    pub fn empty() -> Self {
        Metadata("{}".to_owned())
    }

    /// The JSON text, as given.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

/// What a ticket was granted, so every later signature for it carries the same: the policy
/// and credential it signs under, the validity, and the optional parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningGrant {
    pub policy: String,
    pub credential: String,
    pub validity: Validity,
    pub options: UploadOptions,
}

/// [`SigningGrant`] as stored: plain values, checked again when read back.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredGrant {
    policy: String,
    credential: String,
    validity_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    procedure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_notify_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_time_valid: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vod_sub_app_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage_region: Option<String>,
}

/// A stored grant that no longer reads back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGrant {
    #[error("the stored grant is not readable JSON")]
    Json,
    #[error("the stored grant no longer validates: {0}")]
    Param(#[from] InvalidParam),
}

impl SigningGrant {
    /// The JSON text stored beside the upload.
    pub fn to_json(&self) -> String {
        let o = &self.options;
        let stored = StoredGrant {
            policy: self.policy.clone(),
            credential: self.credential.clone(),
            validity_seconds: u64::from(self.validity.seconds()),
            class_id: o.class_id.map(|c| c.0),
            procedure: o.procedure.as_ref().map(|p| p.as_str().to_owned()),
            task_priority: o.task_priority.map(|p| i64::from(p.get())),
            task_notify_mode: o.task_notify_mode.map(|m| m.as_str().to_owned()),
            source_context: o.source_context.as_ref().map(|c| c.as_str().to_owned()),
            session_context: o.session_context.as_ref().map(|c| c.as_str().to_owned()),
            one_time_valid: o.one_time_valid,
            vod_sub_app_id: o.vod_sub_app_id.map(|a| a.0),
            storage_region: o.storage_region.as_ref().map(|r| r.as_str().to_owned()),
        };
        serde_json::to_string(&stored).expect("plain values serialize")
    }

    /// Reads [`SigningGrant::to_json`]'s text back, every value validated again.
    pub fn from_json(text: &str) -> Result<Self, InvalidGrant> {
        let s: StoredGrant = serde_json::from_str(text).map_err(|_| InvalidGrant::Json)?;
        let options = UploadOptions::try_from(RawUploadOptions {
            class_id: s.class_id,
            procedure: s.procedure,
            task_priority: s.task_priority,
            task_notify_mode: s.task_notify_mode,
            source_context: s.source_context,
            session_context: s.session_context,
            one_time_valid: s.one_time_valid,
            vod_sub_app_id: s.vod_sub_app_id,
            storage_region: s.storage_region,
        })?;
        Ok(SigningGrant {
            policy: s.policy,
            credential: s.credential,
            validity: Validity::try_from(s.validity_seconds)?,
            options,
        })
    }
}

/// A ticket to store: everything [`Upload`] has that is known when it is made.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub id: UploadId,
    pub owner: Owner,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; after it the upload can no longer be signed.
    pub expires_at: u64,
    pub metadata: Metadata,
    pub grant: SigningGrant,
}

/// One upload ticket as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub id: UploadId,
    pub owner: Owner,
    /// As of the read: an `authorized` upload past its expiry reads as `expired` even before
    /// the sweep marks it.
    pub status: Status,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// Signatures issued for it, the first (made with the ticket) included.
    pub signatures_issued: u32,
    pub metadata: Metadata,
    pub grant: SigningGrant,
    /// VOD's id of the uploaded file, once known.
    pub file_id: Option<String>,
    /// The file's URL, once known.
    pub media_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{Procedure, SourceContext, TaskNotifyMode, TaskPriority};

    #[test]
    fn owners_of_api_keys_share_the_subject_and_providers_keep_theirs_apart() {
        let principal = |kind, credential_id: &str| Principal {
            subject: "alice".into(),
            policy: "default".into(),
            credential_id: credential_id.into(),
            kind,
        };
        let key1 = Owner::of(&principal(CredentialKind::ApiKey, "key-2024"));
        let key2 = Owner::of(&principal(CredentialKind::ApiKey, "key-2025"));
        assert_eq!(key1, key2, "a rotated API key keeps its uploads");
        let corp = Owner::of(&principal(CredentialKind::Jwt, "corp"));
        let other = Owner::of(&principal(CredentialKind::Jwt, "partner"));
        assert_ne!(corp, other, "one subject name at two issuers is two people");
        assert_ne!(corp, key1);
    }

    #[test]
    fn statuses_read_back() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert_eq!("Authorized".parse::<Status>(), Err(InvalidStatus));
    }

    #[test]
    fn metadata_is_an_object_within_the_limit_kept_as_given() {
        let text = r#"{"z":1,"a":[1.50,"x"]}"#;
        assert_eq!(Metadata::from_json(text, 100).map(|m| m.0), Ok(text.into()));
        for bad in ["[]", "1", "\"x\"", "null", "{", ""] {
            assert_eq!(
                Metadata::from_json(bad, 100),
                Err(InvalidMetadata::NotAnObject),
                "{bad}"
            );
        }
        assert_eq!(
            Metadata::from_json(text, 10),
            Err(InvalidMetadata::TooLarge { len: 22, max: 10 })
        );
        let value = serde_json::json!({"k": "v"});
        assert_eq!(
            Metadata::from_value(&value, 100).map(|m| m.0),
            Ok("{\"k\":\"v\"}".into())
        );
        assert_eq!(
            Metadata::from_value(&serde_json::json!([1]), 100),
            Err(InvalidMetadata::NotAnObject)
        );
    }

    #[test]
    fn a_grant_round_trips_through_its_json() {
        let grant = SigningGrant {
            policy: "default".into(),
            credential: "tenant-b".into(),
            validity: Validity::try_from(1800).expect("valid"),
            options: UploadOptions {
                procedure: Some(Procedure::try_from("hls".to_owned()).expect("valid")),
                task_priority: Some(TaskPriority::try_from(-5).expect("valid")),
                task_notify_mode: Some(TaskNotifyMode::Finish),
                source_context: Some(SourceContext::try_from("vs1.x".to_owned()).expect("ok")),
                one_time_valid: Some(true),
                ..UploadOptions::default()
            },
        };
        let json = grant.to_json();
        assert_eq!(SigningGrant::from_json(&json), Ok(grant));
        assert_eq!(SigningGrant::from_json("{"), Err(InvalidGrant::Json));
        let invalid = json.replace("1800", "0");
        assert!(matches!(
            SigningGrant::from_json(&invalid),
            Err(InvalidGrant::Param(_))
        ));
    }
}
