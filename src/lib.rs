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
//! Around them: [`config`] (file + environment, secrets only from env or `*_FILE`),
//! [`app`] (the validated runtime state), [`server`] (listener and shutdown),
//! [`telemetry`] (logs), [`inspect`] (the offline signature checker) and [`cli`].

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod http;
pub mod inspect;
pub mod limits;
pub mod policy;
pub mod server;
pub mod signature;
pub mod telemetry;
