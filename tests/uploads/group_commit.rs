//! Ticket creation is written in batches (group commit): on both backends, many concurrent
//! creations all land with their own data, one bad row in a batch fails only itself, and a
//! store that stops answering mid-batch gives `Unavailable` to its callers, then recovers.
//!
//! To make a batch for certain, a test holds the table's write lock from a connection of
//! its own (SQLite `BEGIN IMMEDIATE`, PostgreSQL `LOCK TABLE`): the writer blocks on its
//! first row while the others queue behind it, and they go in together once the lock is
//! let go.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection as _, PgConnection, SqliteConnection};
use vodsign::uploads::{Metadata, NewUpload, StoreError, Upload, UploadStore};

use super::{T0, owner, ticket};

use crate::support::backends::on_both_backends;

on_both_backends!(
    concurrent_creations_all_land_with_their_own_data,
    one_bad_row_fails_only_itself,
    a_store_blocked_past_its_timeout_is_unavailable_then_recovers,
);

/// A ticket of subject `who` whose metadata names `n`, so each row is told apart.
fn numbered(who: &str, n: usize) -> NewUpload {
    let mut new = ticket(&owner(who), T0 + (n % 7) as u64, 3600);
    new.metadata = Metadata::from_json(&format!(r#"{{"n":{n}}}"#), 4096).expect("an object");
    new
}

/// 200 creations from 64 tasks: every one answered `Ok`, every one read back as made.
async fn concurrent_creations_all_land_with_their_own_data(store: &UploadStore, _url: &str) {
    const TASKS: usize = 64;
    const TOTAL: usize = 200;
    let store = Arc::new(store.clone());
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            for n in (task..TOTAL).step_by(TASKS) {
                let new = numbered(&format!("owner-{}", n % 5), n);
                let upload = store.create(&new).await.expect("created");
                made.push((new, upload));
            }
            made
        }));
    }
    let mut made = Vec::new();
    for task in tasks {
        made.extend(task.await.expect("the task ran"));
    }
    assert_eq!(made.len(), TOTAL);
    for (new, upload) in &made {
        let read = store
            .get(&new.owner, &new.id, T0)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(&read, upload, "read back as answered");
        assert_eq!(
            read.metadata.as_json(),
            new.metadata.as_json(),
            "its own data"
        );
    }
    let mut listed = 0;
    for who in 0..5 {
        let page = store
            .list(&owner(&format!("owner-{who}")), None, 1000, None, T0)
            .await
            .expect("listed");
        listed += page.items.len();
    }
    assert_eq!(listed, TOTAL, "no row twice, none missing");
}

/// A batch holding a duplicate id: that creation fails (a store failure, not an outage),
/// every other one in the batch is stored.
async fn one_bad_row_fails_only_itself(store: &UploadStore, url: &str) {
    let existing = numbered("alice", 0);
    store.create(&existing).await.expect("created");

    let lock = TableLock::take(url).await;
    let first = spawn_create(store, numbered("alice", 1));
    // The writer is now blocked on `first`; these queue behind it and form one batch.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut queued = Vec::new();
    let mut duplicate = numbered("alice", 2);
    duplicate.id = existing.id.clone();
    for n in 3..19 {
        queued.push(spawn_create(store, numbered("alice", n)));
        if n == 10 {
            queued.push(spawn_create(store, duplicate.clone()));
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.release().await;

    first
        .await
        .expect("ran")
        .1
        .expect("the blocked creation is stored");
    let mut stored = 0;
    for creation in queued {
        let (new, result) = creation.await.expect("ran");
        if new.metadata.as_json() == duplicate.metadata.as_json() {
            assert!(
                matches!(result, Err(StoreError::Failed(_))),
                "the duplicate fails as a store failure: {result:?}"
            );
            continue;
        }
        let upload = result.expect("every other row of the batch is stored");
        let read = store.get(&new.owner, &new.id, T0).await.expect("read");
        assert_eq!(read, Some(upload));
        stored += 1;
    }
    assert_eq!(stored, 16);
    let kept = store
        .get(&existing.owner, &existing.id, T0)
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(
        kept.metadata.as_json(),
        existing.metadata.as_json(),
        "the first row with that id is untouched"
    );
}

/// The table locked for longer than the store's timeout while creations are queued: each
/// caller gets `Unavailable` within its bound; once the lock is gone, creation works again
/// with the same store.
async fn a_store_blocked_past_its_timeout_is_unavailable_then_recovers(
    store: &UploadStore,
    url: &str,
) {
    let lock = TableLock::take(url).await;
    let blocked: Vec<_> = (0..8)
        .map(|n| spawn_create(store, numbered("bob", n)))
        .collect();
    for creation in blocked {
        let (_, result) = tokio::time::timeout(Duration::from_secs(20), creation)
            .await
            .expect("bounded, not hung")
            .expect("ran");
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
    }
    lock.release().await;

    let new = numbered("bob", 99);
    let made = store
        .create(&new)
        .await
        .expect("created once the store answers");
    let read = store.get(&new.owner, &new.id, T0).await.expect("read");
    assert_eq!(read, Some(made));
}

fn spawn_create(
    store: &UploadStore,
    new: NewUpload,
) -> tokio::task::JoinHandle<(NewUpload, Result<Upload, StoreError>)> {
    let store = store.clone();
    tokio::spawn(async move {
        let result = store.create(&new).await;
        (new, result)
    })
}

/// The `uploads` table's write lock, held by a connection outside the store's pool.
enum TableLock {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl TableLock {
    async fn take(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            let mut conn = SqliteConnection::connect(url).await.expect("opens");
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .expect("locks");
            TableLock::Sqlite(conn)
        } else {
            let mut conn = PgConnection::connect(url).await.expect("connects");
            sqlx::raw_sql("BEGIN; LOCK TABLE uploads IN EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .expect("locks");
            TableLock::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            TableLock::Sqlite(mut conn) => {
                sqlx::raw_sql("COMMIT")
                    .execute(&mut conn)
                    .await
                    .expect("unlocks");
                conn.close().await.expect("closes");
            }
            TableLock::Postgres(mut conn) => {
                sqlx::raw_sql("COMMIT")
                    .execute(&mut conn)
                    .await
                    .expect("unlocks");
                conn.close().await.expect("closes");
            }
        }
    }
}
