-- The event relay's outbox (src/events/store.rs). Times are Unix milliseconds.
-- `uploads.event_seq` counts the messages sent about an upload (each message's `seq`).
ALTER TABLE uploads ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;

-- One row per distinct VOD event: `dedup_key` is the SHA-256 of its canonical content
-- without its handle, so a redelivery under a new handle is not stored twice.
CREATE TABLE vod_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,
    event_type TEXT,
    received_at BIGINT NOT NULL,
    event_json TEXT NOT NULL
);

-- One row per message per endpoint. `webhook_id` is the message's id (the same for every
-- endpoint and every attempt); a claimed row carries a lease until its attempt ends.
CREATE TABLE webhook_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    event_seq BIGINT NOT NULL REFERENCES vod_events (seq),
    upload_id TEXT,
    message_type TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    lease_token TEXT,
    last_attempt_at BIGINT,
    last_error TEXT,
    finished_at BIGINT,
    UNIQUE (webhook_id, endpoint)
);

CREATE INDEX webhook_messages_due ON webhook_messages (status, next_attempt_at);
CREATE INDEX webhook_messages_by_upload
    ON webhook_messages (endpoint, upload_id, id) WHERE upload_id IS NOT NULL;
CREATE INDEX webhook_messages_by_lease ON webhook_messages (lease_token) WHERE lease_token IS NOT NULL;

-- Endpoints an answer of 410 Gone disabled, until an operator enables them again.
CREATE TABLE webhook_endpoints (
    name TEXT PRIMARY KEY,
    disabled_at BIGINT NOT NULL,
    disabled_reason TEXT NOT NULL
);
