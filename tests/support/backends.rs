//! One scenario suite, both upload-store backends: `on_both_backends!(a, b, …)` in a test
//! module makes `sqlite::a` (a new file in a temporary directory) and `postgres::a` (a new
//! database of the shared throwaway cluster, `support::postgres`), each calling the module's
//! `async fn a(store: &UploadStore, url: &str)` with a fresh, migrated store and its URL (to
//! open a second handle on the same data).

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let url = format!("sqlite://{}", dir.path().join("store.db").display());
                    let store = crate::uploads::open(&url).await;
                    super::$name(&store, &url).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if crate::support::postgres::skipped(stringify!($name)) {
                        return;
                    }
                    let url = crate::support::postgres::fresh_database().await;
                    let store = crate::uploads::open(&url).await;
                    super::$name(&store, &url).await;
                }
            )*
        }
    };
}

pub(crate) use on_both_backends;
