//! vodsign: issues Tencent Cloud VOD upload signatures to authenticated app users.
//!
//! # Layout
//! A request walks the modules in one direction:
//!
//! - [`http`]: the router, its layer stack (request id, trace, timeout, body limit, panic
//!   catcher), one file per endpoint, and the one error envelope.
//! - [`auth`]: the auth-check middleware and one file per credential kind; leaves a
//!   [`auth::Principal`].
//! - [`limits`]: may this caller sign now? Per-principal rate and quota, per-IP auth-failure
//!   limit, load shedding, client-IP resolution; memory or Redis backend.
//! - [`policy`]: principal + request → the parameters to sign, or a precise refusal.
//! - [`signature`]: PURE validated parameters, encoding, sign / decode / verify.
//!
//! Around them: [`config`] (every settings type, checked when loaded; file + environment,
//! secrets only from env or `*_FILE`; imports nothing else from the crate),
//! [`credentials`] (named VOD SecretId/SecretKey pairs), [`app`] (the validated runtime
//! state), [`server`] (listener, connection limits, graceful stop), [`tls`] (HTTPS and
//! HTTP/2), [`reload`] (SIGHUP: rebuild and swap), [`lifecycle`] (signals, draining),
//! [`healthcheck`] (the container probe), [`telemetry`] (logs), [`audit`] (one event per
//! signature issued or refused), [`metrics`] (the Prometheus registry), [`admin`] (the
//! `/metrics` listener), [`inspect`] (the offline signature checker) and [`cli`].

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod healthcheck;
pub mod http;
pub mod inspect;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod policy;
pub mod reload;
pub mod server;
pub mod signature;
pub mod telemetry;
pub mod tls;
