//! The pull loop in process, against the fake VOD API and a real SQLite store: nothing is
//! confirmed that was not committed, a stale confirmation is counted and its redelivery
//! deduplicated, and a stop ends a long poll at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vodsign::config::EventSettings;
use vodsign::events::{EventStore, PullError, PullLoop, RelayObserver, SystemClock};
use vodsign::uploads::UploadStore;
use vodsign::vodapi::VodApi;

use crate::support::eventually;
use crate::support::fake_vod::events::new_file_upload;
use crate::support::fake_vod::{FakeVod, FakeVodOptions};
use crate::support::service::TestKey;

#[derive(Default)]
struct Counts {
    stale: AtomicUsize,
    deduplicated: AtomicUsize,
}

impl RelayObserver for Counts {
    fn stale_confirm(&self) {
        self.stale.fetch_add(1, Ordering::SeqCst);
    }
    fn deduplicated(&self, events: usize) {
        self.deduplicated.fetch_add(events, Ordering::SeqCst);
    }
}

struct Rig {
    fake: FakeVod,
    store: UploadStore,
    counts: Arc<Counts>,
    pull: Arc<PullLoop>,
    _dir: tempfile::TempDir,
}

/// A loop on a fresh SQLite file, migrated or not.
async fn rig(hold: Duration, migrated: bool) -> Rig {
    let key = TestKey::new("pull");
    let fake = FakeVod::start(FakeVodOptions::new(&key.id, &key.key).hold(hold)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    let store = UploadStore::connect(&crate::uploads::settings(&url)).expect("a usable URL");
    if migrated {
        store.migrate().await.expect("migrates");
    }
    let api = VodApi::new(
        &EventSettings {
            api_endpoint: fake.endpoint(),
            pull_timeout_ms: 10_000,
            ..EventSettings::default()
        },
        vodsign::VodCredentials {
            secret_id: vodsign::signature::SecretId::try_from(key.id.as_str()).expect("valid"),
            secret_key: secrecy::SecretString::from(key.key.clone()),
            placeholder: false,
        },
    )
    .expect("a client");
    let keys = crate::events::keys();
    let counts = Arc::new(Counts::default());
    let pull = PullLoop::new(
        Arc::new(api),
        EventStore::new(store.clone()),
        Arc::new(move || keys.clone()),
        Vec::new(),
        Arc::new(SystemClock),
        counts.clone(),
    );
    Rig {
        fake,
        store,
        counts,
        pull: Arc::new(pull),
        _dir: dir,
    }
}

fn confirm_calls(fake: &FakeVod) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.action == "ConfirmEvents")
        .count()
}

#[tokio::test]
async fn events_whose_ingest_failed_are_never_confirmed() {
    // Not migrated: the outbox's tables are missing, so the transaction fails.
    let rig = rig(Duration::from_millis(300), false).await;
    rig.fake
        .push(new_file_upload("5285890799000000100", "console"));
    let err = rig.pull.once().await.expect_err("the store refuses");
    assert!(matches!(err, PullError::Store(_)), "{err}");
    assert_eq!(
        confirm_calls(&rig.fake),
        0,
        "no confirmation without a commit"
    );
    assert_eq!(rig.fake.in_flight(), 1);

    // Once the store works, VOD's redelivery is stored and confirmed.
    rig.store.migrate().await.expect("migrates");
    rig.fake.advance(Duration::from_secs(31));
    let round = rig.pull.once().await.expect("a round");
    assert_eq!((round.pulled, round.new, round.confirmed), (1, 1, 1));
    assert_eq!(rig.fake.confirmed().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_confirmation_is_counted_and_the_redelivery_deduplicated() {
    let rig = rig(Duration::from_millis(300), true).await;
    rig.fake.hold_confirms(true);
    rig.fake.push_all([
        new_file_upload("5285890799000000101", "console"),
        new_file_upload("5285890799000000102", "console"),
    ]);
    let pull = rig.pull.clone();
    let first = tokio::spawn(async move { pull.once().await });
    eventually(
        "the confirmation held",
        Duration::from_secs(10),
        async || rig.fake.confirms_waiting() >= 1,
    )
    .await;
    // The handles go stale while VOD holds the call.
    rig.fake.advance(Duration::from_secs(31));
    rig.fake.hold_confirms(false);
    let round = first
        .await
        .expect("joined")
        .expect("a stale handle is not fatal");
    assert_eq!((round.new, round.confirmed), (2, 0));
    assert_eq!(rig.counts.stale.load(Ordering::SeqCst), 1);

    let again = rig.pull.once().await.expect("the redelivery");
    assert_eq!(
        (again.pulled, again.new, again.duplicates, again.confirmed),
        (2, 0, 2, 2)
    );
    assert_eq!(rig.counts.deduplicated.load(Ordering::SeqCst), 2);
    assert_eq!(rig.fake.confirmed().len(), 2);
}

#[tokio::test]
async fn a_stop_ends_a_long_poll_at_once() {
    let rig = rig(Duration::from_secs(5), true).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let pull = Arc::try_unwrap(rig.pull).ok().expect("the only handle");
    let task = tokio::spawn(pull.run(async move {
        let _ = stopped.await;
    }));
    eventually("a long poll", Duration::from_secs(5), async || {
        rig.fake.calls().iter().any(|c| c.action == "PullEvents")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    stop.send(()).expect("running");
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops within 2 s, not after the 5 s long poll")
        .expect("joined");
    assert!(asked.elapsed() < Duration::from_secs(2));
}
