//! Audit events: one record for every signature issued and every signature request
//! refused, for the people who must later answer "who got which upload right, when?".
//!
//! An [`AuditEvent`] names the caller (subject, credential id, policy), the client IP, the
//! request id and the outcome; an issuance adds the signed parameters and a fingerprint of
//! the signature (a hex prefix of its SHA-256) so a signature found in the wild can be
//! matched to its event. The signature itself, the caller's credential and the SecretKey
//! never appear. [`AuditSink`] writes events where `[audit]` says; the HTTP layer makes
//! them from each `/v1/signature` exchange.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::IpAddr;

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tracing_subscriber::fmt::MakeWriter as _;

use crate::config::{AuditDestination, AuditSettings, ConfigError};
use crate::principal::Principal;
use crate::signature::{
    Procedure, SessionContext, SignParams, SourceContext, StorageRegion, TaskNotifyMode,
    TaskPriority, UploadOptions,
};
use crate::telemetry;
use crate::telemetry::writer::{self, BatchedWriter, FlushGuard};

/// Hex characters of the SHA-256 of a signature kept as its fingerprint (64 bits).
pub const FINGERPRINT_HEX_CHARS: usize = 16;

/// The `tracing` target of audit events with `destination = "log"`.
pub const TARGET: &str = "vodsign::audit";

/// What a signature was issued with: every parameter except the SecretId, plus the
/// signature's fingerprint. Built by the handler, handed to [`exchange::Exchange::issued`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    pub current_time: u64,
    pub expire_time: u64,
    pub validity_seconds: u32,
    pub random: u32,
    /// The optional parameters signed, written flat into the event (`procedure`,
    /// `class_id`, ...), each left out when unset.
    pub options: UploadOptions,
    /// The first [`FINGERPRINT_HEX_CHARS`] hex characters of SHA-256(signature).
    pub signature_sha256: String,
}

impl Issuance {
    pub fn new(params: &SignParams, signature: &str) -> Self {
        Self {
            current_time: params.current_time,
            expire_time: params.expire_time(),
            validity_seconds: params.validity.seconds(),
            random: params.random,
            options: params.options.clone(),
            signature_sha256: fingerprint(signature),
        }
    }
}

/// The fingerprint of a signature: enough to recognise it, useless to replay it.
pub fn fingerprint(signature: &str) -> String {
    let digest = Sha256::digest(signature.as_bytes());
    // Only the bytes that are kept are hex-encoded, into a stack buffer.
    let mut hex = [0u8; FINGERPRINT_HEX_CHARS];
    hex::encode_to_slice(&digest[..FINGERPRINT_HEX_CHARS / 2], &mut hex)
        .expect("the buffer holds exactly two characters per byte");
    String::from_utf8_lossy(&hex).into_owned()
}

/// One audit record. Flat, so the JSON line and the `tracing` event carry the same names.
/// Borrows what the exchange already holds: building one copies no string.
#[derive(Debug, Clone)]
#[cfg_attr(test, derive(Serialize))]
pub struct AuditEvent<'a> {
    /// RFC 3339 UTC.
    pub timestamp: String,
    /// `signature.issued` or `signature.refused` on `/v1/signature`; on the upload-ticket
    /// endpoints `upload.created`, `upload.signed`, `upload.read`, `upload.listed` or
    /// `upload.refused` ([`UploadEvent`]).
    pub event: &'static str,
    /// HTTP status answered.
    pub status: u16,
    /// Envelope code answered: 0 for an issuance.
    pub code: u32,
    pub request_id: Option<&'a str>,
    pub method: &'static str,
    pub client_ip: Option<IpAddr>,
    /// The caller's W3C trace context (`traceparent`), when it sent a valid one.
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub trace_id: Option<&'a str>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub parent_span_id: Option<&'a str>,
    /// The caller, when authentication got that far.
    pub subject: Option<&'a str>,
    pub credential_id: Option<&'a str>,
    pub credential_kind: Option<&'static str>,
    pub policy: Option<&'a str>,
    /// The upload ticket the request named or made, on the upload-ticket endpoints.
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub upload_id: Option<&'a str>,
    #[cfg_attr(test, serde(flatten, skip_serializing_if = "Option::is_none"))]
    pub issued: Option<&'a Issuance>,
}

