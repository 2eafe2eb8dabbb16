//! Where upload tickets live: an embedded SQLite file (one instance) or PostgreSQL (replicas
//! sharing their tickets), through `sqlx`. All the SQL of the service is in this module; the
//! layers above call named operations.
//!
//! The event relay's outbox (`crate::events::store`) keeps its own SQL, and runs it through
//! [`UploadStore::pool`], so that storing an event and moving its ticket are one transaction.
//!
//! Both backends run the same SQL text (SQLite reads `$N` parameters as PostgreSQL does);
//! only the migrations differ, one versioned set per backend under `migrations/`, run by
//! [`UploadStore::migrate`]. Every operation is bounded by `store.timeout_ms`, waiting for a
//! connection included: a store that is down or slow fails fast with
//! [`StoreError::Unavailable`], and the pool reconnects by itself once it is back.
//!
//! No write is ever half done. Re-signing is one conditional `UPDATE ... RETURNING`: the
//! count goes up only while the upload is the caller's, still `authorized`, unexpired and
//! under its limit, so concurrent requests (on any replica) never issue more than the limit.
//!
//! Creation is a group commit (`writer`): a lone `INSERT` of a small row is almost all
//! fixed cost (SQLite: locks, the WAL append of every page the table and its four indexes
//! touch, hand-offs to the connection's worker thread; PostgreSQL: a commit waiting for its
//! fsync), so one writer task per store writes the creations waiting at that moment (up to
//! 64) in one transaction, as multi-row `INSERT`s of power-of-two sizes (a handful of
//! statement texts), and they share that cost. It never waits for a batch to fill: a lone
//! request is written at once. The durability rule holds: a caller is answered only after
//! the commit holding its row, so nothing acknowledged can be lost to a crash of this
//! process or an outage of the store. A batch that fails for any reason but an outage is
//! written again row by row, so one bad row fails only its own caller; an outage fails the
//! batch's callers with [`StoreError::Unavailable`], and the next batch tries again.

mod cursor;
mod migrations;

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::ConnectOptions as _;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use cursor::{Cursor, InvalidCursor};
pub use migrations::{MigrationState, MigrationStatus};

use super::id::UploadId;
use super::model::{Metadata, NewUpload, Owner, SigningGrant, Status, Upload};
use crate::config::{ConfigError, StoreKind, StoreSettings};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Most uploads one listing returns.
pub const MAX_PAGE: u32 = 1000;

/// Why the store could not answer. Neither variant ever carries the store's URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached in time: down, overloaded, or out of connections. The
    /// ticket endpoints answer 503 (50301) and retry on the next request.
    #[error("the upload store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered with an error this service did not expect (a bug or a schema
    /// out of step); logged and answered 500.
    #[error("the upload store failed: {0}")]
    Failed(String),
}

/// Why an upload could not be signed again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// No such upload of this owner (another owner's id looks the same).
    #[error("no such upload")]
    NotFound,
    /// It has had every signature it may have.
    #[error("this upload has had its {max} signatures")]
    LimitReached { max: u32 },
    /// Its time ran out.
    #[error("this upload has expired")]
    Expired,
    /// It is past the stage where signatures are useful (uploaded, processed, failed).
    #[error("this upload is {0}; it needs no more signatures")]
    Finished(Status),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of a listing, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Upload>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

/// The upload store: a pool of connections to one backend. Cheap to clone (the pool is
/// shared). Its `Debug` shows the backend, never the URL.
#[derive(Clone)]
pub struct UploadStore {
    backend: Backend,
    timeout: Duration,
    /// The group-commit writer of new tickets, shared by the clones; its task ends when
    /// the last clone is dropped.
    writer: Arc<writer::Writer>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The connection pool behind a store, for the SQL of the event relay's outbox.
pub enum StorePool<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

impl fmt::Debug for UploadStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadStore")
            .field("backend", &self.kind().as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with `$pool` bound to the backend's pool: the same code, typed for each.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to `$backend`'s pool.
macro_rules! on_backend {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

mod writer;

/// One value bound to a statement.
enum Bind {
    Int(i64),
    Text(String),
    OptText(Option<String>),
}

/// Binds `$binds` to `$query` in order.
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for value in $binds {
            query = match value {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
                Bind::OptText(v) => query.bind(v),
            };
        }
        query
    }};
}

