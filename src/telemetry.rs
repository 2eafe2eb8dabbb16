//! Logging through `tracing`: JSON lines (the default, for log shippers) or human text.
//!
//! One JSON schema for every line (docs/observability.md): `timestamp`, `level`, `target`,
//! `message`, then the event's own fields and those of the request it belongs to, all
//! flat at the top level; audit events written to the log stream start the same way.
//! Text lines are coloured only on a terminal, and never when `NO_COLOR` is set
//! (<https://no-color.org>).
//!
//! Nothing secret is ever a field: the HTTP layer marks `Authorization` sensitive, spans
//! carry the path but not the query, and principals appear by credential id only.
//!
//! The service logs one line per request (and an audit event per signature request), so a
//! line must be cheap:
//! - JSON lines come from [`json::JsonLines`], a layer written for this one schema: it
//!   writes a line straight into a reused per-thread buffer and a span's fields once, when
//!   they are recorded (docs/performance.md);
//! - [`writer::stdout`] gathers lines and writes them in batches, so a line costs neither a
//!   system call nor a thread wake-up on the request's thread.

pub mod json;
pub mod writer;

use std::ffi::OsStr;
use std::io::{IsTerminal as _, Write as _};
use std::sync::OnceLock;

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
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

/// The service's subscriber, writing to `writer`, without installing it (the benches
/// measure a line through it).
pub fn dispatch<W>(settings: &ServerSettings, writer: W) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // Audit events (`[audit] destination = "log"`) are kept whatever the log level.
        .add_directive(AUDIT_DIRECTIVE.parse().expect("a valid constant directive"));
    match settings.log_format {
        // The event's fields and the current span's (the request's), each flat at the top
        // level; the span's as the JSON they were written to when the span was made.
        LogFormat::Json => Dispatch::new(
            tracing_subscriber::registry()
                .with(json::JsonLines::new(writer))
                .with(filter),
        ),
        LogFormat::Text => Dispatch::new(
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .with_ansi(colour(
                    std::io::stdout().is_terminal(),
                    std::env::var_os("NO_COLOR").as_deref(),
                ))
                .finish(),
        ),
    }
}

/// Whether text logs are coloured: only on a terminal (the service logs to standard
/// output), and not when `NO_COLOR` is set to anything but the empty string.
fn colour(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))), "empty means unset");
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
        assert!(!colour(false, Some(OsStr::new("1"))));
    }
}
