//! `vodsign migrate`: the upload store's versioned migrations as a step of their own, for
//! operators who run them before the service starts (a Kubernetes Job or init container).
//! The service runs the same migrations at start-up.
//!
//! Reads `[store]` only (the file's other tables are `serve`'s and `check-config`'s
//! business), with `VODSIGN_STORE_URL[_FILE]` overriding `store.url`; without a file it needs
//! that variable, so it never migrates the default SQLite file by accident. Every step is
//! bounded by the store's own deadline (`store.timeout_ms`, ten times over for the
//! migrations themselves). Exit 0: up to date; 1: the store is unreachable or a migration
//! failed; 2: usage or configuration error. No message quotes the URL.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{self, STORE_URL_ENV, Settings, StoreSettings};
use crate::uploads::{MigrationState, MigrationStatus, StoreError, UploadStore};

use super::CliError;

/// Applies the pending migrations and prints each one applied, or with `status_only` lists
/// every migration as applied or pending and changes nothing.
pub(super) fn run(config: Option<PathBuf>, status_only: bool) -> Result<ExitCode, CliError> {
    let settings = store_settings(config)?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        // The pool starts its upkeep task on the runtime: opened inside it.
        let store = UploadStore::connect(&settings)?;
        let kind = store.kind().as_str();
        let failed = |e: StoreError| {
            let hint = match e {
                StoreError::Unavailable(_) => {
                    format!("; is it running, and does store.url (or {STORE_URL_ENV}) name it?")
                }
                StoreError::Failed(_) => String::new(),
            };
            CliError::Failed(format!("migrate: {kind} store: {e}{hint}"))
        };
        let before = store.migration_status().await.map_err(failed)?;
        if status_only {
            println!("{kind} store:");
            for m in &before {
                println!("  {} {}: {}", m.version, m.description, m.state.as_str());
            }
            let pending = count(&before, MigrationState::Pending);
            if pending == 0 {
                println!("nothing pending");
            } else {
                println!("{pending} pending: `vodsign migrate` (or start-up) applies them");
            }
            return Ok(ExitCode::SUCCESS);
        }
        store.migrate().await.map_err(failed)?;
        let after = store.migration_status().await.map_err(failed)?;
        let mut applied = 0;
        for m in &after {
            let was_pending = before
                .iter()
                .any(|b| b.version == m.version && b.state == MigrationState::Pending);
            if was_pending && m.state == MigrationState::Applied {
                println!("applied: {} {}", m.version, m.description);
                applied += 1;
            }
        }
        let latest = after
            .iter()
            .rfind(|m| m.state == MigrationState::Applied)
            .map(|m| format!("{} {}", m.version, m.description))
            .unwrap_or_else(|| "none".to_owned());
        println!(
            "{kind} store up to date: {} applied now, {} in all, the latest {latest}",
            if applied == 0 {
                "nothing".to_owned()
            } else {
                applied.to_string()
            },
            count(&after, MigrationState::Applied),
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn count(list: &[MigrationStatus], state: MigrationState) -> usize {
    list.iter().filter(|m| m.state == state).count()
}

/// `[store]` from the file (`--config`, else `VODSIGN_CONFIG`) and the environment, checked.
fn store_settings(path: Option<PathBuf>) -> Result<StoreSettings, CliError> {
    let path = config::config_path(path);
    if path.is_none() && config::secret_from_env(STORE_URL_ENV)?.is_none() {
        return Err(CliError::Usage(format!(
            "give --config PATH (or VODSIGN_CONFIG) to migrate its [store] url, or set \
             {STORE_URL_ENV} (or {STORE_URL_ENV}_FILE)"
        )));
    }
    let settings = Settings::read(path.as_deref())?;
    settings.store.validate()?;
    Ok(settings.store)
}