pub(crate) const COLUMNS: &str = "seq, id, owner_kind, owner_authority, owner_subject, status, created_at, \
                       expires_at, signatures_issued, metadata, grant_json, file_id, media_url";

/// A row of `uploads` as read.
#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    seq: i64,
    id: String,
    owner_kind: String,
    owner_authority: String,
    owner_subject: String,
    status: String,
    created_at: i64,
    expires_at: i64,
    signatures_issued: i64,
    metadata: String,
    grant_json: String,
    file_id: Option<String>,
    media_url: Option<String>,
}

impl Row {
    /// The upload as of `now`, and its position for a cursor.
    pub(crate) fn into_upload(self, now: u64) -> Result<(Upload, Cursor), StoreError> {
        let corrupt = |what: &str| StoreError::Failed(format!("stored upload has {what}"));
        let id = UploadId::parse(&self.id).map_err(|_| corrupt("an invalid id"))?;
        let mut status: Status = self
            .status
            .parse()
            .map_err(|_| corrupt("an unknown status"))?;
        let expires_at =
            u64::try_from(self.expires_at).map_err(|_| corrupt("a negative expiry"))?;
        if status == Status::Authorized && expires_at <= now {
            status = Status::Expired;
        }
        let grant =
            SigningGrant::from_json(&self.grant_json).map_err(|e| corrupt(&e.to_string()))?;
        let position = Cursor {
            created_at: self.created_at,
            seq: self.seq,
        };
        let upload = Upload {
            id,
            owner: Owner {
                kind: self.owner_kind,
                authority: self.owner_authority,
                subject: self.owner_subject,
            },
            status,
            created_at: u64::try_from(self.created_at).map_err(|_| corrupt("a negative time"))?,
            expires_at,
            signatures_issued: u32::try_from(self.signatures_issued)
                .map_err(|_| corrupt("a count out of range"))?,
            // Checked when it was stored; kept as the text it was given.
            metadata: Metadata::stored(self.metadata),
            grant,
            file_id: self.file_id,
            media_url: self.media_url,
        };
        Ok((upload, position))
    }
}

