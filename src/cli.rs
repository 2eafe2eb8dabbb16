//! The command line: `serve` (the default), `sign`, `inspect`, `check-config`, `hash-key`,
//! `healthcheck`, `reload`, `events setup|status`, `migrate`, `webhooks`.
//!
//! Exit codes: 0 success (for `inspect`: the signature is valid), 1 failure (`inspect`: not
//! valid, a vodsign context token whose tag does not verify included; `serve`: the running
//! service failed, e.g. its address is taken), 2 usage or configuration error. `healthcheck`
//! exits only 0 (ready) or 1; `reload` 0 (reloaded) or 1 (refused, or no answer), 2 for a
//! malformed command line. `events`: 1 when the VOD API refused or did not answer.
//! `migrate`: 0 up to date, 1 the store unreachable or a migration failed, 2 usage or
//! configuration error. `webhooks`: 0 done, 1 refused or no answer, 2 usage.

mod migrate;
mod webhooks;

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::app::{App, unix_now};
use crate::auth::api_key;
use crate::config::{self, ApiKeySettings, ConfigError};
use crate::credentials::Credentials;
use crate::inspect;
use crate::reload::Source;
use crate::server::ServeError;
use crate::signature::{
    InvalidParam, RawUploadOptions, SecretId, SignParams, Signer, UploadOptions, Validity,
    check_task_flow,
};
use crate::uploads::{ContextKeys, context::TOKEN_PREFIX};

