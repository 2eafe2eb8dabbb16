//! VOD's v3 events as they come out of the reliable queue: read from any JSON without ever
//! failing, with what attributes them to an upload ticket and a key that stays the same when
//! VOD hands the same event out again under a new `EventHandle`.
//!
//! Only the fields the relay acts on are read; everything else, unknown event types
//! included, is kept raw and passed on. A context token is trusted only when its tag
//! verifies under the context keys ([`ContextKeys::verify`]): a client chooses the text of
//! `SourceContext` and `SessionContext`, not the tag.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::uploads::{ContextKeys, ContextToken, UploadId};

/// One event from `PullEvents`.
#[derive(Clone, Debug, PartialEq)]
pub struct VodEvent {
    /// The handle `ConfirmEvents` takes; absent from an event that has none.
    pub handle: Option<String>,
    /// The event without its handle: what is stored, hashed and passed on.
    pub raw: Value,
    pub kind: EventKind,
}

/// What the relay understands of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `NewFileUpload`: a file arrived.
    NewFileUpload {
        file_id: Option<String>,
        media_url: Option<String>,
        source_context: Option<String>,
    },
    /// `ProcedureStateChanged`: a processing task moved on.
    ProcedureStateChanged {
        file_id: Option<String>,
        session_context: Option<String>,
        /// `Status` is `FINISH` (or absent).
        finished: bool,
        /// `ErrCode` is 0 (or absent).
        succeeded: bool,
    },
    /// `FileDeleted`: these files are gone.
    FileDeleted { file_ids: Vec<String> },
    /// Any other type, or a known type without its body: passed on raw.
    Other { event_type: Option<String> },
}

impl VodEvent {
    /// Reads one event; never fails: what is not understood is [`EventKind::Other`].
    pub fn parse(value: Value) -> Self {
        let mut raw = value;
        let handle = match &mut raw {
            Value::Object(map) => match map.remove("EventHandle") {
                Some(Value::String(handle)) => Some(handle),
                _ => None,
            },
            _ => None,
        };
        let kind = kind_of(&raw);
        VodEvent { handle, raw, kind }
    }

    /// `EventType`, when it is a string.
    pub fn event_type(&self) -> Option<&str> {
        self.raw.get("EventType").and_then(Value::as_str)
    }

    /// The deduplication key: hex SHA-256 of the event without its handle, as canonical
    /// JSON (object keys sorted, no whitespace). A redelivery under a new handle has the
    /// same key; any other difference gives another.
    pub fn dedup_key(&self) -> String {
        let mut text = String::new();
        canonical(&self.raw, &mut text);
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// The upload a verified context token of this event names; `None` when the event
    /// carries no context, or one that is not a token, or a token whose tag does not
    /// verify.
    pub fn verified_upload(&self, keys: &ContextKeys) -> Option<UploadId> {
        let context = match &self.kind {
            EventKind::NewFileUpload { source_context, .. } => source_context.as_deref(),
            EventKind::ProcedureStateChanged {
                session_context, ..
            } => session_context.as_deref(),
            _ => None,
        }?;
        let token = ContextToken::parse(context).ok()?;
        keys.verify(&token)?;
        Some(token.upload_id().clone())
    }
}

fn kind_of(raw: &Value) -> EventKind {
    let event_type = raw.get("EventType").and_then(Value::as_str);
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match event_type {
        Some("NewFileUpload") => {
            if let Some(body) = raw.get("FileUploadEvent").filter(|b| b.is_object()) {
                let info = body.get("MediaBasicInfo");
                return EventKind::NewFileUpload {
                    file_id: text(body.get("FileId")),
                    media_url: text(info.and_then(|i| i.get("MediaUrl"))),
                    source_context: text(
                        info.and_then(|i| i.get("SourceInfo"))
                            .and_then(|s| s.get("SourceContext")),
                    ),
                };
            }
        }
        Some("ProcedureStateChanged") => {
            if let Some(body) = raw
                .get("ProcedureStateChangeEvent")
                .filter(|b| b.is_object())
            {
                let status = body.get("Status").and_then(Value::as_str);
                let code = body.get("ErrCode");
                return EventKind::ProcedureStateChanged {
                    file_id: text(body.get("FileId")),
                    session_context: text(body.get("SessionContext")),
                    finished: status.is_none_or(|s| s.eq_ignore_ascii_case("FINISH")),
                    succeeded: code.is_none_or(|c| c.is_null() || c.as_i64() == Some(0)),
                };
            }
        }
        Some("FileDeleted") => {
            if let Some(ids) = raw
                .get("FileDeleteEvent")
                .and_then(|b| b.get("FileIdSet"))
                .and_then(Value::as_array)
            {
                let mut file_ids: Vec<String> =
                    ids.iter().filter_map(|id| text(Some(id))).collect();
                file_ids.sort();
                file_ids.dedup();
                return EventKind::FileDeleted { file_ids };
            }
        }
        _ => {}
    }
    EventKind::Other {
        event_type: event_type.map(str::to_owned),
    }
}

/// Writes `value` as JSON with every object's keys in sorted order.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uploads::ContextKey;
    use proptest::prelude::*;
    use serde_json::json;

    fn keys(key: &str) -> ContextKeys {
        ContextKeys::new(
            ContextKey::new(key.as_bytes()).expect("long enough"),
            vec![],
        )
    }

    const KEY: &str = "context-key-0123456789-0123456789-0123";

