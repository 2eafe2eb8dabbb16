//! `vodsign webhooks list|show|replay|endpoints|enable`: the admin listener's `/-/webhooks/`
//! routes from the command line, found and authorised as `vodsign reload` is (the
//! configuration's `[admin] listen` or `--admin`, the token `[admin] reload_token_env`
//! names). Prints the service's JSON answer; exit 0 for a 2xx, 1 for a refusal or no
//! answer (the service's message printed), 2 for a malformed command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::SecretString;

use super::CliError;

#[derive(Debug, Subcommand)]
pub(super) enum Action {
    /// List messages: pending and dead unless --status says otherwise, oldest first.
    List {
        /// pending, delivered, dead, or several comma-separated.
        #[arg(long)]
        status: Option<String>,
        /// Only this endpoint's messages.
        #[arg(long)]
        endpoint: Option<String>,
        /// Created at or after this time (RFC 3339 or Unix seconds).
        #[arg(long)]
        since: Option<String>,
        /// At most this many (1 to 200, default 50).
        #[arg(long)]
        limit: Option<u32>,
        /// The nextCursor of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one message (by its webhook-id): its body and each endpoint's delivery.
    Show { webhook_id: String },
    /// Send one message again under the same webhook-id (to every endpoint, or to
    /// --endpoint); or, with --endpoint and --since and no id, an endpoint's dead letters
    /// created since then.
    Replay {
        webhook_id: Option<String>,
        #[arg(long)]
        endpoint: Option<String>,
        /// With --endpoint and no id: replay its dead letters created at or after this time.
        #[arg(long)]
        since: Option<String>,
    },
    /// List the endpoints: pending and dead counts, disabled or not.
    Endpoints,
    /// Resume deliveries to an endpoint a 410 disabled.
    Enable { endpoint: String },
}

/// One path segment, encoded.
fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// A request to the admin listener: method, path and query pairs.
type Request = (&'static str, String, Vec<(&'static str, String)>);

/// The method, path and query of `action`; a usage error for a replay that names neither
/// a message nor an endpoint and a time.
fn request(action: Action) -> Result<Request, CliError> {
    let mut query = Vec::new();
    let (method, path) = match action {
        Action::List {
            status,
            endpoint,
            since,
            limit,
            cursor,
        } => {
            let pairs = [
                ("status", status),
                ("endpoint", endpoint),
                ("since", since),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor),
            ];
            query.extend(pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
            ("GET", "/-/webhooks/messages".to_owned())
        }
        Action::Show { webhook_id } => (
            "GET",
            format!("/-/webhooks/messages/{}", segment(&webhook_id)),
        ),
        Action::Replay {
            webhook_id: Some(id),
            endpoint,
            since: None,
        } => {
            query.extend(endpoint.map(|e| ("endpoint", e)));
            (
                "POST",
                format!("/-/webhooks/messages/{}/replay", segment(&id)),
            )
        }
        Action::Replay {
            webhook_id: None,
            endpoint: Some(endpoint),
            since: Some(since),
        } => {
            query.push(("since", since));
            (
                "POST",
                format!("/-/webhooks/endpoints/{}/replay", segment(&endpoint)),
            )
        }
        Action::Replay { .. } => {
            return Err(CliError::Usage(
                "webhooks replay: give a webhook id (msg_…), or --endpoint NAME --since TIME \
                 for an endpoint's dead letters"
                    .into(),
            ));
        }
        Action::Endpoints => ("GET", "/-/webhooks/endpoints".to_owned()),
        Action::Enable { endpoint } => (
            "POST",
            format!("/-/webhooks/endpoints/{}/enable", segment(&endpoint)),
        ),
    };
    Ok((method, path, query))
}

/// Runs `action` against the admin listener `config` or `admin` names.
pub(super) fn run(
    config: Option<PathBuf>,
    admin: Option<String>,
    timeout_ms: u64,
    action: Action,
) -> Result<ExitCode, CliError> {
    let (method, path, query) = request(action)?;
    let timeout = Duration::from_millis(timeout_ms.max(1));
    let outcome = super::admin_target(config, admin).and_then(|(base, token)| {
        let runtime = super::runtime().map_err(|e| e.to_string())?;
        let url = format!("{base}{path}");
        runtime.block_on(async {
            tokio::time::timeout(timeout, send(method, &url, &query, token.as_ref(), timeout))
                .await
                .unwrap_or_else(|_| Err(format!("{url} did not answer within {timeout_ms} ms")))
        })
    });
    Ok(match outcome {
        Ok(body) => {
            println!("{body}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vodsign webhooks: {e}");
            ExitCode::from(1)
        }
    })
}

/// Sends one request: the pretty-printed JSON answer of a 2xx, else the service's message.
async fn send(
    method: &str,
    url: &str,
    query: &[(&str, String)],
    token: Option<&SecretString>,
    timeout: Duration,
) -> Result<String, String> {
    let (status, body) = crate::admin::call(method, url, query, token, timeout).await?;
    let json = serde_json::from_str::<serde_json::Value>(&body).ok();
    if status.is_success() {
        return Ok(json
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(body));
    }
    let message = json
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.trim().chars().take(300).collect());
    let hint = if status == reqwest::StatusCode::NOT_FOUND && !body.starts_with('{') {
        " (no /-/webhooks/ routes here: the relay needs [uploads] enabled and an endpoint)"
    } else {
        ""
    };
    Err(format!("{status}: {message}{hint}"))
}
