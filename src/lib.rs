//! vodsign: issues Tencent Cloud VOD upload signatures to authenticated app users.
//!
//! # Layout
//! The modules form a one-way graph: each imports only modules below it in this list
//! (`tests/architecture.rs` reads the sources and fails on an upward import or a cycle).
//!
//! - [`cli`]: the binary's commands (`serve`, `sign`, `inspect`, `check-config`, ...).
//! - [`healthcheck`] (the container probe) and [`inspect`] (the offline signature checker).
//! - [`server`]: listeners, connection deadlines and limits, graceful stop; above
//!   [`reload`] (SIGHUP: rebuild the state and swap it in) and [`admin`] (the `/metrics`
//!   listener), above [`lifecycle`] (the signals that drive draining and reloads).
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
//!
//! Leaves the layers above call, never the other way round: [`audit`] (one event per
//! signature issued or refused), [`credentials`] (named VOD SecretId/SecretKey pairs),
//! [`tls`] (certificates for HTTPS), [`metrics`] (the Prometheus registry) and
//! [`telemetry`] (logs). Beneath everything, plain data: [`config`] (typed, validated
//! settings from the file and the environment; secrets only from the environment or
//! `*_FILE`) and [`principal`] (the proven caller); and [`signature`], PURE: validated
//! parameters, encoding, sign / decode / verify, with no I/O, clock or randomness inside.

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
pub mod principal;
pub mod reload;
pub mod server;
pub mod signature;
pub mod telemetry;
pub mod tls;
