//! The event relay's operator routes on the admin listener (never the public one): list and
//! show webhook messages, replay one or an endpoint's dead letters, list endpoints and
//! enable one a 410 disabled.
//!
//! | Route | Does |
//! |---|---|
//! | `GET /-/webhooks/messages?status=&endpoint=&since=&cursor=&limit=` | pending and dead messages (or the statuses asked for), oldest first |
//! | `GET /-/webhooks/messages/{webhookId}` | one message: its body and each endpoint's delivery |
//! | `POST /-/webhooks/messages/{webhookId}/replay?endpoint=` | a fresh schedule, same `webhook-id` |
//! | `GET /-/webhooks/endpoints` | configured and known endpoints, their counts, disabled or not |
//! | `POST /-/webhooks/endpoints/{name}/replay?since=` | the endpoint's dead letters created since then |
//! | `POST /-/webhooks/endpoints/{name}/enable` | resume deliveries after a 410 |
//!
//! They answer only with `[admin] enable_webhook_admin = true` (403 otherwise) and, with
//! `[admin] reload_token_env` set, only to `Authorization: Bearer <that token>` (401): the
//! bodies hold users' upload data and the replays change what is delivered. Every answer
//! is JSON with a `code` (0 on success) and every refusal the API's error envelope. No URL
//! or secret of an endpoint is ever shown.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use crate::config::{AdminSettings, ConfigError};
use crate::events::message::rfc3339;
use crate::events::{Clock, EventStore, MessageQuery, MessageRecord, MessageStatus, SystemClock};
use crate::http::error::ApiError;
use crate::uploads::StoreError;

/// Messages one listing returns unless `limit` says otherwise, and the most it may ask.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// Longest one request may take: each store call is bounded by the store's own timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Who may call the `/-/webhooks/` routes: read from `[admin]` once, at start-up.
#[derive(Clone, Default)]
pub struct WebhookAdminAccess {
    enabled: bool,
    token_digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for WebhookAdminAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAdminAccess")
            .field("enabled", &self.enabled)
            .field("token", &self.token_digest.map(|_| "[redacted]"))
            .finish()
    }
}

impl WebhookAdminAccess {
    /// From `[admin]`: `enable_webhook_admin`, and the token `reload_token_env` names.
    pub fn from_settings(admin: &AdminSettings) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: admin.enable_webhook_admin,
            token_digest: super::token_digest(admin)?,
        })
    }

    /// On or off, with an optional token.
    pub fn new(enabled: bool, token: Option<&SecretString>) -> Self {
        Self {
            enabled,
            token_digest: token.map(super::digest),
        }
    }

    fn check(&self, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
        if !self.enabled {
            return Err(ApiError::Forbidden(
                "the webhook admin routes are off: set [admin] enable_webhook_admin = true and \
                 restart"
                    .into(),
            ));
        }
        super::check_token(self.token_digest.as_ref(), headers, "admin")
    }
}

#[derive(Clone)]
struct Relay {
    store: EventStore,
    /// The configured endpoints' names.
    endpoints: Arc<[String]>,
    access: WebhookAdminAccess,
    clock: Arc<dyn Clock>,
}

/// The `/-/webhooks/` routes over `store`, knowing the configured `endpoints` by name, on
/// `clock`'s time; merge them into the admin listener's router.
pub fn router(
    store: EventStore,
    endpoints: Vec<String>,
    access: WebhookAdminAccess,
    clock: Arc<dyn Clock>,
) -> Router {
    let relay = Relay {
        store,
        endpoints: endpoints.into(),
        access,
        clock,
    };
    Router::new()
        .route("/-/webhooks/messages", get(list_messages))
        .route("/-/webhooks/messages/{webhook_id}", get(show_message))
        .route(
            "/-/webhooks/messages/{webhook_id}/replay",
            post(replay_message),
        )
        .route("/-/webhooks/endpoints", get(list_endpoints))
        .route("/-/webhooks/endpoints/{name}/replay", post(replay_endpoint))
        .route("/-/webhooks/endpoints/{name}/enable", post(enable_endpoint))
        .route_layer(middleware::from_fn_with_state(relay.clone(), guard))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .with_state(relay)
}

