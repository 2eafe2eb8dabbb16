//! What only the SQLite backend has: the file and its directory made on first start, WAL.

use sqlx::{Connection as _, SqliteConnection};

use super::{T0, open, owner, ticket};

#[tokio::test]
async fn the_file_and_its_directory_are_created_on_first_start_in_wal_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/deeper/uploads.db");
    let url = format!("sqlite://{}", path.display());
    let store = open(&url).await;
    assert!(path.is_file(), "created with its directories");
    store
        .create(&ticket(&owner("alice"), T0, 60))
        .await
        .expect("created");

    let mut conn = SqliteConnection::connect(&url).await.expect("opens");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    conn.close().await.expect("closes");

    // A restart opens the same file and finds the upload.
    drop(store);
    let again = open(&url).await;
    let page = again
        .list(&owner("alice"), None, 10, None, T0)
        .await
        .expect("listed");
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn a_directory_that_cannot_be_made_names_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").expect("write");
    let url = format!("sqlite://{}/sub/uploads.db", blocker.display());
    let err = vodsign::uploads::UploadStore::connect(&super::settings(&url)).unwrap_err();
    assert_eq!(err.setting(), Some("store.url"), "{err}");
}

/// The background task sweeps on its own clock and stops when told.
#[tokio::test]
async fn the_sweeper_runs_until_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("uploads.db").display());
    let store = open(&url).await;
    let alice = owner("alice");
    let new = ticket(&alice, T0, 60);
    store.create(&new).await.expect("created");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(vodsign::uploads::sweeper::run(
        store.clone(),
        std::time::Duration::from_millis(20),
        30,
        || T0 + 61,
        async move {
            let _ = stopped.await;
        },
    ));
    // `get` at T0 reads the stored status: only a sweep can have made it `expired`.
    crate::support::eventually(
        "the sweeper marked it",
        std::time::Duration::from_secs(10),
        async || {
            store
                .get(&alice, &new.id, T0)
                .await
                .expect("read")
                .expect("found")
                .status
                == vodsign::uploads::Status::Expired
        },
    )
    .await;
    stop.send(()).expect("the task listens");
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("stops when told")
        .expect("did not panic");
}
