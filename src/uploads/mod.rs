//! Upload tickets: each upload a record its owner can see, attributed by a signed context,
//! counted once.
//!
//! - [`id`]: upload ids, `upl_` and 128 random bits.
//! - [`context`]: the `vs1.<uploadId>.<tag>` token a ticket's signatures carry as
//!   `sourceContext` and `sessionContext`, its key and its verification.
//! - [`model`]: an upload, its owner, status, metadata and the signing grant it keeps.
//! - [`store`]: where tickets live (SQLite or PostgreSQL), with every operation bounded in
//!   time; [`sweeper`]: the task that marks expired tickets and purges old rows.
//!
//! Below the HTTP layer and the app state, above the settings, the proven caller and the
//! signer's parameter types; it imports nothing else.

pub mod context;
pub mod id;
pub mod model;
pub mod store;
pub mod sweeper;

pub use context::{ContextKey, ContextKeys, ContextToken, InvalidContextToken, KeyMatch};
pub use id::{InvalidUploadId, UploadId};
pub use model::{InvalidMetadata, Metadata, NewUpload, Owner, SigningGrant, Status, Upload};
pub use store::{
    Cursor, InvalidCursor, MigrationState, MigrationStatus, Page, RecordError, StoreError,
    StorePool, UploadStore,
};
pub use sweeper::{SweepReport, sweep_once};
