//! One suite, both backends: each scenario takes a fresh, migrated store (and its URL, to
//! open a second handle on it) and runs unchanged on SQLite and on PostgreSQL.

use std::sync::Arc;

use vodsign::uploads::{
    Cursor, InvalidCursor, RecordError, Status, SweepReport, UploadId, UploadStore, sweep_once,
};

use super::{T0, open, owner, ticket};

use crate::support::backends::on_both_backends;

on_both_backends!(
    lifecycle,
    owners_see_only_their_own,
    re_signing_stops_at_the_limit,
    concurrent_re_signing_never_exceeds_the_limit,
    an_expired_upload_cannot_be_signed,
    listing_is_newest_first_and_pages_without_gaps,
    listing_filters_by_status,
    two_handles_share_the_same_uploads,
    migrations_run_twice_and_the_store_answers_pings,
    old_rows_are_purged_in_batches,
    a_sweep_expires_and_purges,
);

async fn lifecycle(store: &UploadStore, _url: &str) {
    let alice = owner("alice");
    let new = ticket(&alice, T0, 3600);
    let made = store.create(&new).await.expect("created");
    assert_eq!(
        (made.status, made.signatures_issued),
        (Status::Authorized, 1)
    );

    let read = store.get(&alice, &new.id, T0 + 1).await.expect("read");
    assert_eq!(read.as_ref(), Some(&made), "reads back as stored");
    let read = read.expect("found");
    assert_eq!(
        read.metadata.as_json(),
        r#"{"title":"clip","n":1}"#,
        "as given"
    );
    assert_eq!(
        read.grant, new.grant,
        "the grant comes back validated and equal"
    );

    assert_eq!(
        store.record_signature(&alice, &new.id, 10, T0 + 2).await,
        Ok(2)
    );
    assert_eq!(
        store.record_signature(&alice, &new.id, 10, T0 + 3).await,
        Ok(3)
    );

    // The event relay binds VOD's file and moves the status on.
    assert!(
        store
            .bind_file_id(&new.id, "5285890781234", Some("https://v/x.mp4"))
            .await
            .expect("bound")
    );
    assert!(
        !store
            .bind_file_id(&UploadId::generate(), "1", None)
            .await
            .expect("no such upload")
    );
    assert_eq!(
        store
            .set_status_by_file_id("5285890781234", Status::Uploaded)
            .await,
        Ok(1)
    );
    let read = store
        .get(&alice, &new.id, T0 + 4)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.status, Status::Uploaded);
    assert_eq!(read.file_id.as_deref(), Some("5285890781234"));
    assert_eq!(read.media_url.as_deref(), Some("https://v/x.mp4"));
    assert_eq!(read.signatures_issued, 3);
    assert_eq!(
        store.record_signature(&alice, &new.id, 10, T0 + 5).await,
        Err(RecordError::Finished(Status::Uploaded)),
        "an uploaded file needs no more signatures"
    );

    // Past its expiry an uploaded upload stays uploaded: only `authorized` expires.
    assert_eq!(store.mark_expired(T0 + 7200).await, Ok(0));
    assert_eq!(
        store
            .set_status_by_file_id("5285890781234", Status::Deleted)
            .await,
        Ok(1)
    );
    assert_eq!(
        store.get(&alice, &new.id, T0 + 7200).await,
        Ok(None),
        "deleted is gone"
    );
    assert_eq!(
        store.record_signature(&alice, &new.id, 10, T0 + 10).await,
        Err(RecordError::NotFound)
    );
}

async fn owners_see_only_their_own(store: &UploadStore, _url: &str) {
    let (alice, mallory) = (owner("alice"), owner("mallory"));
    let new = ticket(&alice, T0, 3600);
    store.create(&new).await.expect("created");
    store
        .create(&ticket(&mallory, T0, 3600))
        .await
        .expect("created");

    assert_eq!(
        store.get(&mallory, &new.id, T0).await,
        Ok(None),
        "another's id is not found"
    );
    assert_eq!(
        store.record_signature(&mallory, &new.id, 10, T0).await,
        Err(RecordError::NotFound),
        "and cannot be re-signed"
    );
    // The same subject at another issuer, or through an API key, is someone else.
    let mut elsewhere = alice.clone();
    elsewhere.authority = "partner".into();
    assert_eq!(store.get(&elsewhere, &new.id, T0).await, Ok(None));
    let mut by_key = alice.clone();
    by_key.kind = "api_key".into();
    by_key.authority = String::new();
    assert_eq!(store.get(&by_key, &new.id, T0).await, Ok(None));

    let page = store
        .list(&mallory, None, 100, None, T0)
        .await
        .expect("listed");
    assert_eq!(page.items.len(), 1);
    assert!(page.items.iter().all(|u| u.owner == mallory));
    let alices = store
        .list(&alice, None, 100, None, T0)
        .await
        .expect("listed");
    assert_eq!(
        alices.items.iter().map(|u| &u.id).collect::<Vec<_>>(),
        [&new.id]
    );
    // Mallory's re-sign attempt wrote nothing.
    assert_eq!(alices.items[0].signatures_issued, 1);
}

