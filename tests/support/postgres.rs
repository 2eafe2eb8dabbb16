//! Throwaway PostgreSQL for the upload store's tests: one cluster per test process, a fresh
//! database per test.
//!
//! `VODSIGN_TEST_POSTGRES_URL` (a superuser URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`)
//! uses a server already running. Otherwise a cluster is made with the installed server's
//! `initdb` and `pg_ctl` (found on `PATH`, under `/usr/lib/postgresql/*/bin`, or in
//! `VODSIGN_TEST_POSTGRES_BIN`) in a temporary directory, on a free loopback port, with
//! `fsync` off; as root, as the `postgres` user (the server refuses root). A watchdog stops it
//! and removes its directory once the test process has gone.
//!
//! Without PostgreSQL these tests fail, so CI cannot pass without running them; only
//! `VODSIGN_SKIP_POSTGRES_TESTS=1`, set by hand and never by CI, skips them (loudly).

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection as _, Executor as _, PgConnection};

/// The opt-out, for a machine without PostgreSQL; CI never sets it.
const SKIP_ENV: &str = "VODSIGN_SKIP_POSTGRES_TESTS";

/// A running cluster made by this process.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

/// True (after saying so loudly) when PostgreSQL tests are to be skipped: only with the
/// explicit opt-out.
pub fn skipped(test: &str) -> bool {
    if std::env::var_os("VODSIGN_TEST_POSTGRES_URL").is_some() || find_bin().is_some() {
        return false;
    }
    if std::env::var(SKIP_ENV).as_deref() == Ok("1") {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: PostgreSQL is not installed and {SKIP_ENV}=1 ***\n"
        );
        return true;
    }
    panic!(
        "{test}: PostgreSQL is not installed (apt-get install postgresql), and \
         VODSIGN_TEST_POSTGRES_URL is not set; set {SKIP_ENV}=1 to skip these tests"
    );
}

/// The directory of `initdb` and `pg_ctl`.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VODSIGN_TEST_POSTGRES_BIN") {
        return Some(PathBuf::from(dir));
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file()));
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// `program` from the server's directory, as the `postgres` user when running as root.
fn server_command(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgCluster {
    /// Makes and starts a cluster of its own, stopped and removed when this process ends.
    pub fn start() -> PgCluster {
        let bin = find_bin().expect("PostgreSQL's initdb (apt-get install postgresql)");
        let dir = tempfile::Builder::new()
            .prefix("vodsign-pg-")
            .tempdir()
            .expect("tempdir")
            .keep();
        if running_as_root() {
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:postgres"]).arg(&dir);
            run(chown, "chown of the cluster directory");
        }
        let mut initdb = server_command(&bin, "initdb");
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(dir.join("data"));
        run(initdb, "initdb");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = PgCluster { bin, dir, port };
        cluster.watch_this_process();
        cluster.start_server();
        cluster
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let mut pg_ctl = server_command(&self.bin, "pg_ctl");
        pg_ctl
            .args(["-w", "-t", "60", "-l"])
            .arg(self.dir.join("log"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &options, "start"]);
        run(pg_ctl, "pg_ctl start");
    }

    /// `pg_ctl stop -m fast`: open connections are cut, as in an outage.
    pub fn stop_server(&self) {
        let mut pg_ctl = server_command(&self.bin, "pg_ctl");
        pg_ctl
            .args(["-w", "-m", "fast", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop");
        run(pg_ctl, "pg_ctl stop");
    }

    /// A superuser URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the server and removes its directory once this process has exited.
    fn watch_this_process(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.dir.join("data");
        let stop = if running_as_root() {
            format!(
                "runuser -u postgres -- {} -D {} -m immediate stop",
                pg_ctl.display(),
                data.display()
            )
        } else {
            format!(
                "{} -D {} -m immediate stop",
                pg_ctl.display(),
                data.display()
            )
        };
        let script = format!(
            "while [ -e /proc/{pid} ]; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            dir = self.dir.display()
        );
        #[allow(
            clippy::zombie_processes,
            reason = "the watchdog outlives this process by design"
        )]
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster's watchdog starts");
    }
}

/// The admin URL of the server shared by this process's tests.
fn shared_admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("VODSIGN_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) => {
            static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
            CLUSTER.get_or_init(PgCluster::start).url("postgres")
        }
    })
}

/// A new, empty database on the shared server; returns its URL.
pub async fn fresh_database() -> String {
    let admin = shared_admin_url();
    create_database(admin).await
}

/// A new, empty database on the server of `admin_url`; returns its URL.
pub async fn create_database(admin_url: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "vodsign_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(admin_url)
        .await
        .expect("connects to the test PostgreSQL");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("CREATE DATABASE");
    admin.close().await.expect("closes");
    let (base, _) = admin_url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}
