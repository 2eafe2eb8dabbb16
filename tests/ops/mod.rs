//! The production-operations features, mostly on the real binary: lifecycle (SIGTERM under
//! load), reload (SIGHUP), named credentials and the healthcheck command. Loopback only;
//! every wait is bounded.

mod credentials;
mod healthcheck;
mod lifecycle;
mod reload;