async fn re_signing_stops_at_the_limit(store: &UploadStore, _url: &str) {
    let alice = owner("alice");
    let new = ticket(&alice, T0, 3600);
    store.create(&new).await.expect("created");
    assert_eq!(store.record_signature(&alice, &new.id, 3, T0).await, Ok(2));
    assert_eq!(store.record_signature(&alice, &new.id, 3, T0).await, Ok(3));
    for _ in 0..2 {
        assert_eq!(
            store.record_signature(&alice, &new.id, 3, T0).await,
            Err(RecordError::LimitReached { max: 3 })
        );
    }
    let read = store
        .get(&alice, &new.id, T0)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.signatures_issued, 3, "a refusal writes nothing");
    assert_eq!(
        store
            .record_signature(&alice, &UploadId::generate(), 3, T0)
            .await,
        Err(RecordError::NotFound)
    );
}

async fn concurrent_re_signing_never_exceeds_the_limit(store: &UploadStore, url: &str) {
    const MAX: u32 = 6;
    const CALLERS: usize = 24;
    let alice = owner("alice");
    let new = ticket(&alice, T0, 3600);
    store.create(&new).await.expect("created");
    // Half the callers on a second handle, as on a second replica.
    let other = open(url).await;
    let stores = [Arc::new(store.clone()), Arc::new(other)];
    let mut tasks = Vec::new();
    for i in 0..CALLERS {
        let store = stores[i % 2].clone();
        let (alice, id) = (alice.clone(), new.id.clone());
        tasks.push(tokio::spawn(async move {
            store.record_signature(&alice, &id, MAX, T0).await
        }));
    }
    let mut granted = Vec::new();
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(count) => granted.push(count),
            Err(RecordError::LimitReached { max: MAX }) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    granted.sort_unstable();
    assert_eq!(
        granted,
        (2..=MAX).collect::<Vec<_>>(),
        "each count handed out once"
    );
    let read = store
        .get(&alice, &new.id, T0)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.signatures_issued, MAX);
}

async fn an_expired_upload_cannot_be_signed(store: &UploadStore, _url: &str) {
    let alice = owner("alice");
    let new = ticket(&alice, T0, 60);
    store.create(&new).await.expect("created");
    assert_eq!(
        store.record_signature(&alice, &new.id, 10, T0 + 59).await,
        Ok(2)
    );
    assert_eq!(
        store.record_signature(&alice, &new.id, 10, T0 + 60).await,
        Err(RecordError::Expired),
        "the expiry second itself is too late"
    );
    let read = store
        .get(&alice, &new.id, T0 + 60)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        read.status,
        Status::Expired,
        "reads as expired before the sweep"
    );
    assert_eq!(read.signatures_issued, 2);
    assert_eq!(store.mark_expired(T0 + 59).await, Ok(0), "not yet");
    assert_eq!(store.mark_expired(T0 + 60).await, Ok(1));
    assert_eq!(store.mark_expired(T0 + 61).await, Ok(0), "once");
    let read = store
        .get(&alice, &new.id, T0)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        read.status,
        Status::Expired,
        "stored as expired: earlier clocks agree"
    );
    assert_eq!(
        store.record_signature(&alice, &new.id, 10, T0).await,
        Err(RecordError::Expired)
    );
}

async fn listing_is_newest_first_and_pages_without_gaps(store: &UploadStore, _url: &str) {
    let alice = owner("alice");
    // 25 uploads in one second, then 5 in a later second, then 5 in an earlier one.
    let mut made = Vec::new();
    for (second, count) in [(T0, 25), (T0 + 1, 5), (T0 - 1, 5)] {
        for _ in 0..count {
            let new = ticket(&alice, second, 3600);
            store.create(&new).await.expect("created");
            made.push((second, new.id));
        }
    }
    // Newest first: by second, then by creation order within it.
    let mut expected = made.clone();
    expected.reverse();
    expected.sort_by_key(|(second, _)| std::cmp::Reverse(*second));
    let expected: Vec<UploadId> = expected.into_iter().map(|(_, id)| id).collect();

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list(&alice, None, 10, cursor, T0)
            .await
            .expect("listed");
        pages += 1;
        assert!(page.items.len() <= 10);
        seen.extend(page.items.into_iter().map(|u| u.id));
        let Some(next) = page.next_cursor else { break };
        // The cursor travels as text.
        cursor = Some(Cursor::parse(&next.encode()).expect("our own cursor reads back"));
        assert!(pages < 10, "pagination ends");
    }
    assert_eq!(pages, 4, "35 uploads in pages of 10");
    assert_eq!(seen, expected, "every upload once, newest first");

    let all = store
        .list(&alice, None, 35, None, T0)
        .await
        .expect("listed");
    assert_eq!(all.items.len(), 35);
    assert_eq!(
        all.next_cursor, None,
        "an exact last page has no next cursor"
    );

    assert_eq!(Cursor::parse("not a cursor"), Err(InvalidCursor));
    assert_eq!(Cursor::parse(""), Err(InvalidCursor));
}