/// The routes for the state serving at start-up: `None` unless the upload store is open
/// and the relay is configured (`[events] enabled`, or a `[[webhooks.endpoints]]`).
pub fn for_state(state: &AppState) -> Result<Option<Router>, ConfigError> {
    let settings = &state.settings;
    let relay_on = settings.events.enabled || !settings.webhooks.endpoints.is_empty();
    let Some(tickets) = state.tickets().filter(|_| relay_on) else {
        return Ok(None);
    };
    let names = settings
        .webhooks
        .endpoints
        .iter()
        .map(|e| e.name.clone())
        .collect();
    Ok(Some(router(
        EventStore::new(tickets.store.store().clone()),
        names,
        WebhookAdminAccess::from_settings(&settings.admin)?,
        Arc::new(SystemClock),
    )))
}

/// Refuses every route unless the switch is on and the token (if any) matches.
async fn guard(State(relay): State<Relay>, request: Request, next: Next) -> Response {
    if let Err(refusal) = relay.access.check(request.headers()) {
        tracing::warn!(
            code = refusal.code(),
            path = request.uri().path(),
            "webhook admin request refused: {refusal}"
        );
        return refusal.into_response();
    }
    next.run(request).await
}

/// A refusal of these routes, in the API's envelope.
#[derive(Debug)]
enum AdminError {
    BadRequest(String),
    NotFound(String),
    Busy(String),
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let envelope = |status: StatusCode, code: u32, message: String| {
            (status, Json(json!({"code": code, "message": message}))).into_response()
        };
        match self {
            AdminError::BadRequest(m) => ApiError::BadRequest(m).into_response(),
            AdminError::NotFound(m) => envelope(StatusCode::NOT_FOUND, 40401, m),
            AdminError::Busy(m) => envelope(StatusCode::CONFLICT, 40901, m),
            AdminError::Store(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "webhook admin: the store is unavailable");
                ApiError::Unavailable("the upload store is unreachable".into()).into_response()
            }
            AdminError::Store(e) => {
                tracing::error!(error = %e, "webhook admin: the store failed");
                ApiError::Internal.into_response()
            }
        }
    }
}

type Answer = Result<Json<Value>, AdminError>;

/// The query string as `T`; anything unknown or malformed is a 400 naming the problem.
fn query<T: DeserializeOwned>(raw: Option<String>) -> Result<T, AdminError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AdminError::BadRequest(format!("bad query string: {e}; see docs/webhooks.md")))
}

fn path(segment: Result<Path<String>, PathRejection>) -> Result<String, AdminError> {
    segment
        .map(|Path(s)| s)
        .map_err(|_| AdminError::BadRequest("malformed path".into()))
}

/// A message id as the relay makes them: `msg_` and URL-safe Base64.
fn webhook_id(text: &str) -> Result<&str, AdminError> {
    let ok = text.len() <= 64
        && text.strip_prefix("msg_").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(text)
    } else {
        Err(AdminError::BadRequest(
            "not a webhook id: expected msg_ followed by letters, digits, - or _ (the \
             webhook-id header)"
                .into(),
        ))
    }
}

/// An endpoint name the relay knows: configured, or in the outbox (its messages or its
/// disabled state outlive its removal from the configuration).
async fn endpoint(relay: &Relay, name: &str) -> Result<String, AdminError> {
    let well_formed = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(AdminError::BadRequest(
            "not an endpoint name: 1 to 64 letters, digits, - or _".into(),
        ));
    }
    if relay.endpoints.iter().any(|e| e == name) || relay.store.knows_endpoint(name).await? {
        Ok(name.to_owned())
    } else {
        Err(AdminError::NotFound(format!(
            "no endpoint {name:?}; GET /-/webhooks/endpoints lists them"
        )))
    }
}

