-- Webhooks: per-account HTTP endpoints that receive signed POSTs for events
-- (SPEC §12), and their durable delivery outbox, which is also the delivery log.

-- secret signs the deliveries (HMAC-SHA256), so it is stored as given, not
-- hashed; it is shown once, when the webhook is created. events lists the
-- events the webhook receives ('{}' = every event); the names are checked by
-- the application, so that new events need no migration.
CREATE TABLE webhooks (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url        text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    secret     text NOT NULL CHECK (secret <> ''),
    events     text[] NOT NULL DEFAULT '{}',
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_account_idx ON webhooks (account_id);

-- One delivery of one event to one webhook. Workers claim due rows with
-- FOR UPDATE SKIP LOCKED and move next_attempt_at past a lease; a failed
-- attempt counts in attempts and keeps its status (0 = no HTTP answer) and
-- error; delivered_at is set on a 2xx answer.
CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           text NOT NULL,
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
