//! Group commit for new tickets: one writer task per store takes the creations waiting at
//! that moment (at most [`MAX_BATCH`]) and writes them together, as few multi-row `INSERT`s
//! as possible in one transaction, then answers each caller.
//!
//! Why: a ticket is one small row, and what a lone `INSERT` costs is almost all fixed cost
//! (SQLite: the locks, the WAL append of every page the table and its indexes touch, the
//! hand-offs to the connection's worker thread; PostgreSQL: a commit, which waits for its
//! fsync). Written together, rows share that cost. Nothing waits for a batch to fill: the
//! writer takes what is already queued, so a lone request is written at once, and under
//! load the batch grows by itself while the previous one is being written.
//!
//! The durability rule: a caller is answered only after the commit that holds its row, so
//! an acknowledged ticket is stored. If a batch fails for a reason other than the store
//! being unreachable (one bad row: a duplicate id), its rows are written again one by one,
//! and each caller gets its own row's result. A caller that gave up (its `store.timeout_ms`
//! ran out) has its row left out of the next batch it was waiting for, so it does not slow
//! the others; one whose time runs out during the write may still find its row stored, as
//! with any write cut off by a timeout.
//!
//! The task ends when the last handle of the store is dropped: the queue closes, the
//! creations already in it are written and answered, then the task returns.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{Backend, StoreError, from_sqlx};

/// The most rows one batch carries.
pub(super) const MAX_BATCH: usize = 64;

/// Creations queued beyond the batch being written; a caller finding it full waits (within
/// its timeout) for room.
const QUEUE: usize = 4 * MAX_BATCH;

/// The columns of a new ticket, in statement order, and the constant ones after them.
const INSERT_HEAD: &str = "INSERT INTO uploads (id, owner_kind, owner_authority, owner_subject, \
     created_at, expires_at, metadata, grant_json, status, signatures_issued) VALUES ";
const BOUND_COLUMNS: usize = 8;

/// A ticket's row as it is written.
#[derive(Clone, Debug)]
pub(super) struct NewRow {
    pub id: String,
    pub owner_kind: String,
    pub owner_authority: String,
    pub owner_subject: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub metadata: String,
    pub grant_json: String,
}

struct Job {
    row: NewRow,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// The queue to a store's writer task, started on first use (a store is made before any
/// runtime runs, e.g. for `check-config`).
#[derive(Default)]
pub(super) struct Writer {
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl Writer {
    /// Writes `row` with the others queued now; returns once it is committed (or why not).
    /// The caller bounds the wait.
    pub(super) async fn create(
        &self,
        backend: &Backend,
        timeout: Duration,
        row: NewRow,
    ) -> Result<(), StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::channel(QUEUE);
            tokio::spawn(run(backend.clone(), timeout, jobs));
            queue
        });
        let (reply, answer) = oneshot::channel();
        match queue.send(Job { row, reply }).await {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(StoreError::Unavailable("the ticket writer stopped".into()))
            }),
            // The writer's runtime has ended (a store outliving the runtime it was first
            // used on, as in tests): write this row on its own.
            Err(mpsc::error::SendError(job)) => {
                bounded(timeout, insert(backend, &[&job.row])).await
            }
        }
    }
}

/// The writer task: each round takes what is queued (at least one), writes it, answers.
async fn run(backend: Backend, timeout: Duration, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        batch.retain(|job: &Job| !job.reply.is_closed());
        write_batch(&backend, timeout, &mut batch).await;
        batch.clear();
    }
}

/// Writes `batch` in one transaction and answers each caller; on a failure other than
/// unavailability, writes the rows one by one so each caller gets its own row's result.
async fn write_batch(backend: &Backend, timeout: Duration, batch: &mut Vec<Job>) {
    if batch.is_empty() {
        return;
    }
    let rows: Vec<&NewRow> = batch.iter().map(|job| &job.row).collect();
    let outcome = bounded(timeout, insert(backend, &rows)).await;
    drop(rows);
    match outcome {
        Err(StoreError::Failed(_)) if batch.len() > 1 => {
            for job in batch.drain(..) {
                let result = bounded(timeout, insert(backend, &[&job.row])).await;
                let _ = job.reply.send(result);
            }
        }
        outcome => {
            for job in batch.drain(..) {
                let _ = job.reply.send(outcome.clone());
            }
        }
    }
}

/// Binds each of `$rows`' columns to `$query`, in [`INSERT_HEAD`]'s order.
macro_rules! bind_rows {
    ($query:expr, $rows:expr) => {{
        let mut query = $query;
        for row in $rows {
            query = query
                .bind(row.id.as_str())
                .bind(row.owner_kind.as_str())
                .bind(row.owner_authority.as_str())
                .bind(row.owner_subject.as_str())
                .bind(row.created_at)
                .bind(row.expires_at)
                .bind(row.metadata.as_str())
                .bind(row.grant_json.as_str());
        }
        query
    }};
}

