-- Call tracking (SPEC §9): which phone number a page shows, dynamic number
-- pools with reservations, account API tokens and the calls reported by the
-- telephony, attributed to the session that held the called number.

-- A replacement group: where numbers stand on a site's pages (selectors), how
-- they are written (template, e.g. "+7 (XXX) XXX-XX-XX") and the number shown
-- when no rule gives one (default_number, '' = leave the page's number).
CREATE TABLE ct_groups (
    id             bigserial PRIMARY KEY,
    site_id        bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (name <> '' AND length(name) <= 200),
    -- [{"type": "id|class|name|selector|phone_number", "value": "..."}], checked by the server
    selectors      jsonb NOT NULL CHECK (jsonb_typeof(selectors) = 'array'),
    template       text NOT NULL DEFAULT '' CHECK (length(template) <= 100),
    default_number text NOT NULL DEFAULT '' CHECK (default_number ~ '^([0-9]{8,15})?$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);

-- A rule picks the number of a group for a session whose traffic matches
-- (match_field: any, source = utm_source or referrer domain, utm_source,
-- utm_medium, utm_campaign, referrer = referrer domain, landing = landing URL
-- substring). Static rules give a fixed number; dynamic rules reserve a
-- number of their pool (ct_pool_numbers) for reserve_minutes. Dynamic rules
-- are tried first, then static ones, then the group's default number.
CREATE TABLE ct_rules (
    id              bigserial PRIMARY KEY,
    group_id        bigint NOT NULL REFERENCES ct_groups (id) ON DELETE CASCADE,
    site_id         bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('static', 'dynamic')),
    match_field     text NOT NULL DEFAULT 'any'
                    CHECK (match_field IN ('any', 'source', 'utm_source', 'utm_medium', 'utm_campaign', 'referrer', 'landing')),
    match_value     text NOT NULL DEFAULT '' CHECK (length(match_value) <= 500),
    number          text CHECK (number ~ '^[0-9]{8,15}$'),
    reserve_minutes integer CHECK (reserve_minutes BETWEEN 5 AND 10080),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'static') = (number IS NOT NULL)),
    CHECK ((kind = 'dynamic') = (reserve_minutes IS NOT NULL))
);
CREATE INDEX ct_rules_group_idx ON ct_rules (group_id);
CREATE INDEX ct_rules_site_idx ON ct_rules (site_id);

-- The numbers of a dynamic rule's pool with their current holder. A number is
-- free when expires_at has passed: expiry is a comparison, no job has to run.
-- A reservation claims a free row with FOR UPDATE SKIP LOCKED, so two
-- sessions never hold one number; renewals move expires_at forward. A phone
-- number belongs to one pool only (calls to it are attributed by it).
CREATE TABLE ct_pool_numbers (
    id             bigserial PRIMARY KEY,
    rule_id        bigint NOT NULL REFERENCES ct_rules (id) ON DELETE CASCADE,
    site_id        bigint NOT NULL,
    number         text NOT NULL UNIQUE CHECK (number ~ '^[0-9]{8,15}$'),
    reservation_id bigint,
    visitor_id     bigint,
    session_id     bigint,
    expires_at     timestamptz NOT NULL DEFAULT '-infinity'
);
CREATE INDEX ct_pool_numbers_free_idx ON ct_pool_numbers (rule_id, expires_at, id);
-- Equality on both columns: a plan made while the table was empty still
-- prefers these to the range of ct_pool_numbers_free_idx.
CREATE INDEX ct_pool_numbers_visitor_idx ON ct_pool_numbers (visitor_id, rule_id);
CREATE INDEX ct_pool_numbers_session_idx ON ct_pool_numbers (session_id, site_id);

-- Page views that found a dynamic rule's pool exhausted (and got the static
-- or default number): insert-only, so that an exhausted pool adds no lock
-- that every page view would wait for; purged after 30 days.
CREATE TABLE ct_pool_exhaustions (
    rule_id bigint NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX ct_pool_exhaustions_rule_idx ON ct_pool_exhaustions (rule_id, at);

-- Reservation history: who held which number from started_at until
-- expires_at (moved forward by renewals, set to the hand-over time when the
-- visitor's next session takes the number over). Calls are attributed by it.
CREATE TABLE ct_reservations (
    id         bigserial PRIMARY KEY,
    number_id  bigint NOT NULL,
    rule_id    bigint NOT NULL,
    site_id    bigint NOT NULL,
    number     text NOT NULL,
    visitor_id bigint NOT NULL,
    session_id bigint NOT NULL,
    started_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX ct_reservations_number_idx ON ct_reservations (number, started_at);
CREATE INDEX ct_reservations_expires_brin ON ct_reservations USING brin (expires_at);

-- Account API tokens (Authorization: Bearer), stored as their SHA-256.
CREATE TABLE api_tokens (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_tokens_account_idx ON api_tokens (account_id);

-- Calls reported by the telephony (POST /api/v1/calls), with their
-- attribution (NULL session: nobody held the called number then). dedupe_key
-- is "pbx:<pbx_call_id>", or called number, caller and start time when the
-- PBX gave no id: the same call reported twice is stored once.
CREATE TABLE calls (
    id             bigserial PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    dedupe_key     text NOT NULL,
    called_number  text NOT NULL,
    caller_number  text NOT NULL,
    started_at     timestamptz NOT NULL,
    duration_s     integer CHECK (duration_s >= 0),
    record_url     text NOT NULL DEFAULT '',
    pbx_call_id    text NOT NULL DEFAULT '',
    site_id        bigint REFERENCES sites (id) ON DELETE SET NULL,
    reservation_id bigint,
    visitor_id     bigint,
    session_id     bigint,
    attribution    jsonb, -- source, utm, referrer, landing page and visitor properties at attribution time
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, dedupe_key)
);
CREATE INDEX calls_account_idx ON calls (account_id, id);
CREATE INDEX calls_started_idx ON calls (account_id, started_at);