async fn listing_filters_by_status(store: &UploadStore, _url: &str) {
    let alice = owner("alice");
    let fresh = ticket(&alice, T0, 3600);
    let stale = ticket(&alice, T0, 10);
    let done = ticket(&alice, T0, 3600);
    for new in [&fresh, &stale, &done] {
        store.create(new).await.expect("created");
    }
    store
        .bind_file_id(&done.id, "f-done", None)
        .await
        .expect("bound");
    store
        .set_status_by_file_id("f-done", Status::Processed)
        .await
        .expect("set");
    let now = T0 + 100;
    let ids = async |status| {
        store
            .list(&alice, Some(status), 100, None, now)
            .await
            .expect("listed")
            .items
            .into_iter()
            .map(|u| u.id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(Status::Authorized).await, [fresh.id.to_string()]);
    assert_eq!(
        ids(Status::Expired).await,
        [stale.id.to_string()],
        "expired by time, unswept"
    );
    assert_eq!(ids(Status::Processed).await, [done.id.to_string()]);
    assert!(ids(Status::Failed).await.is_empty());
}

async fn two_handles_share_the_same_uploads(store: &UploadStore, url: &str) {
    let replica = open(url).await;
    let alice = owner("alice");
    let new = ticket(&alice, T0, 3600);
    store.create(&new).await.expect("created on one");
    assert_eq!(
        replica.record_signature(&alice, &new.id, 10, T0).await,
        Ok(2),
        "re-signed on the other"
    );
    let read = store
        .get(&alice, &new.id, T0)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        read.signatures_issued, 2,
        "the first sees the second's write"
    );
    let listed = replica
        .list(&alice, None, 10, None, T0)
        .await
        .expect("listed");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, new.id);
}

async fn migrations_run_twice_and_the_store_answers_pings(store: &UploadStore, url: &str) {
    store.migrate().await.expect("a second run is a no-op");
    let (a, b) = (
        vodsign::uploads::UploadStore::connect(&super::settings(url)).expect("usable"),
        vodsign::uploads::UploadStore::connect(&super::settings(url)).expect("usable"),
    );
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    assert_eq!((ra, rb), (Ok(()), Ok(())), "replicas starting together");
    assert_eq!(store.ping().await, Ok(()));
}

async fn old_rows_are_purged_in_batches(store: &UploadStore, _url: &str) {
    let alice = owner("alice");
    for day in 0..5 {
        store
            .create(&ticket(&alice, T0 + day * 86_400, 60))
            .await
            .expect("created");
    }
    let cutoff = T0 + 3 * 86_400;
    assert_eq!(store.purge(cutoff, 2).await, Ok(2), "a batch of the oldest");
    assert_eq!(
        store.purge(cutoff, 2).await,
        Ok(1),
        "the rest of the old ones"
    );
    assert_eq!(store.purge(cutoff, 2).await, Ok(0));
    let left = store
        .list(&alice, None, 100, None, T0)
        .await
        .expect("listed");
    let created: Vec<u64> = left.items.iter().map(|u| u.created_at).collect();
    assert_eq!(created, [T0 + 4 * 86_400, T0 + 3 * 86_400]);
}

async fn a_sweep_expires_and_purges(store: &UploadStore, _url: &str) {
    let alice = owner("alice");
    let old = ticket(&alice, T0 - 40 * 86_400, 60);
    let stale = ticket(&alice, T0 - 100, 60);
    let live = ticket(&alice, T0, 3600);
    for new in [&old, &stale, &live] {
        store.create(new).await.expect("created");
    }
    let report = sweep_once(store, T0, 30).await.expect("swept");
    assert_eq!(
        report,
        SweepReport {
            expired: 2,
            purged: 1
        },
        "the old one expired, then went"
    );
    let left = store
        .list(&alice, None, 10, None, T0)
        .await
        .expect("listed");
    let states: Vec<_> = left
        .items
        .iter()
        .map(|u| (u.id.clone(), u.status))
        .collect();
    assert_eq!(
        states,
        [
            (live.id.clone(), Status::Authorized),
            (stale.id.clone(), Status::Expired)
        ]
    );
    assert_eq!(
        sweep_once(store, T0, 30).await,
        Ok(SweepReport::default()),
        "idempotent"
    );
}