/// Inserts `rows`: one statement when their number is a power of two, else one statement
/// per power-of-two part, in one transaction. Power-of-two sizes keep the statement texts
/// (and each connection's prepared-statement cache) down to a handful.
async fn insert(backend: &Backend, rows: &[&NewRow]) -> Result<(), sqlx::Error> {
    let parts = chunks(rows.len());
    on_backend!(backend, |pool| {
        if parts.len() == 1 {
            bind_rows!(sqlx::query(insert_sql(rows.len())), rows)
                .execute(pool)
                .await?;
        } else {
            let mut tx = pool.begin().await?;
            let mut start = 0;
            for size in parts {
                let part = &rows[start..start + size];
                start += size;
                bind_rows!(sqlx::query(insert_sql(size)), part)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    })
}

/// `size` split into powers of two, largest first (37 is 32 + 4 + 1).
fn chunks(size: usize) -> Vec<usize> {
    (0..usize::BITS)
        .rev()
        .map(|bit| 1usize << bit)
        .filter(|part| size & part != 0)
        .collect()
}

/// The statement inserting `rows` tickets (a power of two up to [`MAX_BATCH`]), made once.
fn insert_sql(rows: usize) -> &'static str {
    const SIZES: usize = MAX_BATCH.trailing_zeros() as usize + 1;
    static TEXTS: [OnceLock<String>; SIZES] = [const { OnceLock::new() }; SIZES];
    debug_assert!(rows.is_power_of_two() && rows <= MAX_BATCH);
    TEXTS[rows.trailing_zeros() as usize].get_or_init(|| {
        let mut sql = String::from(INSERT_HEAD);
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..BOUND_COLUMNS {
                sql.push_str(&format!("${}, ", row * BOUND_COLUMNS + column + 1));
            }
            sql.push_str("'authorized', 1)");
        }
        sql
    })
}

/// `work` within `timeout`; a timeout is [`StoreError::Unavailable`].
async fn bounded(
    timeout: Duration,
    work: impl Future<Output = Result<(), sqlx::Error>>,
) -> Result<(), StoreError> {
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result.map_err(from_sqlx),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    /// A migrated SQLite store in `dir`, as the writer sees it.
    async fn sqlite(dir: &tempfile::TempDir) -> Backend {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("writer.db"))
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .expect("opens");
        super::super::SQLITE_MIGRATIONS
            .run(&pool)
            .await
            .expect("migrates");
        Backend::Sqlite(pool)
    }

    fn row(n: i64) -> NewRow {
        NewRow {
            id: format!("id-{n}"),
            owner_kind: "api_key".into(),
            owner_authority: "local".into(),
            owner_subject: "writer".into(),
            created_at: 1_800_000_000 + n,
            expires_at: 1_800_003_600,
            metadata: format!(r#"{{"n":{n}}}"#),
            grant_json: "{}".into(),
        }
    }

    fn job(row: NewRow) -> (Job, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, answer) = oneshot::channel();
        (Job { row, reply }, answer)
    }

    async fn stored_ids(backend: &Backend) -> Vec<String> {
        let Backend::Sqlite(pool) = backend else {
            unreachable!("SQLite only")
        };
        sqlx::query_scalar("SELECT id FROM uploads ORDER BY seq")
            .fetch_all(pool)
            .await
            .expect("reads")
    }

    /// One batch of 7 (three statements in one transaction) with a duplicate id inside:
    /// the duplicate alone fails, the others are stored in order.
    #[tokio::test]
    async fn a_duplicate_in_a_batch_fails_only_its_own_caller() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = sqlite(&dir).await;
        let mut batch = Vec::new();
        let mut answers = Vec::new();
        for n in [0, 1, 2, 1, 3, 4, 5] {
            let (job, answer) = job(row(n));
            batch.push(job);
            answers.push(answer);
        }
        write_batch(&backend, Duration::from_secs(5), &mut batch).await;
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.expect("answered"));
        }
        for (i, result) in results.iter().enumerate() {
            if i == 3 {
                assert!(matches!(result, Err(StoreError::Failed(_))), "{result:?}");
            } else {
                assert_eq!(result, &Ok(()), "row {i}");
            }
        }
        assert_eq!(
            stored_ids(&backend).await,
            ["id-0", "id-1", "id-2", "id-3", "id-4", "id-5"]
        );
    }

    /// A caller that gave up before its batch was written has no row written; the queue
    /// closing (the last store handle dropped) ends the task only after what was queued
    /// is written and answered.
    #[tokio::test]
    async fn queued_creations_are_written_before_the_task_ends_and_abandoned_ones_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = sqlite(&dir).await;
        let (queue, jobs) = mpsc::channel(QUEUE);
        let mut answers = Vec::new();
        for n in 0..100 {
            let (job, answer) = job(row(n));
            queue.send(job).await.expect("queued");
            if n == 50 {
                drop(answer);
            } else {
                answers.push(answer);
            }
        }
        drop(queue);
        tokio::time::timeout(
            Duration::from_secs(30),
            run(backend.clone(), Duration::from_secs(5), jobs),
        )
        .await
        .expect("the task ends once the queue is closed and drained");
        for answer in answers {
            assert_eq!(answer.await.expect("answered"), Ok(()));
        }
        let ids = stored_ids(&backend).await;
        assert_eq!(ids.len(), 99, "{ids:?}");
        assert!(
            !ids.contains(&"id-50".to_owned()),
            "the abandoned row is left out"
        );
    }

    #[test]
    fn sizes_split_into_powers_of_two() {
        assert_eq!(chunks(1), [1]);
        assert_eq!(chunks(37), [32, 4, 1]);
        assert_eq!(chunks(MAX_BATCH), [MAX_BATCH]);
        assert_eq!(chunks(MAX_BATCH - 1), [32, 16, 8, 4, 2, 1]);
    }

    #[test]
    fn statements_number_their_parameters_in_order() {
        let two = insert_sql(2);
        assert!(two.starts_with(INSERT_HEAD), "{two}");
        assert!(
            two.ends_with(
                "($1, $2, $3, $4, $5, $6, $7, $8, 'authorized', 1), \
                 ($9, $10, $11, $12, $13, $14, $15, $16, 'authorized', 1)"
            ),
            "{two}"
        );
        assert!(insert_sql(MAX_BATCH).contains(&format!("${},", MAX_BATCH * BOUND_COLUMNS)));
    }
}
