//! The event relay end to end: the real `vodsign serve` binary pulling from the fake VOD API
//! (every call's TC3 signature checked) and delivering to a fake receiver that checks every
//! Standard Webhooks signature with its own HMAC. Uploads are made through the ticket
//! endpoints, so the contexts VOD echoes are the ones vodsign signed.
//!
//! - [`flow`]: a ticket's upload completed then processed with its owner, a forged context
//!   passed on as `vod.unattributed`, a duplicate made one message, metrics, no secret in
//!   the logs, a graceful stop giving deliveries back
//! - [`crash`]: SIGKILL between the commit and the confirmation, then a redelivery under
//!   new handles: one `webhook-id` per event
//! - [`outage`]: VOD down: still ready, still signing; recovery without a restart
//! - [`replicas`]: two replicas on one PostgreSQL, one VOD queue: each event delivered once
//! - [`config`]: what start-up refuses (no uploads, an unknown credential, a missing
//!   endpoint secret), and a relay that builds reports `vod_events`
//! - [`pull`]: the pull loop in process: no confirmation without a commit, stale
//!   confirmations, a prompt stop

mod config;
mod crash;
mod flow;
mod outage;
mod pull;
mod replicas;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use vodsign::signature::DecodedSignature;

use crate::events::receiver::{Receiver, Reply};
use crate::support::fake_vod::{FakeVod, FakeVodOptions};
use crate::support::random_hex;
use crate::support::service::{Service, TestKey, api_key_entry};

/// A receiver secret made for one test run.
pub fn hook_secret() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Everything one relay test shares between its service starts.
pub struct Rig {
    pub fake: FakeVod,
    pub receiver: Receiver,
    pub vod_key: TestKey,
    pub context_key: String,
    pub hook_secret: String,
    pub api_key: String,
    api_key_entry: String,
    pub store_url: String,
    /// Keeps the SQLite file (when the store is SQLite) for the service's restarts.
    _store_dir: tempfile::TempDir,
}

impl Rig {
    /// A fake VOD API (long polls held 1 s), a receiver answering 2xx, and an SQLite store
    /// file, or `store_url` when given.
    pub async fn new(store_url: Option<String>) -> Rig {
        let vod_key = TestKey::new("relay");
        let fake = FakeVod::start(
            FakeVodOptions::new(&vod_key.id, &vod_key.key).hold(Duration::from_secs(1)),
        )
        .await;
        let hook_secret = hook_secret();
        let receiver = Receiver::start(&hook_secret, Reply::Ok).await;
        let store_dir = tempfile::tempdir().expect("tempdir");
        let store_url = store_url.unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                store_dir.path().join("vodsign.sqlite3").display()
            )
        });
        let (api_key, api_key_entry) = api_key_entry();
        Rig {
            fake,
            receiver,
            vod_key,
            context_key: random_hex(32),
            hook_secret,
            api_key,
            api_key_entry,
            store_url,
            _store_dir: store_dir,
        }
    }

    /// The configuration: uploads on, the relay pulling from the fake, one endpoint.
    pub fn config(&self) -> String {
        format!(
            "{entry}\n[policies.default]\nmax_validity_seconds = 3600\n\
             [uploads]\nenabled = true\n\
             [events]\nenabled = true\napi_endpoint = \"{vod}\"\npull_timeout_ms = 3000\n\
             [webhooks]\ntimeout_ms = 2000\nretry_schedule_secs = [1, 1, 1, 1, 1]\n\
             [[webhooks.endpoints]]\nname = \"app\"\nurl = \"{url}\"\nsecret_env = \"APP_HOOK_SECRET\"\n",
            entry = self.api_key_entry,
            vod = self.fake.endpoint(),
            url = self.receiver.url,
        )
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VODSIGN_SECRET_ID", self.vod_key.id.clone()),
            ("VODSIGN_SECRET_KEY", self.vod_key.key.clone()),
            ("VODSIGN_CONTEXT_KEY", self.context_key.clone()),
            ("VODSIGN_STORE_URL", self.store_url.clone()),
            ("APP_HOOK_SECRET", self.hook_secret.clone()),
        ]
    }

    /// Starts the binary with this rig's configuration (off the async workers: the start
    /// waits on the process's log).
    pub async fn start(&self) -> Service {
        self.start_with(&[]).await
    }

    /// [`Rig::start`] with more environment (settings overrides).
    pub async fn start_with(&self, extra: &[(&'static str, &str)]) -> Service {
        let config = self.config();
        let mut env = self.env();
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().expect("tempdir");
            Service::start(dir, &config, &env)
        })
        .await
        .expect("service started")
    }

    /// `POST /v1/uploads` through `service`: (uploadId, the vs1 context its signature
    /// carries).
    pub async fn create_upload(&self, service: &Service) -> (String, String) {
        let response = client()
            .post(service.url("/v1/uploads"))
            .bearer_auth(&self.api_key)
            .json(&serde_json::json!({"metadata": {"title": "holiday"}}))
            .send()
            .await
            .expect("POST /v1/uploads");
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("JSON");
        let id = body["uploadId"]
            .as_str()
            .or_else(|| body["data"]["uploadId"].as_str())
            .expect("uploadId")
            .to_owned();
        let signature = body["signature"]
            .as_str()
            .or_else(|| body["data"]["signature"].as_str())
            .expect("signature");
        let decoded = DecodedSignature::decode(signature).expect("a signature");
        let params: HashMap<String, String> = form_urlencoded::parse(decoded.original.as_bytes())
            .into_owned()
            .collect();
        let context = params["sourceContext"].clone();
        assert_eq!(
            params["sessionContext"], context,
            "both contexts carry the token"
        );
        assert!(context.starts_with("vs1."), "{context}");
        (id, context)
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// `GET url` as JSON (status, body).
pub async fn get_json(url: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = client().get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The admin listener's address, from the service's log.
pub fn admin_url(service: &Service, path: &str) -> String {
    let line = service
        .wait_for_log("admin listener")
        .expect("the admin listener started");
    let json: Value = serde_json::from_str(&line).expect("JSON log line");
    format!(
        "http://{}{path}",
        json["address"].as_str().expect("address in the line")
    )
}

/// One sample of `name{labels}` in a Prometheus text exposition.
pub fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.split([' ', '{']).next() == Some(name) && labels.iter().all(|want| l.contains(want))
        })
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// The received messages grouped by the VOD event they carry (its canonical text):
/// event -> the distinct webhook ids it came with.
pub fn ids_by_event(receiver: &Receiver) -> HashMap<String, std::collections::BTreeSet<String>> {
    let mut by_event: HashMap<String, std::collections::BTreeSet<String>> = HashMap::new();
    for message in receiver.received() {
        assert!(message.verified, "every message verifies: {message:?}");
        by_event
            .entry(message.body["data"]["vod"].to_string())
            .or_default()
            .insert(message.webhook_id.clone());
    }
    by_event
}
