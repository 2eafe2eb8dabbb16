//! Logging through `tracing`: JSON lines (the default, for log shippers) or human text.
//!
//! Nothing secret is ever a field: the HTTP layer marks `Authorization` sensitive, spans
//! carry the path but not the query, and principals appear by credential id only.
//!
//! The service logs one line per request, so the line must cost neither a system call nor
//! a thread wake-up on the request's thread: [`writer::stdout`] gathers lines and writes
//! them in batches (measured in docs/performance.md).

pub mod writer;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, ServerSettings};

/// Keeps the audit target at `info` even when the level is set lower.
const AUDIT_DIRECTIVE: &str = "vodsign::audit=info";

/// Installs the global subscriber writing to `writer`. `RUST_LOG`, when set, overrides the
/// configured level. Returns false when a subscriber was already installed (tests).
pub fn init<W>(settings: &ServerSettings, writer: W) -> bool
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // Audit events (`[audit] destination = "log"`) are kept whatever the log level.
        .add_directive(AUDIT_DIRECTIVE.parse().expect("a valid constant directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
            .is_ok(),
        LogFormat::Text => builder.try_init().is_ok(),
    }
}
