-- Callbacks of the sitephone (SPEC §8): a visitor orders a call back through
-- ComagicWidget.sitePhoneCall (or a lead form); the order is handed to the
-- site's PBX or integration by a callback scenario, a signed HTTP POST.

-- A scenario of a site, for one group of operators or (group_id NULL) the
-- site's default. mode 'async': an accepted order is stored and dispatched
-- at its time by the dispatcher workers; mode 'sync': the order is POSTed at
-- once, while the visitor waits, and accepted only when the endpoint answers
-- 2xx (the PBX takes it at accept time). secret signs the POSTs
-- (HMAC-SHA256, as the webhooks), so it is stored as given.
CREATE TABLE callback_scenarios (
    id         bigserial PRIMARY KEY,
    site_id    bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    group_id   bigint REFERENCES employee_groups (id) ON DELETE CASCADE,
    mode       text NOT NULL DEFAULT 'async' CHECK (mode IN ('async', 'sync')),
    url        text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    secret     text NOT NULL CHECK (secret <> ''),
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callback_scenarios_site_idx ON callback_scenarios (site_id, group_id);

-- An order of a call back. phone is E.164 (+79123456789). due_at is when the
-- visitor wants the call (delayed_call_time, or the time of the order);
-- next_attempt_at is when a dispatcher may take it next: due_at at first,
-- then past a claim's lease or a failed attempt's backoff. attempts counts
-- the failed attempts; last_status is the HTTP status of the last one (NULL:
-- none or no answer). ip is the client's address (anonymised as the site
-- says), with visitor_id the key of the 10-per-minute limit. visitor_id and
-- session_id have no foreign keys, like the other visitor data of hot tables.
CREATE TABLE callbacks (
    id              bigserial PRIMARY KEY,
    site_id         bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id      bigint NOT NULL,
    session_id      bigint NOT NULL,
    hit_id          bigint,
    phone           text NOT NULL CHECK (phone ~ '^\+[0-9]{6,20}$'),
    group_id        bigint REFERENCES employee_groups (id) ON DELETE SET NULL,
    source          text NOT NULL CHECK (source IN ('sitephone', 'consultant_sitephone', 'call_generator')),
    scenario_id     bigint REFERENCES callback_scenarios (id) ON DELETE SET NULL,
    data            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    ip              inet,
    status          text NOT NULL CHECK (status IN ('scheduled', 'dispatched', 'failed')),
    due_at          timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    last_status     integer,
    last_error      text,
    dispatched_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callbacks_due_idx ON callbacks (next_attempt_at) WHERE status = 'scheduled';
CREATE INDEX callbacks_site_idx ON callbacks (site_id, created_at);