/// The audit events of the upload-ticket endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadEvent {
    /// `POST /v1/uploads` made a ticket and its first signature.
    Created,
    /// `POST /v1/uploads/{uploadId}/signature` issued another signature.
    Signed,
    /// `GET /v1/uploads/{uploadId}` answered.
    Read,
    /// `GET /v1/uploads` answered.
    Listed,
    /// Any of them refused.
    Refused,
}

impl UploadEvent {
    pub fn name(self) -> &'static str {
        match self {
            UploadEvent::Created => "upload.created",
            UploadEvent::Signed => "upload.signed",
            UploadEvent::Read => "upload.read",
            UploadEvent::Listed => "upload.listed",
            UploadEvent::Refused => "upload.refused",
        }
    }

    fn message(self) -> &'static str {
        match self {
            UploadEvent::Created => "audit upload.created",
            UploadEvent::Signed => "audit upload.signed",
            UploadEvent::Read => "audit upload.read",
            UploadEvent::Listed => "audit upload.listed",
            UploadEvent::Refused => "audit upload.refused",
        }
    }
}

impl<'a> AuditEvent<'a> {
    /// An event stamped now, for `principal` if authentication identified one.
    pub fn new(status: u16, code: u32, principal: Option<&'a Principal>) -> Self {
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self {
            timestamp,
            event: if code == 0 {
                "signature.issued"
            } else {
                "signature.refused"
            },
            status,
            code,
            request_id: None,
            method: "",
            client_ip: None,
            trace_id: None,
            parent_span_id: None,
            subject: principal.map(|p| p.subject.as_str()),
            credential_id: principal.map(|p| p.credential_id.as_str()),
            credential_kind: principal.map(|p| p.kind.as_str()),
            policy: principal.map(|p| p.policy.as_str()),
            upload_id: None,
            issued: None,
        }
    }

    /// The same event as an upload-ticket event `kind`, naming `upload_id` when known.
    pub fn for_upload(mut self, kind: UploadEvent, upload_id: Option<&'a str>) -> Self {
        self.event = kind.name();
        self.upload_id = upload_id;
        self
    }
}

/// Where audit events go.
pub struct AuditSink {
    target: Target,
}

enum Target {
    /// The service's log stream: with JSON logs, a JSON line written straight to it (see
    /// [`LogLine`]); with text logs, a `tracing` event with target [`TARGET`].
    Log,
    /// JSON lines through a batched writer (the one the logs use); the guard writes what
    /// is left when the sink is dropped (at exit, or when a reload replaces it).
    Lines {
        writer: BatchedWriter,
        _guard: FlushGuard,
    },
}