#[derive(Debug, Parser)]
#[command(
    name = "vodsign",
    version,
    about = "Issues Tencent Cloud VOD upload signatures"
)]
pub struct Cli {
    /// Configuration file (TOML); also VODSIGN_CONFIG. Honoured by serve, check-config,
    /// healthcheck, reload and migrate, refused by the other commands.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Overrides server.listen. Before a subcommand it is serve's (the default); give it
    /// after `healthcheck` for that command.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve(ServeArgs),
    /// Make a signature offline with the same engine (key from VODSIGN_SECRET_KEY[_FILE]).
    Sign(SignArgs),
    /// Decode a signature, verify it when VODSIGN_SECRET_KEY is set, and explain it; a
    /// vodsign context token (vs1.…), in it or given alone, is checked with the context key.
    Inspect {
        /// The signature or a context token, or `-` to read it from standard input.
        signature: String,
        /// Unix time to check against (default: now).
        #[arg(long)]
        now: Option<u64>,
        /// The variable holding the context key (or <VAR>_FILE; previous keys in
        /// <VAR>_PREVIOUS[_FILE]): what [uploads] context_key_env names.
        #[arg(long, value_name = "VAR", default_value = config::DEFAULT_CONTEXT_KEY_ENV)]
        context_key_env: String,
    },
    /// Load and validate the configuration (and secrets), warn about doubtful settings, try
    /// the Redis, JWKS and introspection endpoints it names, then exit (0 unless invalid).
    CheckConfig {
        /// Configuration file (TOML). Also VODSIGN_CONFIG.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Do not try the endpoints the configuration names (no network access).
        #[arg(long)]
        offline: bool,
    },
    /// Make a new API key (or hash one from stdin) and print its [[api_keys]] entry.
    HashKey(HashKeyArgs),
    /// Exit 0 when the local instance is ready (GET /readyz), 1 otherwise: a container
    /// HEALTHCHECK for images without curl.
    Healthcheck {
        #[command(flatten)]
        target: ServeArgs,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Reload the running instance's configuration (POST /-/reload on its admin listener,
    /// the same reload as SIGHUP; needs [admin] enable_reload = true). Exit 0 when the new
    /// configuration is in effect, 1 when it was refused or nothing answered.
    Reload(ReloadArgs),
    /// VOD's event queue through the VOD API ([events] settings, events.credential's key).
    Events(EventsArgs),
    /// Apply the upload store's pending migrations ([store] url, or VODSIGN_STORE_URL[_FILE])
    /// and print each one applied; start-up runs the same. Exit 0 up to date, 1 store
    /// unreachable or a migration failed, 2 usage or configuration error.
    Migrate(MigrateArgs),
    /// The event relay's messages and endpoints through the admin listener's /-/webhooks/
    /// routes (needs [admin] enable_webhook_admin = true): list, show, replay, endpoints,
    /// enable. Exit 0 done, 1 refused or no answer, 2 usage.
    Webhooks(WebhooksArgs),
}

#[derive(Debug, Args)]
struct WebhooksArgs {
    #[command(subcommand)]
    action: webhooks::Action,
    /// Configuration file (TOML) of the running instance, also VODSIGN_CONFIG: its
    /// [admin] listen is where to ask, its [admin] reload_token_env the token to send.
    #[arg(long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    /// The admin listener to ask instead, e.g. http://127.0.0.1:8081.
    #[arg(long, value_name = "URL", global = true)]
    admin: Option<String>,
    /// Give up after this many milliseconds.
    #[arg(long, default_value_t = 15000, global = true)]
    timeout_ms: u64,
}

#[derive(Debug, Args)]
struct EventsArgs {
    #[command(subcommand)]
    action: EventsAction,
    /// Configuration file (TOML). Also VODSIGN_CONFIG.
    #[arg(long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum EventsAction {
    /// Set what the relay needs (Mode=PULL, UploadMediaCompleteEventSwitch=ON,
    /// DeleteMediaCompleteEventSwitch=ON) where it differs, and print what changed.
    Setup,
    /// Print the event configuration and the approximate number of events waiting.
    Status,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// Configuration file (TOML), also VODSIGN_CONFIG; only its [store] table is read.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// List each migration as applied or pending and change nothing.
    #[arg(long)]
    status: bool,
}

#[derive(Debug, Args)]
struct ReloadArgs {
    /// Configuration file (TOML) of the running instance, also VODSIGN_CONFIG: its
    /// [admin] listen is where to ask, its [admin] reload_token_env the token to send.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The admin listener to ask instead, e.g. http://127.0.0.1:8081 (or 127.0.0.1:8081).
    #[arg(long, value_name = "URL")]
    admin: Option<String>,
    /// Give up after this many milliseconds (a reload reads files for at most 10 s).
    #[arg(long, default_value_t = 15000)]
    timeout_ms: u64,
}

/// The flags of `serve` and `healthcheck`.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Configuration file (TOML). Also VODSIGN_CONFIG.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Overrides server.listen.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// SecretId (default: VODSIGN_SECRET_ID[_FILE]).
    #[arg(long)]
    secret_id: Option<String>,
    /// Validity in seconds (1 to 7776000).
    #[arg(long, default_value_t = 3600)]
    validity: u64,
    /// currentTimeStamp to sign (default: now).
    #[arg(long)]
    now: Option<u64>,
    /// random to sign (default: drawn from a CSPRNG).
    #[arg(long)]
    random: Option<u32>,
    /// The optional parameters, one flag each (`--class-id`, `--procedure`, ...).
    #[command(flatten)]
    options: RawUploadOptions,
    /// Also print the signed query string on standard error.
    #[arg(long)]
    show_original: bool,
}

#[derive(Debug, Args)]
struct HashKeyArgs {
    /// The key's id (letters, digits, '-').
    #[arg(long)]
    id: String,
    #[arg(long, default_value = "CHANGE-ME")]
    subject: String,
    #[arg(long, default_value = "default")]
    policy: String,
    /// Hash the key read from standard input instead of making a new one.
    #[arg(long)]
    stdin: bool,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    Cli::parse().run().unwrap_or_else(|e| {
        eprintln!("vodsign: {e}");
        e.exit_code()
    })
}

