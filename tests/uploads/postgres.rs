//! What only PostgreSQL has: a server that goes away and comes back, and a password in the
//! URL that must never surface.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vodsign::uploads::{RecordError, StoreError, UploadStore};

use super::{T0, open, owner, settings, ticket};
use crate::support::eventually;
use crate::support::postgres::{PgCluster, create_database, skipped};

/// The store answers `Unavailable` while the server is down, within its timeout (bounded
/// here only so a hang fails), and works again once it is back, with the same handle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_down_is_unavailable_and_recovers_without_a_new_handle() {
    if skipped("the_store_down_is_unavailable_and_recovers_without_a_new_handle") {
        return;
    }
    let cluster = PgCluster::start();
    let url = create_database(&cluster.url("postgres")).await;
    let store = open(&url).await;
    let alice = owner("alice");
    let new = ticket(&alice, T0, 3600);
    store.create(&new).await.expect("created while up");

    let cluster = Arc::new(cluster);
    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop_server())
        .await
        .expect("stopped");

    // Down: every kind of operation fails as unavailable, and none hangs.
    for _ in 0..3 {
        let started = Instant::now();
        let err = store
            .get(&alice, &new.id, T0)
            .await
            .expect_err("the server is down");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "bounded, not hung"
        );
    }
    let err = store
        .record_signature(&alice, &new.id, 10, T0)
        .await
        .expect_err("down");
    assert!(
        matches!(err, RecordError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));

    let restarting = cluster.clone();
    tokio::task::spawn_blocking(move || restarting.start_server())
        .await
        .expect("restarted");
    // Back: the same handle reconnects by itself.
    eventually(
        "the store answers again",
        Duration::from_secs(20),
        async || store.ping().await.is_ok(),
    )
    .await;
    let read = store
        .get(&alice, &new.id, T0)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.signatures_issued, 1, "nothing was written while down");
    assert_eq!(store.record_signature(&alice, &new.id, 10, T0).await, Ok(2));
}

/// A URL's password never appears in the store's `Debug` or in an error, even when the
/// server cannot be reached.
#[tokio::test]
async fn the_password_never_surfaces() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // Nothing listens on the port once the listener is dropped.
    let url = format!("postgres://vodsign:hunter2-pw@127.0.0.1:{port}/vodsign");
    let store = UploadStore::connect(&settings(&url)).expect("a usable URL");
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    let started = Instant::now();
    let err = store.ping().await.expect_err("nothing listens there");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "bounded, not hung"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    let err = store.migrate().await.expect_err("nothing listens there");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");

    let err = UploadStore::connect(&settings("postgres://vodsign:hunter2-pw@[bad/x")).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
