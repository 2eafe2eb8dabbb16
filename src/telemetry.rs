//! Logging through `tracing`: JSON lines (the default, for log shippers) or human text.
//!
//! Nothing secret is ever a field: the HTTP layer marks `Authorization` sensitive, spans
//! carry the path but not the query, and principals appear by credential id only.
//!
//! The service logs one line per request (and an audit event per signature request), so a
//! line must be cheap:
//! - JSON lines come from `json-subscriber`, which keeps each span's fields as JSON once
//!   they are recorded, where `tracing-subscriber`'s JSON formatter re-parses them for every
//!   event (docs/performance.md);
//! - [`writer::stdout`] gathers lines and writes them in batches, so a line costs neither a
//!   system call nor a thread wake-up on the request's thread.

pub mod writer;

use std::io::Write as _;
use std::sync::OnceLock;

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, ServerSettings};

/// Keeps the audit target at `info` even when the level is set lower.
const AUDIT_DIRECTIVE: &str = "vodsign::audit=info";

/// Writes one whole, pre-serialized JSON line to the JSON log stream.
type LineSink = Box<dyn Fn(&[u8]) + Send + Sync>;

/// The JSON log stream, for records that are already JSON (audit events): set by [`init`]
/// when the log format is JSON.
static JSON_LINES: OnceLock<LineSink> = OnceLock::new();

/// Installs the global subscriber writing to `writer`. `RUST_LOG`, when set, overrides the
/// configured level. Returns false when a subscriber was already installed (tests).
///
/// With JSON logs, `writer` also takes [`json_line`]s: records serialized by their owner
/// that join the same stream without going through the `tracing` formatter.
pub fn init<W>(settings: &ServerSettings, writer: W) -> bool
where
    W: for<'a> MakeWriter<'a> + Clone + Send + Sync + 'static,
{
    let lines = writer.clone();
    // `try_init` also forwards `log` records (from dependencies that use `log`) to tracing.
    let installed = dispatch(settings, writer).try_init().is_ok();
    if installed && settings.log_format == LogFormat::Json {
        let _ = JSON_LINES.set(Box::new(move |line: &[u8]| {
            // One `write_all` per line, as the formatter does: lines never interleave.
            let _ = lines.make_writer().write_all(line);
        }));
    }
    installed
}

/// Writes `line` (one JSON object and its newline) to the JSON log stream. Returns false,
/// writing nothing, when there is none ([`init`] not called, or text logs): the caller
/// then logs through `tracing` instead.
pub fn json_line(line: &[u8]) -> bool {
    match JSON_LINES.get() {
        Some(write) => {
            write(line);
            true
        }
        None => false,
    }
}

/// Whether [`json_line`] has a stream to write to.
pub fn has_json_lines() -> bool {
    JSON_LINES.get().is_some()
}

/// The service's subscriber, writing to `writer`, without installing it.
fn dispatch<W>(settings: &ServerSettings, writer: W) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // Audit events (`[audit] destination = "log"`) are kept whatever the log level.
        .add_directive(AUDIT_DIRECTIVE.parse().expect("a valid constant directive"));
    match settings.log_format {
        LogFormat::Json => Dispatch::new(
            json_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Text => Dispatch::new(
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .finish(),
        ),
    }
}