/// `since`: RFC 3339 (`2027-01-15T08:00:00Z`) or Unix seconds, as Unix milliseconds.
fn since(text: &str) -> Result<i64, AdminError> {
    let bad = || {
        AdminError::BadRequest(format!(
            "since must be an RFC 3339 time (2027-01-15T08:00:00Z) or Unix seconds, not {:?}",
            text.chars().take(40).collect::<String>()
        ))
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = text.parse().map_err(|_| bad())?;
        return secs.checked_mul(1000).ok_or_else(bad);
    }
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| bad())?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(rfc3339(ms)))
}

/// A message in a listing: no body (GET it by id for that).
fn summary(m: &MessageRecord) -> Value {
    json!({
        "id": m.id,
        "webhookId": m.webhook_id,
        "endpoint": m.endpoint,
        "type": m.message_type,
        "uploadId": m.upload_id,
        "status": m.status,
        "attempts": m.attempts,
        "lastError": m.last_error,
        "createdAt": time(Some(m.created_at)),
        "lastAttemptAt": time(m.last_attempt_at),
        "nextAttemptAt": (m.status == "pending").then(|| rfc3339(m.next_attempt_at)),
        "finishedAt": time(m.finished_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    endpoint: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// `GET /-/webhooks/messages`.
async fn list_messages(State(relay): State<Relay>, RawQuery(raw): RawQuery) -> Answer {
    let q: ListQuery = query(raw)?;
    let statuses = match q.status.as_deref() {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                MessageStatus::parse(s.trim()).ok_or_else(|| {
                    AdminError::BadRequest(
                        "status must be pending, delivered or dead (or several, comma-separated)"
                            .into(),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let endpoint = match q.endpoint.as_deref() {
        Some(name) => Some(endpoint(&relay, name).await?),
        None => None,
    };
    let since_ms = q.since.as_deref().map(since).transpose()?;
    let after = match q.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse::<i64>().ok().filter(|c| *c >= 0).ok_or_else(|| {
            AdminError::BadRequest("cursor must be the nextCursor of a previous page".into())
        })?,
    };
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                AdminError::BadRequest(format!("limit must be from 1 to {MAX_LIMIT}"))
            })?,
    };
    let messages = relay
        .store
        .query(&MessageQuery {
            statuses: &statuses,
            endpoint: endpoint.as_deref(),
            since_ms,
            after,
            limit,
        })
        .await?;
    let next = (messages.len() == limit as usize)
        .then(|| messages.last().map(|m| m.id.to_string()))
        .flatten();
    Ok(Json(json!({
        "code": 0,
        "messages": messages.iter().map(summary).collect::<Vec<_>>(),
        "nextCursor": next,
    })))
}

/// `GET /-/webhooks/messages/{webhookId}`.
async fn show_message(
    State(relay): State<Relay>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path(id)?;
    let rows = relay.store.by_webhook_id(webhook_id(&id)?).await?;
    let Some(first) = rows.first() else {
        return Err(AdminError::NotFound(format!("no message {id}")));
    };
    let body: Value = serde_json::from_str(&first.body).unwrap_or(Value::Null);
    Ok(Json(json!({
        "code": 0,
        "webhookId": first.webhook_id,
        "type": first.message_type,
        "uploadId": first.upload_id,
        "createdAt": time(Some(first.created_at)),
        "body": body,
        "deliveries": rows.iter().map(summary).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayQuery {
    endpoint: Option<String>,
}

/// `POST /-/webhooks/messages/{webhookId}/replay`: each of its deliveries (or the one to
/// `endpoint`) starts a fresh schedule, due now, under the same `webhook-id`.
async fn replay_message(
    State(relay): State<Relay>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let id = path(id)?;
    let q: ReplayQuery = query(raw)?;
    let mut rows = relay.store.by_webhook_id(webhook_id(&id)?).await?;
    if rows.is_empty() {
        return Err(AdminError::NotFound(format!("no message {id}")));
    }
    if let Some(name) = q.endpoint.as_deref() {
        let name = endpoint(&relay, name).await?;
        rows.retain(|r| r.endpoint == name);
        if rows.is_empty() {
            return Err(AdminError::NotFound(format!(
                "message {id} was not sent to endpoint {name:?}"
            )));
        }
    }
    let now = relay.clock.now_ms();
    let (mut replayed, mut busy) = (Vec::new(), Vec::new());
    for row in &rows {
        if relay.store.replay(row.id, now).await? {
            replayed.push(row.endpoint.clone());
        } else {
            busy.push(row.endpoint.clone());
        }
    }
    if replayed.is_empty() {
        return Err(AdminError::Busy(format!(
            "an attempt to send {id} is in flight; try again once it ends"
        )));
    }
    let disabled = disabled_among(&relay, &replayed).await?;
    tracing::info!(webhook_id = %id, endpoints = ?replayed, "webhook message replayed by an operator");
    Ok(Json(json!({
        "code": 0,
        "message": format!("{id} queued again for {}", replayed.join(", ")),
        "webhookId": id,
        "replayed": replayed,
        "inFlight": busy,
        "disabledEndpoints": disabled,
    })))
}

/// Which of `names` are disabled (their replays wait until they are enabled).
async fn disabled_among(relay: &Relay, names: &[String]) -> Result<Vec<String>, AdminError> {
    Ok(relay
        .store
        .disabled_endpoints()
        .await?
        .into_iter()
        .map(|d| d.name)
        .filter(|n| names.contains(n))
        .collect())
}

/// `GET /-/webhooks/endpoints`.
async fn list_endpoints(State(relay): State<Relay>) -> Answer {
    let states = relay.store.endpoint_states(&relay.endpoints).await?;
    let endpoints: Vec<Value> = states
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "configured": relay.endpoints.contains(&s.name),
                "pending": s.pending,
                "dead": s.dead,
                "disabled": s.disabled.is_some(),
                "disabledAt": time(s.disabled.as_ref().map(|d| d.0)),
                "disabledReason": s.disabled.as_ref().map(|d| d.1.clone()),
            })
        })
        .collect();
    Ok(Json(json!({"code": 0, "endpoints": endpoints})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SinceQuery {
    since: Option<String>,
}

/// `POST /-/webhooks/endpoints/{name}/replay?since=`: the endpoint's dead letters created
/// at or after `since` start fresh schedules.
async fn replay_endpoint(
    State(relay): State<Relay>,
    name: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let name = endpoint(&relay, &path(name)?).await?;
    let q: SinceQuery = query(raw)?;
    let Some(since_text) = q.since else {
        return Err(AdminError::BadRequest(
            "say which dead letters to replay with since=<RFC 3339 time or Unix seconds>".into(),
        ));
    };
    let since_ms = since(&since_text)?;
    let now = relay.clock.now_ms();
    let replayed = relay.store.replay_failed(&name, since_ms, now).await?;
    let disabled = !disabled_among(&relay, std::slice::from_ref(&name))
        .await?
        .is_empty();
    tracing::info!(endpoint = %name, replayed, "dead letters replayed by an operator");
    Ok(Json(json!({
        "code": 0,
        "message": format!("{replayed} dead letters of {name} queued again"),
        "endpoint": name,
        "since": rfc3339(since_ms),
        "replayed": replayed,
        "endpointDisabled": disabled,
    })))
}

/// `POST /-/webhooks/endpoints/{name}/enable`.
async fn enable_endpoint(
    State(relay): State<Relay>,
    name: Result<Path<String>, PathRejection>,
) -> Answer {
    let name = endpoint(&relay, &path(name)?).await?;
    let was_disabled = relay.store.enable_endpoint(&name).await?;
    if was_disabled {
        tracing::info!(endpoint = %name, "webhook endpoint enabled by an operator");
    }
    Ok(Json(json!({
        "code": 0,
        "message": if was_disabled {
            format!("{name} enabled; its pending messages go out now")
        } else {
            format!("{name} was not disabled")
        },
        "endpoint": name,
        "wasDisabled": was_disabled,
    })))
}
