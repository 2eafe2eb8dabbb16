//! The integration tests: one binary, one directory per area, helpers in `support/`.
//!
//! - `signature/`: the signer against the spec's vectors, issuance through the API, each
//!   policy rule, strict input, and the error envelope of every code
//! - `auth/`: JWT and introspection verifiers against a test identity provider, known JWT
//!   attacks, key rotation, the verified-token cache, the `[auth]` settings, tokens via the API
//! - `rate_limits/`: both limiter backends against shared scenarios, load shedding,
//!   per-caller fairness, the `[limits]` settings, and rate limits through the API
//! - `transport/`: connection deadlines and per-address caps, connection and head-size
//!   limits, TLS, CORS, and a real server on a loopback socket
//! - `ops/`: the real binary: SIGTERM under load, SIGHUP reload, named credentials,
//!   the healthcheck command
//! - `observability/`: audit events, metrics, the request log line, secrets kept out of
//!   logs and bodies, the OpenAPI document
//! - `cli/`: the binary's offline commands, and `migrate` on real SQLite and PostgreSQL
//! - `uploads/`: the upload-ticket store on real SQLite and real PostgreSQL
//! - `vodapi/`: the VOD API client (TC3 signing, the event queue, `events setup|status`)
//!   against a fake VOD API that verifies every signature
//! - `events/`: the event relay's outbox and delivery worker on both backends, against a
//!   fake receiver that checks Standard Webhooks signatures
//! - `relay/`: the running relay end to end: the binary, the fake VOD API and the fake
//!   receiver (ticket uploads, forged contexts, duplicates, a kill between commit and
//!   confirm, VOD down, two replicas on PostgreSQL)
//!
//! Two binaries stay apart, each saying why: `auth_token_logs.rs` (process-wide tracing
//! state) and `fuzz_fallback.rs` (the fuzz crate's harness). Set `TEST_LOG=1` to see the
//! service's logs.

mod auth;
mod cli;
mod events;
mod observability;
mod ops;
mod rate_limits;
mod relay;
mod signature;
mod support;
mod transport;
mod uploads;
mod vodapi;
