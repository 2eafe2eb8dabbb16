-- Upload tickets (src/uploads/store). Times are Unix seconds; `seq` orders uploads made in
-- the same second; `grant_json` holds the signing parameters granted to the ticket.
CREATE TABLE uploads (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner_kind TEXT NOT NULL,
    owner_authority TEXT NOT NULL,
    owner_subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('authorized', 'uploaded', 'processed', 'failed', 'expired', 'deleted')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    signatures_issued BIGINT NOT NULL CHECK (signatures_issued >= 0),
    metadata TEXT NOT NULL,
    grant_json TEXT NOT NULL,
    file_id TEXT,
    media_url TEXT
);

CREATE INDEX uploads_by_owner
    ON uploads (owner_kind, owner_authority, owner_subject, created_at DESC, seq DESC);
CREATE INDEX uploads_by_file_id ON uploads (file_id) WHERE file_id IS NOT NULL;
CREATE INDEX uploads_by_expiry ON uploads (status, expires_at);
CREATE INDEX uploads_by_age ON uploads (created_at);