impl Cli {
    /// Runs the command. A flag given before the subcommand is either honoured by it or
    /// refused (exit 2), never dropped: a service that starts on the wrong port or with
    /// no configuration, without a word, is the worst outcome of a typo.
    fn run(self) -> Result<ExitCode, CliError> {
        let Cli {
            config,
            listen,
            command,
        } = self;
        match command {
            None => serve(config, listen),
            Some(Command::Serve(args)) => serve(
                one_value("--config", "serve", config, args.config)?,
                one_value("--listen", "serve", listen, args.listen)?,
            ),
            Some(Command::CheckConfig {
                config: own,
                offline,
            }) => {
                refuse_listen(listen, "check-config")?;
                check_config(one_value("--config", "check-config", config, own)?, offline)
            }
            Some(Command::Healthcheck { target, timeout_ms }) => {
                refuse_listen(listen, "healthcheck")?;
                let config = one_value("--config", "healthcheck", config, target.config)?;
                Ok(healthcheck(config, target.listen, timeout_ms))
            }
            Some(Command::Reload(args)) => {
                refuse_listen(listen, "reload")?;
                let config = one_value("--config", "reload", config, args.config)?;
                Ok(reload(config, args.admin, args.timeout_ms))
            }
            Some(Command::Events(args)) => {
                refuse_listen(listen, "events")?;
                events(
                    one_value("--config", "events", config, args.config)?,
                    args.action,
                )
            }
            Some(Command::Webhooks(args)) => {
                refuse_listen(listen, "webhooks")?;
                let config = one_value("--config", "webhooks", config, args.config)?;
                webhooks::run(config, args.admin, args.timeout_ms, args.action)
            }
            Some(Command::Migrate(args)) => {
                refuse_listen(listen, "migrate")?;
                let config = one_value("--config", "migrate", config, args.config)?;
                migrate::run(config, args.status)
            }
            Some(Command::Sign(args)) => {
                refuse_unused(config, listen, "sign")?;
                sign(args)
            }
            Some(Command::Inspect {
                signature,
                now,
                context_key_env,
            }) => {
                refuse_unused(config, listen, "inspect")?;
                run_inspect(&signature, now, &context_key_env)
            }
            Some(Command::HashKey(args)) => {
                refuse_unused(config, listen, "hash-key")?;
                hash_key(args)
            }
        }
    }
}

/// A flag given both before the subcommand and after it: the same value twice is one, two
/// different ones are refused rather than one of them silently winning. (Why `--config` is
/// not a clap `global` flag: clap lets the later one win without a word.)
fn one_value<T: PartialEq + std::fmt::Debug>(
    flag: &str,
    command: &str,
    top: Option<T>,
    sub: Option<T>,
) -> Result<Option<T>, CliError> {
    match (top, sub) {
        (Some(top), Some(sub)) if top != sub => Err(CliError::Usage(format!(
            "{flag} is given twice with different values ({top:?} before `{command}`, {sub:?} \
             after it); give it once"
        ))),
        (top, sub) => Ok(sub.or(top)),
    }
}

/// A top-level `--listen` is `serve`'s; another command refuses it rather than drop it.
fn refuse_listen(listen: Option<SocketAddr>, command: &str) -> Result<(), CliError> {
    match listen {
        None => Ok(()),
        Some(_) if command == "healthcheck" => Err(CliError::Usage(
            "--listen before the subcommand is serve's; for healthcheck give it after the \
             subcommand (vodsign healthcheck --listen ADDR)"
                .into(),
        )),
        Some(_) => Err(CliError::Usage(format!(
            "--listen is serve's; {command} does not listen, leave it out"
        ))),
    }
}

/// The commands that read no configuration refuse a top-level `--config` or `--listen`:
/// given, either would do nothing. (After such a subcommand clap refuses them itself.)
fn refuse_unused(
    config: Option<PathBuf>,
    listen: Option<SocketAddr>,
    command: &str,
) -> Result<(), CliError> {
    if config.is_some() {
        return Err(CliError::Usage(format!(
            "--config is not read by {command}, which uses no configuration file; leave it out"
        )));
    }
    refuse_listen(listen, command)
}