/// Unix seconds as the store keeps them.
fn secs(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

impl UploadStore {
    /// A store for `settings.url`. Opens no connection (the pool connects on first use and
    /// reconnects after an outage); for SQLite, creates the file's directory. A URL the
    /// driver cannot read is refused naming `store.url`, never quoting it.
    pub fn connect(settings: &StoreSettings) -> Result<Self, ConfigError> {
        let url = settings.url.expose_secret();
        let timeout = settings.timeout();
        let unusable = |kind: &str| {
            ConfigError::key(
                "store.url",
                format!(
                    "not a usable {kind} URL; expected {}",
                    match kind {
                        "SQLite" => "sqlite://PATH",
                        _ => "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
                    }
                ),
            )
        };
        let backend = match settings.kind()? {
            StoreKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|_| unusable("SQLite"))?
                    .create_if_missing(true)
                    // WAL with synchronous=NORMAL: a commit is appended to the WAL file
                    // without an fsync (checkpoints fsync). An acknowledged upload survives
                    // a crash or kill of this process (the OS holds the write); a power loss
                    // or OS crash may lose the commits since the last checkpoint. FULL would
                    // fsync every commit. See docs/performance.md, "Upload tickets".
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(timeout)
                    // Temporary files in memory: a batch of new tickets is several
                    // statements in one transaction, and each keeps a statement journal
                    // (the pages it changed, to undo just that statement) that would
                    // otherwise spill to a new temporary file per transaction.
                    .pragma("temp_store", "memory")
                    .disable_statement_logging();
                create_parent_dir(options.get_filename())?;
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    // A connection to a local file does not go stale: no ping (a round trip
                    // to the connection's worker thread) before each use.
                    .test_before_acquire(false)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options);
                Backend::Sqlite(pool)
            }
            StoreKind::Postgres => {
                let statement_timeout = settings.timeout_ms.to_string();
                let options = PgConnectOptions::from_str(url)
                    .map_err(|_| unusable("PostgreSQL"))?
                    .application_name("vodsign")
                    .options([("statement_timeout", statement_timeout.as_str())])
                    .disable_statement_logging();
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options);
                Backend::Postgres(pool)
            }
        };
        Ok(UploadStore {
            backend,
            timeout,
            writer: Arc::default(),
        })
    }

    /// The pool, for the outbox's transactions (`crate::events::store`).
    pub fn pool(&self) -> StorePool<'_> {
        match &self.backend {
            Backend::Sqlite(pool) => StorePool::Sqlite(pool),
            Backend::Postgres(pool) => StorePool::Postgres(pool),
        }
    }

    /// The bound of one operation (`store.timeout_ms`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Which backend this is.
    pub fn kind(&self) -> StoreKind {
        match self.backend {
            Backend::Sqlite(_) => StoreKind::Sqlite,
            Backend::Postgres(_) => StoreKind::Postgres,
        }
    }

    /// Brings the schema up to date: the versioned migrations not yet applied, in order.
    /// Replicas starting together on one PostgreSQL take turns (sqlx holds an advisory lock).
    /// Bounded by ten times `store.timeout_ms`.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let run = async {
            match &self.backend {
                Backend::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
                Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
            }
        };
        match tokio::time::timeout(self.timeout * 10, run).await {
            Err(_) => Err(StoreError::Unavailable("migrations timed out".into())),
            Ok(Ok(())) => Ok(()),
            Ok(Err(MigrateError::Execute(e))) => Err(from_sqlx(e)),
            Ok(Err(e)) => Err(StoreError::Failed(format!("migrations: {e}"))),
        }
    }

    /// One round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(async {
            on_pool!(self, |pool| sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(drop))
        })
        .await
    }

    /// Stores a new ticket, `authorized`, with its first signature counted. Written with
    /// the other creations waiting at the same moment, in one transaction (see the module
    /// doc); returns once that transaction is committed.
    pub async fn create(&self, new: &NewUpload) -> Result<Upload, StoreError> {
        let row = writer::NewRow {
            id: new.id.as_str().to_owned(),
            owner_kind: new.owner.kind.clone(),
            owner_authority: new.owner.authority.clone(),
            owner_subject: new.owner.subject.clone(),
            created_at: secs(new.created_at),
            expires_at: secs(new.expires_at),
            metadata: new.metadata.as_json().to_owned(),
            grant_json: new.grant.to_json(),
        };
        self.bounded_store(self.writer.create(&self.backend, self.timeout, row))
            .await?;
        Ok(Upload {
            id: new.id.clone(),
            owner: new.owner.clone(),
            status: Status::Authorized,
            created_at: new.created_at,
            expires_at: new.expires_at,
            signatures_issued: 1,
            metadata: new.metadata.clone(),
            grant: new.grant.clone(),
            file_id: None,
            media_url: None,
        })
    }

    /// `owner`'s upload `id` as of `now`; `None` when there is none, when it is another
    /// owner's, or when it was deleted.
    pub async fn get(
        &self,
        owner: &Owner,
        id: &UploadId,
        now: u64,
    ) -> Result<Option<Upload>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM uploads WHERE id = $1 AND owner_kind = $2 \
             AND owner_authority = $3 AND owner_subject = $4 AND status <> 'deleted'"
        );
        let row: Option<Row> = self
            .bounded(async {
                on_pool!(self, |pool| sqlx::query_as(&sql)
                    .bind(id.as_str())
                    .bind(&owner.kind)
                    .bind(&owner.authority)
                    .bind(&owner.subject)
                    .fetch_optional(pool)
                    .await)
            })
            .await?;
        row.map(|row| row.into_upload(now).map(|(upload, _)| upload))
            .transpose()
    }

    /// Counts one more signature for `owner`'s upload `id`, if it may have one: it is
    /// `authorized`, unexpired at `now`, and has had fewer than `max_signatures`. One atomic
    /// statement; returns the new count, or why not (nothing is written then).
    pub async fn record_signature(
        &self,
        owner: &Owner,
        id: &UploadId,
        max_signatures: u32,
        now: u64,
    ) -> Result<u32, RecordError> {
        const SQL: &str = "UPDATE uploads SET signatures_issued = signatures_issued + 1 \
             WHERE id = $1 AND owner_kind = $2 AND owner_authority = $3 AND owner_subject = $4 \
             AND status = 'authorized' AND expires_at > $5 AND signatures_issued < $6 \
             RETURNING signatures_issued";
        let count: Option<i64> = self
            .bounded(async {
                on_pool!(self, |pool| sqlx::query_scalar(SQL)
                    .bind(id.as_str())
                    .bind(&owner.kind)
                    .bind(&owner.authority)
                    .bind(&owner.subject)
                    .bind(secs(now))
                    .bind(i64::from(max_signatures))
                    .fetch_optional(pool)
                    .await)
            })
            .await?;
        if let Some(count) = count {
            return u32::try_from(count)
                .map_err(|_| StoreError::Failed("signature count out of range".into()).into());
        }
        // Nothing was written; say why from the row as it is now.
        let Some(upload) = self.get(owner, id, now).await? else {
            return Err(RecordError::NotFound);
        };
        Err(match upload.status {
            Status::Expired => RecordError::Expired,
            Status::Authorized => RecordError::LimitReached {
                max: max_signatures,
            },
            Status::Deleted => RecordError::NotFound,
            status => RecordError::Finished(status),
        })
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) of `owner`'s uploads as of `now`, newest first
    /// (by creation time, then creation order), after `cursor`, only those in `status` when
    /// given. Deleted uploads are never listed.
    pub async fn list(
        &self,
        owner: &Owner,
        status: Option<Status>,
        limit: u32,
        cursor: Option<Cursor>,
        now: u64,
    ) -> Result<Page, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut binds = vec![
            Bind::Text(owner.kind.clone()),
            Bind::Text(owner.authority.clone()),
            Bind::Text(owner.subject.clone()),
        ];
        let mut sql = format!(
            "SELECT {COLUMNS} FROM uploads WHERE owner_kind = $1 AND owner_authority = $2 \
             AND owner_subject = $3 AND status <> 'deleted'"
        );
        let param = |binds: &mut Vec<Bind>, value: Bind| {
            binds.push(value);
            format!("${}", binds.len())
        };
        match status {
            None => {}
            Some(Status::Authorized) => {
                let now = param(&mut binds, Bind::Int(secs(now)));
                sql.push_str(&format!(
                    " AND status = 'authorized' AND expires_at > {now}"
                ));
            }
            Some(Status::Expired) => {
                let now = param(&mut binds, Bind::Int(secs(now)));
                sql.push_str(&format!(
                    " AND (status = 'expired' OR (status = 'authorized' AND expires_at <= {now}))"
                ));
            }
            Some(other) => {
                let status = param(&mut binds, Bind::Text(other.as_str().to_owned()));
                sql.push_str(&format!(" AND status = {status}"));
            }
        }
        if let Some(cursor) = cursor {
            let created_at = param(&mut binds, Bind::Int(cursor.created_at));
            let seq = param(&mut binds, Bind::Int(cursor.seq));
            sql.push_str(&format!(" AND (created_at, seq) < ({created_at}, {seq})"));
        }
        // One more than asked, to know whether another page follows.
        let fetch = param(&mut binds, Bind::Int(i64::from(limit) + 1));
        sql.push_str(&format!(
            " ORDER BY created_at DESC, seq DESC LIMIT {fetch}"
        ));

        let rows: Vec<Row> = self
            .bounded(async {
                on_pool!(self, |pool| bind_all!(sqlx::query_as(&sql), binds)
                    .fetch_all(pool)
                    .await)
            })
            .await?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len().min(limit as usize));
        let mut last = None;
        for row in rows.into_iter().take(limit as usize) {
            let (upload, position) = row.into_upload(now)?;
            items.push(upload);
            last = Some(position);
        }
        Ok(Page {
            items,
            next_cursor: if more { last } else { None },
        })
    }

    /// Marks every `authorized` upload whose expiry has passed at `now` as `expired`;
    /// returns how many.
    pub async fn mark_expired(&self, now: u64) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE uploads SET status = 'expired' WHERE status = 'authorized' AND expires_at <= $1";
        self.execute(SQL, vec![Bind::Int(secs(now))]).await
    }

    /// Deletes up to `batch` rows of uploads created before `created_before` (Unix seconds),
    /// oldest first; returns how many. Called in a loop until it returns less than `batch`,
    /// so no one statement outlasts the timeout.
    pub async fn purge(&self, created_before: u64, batch: u32) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM uploads WHERE seq IN \
             (SELECT seq FROM uploads WHERE created_at < $1 ORDER BY created_at LIMIT $2)";
        let binds = vec![Bind::Int(secs(created_before)), Bind::Int(i64::from(batch))];
        self.execute(SQL, binds).await
    }

    /// For the event relay: records VOD's file id (and the media URL, when given) of
    /// upload `id`. False when there is no such upload.
    pub async fn bind_file_id(
        &self,
        id: &UploadId,
        file_id: &str,
        media_url: Option<&str>,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            "UPDATE uploads SET file_id = $2, media_url = COALESCE($3, media_url) WHERE id = $1";
        let binds = vec![
            Bind::Text(id.as_str().to_owned()),
            Bind::Text(file_id.to_owned()),
            Bind::OptText(media_url.map(str::to_owned)),
        ];
        Ok(self.execute(SQL, binds).await? > 0)
    }

    /// For the event relay: sets the status of the uploads bound to VOD file `file_id`
    /// (a deleted upload stays deleted); returns how many changed.
    pub async fn set_status_by_file_id(
        &self,
        file_id: &str,
        status: Status,
    ) -> Result<u64, StoreError> {
        const SQL: &str =
            "UPDATE uploads SET status = $2 WHERE file_id = $1 AND status <> 'deleted'";
        let binds = vec![
            Bind::Text(file_id.to_owned()),
            Bind::Text(status.as_str().to_owned()),
        ];
        self.execute(SQL, binds).await
    }

    /// Runs one write; returns the rows it changed.
    async fn execute(&self, sql: &str, binds: Vec<Bind>) -> Result<u64, StoreError> {
        self.bounded(async {
            on_pool!(self, |pool| bind_all!(sqlx::query(sql), binds)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))
        })
        .await
    }

    /// `work` within the store's timeout; a timeout is [`StoreError::Unavailable`].
    async fn bounded_store<T>(
        &self,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "no answer within {} ms",
                    self.timeout.as_millis()
                )))
            })
    }

    /// `work` within the store's timeout; a timeout or a lost connection is
    /// [`StoreError::Unavailable`].
    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result.map_err(from_sqlx),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