/// A JSON object written field by field: constant keys copied as they are, values
/// encoded by `serde_json`. Written by hand because a derived `Serialize` of this flat
/// event needs `flatten`, which costs a measurable share of a request
/// (docs/performance.md).
struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> JsonObject<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, empty: true }
    }

    /// Starts the next field. `key` must be a JSON string's content as it is: the keys
    /// here are constants in plain ASCII.
    fn key(&mut self, key: &'static str) {
        debug_assert!(
            key.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        );
        self.out.push(if self.empty { b'{' } else { b',' });
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// A field of any serializable value (numbers, booleans, addresses, `null`).
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> serde_json::Result<()> {
        self.key(key);
        serde_json::to_writer(&mut *self.out, value)
    }

    /// A string field, `null` when absent. Most strings here need no escaping at all:
    /// those are copied as they are, after one pass that checks it; only the others go
    /// through `serde_json`'s escaper, which works byte by byte.
    fn text(&mut self, key: &'static str, value: Option<&str>) -> serde_json::Result<()> {
        self.key(key);
        let Some(value) = value else {
            self.out.extend_from_slice(b"null");
            return Ok(());
        };
        // What JSON requires escaped: '"', '\\' and the control characters. A fold
        // without an early exit, which the compiler can vectorize (`any` cannot).
        let needs_escape = value.bytes().fold(false, |found, b| {
            found | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
        if needs_escape {
            return serde_json::to_writer(&mut *self.out, value);
        }
        self.out.reserve(value.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(value.as_bytes());
        self.out.push(b'"');
        Ok(())
    }

    /// A field left out when it has no value.
    fn some<T: Serialize>(
        &mut self,
        key: &'static str,
        value: Option<T>,
    ) -> serde_json::Result<()> {
        match value {
            Some(value) => self.field(key, &value),
            None => Ok(()),
        }
    }

    /// A string field left out when it has no value.
    fn some_text(&mut self, key: &'static str, value: Option<&str>) -> serde_json::Result<()> {
        match value {
            Some(_) => self.text(key, value),
            None => Ok(()),
        }
    }

    fn end(self) {
        self.out
            .extend_from_slice(if self.empty { b"{}" } else { b"}" });
    }
}

impl AuditEvent<'_> {
    /// The event's fields after its timestamp, flat, in their declared order: absent
    /// caller fields are `null`, an absent trace context and issuance fields are left out.
    fn write_fields(&self, object: &mut JsonObject<'_>) -> serde_json::Result<()> {
        object.text("event", Some(self.event))?;
        object.field("status", &self.status)?;
        object.field("code", &self.code)?;
        object.text("request_id", self.request_id)?;
        object.text("method", Some(self.method))?;
        object.field("client_ip", &self.client_ip)?;
        object.some_text("trace_id", self.trace_id)?;
        object.some_text("parent_span_id", self.parent_span_id)?;
        object.text("subject", self.subject)?;
        object.text("credential_id", self.credential_id)?;
        object.text("credential_kind", self.credential_kind)?;
        object.text("policy", self.policy)?;
        object.some_text("upload_id", self.upload_id)?;
        if let Some(i) = self.issued {
            let o = &i.options;
            object.field("current_time", &i.current_time)?;
            object.field("expire_time", &i.expire_time)?;
            object.field("validity_seconds", &i.validity_seconds)?;
            object.field("random", &i.random)?;
            object.some_text("procedure", o.procedure.as_ref().map(Procedure::as_str))?;
            object.some("class_id", o.class_id.map(|c| c.0))?;
            object.some("task_priority", o.task_priority.map(TaskPriority::get))?;
            object.some_text(
                "task_notify_mode",
                o.task_notify_mode.map(TaskNotifyMode::as_str),
            )?;
            object.some_text(
                "source_context",
                o.source_context.as_ref().map(SourceContext::as_str),
            )?;
            object.some_text(
                "session_context",
                o.session_context.as_ref().map(SessionContext::as_str),
            )?;
            object.some_text(
                "storage_region",
                o.storage_region.as_ref().map(StorageRegion::as_str),
            )?;
            object.some("vod_sub_app_id", o.vod_sub_app_id.map(|v| v.0))?;
            object.some("one_time_valid", o.one_time_valid)?;
            object.text("signature_sha256", Some(&i.signature_sha256))?;
        }
        Ok(())
    }

    fn write_object(&self, out: &mut Vec<u8>, log_header: bool) -> serde_json::Result<()> {
        let mut object = JsonObject::new(out);
        object.text("timestamp", Some(&self.timestamp))?;
        if log_header {
            object.text("level", Some("INFO"))?;
            object.text("target", Some(TARGET))?;
            object.text("message", Some(self.message()))?;
        }
        self.write_fields(&mut object)?;
        object.end();
        Ok(())
    }

    /// The message of the event as a log line, in either log format.
    fn message(&self) -> &'static str {
        let upload = [
            UploadEvent::Created,
            UploadEvent::Signed,
            UploadEvent::Read,
            UploadEvent::Listed,
            UploadEvent::Refused,
        ]
        .into_iter()
        .find(|kind| kind.name() == self.event);
        match upload {
            Some(kind) => kind.message(),
            None if self.code == 0 => "audit signature.issued",
            None => "audit signature.refused",
        }
    }

    /// The event as one JSON line, newline included, starting with its `timestamp`.
    /// `log_header`: then `level`, `target` and `message`, like every line of the
    /// service's JSON logs, for the log stream.
    fn json_line(&self, log_header: bool) -> Option<Vec<u8>> {
        let mut line = Vec::with_capacity(768);
        match self.write_object(&mut line, log_header) {
            Ok(()) => {
                line.push(b'\n');
                Some(line)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise an audit event");
                None
            }
        }
    }
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match self.target {
            Target::Log => "log",
            Target::Lines { .. } => "lines",
        };
        f.debug_struct("AuditSink")
            .field("target", &target)
            .finish()
    }
}