/// Why a command failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// Exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A flag or input the command cannot use. Exit 2.
    #[error("{0}")]
    Usage(String),
    /// The service failed while serving. Exit 1 (2 for the TLS files it reads at start).
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The process could not do its work: no runtime, no stdout, no stdin. Exit 1.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config(_) | CliError::Usage(_) | CliError::Serve(ServeError::Config(_)) => {
                ExitCode::from(2)
            }
            CliError::Serve(_) | CliError::Failed(_) => ExitCode::from(1),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))
}

fn read_stdin() -> Result<String, CliError> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| CliError::Failed(format!("cannot read standard input: {e}")))?;
    Ok(input)
}

/// Where the configuration comes from (`--config`, else `VODSIGN_CONFIG`); a reload reads
/// the same sources.
fn source(config: Option<PathBuf>, listen: Option<SocketAddr>) -> Source {
    Source {
        path: config::config_path(config),
        listen,
    }
}

/// Loads settings and secrets and builds the state: what `serve` and `check-config` share.
async fn load(config: Option<PathBuf>) -> Result<App, ConfigError> {
    let (settings, credentials) = source(config, None).load()?;
    App::build(settings, credentials).await
}

fn serve(config: Option<PathBuf>, listen: Option<SocketAddr>) -> Result<ExitCode, CliError> {
    let runtime = runtime()?;
    let outcome = runtime.block_on(async move {
        let source = source(config, listen);
        let settings = source.settings()?;
        // Held until `serve` returns: dropping it writes the last lines.
        let (log_writer, _log_guard) = crate::telemetry::writer::stdout()
            .map_err(|e| CliError::Failed(format!("cannot set up logging to stdout: {e}")))?;
        crate::telemetry::init(&settings.server, log_writer);
        let credentials = Credentials::from_env(&settings)?;
        let app = App::build(settings, credentials).await?;
        if app.uses_placeholder_credentials() {
            tracing::warn!(
                "DEVELOPMENT PLACEHOLDER CREDENTIALS: VOD will refuse every signature this \
                 instance issues. Set VODSIGN_SECRET_ID and VODSIGN_SECRET_KEY for real use."
            );
        }
        // The upload store's schema, before the first request can need it.
        app.migrate_store().await?;
        match crate::server::run_until_stopped(app, source).await {
            Ok(()) => {
                tracing::info!("stopped");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                Err(e.into())
            }
        }
    });
    // Whatever still runs (a reload stuck reading a file) must not hold up the exit.
    runtime.shutdown_background();
    outcome
}

/// Exit 0 when ready, 1 for anything else (including a configuration it cannot read).
fn healthcheck(config: Option<PathBuf>, listen: Option<SocketAddr>, timeout_ms: u64) -> ExitCode {
    let timeout = std::time::Duration::from_millis(timeout_ms.max(1));
    let outcome = source(config, listen)
        .probe_settings()
        .map_err(|e| e.to_string())
        .and_then(|settings| {
            let url = crate::healthcheck::readiness_url(&settings.server);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            runtime.block_on(async {
                tokio::time::timeout(timeout, crate::healthcheck::check(&url, timeout))
                    .await
                    .unwrap_or_else(|_| Err(format!("{url} did not answer within {timeout_ms} ms")))
            })
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vodsign healthcheck: not ready: {e}");
            ExitCode::from(1)
        }
    }
}

/// Exit 0 when the instance reloaded, 1 for anything else; the service's message either way.
fn reload(config: Option<PathBuf>, admin: Option<String>, timeout_ms: u64) -> ExitCode {
    let timeout = std::time::Duration::from_millis(timeout_ms.max(1));
    let outcome = reload_target(config, admin).and_then(|(url, token)| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        runtime.block_on(async {
            tokio::time::timeout(
                timeout,
                crate::admin::request_reload(&url, token.as_ref(), timeout),
            )
            .await
            .unwrap_or_else(|_| Err(format!("{url} did not answer within {timeout_ms} ms")))
        })
    });
    match outcome {
        Ok(message) => {
            println!("vodsign reload: {message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vodsign reload: {e}");
            ExitCode::from(1)
        }
    }
}