/// Creates the directory an SQLite file goes in.
fn create_parent_dir(file: &Path) -> Result<(), ConfigError> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && file != Path::new(":memory:") => {
            std::fs::create_dir_all(dir).map_err(|e| {
                ConfigError::key(
                    "store.url",
                    format!("cannot create the directory {}: {e}", dir.display()),
                )
            })
        }
        _ => Ok(()),
    }
}

/// A driver error as a [`StoreError`]: connection trouble is `Unavailable`, anything else
/// `Failed`. Only the error's kind and the database's error code are kept, so no message
/// can quote a URL, a password or a stored value.
pub(crate) fn from_sqlx(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match e {
        E::Io(io) => StoreError::Unavailable(format!("connection error ({:?})", io.kind())),
        E::Tls(_) => StoreError::Unavailable("TLS error".into()),
        E::PoolTimedOut => StoreError::Unavailable("no connection free in time".into()),
        E::PoolClosed => StoreError::Unavailable("the connection pool is closed".into()),
        E::WorkerCrashed => StoreError::Unavailable("the database worker stopped".into()),
        E::Protocol(_) => StoreError::Unavailable("protocol error".into()),
        E::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // PostgreSQL: 08 connection, 53 resources, 57 operator intervention (shutdown,
            // statement timeout). SQLite: 5 busy, 6 locked.
            let transient = code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "5"
                || code == "6";
            let what = format!("database error {code} ({:?})", db.kind());
            if transient {
                StoreError::Unavailable(what)
            } else {
                StoreError::Failed(what)
            }
        }
        E::Configuration(_) => StoreError::Failed("unusable store settings".into()),
        E::RowNotFound => StoreError::Failed("row not found".into()),
        E::ColumnDecode { index, .. } => StoreError::Failed(format!("column {index} unreadable")),
        other => StoreError::Failed(format!("driver error ({})", variant_name(&other))),
    }
}

/// The name of a driver error's variant, from its `Debug`, without its fields.
fn variant_name(e: &sqlx::Error) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("unknown")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_STORE_URL;

    #[test]
    fn the_default_url_is_a_file_relative_to_the_working_directory() {
        let options = SqliteConnectOptions::from_str(DEFAULT_STORE_URL).expect("parses");
        assert_eq!(options.get_filename(), Path::new("data/vodsign.sqlite3"));
    }

    #[test]
    fn driver_errors_keep_only_their_kind() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "postgres://u:hunter2-pw@db",
        ));
        let err = from_sqlx(io);
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
        let config = sqlx::Error::Configuration("postgres://u:hunter2-pw@db".into());
        let err = from_sqlx(config);
        assert!(matches!(err, StoreError::Failed(_)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
}
