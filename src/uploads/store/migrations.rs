//! What `vodsign migrate` reports: each versioned migration and whether the store has it.
//!
//! Read-only: it reads sqlx's bookkeeping table (`_sqlx_migrations`) when there is one and
//! writes nothing, so `vodsign migrate --status` changes no schema. The one difference
//! between the backends is how to ask whether that table exists.

use sqlx::migrate::Migrator;

use super::{Backend, StoreError, UploadStore};

/// Where one migration stands in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationState {
    /// Applied, and the same text as this binary's.
    Applied,
    /// Not applied yet: `vodsign migrate` (or start-up) applies it.
    Pending,
    /// Applied, but its text differs from this binary's: migrating refuses to go on.
    Changed,
    /// Started and failed part way: migrating refuses to go on until it is repaired.
    Failed,
    /// Applied by another version of vodsign; this binary does not have it (the schema is
    /// newer than this binary).
    Unknown,
}

impl MigrationState {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationState::Applied => "applied",
            MigrationState::Pending => "pending",
            MigrationState::Changed => "applied, but changed since (checksum differs)",
            MigrationState::Failed => "FAILED part way (repair it by hand)",
            MigrationState::Unknown => "applied, but unknown to this vodsign (a newer schema)",
        }
    }
}

/// One migration: its version, its description and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub state: MigrationState,
}

/// A row of `_sqlx_migrations`.
#[derive(sqlx::FromRow)]
struct Applied {
    version: i64,
    description: String,
    success: bool,
    checksum: Vec<u8>,
}

const LIST: &str =
    "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version";

impl UploadStore {
    /// Every migration this binary holds, in order, with its state in the store, followed
    /// by any the store has that this binary does not. Writes nothing.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, StoreError> {
        let (migrator, rows): (&Migrator, Vec<Applied>) = match &self.backend {
            Backend::Sqlite(pool) => {
                const EXISTS: &str = "SELECT COUNT(*) > 0 FROM sqlite_master \
                                      WHERE type = 'table' AND name = '_sqlx_migrations'";
                let rows = self
                    .bounded(async {
                        if sqlx::query_scalar::<_, bool>(EXISTS)
                            .fetch_one(pool)
                            .await?
                        {
                            sqlx::query_as(LIST).fetch_all(pool).await
                        } else {
                            Ok(Vec::new())
                        }
                    })
                    .await?;
                (&super::SQLITE_MIGRATIONS, rows)
            }
            Backend::Postgres(pool) => {
                const EXISTS: &str = "SELECT to_regclass('_sqlx_migrations') IS NOT NULL";
                let rows = self
                    .bounded(async {
                        if sqlx::query_scalar::<_, bool>(EXISTS)
                            .fetch_one(pool)
                            .await?
                        {
                            sqlx::query_as(LIST).fetch_all(pool).await
                        } else {
                            Ok(Vec::new())
                        }
                    })
                    .await?;
                (&super::POSTGRES_MIGRATIONS, rows)
            }
        };
        Ok(status(migrator, rows))
    }
}

/// The migrations of `migrator` against the rows the store holds.
fn status(migrator: &Migrator, rows: Vec<Applied>) -> Vec<MigrationStatus> {
    let mut out: Vec<MigrationStatus> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| {
            let row = rows.iter().find(|r| r.version == m.version);
            let state = match row {
                None => MigrationState::Pending,
                Some(r) if !r.success => MigrationState::Failed,
                Some(r) if r.checksum != *m.checksum => MigrationState::Changed,
                Some(_) => MigrationState::Applied,
            };
            MigrationStatus {
                version: m.version,
                description: m.description.to_string(),
                state,
            }
        })
        .collect();
    for row in rows {
        if !migrator.version_exists(row.version) {
            out.push(MigrationStatus {
                version: row.version,
                description: row.description,
                state: if row.success {
                    MigrationState::Unknown
                } else {
                    MigrationState::Failed
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: i64, success: bool, checksum: &[u8]) -> Applied {
        Applied {
            version,
            description: format!("m{version}"),
            success,
            checksum: checksum.to_vec(),
        }
    }

    #[test]
    fn each_state_is_read_from_the_bookkeeping_rows() {
        let migrator = &super::super::SQLITE_MIGRATIONS;
        let first = migrator.iter().next().expect("at least one migration");
        let none = status(migrator, Vec::new());
        assert!(none.iter().all(|m| m.state == MigrationState::Pending));
        assert_eq!(none.len(), migrator.iter().count());

        let applied = status(migrator, vec![row(first.version, true, &first.checksum)]);
        assert_eq!(applied[0].state, MigrationState::Applied);
        let changed = status(migrator, vec![row(first.version, true, b"other")]);
        assert_eq!(changed[0].state, MigrationState::Changed);
        let failed = status(migrator, vec![row(first.version, false, &first.checksum)]);
        assert_eq!(failed[0].state, MigrationState::Failed);

        let newer = status(migrator, vec![row(i64::MAX, true, b"x")]);
        let last = newer.last().expect("listed");
        assert_eq!(
            (last.version, last.state),
            (i64::MAX, MigrationState::Unknown)
        );
    }
}
