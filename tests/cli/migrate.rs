//! `vodsign migrate`: the upload store's migrations as a step of their own, on a real SQLite
//! file and a real PostgreSQL; each run's effect checked in the database itself, not only
//! in what the command prints.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use sqlx::{Connection as _, PgConnection, SqliteConnection};

use super::{text, vodsign};
use crate::support::postgres::{fresh_database, skipped};
use crate::support::random_hex;

/// The first migration both backends have (`migrations/*/`).
const FIRST: &str = "20261207000000 uploads";

/// Every migration of `backend` (`migrations/<backend>/VERSION_DESCRIPTION.sql`) as the
/// command names it, `VERSION description`, oldest first: read from the directory, so a new
/// migration needs no change here.
fn migrations(backend: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("lists the migrations")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|name| {
            let stem = name.strip_suffix(".sql")?;
            let (version, description) = stem.split_once('_')?;
            Some(format!("{version} {}", description.replace('_', " ")))
        })
        .collect();
    names.sort();
    assert_eq!(names.first().map(String::as_str), Some(FIRST));
    names
}

/// `store.timeout_ms` for the tests that do not test the deadline itself.
const SLOW_MACHINE_TIMEOUT: &str = "30000";

fn output(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// A configuration file holding only `[store]`: all `migrate` reads. Unless the test sets its
/// own, the deadline is generous (`SLOW_MACHINE_TIMEOUT`): these tests are about what is
/// migrated, not how fast, and the suite runs many binaries at once.
fn store_config(dir: &Path, store: &str) -> String {
    let path = dir.join("vodsign.toml");
    let timeout = if store.contains("timeout_ms") {
        String::new()
    } else {
        format!("timeout_ms = {SLOW_MACHINE_TIMEOUT}\n")
    };
    std::fs::write(&path, format!("[store]\n{store}\n{timeout}")).expect("write config");
    path.display().to_string()
}

/// The tables an SQLite file holds, read with the driver, not with vodsign.
async fn sqlite_tables(file: &Path) -> Vec<String> {
    let url = format!("sqlite://{}", file.display());
    let mut conn = SqliteConnection::connect(&url).await.expect("opens");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("lists tables");
    conn.close().await.expect("closes");
    tables
}

#[tokio::test]
async fn migrate_applies_to_a_new_sqlite_file_once_and_then_is_up_to_date() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("nested/vodsign.sqlite3");
    let config = store_config(
        dir.path(),
        &format!("url = \"sqlite://{}\"", file.display()),
    );

    let status = vodsign(&["migrate", "--config", &config, "--status"], &[], None);
    assert_eq!(status.status.code(), Some(0), "{}", output(&status));
    assert!(
        text(&status.stdout).contains(&format!("{FIRST}: pending")),
        "{}",
        output(&status)
    );
    assert!(
        !sqlite_tables(&file).await.contains(&"uploads".to_owned()),
        "--status changes nothing"
    );

    let first = vodsign(&["migrate", "--config", &config], &[], None);
    assert_eq!(first.status.code(), Some(0), "{}", output(&first));
    let all = migrations("sqlite");
    for migration in &all {
        assert!(
            text(&first.stdout).contains(&format!("applied: {migration}")),
            "{}",
            output(&first)
        );
    }
    assert!(
        text(&first.stdout).contains(&format!(
            "sqlite store up to date: {} applied now",
            all.len()
        )),
        "{}",
        output(&first)
    );
    let tables = sqlite_tables(&file).await;
    assert!(
        tables.contains(&"_sqlx_migrations".to_owned()) && tables.contains(&"uploads".to_owned()),
        "{tables:?}"
    );

    // Twice is the same as once.
    let second = vodsign(&["migrate", "--config", &config], &[], None);
    assert_eq!(second.status.code(), Some(0), "{}", output(&second));
    assert!(
        !text(&second.stdout).contains("applied:"),
        "{}",
        output(&second)
    );
    assert!(
        text(&second.stdout).contains(&format!(
            "up to date: nothing applied now, {} in all",
            all.len()
        )),
        "{}",
        output(&second)
    );
    let status = vodsign(&["migrate", "--config", &config, "--status"], &[], None);
    let listed: String = all.iter().map(|m| format!("  {m}: applied\n")).collect();
    assert!(
        text(&status.stdout).contains(&format!("{listed}nothing pending")),
        "{}",
        output(&status)
    );
}

