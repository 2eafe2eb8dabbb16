//! The body of each webhook message:
//! `{"type", "timestamp", "data": {uploadId, subject, credentialId, policy, status, fileId,
//! mediaUrl, metadata, seq, vod}}`, written once when the message is queued and sent the
//! same on every attempt.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::uploads::{Status, Upload};

/// The type of a message, as its body and the endpoints' `events` filter name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// VOD reported the ticket's file uploaded.
    UploadCompleted,
    /// Its processing task moved on but has not finished (`TaskNotifyMode` `Change`): no
    /// status moves; the message keeps the owner.
    UploadProcessing,
    /// Its processing task finished without error.
    UploadProcessed,
    /// Its processing task finished with an error.
    UploadFailed,
    /// Its file was deleted.
    UploadDeleted,
    /// An event no ticket could be proven to own, or of a type the relay does not act on:
    /// passed on raw, never dropped.
    Unattributed,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::UploadCompleted => "upload.completed",
            MessageType::UploadProcessing => "upload.processing",
            MessageType::UploadProcessed => "upload.processed",
            MessageType::UploadFailed => "upload.failed",
            MessageType::UploadDeleted => "upload.deleted",
            MessageType::Unattributed => "vod.unattributed",
        }
    }

    /// The status a ticket moves to with this message, if any.
    pub fn target_status(self) -> Option<Status> {
        match self {
            MessageType::UploadCompleted => Some(Status::Uploaded),
            MessageType::UploadProcessed => Some(Status::Processed),
            MessageType::UploadFailed => Some(Status::Failed),
            MessageType::UploadDeleted => Some(Status::Deleted),
            MessageType::UploadProcessing | MessageType::Unattributed => None,
        }
    }
}

/// RFC 3339 (UTC, millisecond precision at most) of Unix milliseconds.
pub fn rfc3339(now_ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// The body of a message about `upload` (its state after the event, with the message's
/// `seq`), or of an unattributed one when `upload` is `None`.
pub fn body(kind: MessageType, now_ms: i64, upload: Option<(&Upload, i64)>, vod: &Value) -> String {
    let data = match upload {
        Some((upload, seq)) => json!({
            "uploadId": upload.id.as_str(),
            "subject": upload.owner.subject,
            "credentialId": (!upload.owner.authority.is_empty()).then_some(&upload.owner.authority),
            "policy": upload.grant.policy,
            "status": upload.status.as_str(),
            "fileId": upload.file_id,
            "mediaUrl": upload.media_url,
            "metadata": serde_json::from_str::<Value>(upload.metadata.as_json()).unwrap_or_else(|_| json!({})),
            "seq": seq,
            "vod": vod,
        }),
        None => json!({
            "uploadId": null, "subject": null, "credentialId": null, "policy": null,
            "status": null, "fileId": null, "mediaUrl": null, "metadata": null, "seq": null,
            "vod": vod,
        }),
    };
    json!({"type": kind.as_str(), "timestamp": rfc3339(now_ms), "data": data}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(1_649_367_553_000), "2022-04-07T21:39:13Z");
        assert_eq!(rfc3339(1_649_367_553_250), "2022-04-07T21:39:13.25Z");
    }

    #[test]
    fn an_unattributed_body_carries_the_raw_event() {
        let vod = json!({"EventType": "PullComplete", "X": [1]});
        let text = body(MessageType::Unattributed, 0, None, &vod);
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["type"], "vod.unattributed");
        assert_eq!(value["data"]["vod"], vod);
        assert!(value["data"]["uploadId"].is_null());
        assert!(value["data"]["seq"].is_null());
    }
}