    fn upload_event(handle: &str, context: &str) -> Value {
        json!({
            "EventHandle": handle, "EventType": "NewFileUpload",
            "FileUploadEvent": {"FileId": "5285890784273533167",
                "MediaBasicInfo": {"Name": "clip", "MediaUrl": "http://v.example/f0.mp4",
                    "SourceInfo": {"SourceType": "Upload", "SourceContext": context}},
                "ProcedureTaskId": "", "MetaData": null},
            "ProcedureStateChangeEvent": null, "FileDeleteEvent": null
        })
    }

    #[test]
    fn a_redelivery_under_a_new_handle_has_the_same_key() {
        let first = VodEvent::parse(upload_event("h-1", "x"));
        let again = VodEvent::parse(upload_event("h-2", "x"));
        assert_eq!(first.handle.as_deref(), Some("h-1"));
        assert_eq!(again.handle.as_deref(), Some("h-2"));
        assert_eq!(first.dedup_key(), again.dedup_key());
        assert_eq!(first.dedup_key().len(), 64);
        let other = VodEvent::parse(upload_event("h-1", "y"));
        assert_ne!(first.dedup_key(), other.dedup_key());
    }

    #[test]
    fn the_key_ignores_key_order_but_not_values() {
        let a: Value =
            serde_json::from_str(r#"{"EventType":"X","B":{"y":1,"x":[1,{"q":2,"p":3}]}}"#)
                .expect("json");
        let b: Value =
            serde_json::from_str(r#"{"B":{"x":[1,{"p":3,"q":2}],"y":1},"EventType":"X"}"#)
                .expect("json");
        let c: Value =
            serde_json::from_str(r#"{"B":{"x":[{"p":3,"q":2},1],"y":1},"EventType":"X"}"#)
                .expect("json");
        let key = |v: &Value| VodEvent::parse(v.clone()).dedup_key();
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c), "array order is content");
        let mut text = String::new();
        canonical(&a, &mut text);
        assert_eq!(
            text,
            r#"{"B":{"x":[1,{"p":3,"q":2}],"y":1},"EventType":"X"}"#
        );
    }

    #[test]
    fn the_three_known_types_are_read() {
        let upload = VodEvent::parse(upload_event("h", "ctx"));
        assert_eq!(
            upload.kind,
            EventKind::NewFileUpload {
                file_id: Some("5285890784273533167".into()),
                media_url: Some("http://v.example/f0.mp4".into()),
                source_context: Some("ctx".into()),
            }
        );
        let done = VodEvent::parse(json!({"EventType": "ProcedureStateChanged",
            "ProcedureStateChangeEvent": {"TaskId": "t", "Status": "FINISH", "ErrCode": 0,
                "FileId": "f1", "SessionContext": "s"}}));
        assert_eq!(
            done.kind,
            EventKind::ProcedureStateChanged {
                file_id: Some("f1".into()),
                session_context: Some("s".into()),
                finished: true,
                succeeded: true,
            }
        );
        let failed = VodEvent::parse(json!({"EventType": "ProcedureStateChanged",
            "ProcedureStateChangeEvent": {"Status": "FINISH", "ErrCode": 10, "FileId": "f1"}}));
        assert!(matches!(
            failed.kind,
            EventKind::ProcedureStateChanged {
                succeeded: false,
                finished: true,
                ..
            }
        ));
        let deleted = VodEvent::parse(json!({"EventType": "FileDeleted",
            "FileDeleteEvent": {"FileIdSet": ["b", "a", "b", 7, ""]}}));
        assert_eq!(
            deleted.kind,
            EventKind::FileDeleted {
                file_ids: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn unknown_and_malformed_events_are_kept_raw() {
        for value in [
            json!({"EventType": "PullComplete", "PullCompleteEvent": {"FileId": "1"}}),
            json!({"EventType": "NewFileUpload", "FileUploadEvent": null}),
            json!({"EventType": "FileDeleted", "FileDeleteEvent": {"FileIdSet": "x"}}),
            json!({"EventType": 7}),
            json!([1, 2]),
            json!("text"),
            Value::Null,
        ] {
            let event = VodEvent::parse(value.clone());
            assert!(matches!(event.kind, EventKind::Other { .. }), "{value}");
            assert_eq!(event.raw, value, "kept as it came");
            assert_eq!(event.dedup_key().len(), 64);
        }
    }

    #[test]
    fn only_a_verified_token_names_an_upload() {
        let ours = keys(KEY);
        let id = UploadId::generate();
        let token = ours.token(&id).to_string();
        let event = VodEvent::parse(upload_event("h", &token));
        assert_eq!(event.verified_upload(&ours), Some(id.clone()));
        let forged = keys("another-key-0123456789-0123456789-012").token(&id);
        let event = VodEvent::parse(upload_event("h", &forged.to_string()));
        assert_eq!(event.verified_upload(&ours), None, "a forged tag");
        let event = VodEvent::parse(upload_event("h", id.as_str()));
        assert_eq!(
            event.verified_upload(&ours),
            None,
            "a bare id is not a token"
        );
        let task_event = VodEvent::parse(json!({"EventType": "ProcedureStateChanged",
            "ProcedureStateChangeEvent": {"Status": "FINISH", "FileId": "f",
                "SessionContext": token}}));
        assert_eq!(task_event.verified_upload(&ours), Some(id));
    }

    proptest! {
        #[test]
        fn parsing_any_json_never_panics(text in "\\PC{0,200}") {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let event = VodEvent::parse(value);
                let _ = event.dedup_key();
                let _ = event.verified_upload(&keys(KEY));
            }
        }
    }
}
