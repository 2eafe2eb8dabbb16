-- The event relay's outbox (src/events/store.rs). Times are Unix milliseconds.
-- `uploads.event_seq` counts the messages sent about an upload (each message's `seq`).
ALTER TABLE uploads ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;

-- One row per distinct VOD event: `dedup_key` is the SHA-256 of its canonical content
-- without its handle, so a redelivery under a new handle is not stored twice.
CREATE TABLE vod_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key TEXT NOT NULL UNIQUE,
    event_type TEXT,
    received_at INTEGER NOT NULL,
    event_json TEXT NOT NULL
);

-- One row per message per endpoint. `webhook_id` is the message's id (the same for every
-- endpoint and every attempt); a claimed row carries a lease until its attempt ends.
CREATE TABLE webhook_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES vod_events (seq),
    upload_id TEXT,
    message_type TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    lease_token TEXT,
    last_attempt_at INTEGER,
    last_error TEXT,
    finished_at INTEGER,
    UNIQUE (webhook_id, endpoint)
);

CREATE INDEX webhook_messages_due ON webhook_messages (status, next_attempt_at);
CREATE INDEX webhook_messages_by_upload
    ON webhook_messages (endpoint, upload_id, id) WHERE upload_id IS NOT NULL;
CREATE INDEX webhook_messages_by_lease ON webhook_messages (lease_token) WHERE lease_token IS NOT NULL;

-- Endpoints an answer of 410 Gone disabled, until an operator enables them again.
CREATE TABLE webhook_endpoints (
    name TEXT PRIMARY KEY,
    disabled_at INTEGER NOT NULL,
    disabled_reason TEXT NOT NULL
);
