//! The VOD API client (`vodsign::vodapi`) against the fake VOD API (`support::fake_vod`),
//! which verifies the TC3 signature of every call: the queue (`queue`), the event
//! configuration and `vodsign events setup|status` (`setup`), and the failures (`errors`).

use std::time::Duration;

use secrecy::SecretString;
use vodsign::VodCredentials;
use vodsign::config::EventSettings;
use vodsign::signature::SecretId;
use vodsign::vodapi::VodApi;

use crate::support::fake_vod::{FakeVod, FakeVodOptions};
use crate::support::random_hex;

mod errors;
mod queue;
mod setup;

/// A fresh key pair for one test: the SecretId is not secret, the key is.
pub struct Keys {
    pub id: String,
    pub key: String,
}

pub fn keys() -> Keys {
    Keys {
        id: format!("AKIDtest{}", random_hex(8)),
        key: random_hex(20),
    }
}

/// A fake with `keys`, holding long polls `hold`.
pub async fn fake(keys: &Keys, hold: Duration) -> FakeVod {
    FakeVod::start(FakeVodOptions::new(&keys.id, &keys.key).hold(hold)).await
}

/// A client of `fake` signing with `id`/`key`, with `events` settings otherwise default.
pub fn client_with(fake: &FakeVod, id: &str, key: &str, events: EventSettings) -> VodApi {
    let settings = EventSettings {
        api_endpoint: fake.endpoint(),
        ..events
    };
    VodApi::new(
        &settings,
        VodCredentials {
            secret_id: SecretId::try_from(id).expect("a valid SecretId"),
            secret_key: SecretString::from(key.to_owned()),
            placeholder: false,
        },
    )
    .expect("a client")
}

pub fn client(fake: &FakeVod, keys: &Keys) -> VodApi {
    client_with(fake, &keys.id, &keys.key, EventSettings::default())
}