impl AuditSink {
    /// Opens the sink `[audit]` describes; a file that cannot be opened for appending stops
    /// start-up with a message naming `audit.path`.
    pub fn from_settings(settings: &AuditSettings) -> Result<Self, ConfigError> {
        // Never drops a line: a writer that falls behind is waited for (see `writer`).
        let lines = |out: Box<dyn std::io::Write + Send>| {
            let (writer, guard) = writer::batched(out).map_err(|e| {
                ConfigError::key(
                    "audit.destination",
                    format!("cannot start the audit writer: {e}"),
                )
            })?;
            Ok::<_, ConfigError>(Self {
                target: Target::Lines {
                    writer,
                    _guard: guard,
                },
            })
        };
        Ok(match settings.destination {
            AuditDestination::Log => Self {
                target: Target::Log,
            },
            AuditDestination::Stdout => lines(Box::new(std::io::stdout()))?,
            AuditDestination::Stderr => lines(Box::new(std::io::stderr()))?,
            AuditDestination::File => {
                let path = settings.path.as_ref().ok_or_else(|| {
                    ConfigError::key(
                        "audit.path",
                        "is required when audit.destination = \"file\"",
                    )
                })?;
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        ConfigError::key(
                            "audit.path",
                            format!("cannot open {} for appending: {e}", path.display()),
                        )
                    })?;
                lines(Box::new(file))?
            }
        })
    }

    /// Writes one event. A write failure is logged, never answered to the client.
    pub fn emit(&self, event: &AuditEvent<'_>) {
        match &self.target {
            Target::Log if telemetry::has_json_lines() => {
                // Inside a request, the request's access record and this one become one
                // line, written when the request ends (docs/observability.md).
                if let Some(line) = event.json_line(true)
                    && let Err(line) = telemetry::json::defer_record(line)
                {
                    telemetry::json_line(&line);
                }
            }
            Target::Log => log_event(event),
            Target::Lines { writer, .. } => {
                if let Some(line) = event.json_line(false) {
                    // One `write` per line: lines never interleave.
                    if let Err(e) = writer.make_writer().write_all(&line) {
                        tracing::error!(error = %e, "cannot write an audit event");
                    }
                }
            }
        }
    }
}