#[tokio::test]
async fn migrate_reads_the_url_from_the_environment_or_a_file_without_a_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("env.sqlite3");
    let url = format!("sqlite://{}", file.display());
    let out = vodsign(&["migrate"], &[("VODSIGN_STORE_URL", &url)], None);
    assert_eq!(out.status.code(), Some(0), "{}", output(&out));
    assert!(sqlite_tables(&file).await.contains(&"uploads".to_owned()));

    // The variable overrides the file's url.
    let from_file = dir.path().join("from-file.sqlite3");
    let url_file = dir.path().join("store-url");
    std::fs::write(&url_file, format!("sqlite://{}\n", from_file.display())).expect("write");
    let config = store_config(dir.path(), "url = \"sqlite://ignored.sqlite3\"");
    let out = vodsign(
        &["migrate", "--config", &config],
        &[("VODSIGN_STORE_URL_FILE", &url_file.display().to_string())],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", output(&out));
    assert!(
        sqlite_tables(&from_file)
            .await
            .contains(&"uploads".to_owned())
    );
    assert!(!dir.path().join("ignored.sqlite3").exists());
}

#[test]
fn migrate_refuses_usage_and_configuration_errors_with_exit_2() {
    // No file and no variable: it never migrates the default file by accident.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = vodsign(&["migrate"], &[], None);
    assert_eq!(out.status.code(), Some(2), "{}", output(&out));
    assert!(
        text(&out.stderr).contains("give --config PATH (or VODSIGN_CONFIG)"),
        "{}",
        output(&out)
    );
    assert!(
        text(&out.stderr).contains("VODSIGN_STORE_URL"),
        "{}",
        output(&out)
    );

    let out = vodsign(&["--listen", "127.0.0.1:1", "migrate"], &[], None);
    assert_eq!(out.status.code(), Some(2), "{}", output(&out));

    let password = random_hex(8);
    let mysql = format!("mysql://vodsign:{password}@127.0.0.1/vodsign");
    let out = vodsign(&["migrate"], &[("VODSIGN_STORE_URL", &mysql)], None);
    assert_eq!(out.status.code(), Some(2), "{}", output(&out));
    assert!(text(&out.stderr).contains("store.url"), "{}", output(&out));
    assert!(!output(&out).contains(&password), "{}", output(&out));

    let config = store_config(dir.path(), "timeout_ms = 0");
    let out = vodsign(
        &["migrate", "--config", &config],
        &[("VODSIGN_STORE_URL", "sqlite://x.sqlite3")],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", output(&out));
    assert!(
        text(&out.stderr).contains("store.timeout_ms"),
        "{}",
        output(&out)
    );
}

#[tokio::test]
async fn a_schema_newer_than_this_binary_is_listed_and_not_migrated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("newer.sqlite3");
    let url = format!("sqlite://{}", file.display());
    let env = [
        ("VODSIGN_STORE_URL", url.as_str()),
        ("VODSIGN_STORE__TIMEOUT_MS", SLOW_MACHINE_TIMEOUT),
    ];
    assert_eq!(vodsign(&["migrate"], &env, None).status.code(), Some(0));
    // A later vodsign's migration, recorded as sqlx records one.
    let mut conn = SqliteConnection::connect(&url).await.expect("opens");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
         execution_time) VALUES (29991231000000, 'from the future', TRUE, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .expect("inserts");
    conn.close().await.expect("closes");

    let status = vodsign(&["migrate", "--status"], &env, None);
    assert_eq!(status.status.code(), Some(0), "{}", output(&status));
    assert!(
        text(&status.stdout)
            .contains("29991231000000 from the future: applied, but unknown to this vodsign"),
        "{}",
        output(&status)
    );
    let out = vodsign(&["migrate"], &env, None);
    assert_eq!(out.status.code(), Some(1), "{}", output(&out));
    assert!(
        text(&out.stderr).contains("migration 29991231000000 was previously applied"),
        "{}",
        output(&out)
    );
}

