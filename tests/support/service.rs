//! The real binary in a temporary directory, a bounded load of concurrent clients, test
//! certificates, and signature checks: for the ops and transport tests.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vodsign::signature::{DecodedSignature, Signer};

use super::random_hex;

/// Hard bound on any wait in these tests.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A SecretId/SecretKey pair made for one test.
#[derive(Clone, Debug)]
pub struct TestKey {
    pub id: String,
    pub key: String,
}

impl TestKey {
    pub fn new(tag: &str) -> Self {
        Self {
            id: format!("AKID{tag}{}", random_hex(4)),
            key: format!("{tag}-secret-{}", random_hex(16)),
        }
    }

    /// True when `signature` carries this SecretId and its MAC verifies with this key.
    pub fn signed(&self, signature: &str) -> bool {
        let Ok(decoded) = DecodedSignature::decode(signature) else {
            return false;
        };
        Signer::new(self.key.as_bytes()).verifies(&decoded)
            && decoded.original.contains(&format!("secretId={}&", self.id))
    }
}

/// A fresh API key and its `[[api_keys]]` entry for policy `default`.
pub fn api_key_entry() -> (String, String) {
    let key = vodsign::generate_key("ops");
    let entry = format!(
        "[[api_keys]]\nid = \"ops\"\nsha256 = \"{}\"\nsubject = \"user-ops\"\npolicy = \"default\"\n",
        vodsign::hash_key(&key)
    );
    (key, entry)
}

/// The real `vodsign serve` process, started with a config file in its own directory.
pub struct Service {
    child: Child,
    pub address: SocketAddr,
    pub dir: tempfile::TempDir,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Service {
    pub fn config_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("vodsign.toml")
    }

    /// Writes `config` (plus a loopback listener and JSON logs) and starts the binary with
    /// exactly `env` (and PATH); waits for its "listening" line.
    pub fn start(dir: tempfile::TempDir, config: &str, env: &[(&str, String)]) -> Self {
        std::fs::write(Self::config_path(&dir), config).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vodsign"))
            .arg("serve")
            .arg("--config")
            .arg(Self::config_path(&dir))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("VODSIGN_SERVER__LOG_FORMAT", "json")
            // Any free port: parallel tests must not fight over the default 8081.
            .env("VODSIGN_ADMIN__LISTEN", "127.0.0.1:0")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vodsign");
        let logs = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if std::env::var_os("TEST_LOG").is_some() {
                        eprintln!("{line}");
                    }
                    logs.lock().expect("logs").push(line);
                }
            });
        }
        let mut service = Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
            logs,
        };
        let line = service
            .wait_for_log("vodsign listening")
            .unwrap_or_else(|| panic!("the service did not start:\n{}", service.logs()));
        let json: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        service.address = json["address"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("address in the listening line");
        service
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Rewrites the config file (a reload reads it again).
    pub fn write_config(&self, config: &str) {
        std::fs::write(Self::config_path(&self.dir), config).expect("write config");
    }

    /// Sends `signal` (e.g. "TERM", "HUP") to the process with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    pub fn logs(&self) -> String {
        self.logs.lock().expect("logs").join("\n")
    }

    fn log_count(&self, needle: &str) -> usize {
        let logs = self.logs.lock().expect("logs");
        logs.iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits (bounded) for the first log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str) -> Option<String> {
        self.wait_for_nth_log(needle, 1)
    }

    /// Waits (bounded) until `n` log lines contain `needle`; returns the last.
    pub fn wait_for_nth_log(&self, needle: &str, n: usize) -> Option<String> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if self.log_count(needle) >= n {
                let logs = self.logs.lock().expect("logs");
                return logs.iter().rev().find(|l| l.contains(needle)).cloned();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One answered (or failed) request of the load.
#[derive(Debug)]
pub struct Outcome {
    pub sent_at: Instant,
    pub result: Result<String, String>,
}

/// `clients` concurrent loops of `POST /v1/signature`, each bounded in count and time,
/// until [`Load::stop`].
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Outcome>>>,
}

impl Load {
    pub fn start(url: String, api_key: String, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(20);
        let tasks = (0..clients)
            .map(|_| {
                let (url, api_key, stop) = (url.clone(), api_key.clone(), stop.clone());
                tokio::spawn(async move {
                    let client = reqwest::Client::builder()
                        .no_proxy()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .expect("client");
                    let mut outcomes = Vec::new();
                    while !stop.load(Ordering::SeqCst)
                        && Instant::now() < deadline
                        && outcomes.len() < 20_000
                    {
                        let sent_at = Instant::now();
                        let result = sign_once(&client, &url, &api_key).await;
                        outcomes.push(Outcome { sent_at, result });
                    }
                    outcomes
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops every client and returns all outcomes.
    pub async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.expect("client task"));
        }
        all
    }
}

async fn sign_once(client: &reqwest::Client, url: &str, api_key: &str) -> Result<String, String> {
    let response = client
        .post(url)
        .bearer_auth(api_key)
        .json(&serde_json::json!({"validitySeconds": 60}))
        .send()
        .await
        .map_err(|e| format!("transport: {e:?}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(|e| format!("body: {e:?}"))?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    body["data"]["signature"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no signature in {body}"))
}

/// Asserts that no outcome failed; returns the signatures.
#[track_caller]
pub fn assert_all_succeeded(outcomes: &[Outcome]) -> Vec<(Instant, String)> {
    let failures: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed, e.g. {:?}",
        failures.len(),
        outcomes.len(),
        failures.first()
    );
    outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok().map(|s| (o.sent_at, s.clone())))
        .collect()
}

/// A CA and a leaf for `localhost` and 127.0.0.1 signed by it: (CA PEM, leaf PEM, key PEM).
pub fn test_certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}
