-- Leads that arrive with tracking ids but without the key that proves them are
-- kept unattributed; the ids they claimed are recorded, unverified.
ALTER TABLE offline_requests
    ADD COLUMN claimed_visitor_id bigint,
    ADD COLUMN claimed_session_id bigint,
    ADD COLUMN claimed_hit_id     bigint;

-- Idempotency keys of offline requests, per site: a retried request with a key
-- that has not expired answers as the first one did and stores nothing. Kept in
-- the database so that every node sees them; expired rows are purged.
CREATE TABLE idempotency_keys (
    site_id      bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    key          text NOT NULL CHECK (key <> '' AND length(key) <= 255),
    request_hash bytea NOT NULL,
    request_id   bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (site_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
