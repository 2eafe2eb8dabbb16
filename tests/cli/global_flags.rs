//! Flags given before the subcommand (`vodsign --config X check-config`): honoured by the
//! subcommand or refused with exit 2, never silently dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{text, vodsign};

const DEV: &str = "config/development.toml";

#[track_caller]
fn assert_usage_error(args: &[&str], needle: &str) {
    let out = vodsign(args, &[], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains(needle),
        "{args:?}: {}",
        text(&out.stderr)
    );
}

#[test]
fn config_before_check_config_is_honoured() {
    let before = vodsign(&["--config", DEV, "check-config"], &[], None);
    assert_eq!(before.status.code(), Some(0), "{}", text(&before.stderr));
    assert!(text(&before.stdout).contains("PLACEHOLDER"));

    let from_env = vodsign(&["check-config"], &[("VODSIGN_CONFIG", DEV)], None);
    assert_eq!(
        from_env.status.code(),
        Some(0),
        "{}",
        text(&from_env.stderr)
    );

    // A bad file given before the subcommand is read, not skipped.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[policies.default]\nvalidity_seconds = 99999999\n").expect("write");
    let out = vodsign(
        &["--config", bad.to_str().expect("utf-8"), "check-config"],
        &[("VODSIGN_SECRET_ID", "AKIDx"), ("VODSIGN_SECRET_KEY", "k")],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("policies.default.validity_seconds"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn config_before_and_after_the_subcommand_must_agree() {
    let same = vodsign(
        &["--config", DEV, "check-config", "--config", DEV],
        &[],
        None,
    );
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stderr));
    assert_usage_error(
        &["--config", "other.toml", "check-config", "--config", DEV],
        "--config is given twice with different values",
    );
    assert_usage_error(
        &["--config", "other.toml", "serve", "--config", DEV],
        "--config is given twice with different values",
    );
    assert_usage_error(
        &[
            "--listen",
            "127.0.0.1:1",
            "serve",
            "--config",
            DEV,
            "--listen",
            "127.0.0.1:2",
        ],
        "--listen is given twice with different values",
    );
}

#[test]
fn top_level_flags_a_command_does_not_use_are_refused() {
    assert_usage_error(
        &["--config", DEV, "sign", "--secret-id", "x"],
        "--config is not read by sign",
    );
    assert_usage_error(&["--config", DEV, "inspect", "x"], "--config is not read");
    assert_usage_error(&["--config", DEV, "hash-key", "--id", "a"], "--config");
    assert_usage_error(
        &["--listen", "127.0.0.1:1", "check-config", "--config", DEV],
        "--listen is serve's",
    );
    assert_usage_error(
        &["--listen", "127.0.0.1:1", "healthcheck"],
        "vodsign healthcheck --listen ADDR",
    );
    // After a subcommand that takes no such flag, clap refuses it.
    assert_usage_error(&["sign", "--config", DEV], "unexpected argument");
}

/// The binary serving, killed when dropped (also when the test fails).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_loopback_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// The status line of `GET /healthz` at `address`, or `None` if nothing answers.
fn healthz(address: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_owned)
}

#[test]
fn listen_before_serve_is_honoured() {
    let address = free_loopback_port();
    let store = tempfile::tempdir().expect("tempdir");
    let listen = address.to_string();
    for args in [
        vec!["--listen", listen.as_str(), "serve", "--config", DEV],
        vec!["--config", DEV, "--listen", listen.as_str()],
    ] {
        let mut service = Running(
            Command::new(env!("CARGO_BIN_EXE_vodsign"))
                .args(&args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                // The upload store in a directory of this test's own, not the checkout's data/.
                .env(
                    "VODSIGN_STORE_URL",
                    format!("sqlite://{}/uploads.sqlite3", store.path().display()),
                )
                // Any free port for /metrics: the default 9090 may be taken.
                .env("VODSIGN_ADMIN__LISTEN", "127.0.0.1:0")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start vodsign"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = healthz(address) {
                break status;
            }
            if let Some(exit) = service.0.try_wait().expect("try_wait") {
                panic!("{args:?}: the service exited ({exit}) instead of listening on {address}");
            }
            assert!(
                Instant::now() < deadline,
                "{args:?}: nothing answered on {address} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.contains(" 200 "), "{args:?}: {status}");
        drop(service);
    }
}
