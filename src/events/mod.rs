//! The upload event relay's core: VOD's events in, signed Standard Webhooks messages out,
//! nothing lost in between.
//!
//! - [`vod_event`]: VOD's v3 events read from any JSON, their attribution (a context token
//!   that verifies) and their deduplication key.
//! - [`message`]: the body of each webhook message; [`webhook`]: message ids, secrets and
//!   the Standard Webhooks signature; [`endpoint`]: the configured receivers.
//! - [`store`]: the durable outbox in the upload store's database: events stored with
//!   their ticket moves and messages in one transaction, leased claims, retries, dead
//!   letters, disabled endpoints, and what the admin listener lists and replays.
//! - [`deliver`]: the worker that sends due messages; [`clock`]: the time it runs on.
//! - [`retention`]: how long delivered messages, events and dead letters are kept, and the
//!   task that purges them in batches.
//! - [`pull`]: the ingest loop: `PullEvents`, [`EventStore::ingest`], and only after it
//!   commits `ConfirmEvents`, with backoff through VOD or store outages.
//! - [`observe`]: what the loop and the worker report (the app turns it into metrics).
//!
//! Below the app state (which starts and stops the loop and the worker); above the upload
//! tickets, the VOD API client and the settings.

pub mod clock;
pub mod deliver;
pub mod endpoint;
pub mod message;
pub mod observe;
pub mod pull;
pub mod retention;
pub mod store;
pub mod vod_event;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock};
pub use deliver::{DeliveryWorker, Outcome, Round};
pub use endpoint::Endpoint;
pub use message::MessageType;
pub use observe::{NoObserver, RelayObserver};
pub use pull::{Backoff, KeySource, PullError, PullLoop, PullRound};
pub use retention::Retention;
pub use store::{
    Backlog, Claimed, DisabledEndpoint, EndpointState, EventStore, IngestOutcome, Lease,
    MessageQuery, MessageRecord, MessageStatus, PurgeBefore, PurgeReport, Route,
};
pub use vod_event::{EventKind, VodEvent};
pub use webhook::{WebhookSecret, new_message_id};
