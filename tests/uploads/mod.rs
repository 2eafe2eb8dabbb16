//! The upload store on both backends, real SQLite files and a real PostgreSQL cluster
//! (`support::postgres`): one scenario suite ([`scenarios`]) run against each, then what
//! only one backend has ([`sqlite`], [`postgres`]); and the endpoints through HTTP on both
//! backends ([`api`]); creation in batches on both ([`group_commit`]).

mod api;
mod group_commit;
mod postgres;
mod scenarios;
mod sqlite;

use secrecy::SecretString;
use vodsign::config::StoreSettings;
use vodsign::signature::{UploadOptions, Validity};
use vodsign::uploads::{Metadata, NewUpload, Owner, SigningGrant, UploadId, UploadStore};

/// A Unix second well inside the 21st century, so every test's times are fixed.
pub const T0: u64 = 1_800_000_000;

/// Settings for `url` with a short timeout, so an outage answers within a test's patience.
pub fn settings(url: &str) -> StoreSettings {
    StoreSettings {
        url: SecretString::from(url),
        max_connections: 8,
        timeout_ms: 1500,
    }
}

/// A store on `url`, migrated.
pub async fn open(url: &str) -> UploadStore {
    let store = UploadStore::connect(&settings(url)).expect("a usable URL");
    store.migrate().await.expect("migrations run");
    store
}

pub fn owner(subject: &str) -> Owner {
    Owner {
        kind: "jwt".into(),
        authority: "corp".into(),
        subject: subject.into(),
    }
}

/// A ticket of `owner` made at `created_at`, valid for `ttl` seconds.
pub fn ticket(owner: &Owner, created_at: u64, ttl: u64) -> NewUpload {
    NewUpload {
        id: UploadId::generate(),
        owner: owner.clone(),
        created_at,
        expires_at: created_at + ttl,
        metadata: Metadata::from_json(r#"{"title":"clip","n":1}"#, 4096).expect("an object"),
        grant: SigningGrant {
            policy: "default".into(),
            credential: "default".into(),
            validity: Validity::try_from(1800).expect("valid"),
            options: UploadOptions {
                one_time_valid: Some(true),
                ..UploadOptions::default()
            },
        },
    }
}
