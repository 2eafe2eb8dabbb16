//! The production-operations features, mostly on the real binary: lifecycle (SIGTERM under
//! load), reload (SIGHUP, `POST /-/reload`, `vodsign reload`), readiness and the dependency
//! report, named credentials and the healthcheck command. Loopback only; every wait is
//! bounded.

mod admin_reload;
mod credentials;
mod healthcheck;
mod lifecycle;
mod readiness;
mod reload;
mod webhook_admin;
