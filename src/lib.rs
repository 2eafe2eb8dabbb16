//! vodsign: issues Tencent Cloud VOD upload signatures to authenticated app users.
//!
//! # Layout
//! The modules form a one-way graph: each imports only modules below it in this list
//! (`tests/architecture.rs` reads the sources and fails on an upward import or a cycle).
//!
//! - [`cli`]: the binary's commands (`serve`, `sign`, `inspect`, `check-config`, ...).
//! - [`healthcheck`] (the container probe), [`inspect`] (the offline signature checker) and
//!   [`preflight`] (`check-config`'s tries of the endpoints a configuration names).
//! - [`server`]: listeners, connection deadlines and limits, graceful stop; above
//!   [`reload`] (SIGHUP or `POST /-/reload`: rebuild the state and swap it in) and [`admin`]
//!   (the operators' listener: `/metrics`, the probes, `POST /-/reload`, the event relay's
//!   `/-/webhooks/` routes), above
//!   [`lifecycle`] (the signals that drive draining and reloads).
//!
//! A request walks the next modules in one direction:
//!
//! - [`http`]: the router, its layer stack, one file per endpoint, the one error envelope,
//!   and the HTTP side of the auth-check and of the audit.
//! - [`app`]: the state a request is served from, built from validated settings.
//! - [`auth`]: who is calling; leaves a [`principal::Principal`]. One file per credential
//!   kind.
//! - [`policy`]: principal + request → the parameters to sign, or a precise refusal.
//! - [`limits`]: may this caller sign now? Rate and quota per caller, the per-address
//!   auth-failure limit, load shedding, client-IP resolution; memory or Redis backend.
//! - [`events`]: the upload event relay: VOD's events parsed, attributed and deduplicated,
//!   the pull loop that drains VOD's queue into the durable outbox (confirming only what
//!   was committed), and the worker that signs and delivers the messages (Standard
//!   Webhooks). Runs beside the request path, on the ticket store; [`app`] starts and stops
//!   it.
//! - [`uploads`]: upload tickets: ids, the signed context token, and the store (SQLite or
//!   PostgreSQL) that keeps each upload for its owner.
//! - [`vodapi`]: the VOD API's event queue and event configuration, signed with
//!   TC3-HMAC-SHA256 under a named credential.
//!
//! Leaves the layers above call, never the other way round: [`audit`] (one event per
//! signature issued or refused), [`credentials`] (named VOD SecretId/SecretKey pairs),
//! [`tls`] (certificates for HTTPS), [`metrics`] (the Prometheus registry) and
//! [`telemetry`] (logs). Beneath everything, plain data: [`config`] (typed, validated
//! settings from the file and the environment; secrets only from the environment or
//! `*_FILE`) and [`principal`] (the proven caller); and [`signature`], PURE: validated
//! parameters, encoding, sign / decode / verify, with no I/O, clock or randomness inside.

// The public surface: the settings, the pure signer, the proven caller, the upload tickets
// and the event relay (whose stores the integration tests drive on both backends) and the VOD
// API client (which the tests drive against a fake VOD API) as modules, and
// below, the few types and functions the binary, the tests, the benches and the fuzz
// targets build a service from. Everything else is private to the crate.
pub mod config;
pub mod events;
pub mod principal;
pub mod signature;
pub mod uploads;
pub mod vodapi;

mod admin;
mod app;
mod audit;
mod auth;
mod cli;
mod credentials;
mod healthcheck;
mod http;
mod inspect;
mod lifecycle;
mod limits;
mod metrics;
mod policy;
mod preflight;
mod reload;
mod server;
mod telemetry;
mod tls;

pub use admin::router as admin_router;
pub use admin::webhooks::{WebhookAdminAccess, router as webhook_admin_router};
pub use app::{App, AppState, unix_now};
pub use auth::api_key::{ApiKeys, generate_key, hash_key};
pub use auth::{AuthError, TokenVerifier, bearer};
pub use cli::main as run_cli;
pub use credentials::{Credentials, VodCredentials};
pub use healthcheck::check as healthcheck;
pub use http::signature::{parse_json_request, parse_query_request};
pub use http::{layered, router};
pub use inspect::inspect;
pub use limits::{Decision, LimitError, Limiter, PerCaller, ShedBudget};
pub use policy::{Policy, SignatureRequest};
pub use reload::{Reloader, Source};
pub use server::{run, serve};
pub use telemetry::dispatch as logging_dispatch;
pub use telemetry::init as init_logging;