/// The reload URL and the token to send with it.
fn reload_target(
    config: Option<PathBuf>,
    admin: Option<String>,
) -> Result<(String, Option<secrecy::SecretString>), String> {
    let (base, token) = admin_target(config, admin)?;
    let url = if base.ends_with(crate::admin::RELOAD_PATH) {
        base
    } else {
        format!("{base}{}", crate::admin::RELOAD_PATH)
    };
    Ok((url, token))
}

/// The admin listener's base URL (`--admin`, else the configuration's `[admin] listen`,
/// loopback for a wildcard address), without a trailing `/`, and the token its `[admin]
/// reload_token_env` names, if any.
fn admin_target(
    config: Option<PathBuf>,
    admin: Option<String>,
) -> Result<(String, Option<secrecy::SecretString>), String> {
    let path = config::config_path(config);
    let settings = match (&path, &admin) {
        (None, Some(_)) => None,
        _ => Some(
            source(path, None)
                .probe_settings()
                .map_err(|e| e.to_string())?,
        ),
    };
    let token = match settings
        .as_ref()
        .and_then(|s| s.admin.reload_token_env.clone())
    {
        Some(var) => Some(
            config::required_secret("admin.reload_token_env", &var, &|name| {
                std::env::var(name).ok()
            })
            .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let base = match (admin, &settings) {
        (Some(url), _) if url.contains("://") => url,
        (Some(address), _) => format!("http://{address}"),
        (None, Some(settings)) if settings.admin.enabled => format!(
            "http://{}",
            crate::healthcheck::local_address(settings.admin.listen)
        ),
        (None, Some(_)) => {
            return Err(
                "the admin listener is off ([admin] enabled = false): enable it (a \
                 reload can also be sent as SIGHUP)"
                    .to_owned(),
            );
        }
        (None, None) => {
            return Err("give --config (or VODSIGN_CONFIG) or --admin URL".to_owned());
        }
    };
    Ok((base.trim_end_matches('/').to_owned(), token))
}

/// Loads the configuration as `serve` would, prints what signs for whom, and on standard
/// error each doubtful setting and (unless `offline`) whether each endpoint it names
/// answers. Exit 0 unless the configuration is invalid: a warning is for the operator.
fn check_config(config: Option<PathBuf>, offline: bool) -> Result<ExitCode, CliError> {
    let runtime = runtime()?;
    let app = runtime.block_on(load(config))?;
    // The reload token is read when serving starts: a missing one is refused here too.
    crate::admin::ReloadAccess::from_settings(&app.settings.admin)?;
    println!(
        "configuration OK{}",
        if app.uses_placeholder_credentials() {
            " (with DEVELOPMENT PLACEHOLDER credentials: VOD refuses their signatures)"
        } else {
            ""
        }
    );
    // What signs for whom: the SecretId is not secret (it travels in every signature).
    for key in app.credentials().iter() {
        let policies: Vec<&str> = app
            .settings
            .policies
            .iter()
            .filter(|(_, p)| p.credential == key.name())
            .map(|(name, _)| name.as_str())
            .collect();
        println!(
            "credential {}: SecretId {}, signs for policies: {}",
            key.name(),
            key.secret_id(),
            if policies.is_empty() {
                "(none)".to_owned()
            } else {
                policies.join(", ")
            }
        );
    }
    for warning in app.settings.warnings() {
        eprintln!("warning: {warning}");
    }
    for problem in app.readiness() {
        eprintln!("warning: not ready yet: {problem}");
    }
    if offline {
        eprintln!("endpoints not tried (--offline)");
    } else {
        let probes = runtime.block_on(crate::preflight::probe_all(
            &app.settings,
            crate::preflight::TIMEOUT,
        ));
        for probe in probes {
            match probe.outcome {
                Ok(detail) => eprintln!("reachable: {}: {detail}", probe.target),
                Err(why) => eprintln!("warning: unreachable: {}: {why}", probe.target),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `events setup` and `events status` against the VOD API `[events]` names.
fn events(config: Option<PathBuf>, action: EventsAction) -> Result<ExitCode, CliError> {
    use crate::vodapi::{VodApi, setup};
    let api = VodApi::from_settings(&source(config, None).settings()?)?;
    let failed = |e: &dyn std::fmt::Display| CliError::Failed(format!("events: {e}"));
    runtime()?.block_on(async {
        match action {
            EventsAction::Setup => {
                let changed = setup::setup(&api).await.map_err(|e| failed(&e))?;
                for change in &changed {
                    println!("changed {change}");
                }
                if changed.is_empty() {
                    println!("nothing to change: Mode is PULL, both event switches ON");
                }
            }
            EventsAction::Status => {
                let status = setup::status(&api).await.map_err(|e| failed(&e))?;
                print!("{}", status.render());
                if !status.is_set_up() {
                    eprintln!("warning: not set up for the relay; run `vodsign events setup`");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The flag of `sign` that carries a parameter: a refusal names what the operator typed, not
/// the spec's name (`--validity`, not `validitySeconds`).
fn sign_flag(field: &str) -> &str {
    match field {
        "secretId" => "--secret-id",
        "validitySeconds" => "--validity",
        "classId" => "--class-id",
        "procedure" => "--procedure",
        "taskPriority" => "--task-priority",
        "taskNotifyMode" => "--task-notify-mode",
        "sourceContext" => "--source-context",
        "sessionContext" => "--session-context",
        "oneTimeValid" => "--one-time-valid",
        "vodSubAppId" => "--vod-sub-app-id",
        "storageRegion" => "--storage-region",
        other => other,
    }
}

/// A refused parameter as a usage error naming its flag.
fn sign_usage(e: InvalidParam) -> CliError {
    CliError::Usage(format!("{} {}", sign_flag(e.field), e.rule))
}

/// The same rules of the parameters as the API (not of a policy: `sign` has none).
fn sign(args: SignArgs) -> Result<ExitCode, CliError> {
    let usage = sign_usage;
    let key = config::secret_from_env("VODSIGN_SECRET_KEY")?.ok_or_else(|| {
        ConfigError::key("VODSIGN_SECRET_KEY", "is not set; sign needs the SecretKey")
    })?;
    let secret_id = match args.secret_id {
        Some(id) => id,
        None => config::secret_from_env("VODSIGN_SECRET_ID")?
            .map(|s| s.expose_secret().to_owned())
            .ok_or_else(|| {
                CliError::Usage("--secret-id is required (or VODSIGN_SECRET_ID)".into())
            })?,
    };
    let mut params = SignParams::new(
        SecretId::try_from(secret_id).map_err(usage)?,
        args.now.unwrap_or_else(unix_now),
        Validity::try_from(args.validity).map_err(usage)?,
        args.random.unwrap_or_else(rand::random),
    );
    let options = UploadOptions::try_from(args.options).map_err(usage)?;
    check_task_flow(
        options.procedure.is_some(),
        options.task_priority.is_some(),
        options.task_notify_mode.is_some(),
    )
    .map_err(usage)?;
    params.options = options;
    if args.show_original {
        eprintln!("{}", crate::signature::encode::original(&params));
    }
    println!(
        "{}",
        Signer::new(key.expose_secret().as_bytes()).sign(&params)
    );
    Ok(ExitCode::SUCCESS)
}

/// Exit 0 when valid (a context token: genuine, or well formed when no key is set), 1 when
/// not: a context token that does not verify is a forgery or another deployment's.
fn run_inspect(signature: &str, now: Option<u64>, key_env: &str) -> Result<ExitCode, CliError> {
    let text = if signature == "-" {
        read_stdin()?
    } else {
        signature.to_owned()
    };
    let context_keys = match config::secret_from_env(key_env)? {
        Some(_) => Some(ContextKeys::from_env(key_env)?),
        None => None,
    };
    let keyring = inspect::context::ContextKeyring {
        var: key_env,
        keys: context_keys.as_ref(),
    };
    if text.trim().starts_with(TOKEN_PREFIX) {
        let report = inspect::context::inspect_token(text.trim(), keyring);
        print!("{}", report.render());
        return Ok(ExitCode::from(if report.is_valid() { 0 } else { 1 }));
    }
    let key = config::secret_from_env("VODSIGN_SECRET_KEY")?;
    let signer = key.map(|k| Signer::new(k.expose_secret().as_bytes()));
    let now = now.unwrap_or_else(unix_now);
    match inspect::inspect_with_context(&text, signer.as_ref(), keyring, now) {
        Ok(report) => {
            print!("{}", report.render());
            Ok(if report.is_valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(e) => {
            println!("not a VOD upload signature: {e}\nverdict: INVALID");
            Ok(ExitCode::from(1))
        }
    }
}

fn hash_key(args: HashKeyArgs) -> Result<ExitCode, CliError> {
    if !api_key::valid_id(&args.id) {
        return Err(CliError::Usage(
            "--id must be 1 to 64 letters, digits or '-'".into(),
        ));
    }
    let key = if args.stdin {
        let input = read_stdin()?;
        let key = input.trim().to_owned();
        let prefix = format!("{}{}_", api_key::PREFIX, args.id);
        if !key.starts_with(&prefix) {
            return Err(CliError::Usage(format!(
                "the key read from standard input must start with {prefix}"
            )));
        }
        key
    } else {
        let key = api_key::generate_key(&args.id);
        eprintln!("New API key (shown once, stored nowhere; give it to the client):\n{key}");
        key
    };
    let entry = ApiKeySettings {
        id: args.id,
        sha256: api_key::hash_key(&key),
        subject: args.subject,
        policy: args.policy,
    };
    let toml = toml_entry(&entry)?;
    print!("[[api_keys]]\n{toml}");
    Ok(ExitCode::SUCCESS)
}

fn toml_entry(entry: &ApiKeySettings) -> Result<String, CliError> {
    toml::to_string(entry).map_err(|e| CliError::Failed(format!("cannot format the entry: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn code(error: CliError) -> String {
        format!("{:?}", error.exit_code())
    }

    #[test]
    fn every_sign_parameter_is_named_by_its_flag() {
        for field in crate::signature::encode::PARAMETER_ORDER
            .iter()
            .copied()
            .filter(|f| !matches!(*f, "currentTimeStamp" | "expireTime" | "random"))
            .chain(["validitySeconds"])
        {
            let flag = sign_flag(field);
            assert!(flag.starts_with("--"), "{field} has no flag");
            let name = flag.trim_start_matches("--");
            let known = Cli::command()
                .find_subcommand("sign")
                .is_some_and(|sign| sign.get_arguments().any(|a| a.get_long() == Some(name)));
            assert!(known, "{flag} is not a flag of sign");
        }
    }

    #[test]
    fn a_taken_address_exits_1_and_a_configuration_error_2() {
        let bind = CliError::from(ServeError::Bind {
            key: "server.listen",
            address: SocketAddr::from(([127, 0, 0, 1], 8080)),
            source: std::io::ErrorKind::AddrInUse.into(),
        });
        assert!(!bind.to_string().contains("configuration error"), "{bind}");
        assert!(bind.to_string().contains("server.listen"), "{bind}");
        assert_eq!(code(bind), format!("{:?}", ExitCode::from(1)));
        let config = CliError::from(ConfigError::key("server.listen", "is wrong"));
        assert_eq!(code(config), format!("{:?}", ExitCode::from(2)));
    }
}
