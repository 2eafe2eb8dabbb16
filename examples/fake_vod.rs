//! The tests' fake VOD API (`tests/support/fake_vod.rs`) as a process, so a client that is
//! not ours can be pointed at it: `scripts/check-fake-vod.sh` calls it with Tencent's own
//! Python SDK, proving that the fake accepts Tencent's TC3 signatures and that Tencent's
//! models parse the fake's answers.
//!
//! ```text
//! FAKE_VOD_SECRET_ID=AKID... FAKE_VOD_SECRET_KEY=... cargo run --example fake_vod
//! ```
//!
//! Serves on a free loopback port (or the address given as the argument), prints
//! `listening http://ADDRESS` on one line, and runs until SIGTERM or SIGINT.
//! It starts with `FAKE_VOD_EVENTS` events queued (default 20: one of each of the three
//! kinds, then uploads), redelivers by the system clock, holds long polls
//! `FAKE_VOD_HOLD_MS` (default 1000), and requires `FAKE_VOD_SUB_APP_ID` when set.

#[path = "../tests/support/fake_vod.rs"]
mod fake_vod;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use fake_vod::events::{file_deleted, new_file_upload, procedure_state_changed};
use fake_vod::{FakeVod, FakeVodOptions};

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name} must be a whole number")),
        Err(_) => Ok(default),
    }
}

fn options() -> Result<(FakeVodOptions, SocketAddr, u64), String> {
    let secret = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let mut options = FakeVodOptions::new(
        &secret("FAKE_VOD_SECRET_ID")?,
        &secret("FAKE_VOD_SECRET_KEY")?,
    )
    .system_clock()
    .hold(Duration::from_millis(env_number("FAKE_VOD_HOLD_MS", 1000)?));
    if std::env::var_os("FAKE_VOD_SUB_APP_ID").is_some() {
        options = options.sub_app_id(env_number("FAKE_VOD_SUB_APP_ID", 0)?);
    }
    let addr = match std::env::args().nth(1) {
        Some(text) => text
            .parse()
            .map_err(|_| "the argument must be an address such as 127.0.0.1:8099".to_owned())?,
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    Ok((options, addr, env_number("FAKE_VOD_EVENTS", 20)?))
}

fn main() -> ExitCode {
    let (options, addr, events) = match options() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("fake_vod: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fake_vod: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let fake = FakeVod::start_on(options, addr).await;
        fake.push_all((0..events).map(|i| match i {
            1 => procedure_state_changed("5285890784273533167", "session", 0),
            2 => file_deleted(&["5285890784273533167"]),
            _ => new_file_upload(&format!("52858907842735{i:05}"), "context"),
        }));
        println!("listening {}", fake.endpoint());
        let _ = std::io::stdout().flush();
        // Until SIGTERM or SIGINT (the script that started it stops it by its pid).
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM can be watched");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        let summary = format!(
            "fake_vod: stopping; {} calls served, confirmed {}, waiting {}, in flight {}, refused: {:?}",
            fake.calls().len(),
            fake.confirmed().len(),
            fake.waiting(),
            fake.in_flight(),
            fake.refusals()
        );
        eprintln!("{summary}");
    });
    ExitCode::SUCCESS
}
