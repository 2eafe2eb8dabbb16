//! `[audit]`: where the audit events go; `crate::audit` opens the destination.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[audit]`: where the audit events (one per signature issued or refused) go.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// `log` (a `tracing` event with target `vodsign::audit`), `file` (JSON lines appended
    /// to `path`), `stdout` or `stderr` (JSON lines). Default `log`.
    pub destination: AuditDestination,
    /// The file for `destination = "file"`; created if missing, always appended to.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditDestination {
    #[default]
    Log,
    File,
    Stdout,
    Stderr,
}