/// The URL of a fresh database on the test server, with a password the server (trusting
/// loopback) ignores, so the password must be kept out of every line the command prints.
async fn pg_url_with_password(password: &str) -> String {
    let url = fresh_database().await;
    url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{password}@"),
        1,
    )
}

async fn pg_tables(url: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(url).await.expect("connects");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY table_name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("lists tables");
    conn.close().await.expect("closes");
    tables
}

#[tokio::test]
async fn migrate_applies_to_postgres_once_and_never_shows_the_password() {
    if skipped("migrate_applies_to_postgres_once_and_never_shows_the_password") {
        return;
    }
    let password = format!("pw-{}", random_hex(8));
    let url = pg_url_with_password(&password).await;
    assert!(url.contains(&password));
    let env = [
        ("VODSIGN_STORE_URL", url.as_str()),
        ("VODSIGN_STORE__TIMEOUT_MS", SLOW_MACHINE_TIMEOUT),
    ];

    let status = vodsign(&["migrate", "--status"], &env, None);
    assert_eq!(status.status.code(), Some(0), "{}", output(&status));
    assert!(
        text(&status.stdout).contains(&format!("postgres store:\n  {FIRST}: pending")),
        "{}",
        output(&status)
    );
    assert!(pg_tables(&url).await.is_empty(), "--status changes nothing");

    let first = vodsign(&["migrate"], &env, None);
    assert_eq!(first.status.code(), Some(0), "{}", output(&first));
    for migration in migrations("postgres") {
        assert!(
            text(&first.stdout).contains(&format!("applied: {migration}")),
            "{}",
            output(&first)
        );
    }
    let tables = pg_tables(&url).await;
    assert!(
        tables.contains(&"_sqlx_migrations".to_owned()) && tables.contains(&"uploads".to_owned()),
        "{tables:?}"
    );

    let second = vodsign(&["migrate"], &env, None);
    assert_eq!(second.status.code(), Some(0), "{}", output(&second));
    assert!(
        text(&second.stdout).contains("postgres store up to date: nothing applied now"),
        "{}",
        output(&second)
    );
    for out in [&status, &first, &second] {
        assert!(!output(out).contains(&password), "{}", output(out));
    }
}

#[tokio::test]
async fn a_failing_migration_exits_1_naming_it() {
    if skipped("a_failing_migration_exits_1_naming_it") {
        return;
    }
    let password = format!("pw-{}", random_hex(8));
    let url = pg_url_with_password(&password).await;
    // A table of that name made by someone else: the migration cannot create it.
    let mut conn = PgConnection::connect(&url).await.expect("connects");
    sqlx::query("CREATE TABLE uploads (x INTEGER)")
        .execute(&mut conn)
        .await
        .expect("creates");
    conn.close().await.expect("closes");

    let out = vodsign(&["migrate"], &[("VODSIGN_STORE_URL", &url)], None);
    assert_eq!(out.status.code(), Some(1), "{}", output(&out));
    assert!(
        text(&out.stderr).contains("migration 20261207000000"),
        "{}",
        output(&out)
    );
    assert!(!output(&out).contains(&password), "{}", output(&out));
    // Nothing half-applied: the migration ran in a transaction.
    let status = vodsign(
        &["migrate", "--status"],
        &[("VODSIGN_STORE_URL", &url)],
        None,
    );
    assert!(
        text(&status.stdout).contains(&format!("{FIRST}: pending")),
        "{}",
        output(&status)
    );
}

#[test]
fn an_unreachable_postgres_exits_1_in_bounded_time_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // Nothing listens on the port once the listener is dropped.
    let password = format!("pw-{}", random_hex(8));
    let url = format!("postgres://vodsign:{password}@127.0.0.1:{port}/vodsign");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = store_config(dir.path(), "timeout_ms = 300");
    for args in [
        &["migrate", "--config", config.as_str()][..],
        &["migrate", "--config", config.as_str(), "--status"][..],
    ] {
        let started = Instant::now();
        let out = vodsign(args, &[("VODSIGN_STORE_URL", &url)], None);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "bounded, not hung"
        );
        assert_eq!(out.status.code(), Some(1), "{}", output(&out));
        let said = output(&out);
        assert!(said.contains("postgres store"), "{said}");
        assert!(said.contains("unavailable"), "{said}");
        assert!(!said.contains(&password), "{said}");
    }
}