fn log_event(e: &AuditEvent<'_>) {
    let i = e.issued;
    let o = i.map(|i| &i.options);
    tracing::info!(
        target: TARGET,
        event = e.event,
        status = e.status,
        code = e.code,
        request_id = e.request_id,
        method = e.method,
        client_ip = e.client_ip.map(tracing::field::display),
        trace_id = e.trace_id,
        parent_span_id = e.parent_span_id,
        subject = e.subject,
        credential_id = e.credential_id,
        credential_kind = e.credential_kind,
        policy = e.policy,
        upload_id = e.upload_id,
        current_time = i.map(|i| i.current_time),
        expire_time = i.map(|i| i.expire_time),
        validity_seconds = i.map(|i| i.validity_seconds),
        random = i.map(|i| i.random),
        procedure = o.and_then(|o| o.procedure.as_ref().map(Procedure::as_str)),
        class_id = o.and_then(|o| o.class_id.map(|c| c.0)),
        task_priority = o.and_then(|o| o.task_priority.map(|p| i64::from(p.get()))),
        task_notify_mode = o.and_then(|o| o.task_notify_mode.map(TaskNotifyMode::as_str)),
        source_context = o.and_then(|o| o.source_context.as_ref().map(SourceContext::as_str)),
        session_context = o.and_then(|o| o.session_context.as_ref().map(SessionContext::as_str)),
        storage_region = o.and_then(|o| o.storage_region.as_ref().map(StorageRegion::as_str)),
        vod_sub_app_id = o.and_then(|o| o.vod_sub_app_id.map(|v| v.0)),
        one_time_valid = o.and_then(|o| o.one_time_valid),
        signature_sha256 = i.map(|i| i.signature_sha256.as_str()),
        "{}",
        e.message()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{ClassId, VodSubAppId};

    /// serde's derived form of an issuance, flat, with the field names and order of the
    /// audit line: the reference the hand-written line is checked against.
    impl Serialize for Issuance {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            #[derive(Serialize)]
            struct Flat<'a> {
                current_time: u64,
                expire_time: u64,
                validity_seconds: u32,
                random: u32,
                #[serde(skip_serializing_if = "Option::is_none")]
                procedure: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                class_id: Option<u64>,
                #[serde(skip_serializing_if = "Option::is_none")]
                task_priority: Option<i64>,
                #[serde(skip_serializing_if = "Option::is_none")]
                task_notify_mode: Option<&'static str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                source_context: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                session_context: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                storage_region: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                vod_sub_app_id: Option<u64>,
                #[serde(skip_serializing_if = "Option::is_none")]
                one_time_valid: Option<bool>,
                signature_sha256: &'a str,
            }
            let o = &self.options;
            Flat {
                current_time: self.current_time,
                expire_time: self.expire_time,
                validity_seconds: self.validity_seconds,
                random: self.random,
                procedure: o.procedure.as_ref().map(Procedure::as_str),
                class_id: o.class_id.map(|c| c.0),
                task_priority: o.task_priority.map(|p| i64::from(p.get())),
                task_notify_mode: o.task_notify_mode.map(TaskNotifyMode::as_str),
                source_context: o.source_context.as_ref().map(SourceContext::as_str),
                session_context: o.session_context.as_ref().map(SessionContext::as_str),
                storage_region: o.storage_region.as_ref().map(StorageRegion::as_str),
                vod_sub_app_id: o.vod_sub_app_id.map(|v| v.0),
                one_time_valid: o.one_time_valid,
                signature_sha256: &self.signature_sha256,
            }
            .serialize(serializer)
        }
    }

    #[test]
    fn fingerprint_is_a_short_hex_prefix_of_sha256() {
        let fp = fingerprint("abc");
        assert_eq!(fp, "ba7816bf8f01cfea");
        assert_eq!(fp.len(), FINGERPRINT_HEX_CHARS);
    }

    fn issuance() -> Issuance {
        Issuance {
            current_time: 1,
            expire_time: 601,
            validity_seconds: 600,
            random: 7,
            options: UploadOptions {
                class_id: Some(ClassId(3)),
                source_context: Some(SourceContext::try_from("user-1").expect("valid")),
                one_time_valid: Some(true),
                ..UploadOptions::default()
            },
            signature_sha256: fingerprint("sig"),
        }
    }

    fn issued_event(issuance: &Issuance) -> AuditEvent<'_> {
        let mut event = AuditEvent::new(200, 0, None);
        event.request_id = Some("req-1");
        event.method = "POST";
        event.issued = Some(issuance);
        event
    }

    #[test]
    fn a_log_line_starts_like_the_log_lines_and_carries_every_field_flat() {
        let issuance = issuance();
        let event = issued_event(&issuance);
        let line = event.json_line(true).expect("serializes");
        assert_eq!(line.last(), Some(&b'\n'), "one whole line");
        let text = std::str::from_utf8(&line).expect("utf-8");
        assert!(text.starts_with("{\"timestamp\":"), "{text}");
        let value: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
        assert!(value.get("time").is_none(), "one timestamp: {value}");
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["target"], TARGET);
        assert_eq!(value["message"], "audit signature.issued");
        assert_eq!(value["event"], "signature.issued");
        assert_eq!(value["request_id"], "req-1");
        assert_eq!(value["class_id"], 3);
        assert_eq!(value["source_context"], "user-1");
        assert_eq!(value["signature_sha256"], fingerprint("sig"));
        assert!(value.get("issued").is_none(), "flattened: {value}");
        assert!(
            value.get("procedure").is_none(),
            "unset fields are left out"
        );
    }

    /// The line is written by hand (`JsonObject`); serde's derived form of the same
    /// event, kept for this test only, is the reference: same bytes, same field order.
    #[test]
    fn the_written_line_is_what_serde_would_write() {
        // A procedure cannot hold a control character (the subject below has one).
        let full = Issuance {
            options: UploadOptions {
                procedure: Some(Procedure::try_from("QC \"tpl\" \\ é").expect("valid")),
                task_priority: Some(TaskPriority::try_from(-5).expect("valid")),
                task_notify_mode: Some(TaskNotifyMode::Finish),
                session_context: Some(SessionContext::try_from("s").expect("valid")),
                storage_region: Some("ap-guangzhou".parse().expect("valid")),
                vod_sub_app_id: Some(VodSubAppId(1_500_000_000)),
                one_time_valid: Some(false),
                ..issuance().options
            },
            ..issuance()
        };
        let principal = Principal {
            subject: "user \"1\"\n".to_owned(),
            credential_id: "key-1".to_owned(),
            kind: crate::principal::CredentialKind::ApiKey,
            policy: "default".to_owned(),
        };
        let minimal = Issuance {
            options: UploadOptions::default(),
            ..issuance()
        };
        let mut refused = AuditEvent::new(403, 40301, Some(&principal));
        refused.client_ip = Some("2001:db8::1".parse().expect("an address"));
        refused.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736");
        refused.parent_span_id = Some("00f067aa0ba902b7");
        let mut issued = AuditEvent::new(200, 0, Some(&principal));
        issued.request_id = Some("req-2");
        issued.method = "GET";
        issued.client_ip = Some("192.0.2.7".parse().expect("an address"));
        issued.issued = Some(&full);
        let usual = issuance();
        let events = [
            issued_event(&usual),
            issued_event(&minimal),
            issued,
            refused,
            AuditEvent::new(401, 40101, None),
        ];
        for event in &events {
            let mut expected = serde_json::to_vec(event).expect("serde writes it");
            expected.push(b'\n');
            let written = event.json_line(false).expect("written");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }

    /// Without a JSON log stream (text logs; here: no `telemetry::init` in this test
    /// binary), the event goes through `tracing` with target `vodsign::audit`.
    #[test]
    fn without_a_json_stream_the_event_is_a_tracing_event() {
        use std::sync::{Arc, Mutex};

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(data);
                Ok(data.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        assert!(!telemetry::has_json_lines());
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let sink = AuditSink::from_settings(&AuditSettings::default()).expect("log sink");
        tracing::subscriber::with_default(subscriber, || sink.emit(&issued_event(&issuance())));
        let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(text.contains(TARGET), "{text}");
        assert!(text.contains("audit signature.issued"), "{text}");
        assert!(text.contains("request_id=\"req-1\""), "{text}");
    }

    #[test]
    fn a_file_destination_needs_a_path() {
        let settings = AuditSettings {
            destination: AuditDestination::File,
            path: None,
        };
        let err = AuditSink::from_settings(&settings).unwrap_err();
        assert!(err.to_string().contains("audit.path"), "{err}");
    }
}
