-- Foundation schema: tenants, tracking, visitor data and offline requests.

CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    id                     bigserial PRIMARY KEY,
    account_id             bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    site_key               text NOT NULL UNIQUE CHECK (site_key ~ '^[A-Za-z0-9]{32}$'),
    domains                text[] NOT NULL DEFAULT '{}',
    time_zone              text NOT NULL DEFAULT 'Europe/Moscow',
    phone_region           text NOT NULL DEFAULT 'RU',
    session_timeout_s      integer NOT NULL DEFAULT 1800 CHECK (session_timeout_s BETWEEN 60 AND 86400),
    anonymize_ip           boolean NOT NULL DEFAULT false,
    settings               jsonb NOT NULL DEFAULT '{}',
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_account_idx ON sites (account_id);

-- Visitor, session and hit ids come from sequences that step by 100: each
-- nextval hands a server node a block of 100 ids (internal/postgres/ids.go).
--
-- The high-volume tracking tables (visitors, sessions, hits, events) carry no
-- foreign keys: every row is written by the group-committed tracking path from
-- ids the server issued and verified (the HMAC key binds site, visitor and
-- session), and a foreign-key check would lock the one shared sites row from
-- every concurrent transaction. Deleting a site or purging visitors deletes
-- from these tables explicitly. The low-volume tables below keep their keys.
CREATE TABLE visitors (
    id         bigint PRIMARY KEY,
    site_id    bigint NOT NULL,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE visitors_id_seq INCREMENT BY 100;
-- Append-mostly tables are ranged over by time with small BRIN indexes, which
-- cost next to nothing to maintain on the hot path.
CREATE INDEX visitors_created_brin ON visitors USING brin (created_at);

CREATE TABLE sessions (
    id              bigint PRIMARY KEY,
    site_id         bigint NOT NULL,
    visitor_id      bigint NOT NULL,
    started_at      timestamptz NOT NULL,
    last_hit_at     timestamptz NOT NULL,
    source_key      text NOT NULL DEFAULT '',
    referrer        text NOT NULL DEFAULT '',
    referrer_domain text NOT NULL DEFAULT '',
    landing_url     text NOT NULL DEFAULT '',
    utm_source      text NOT NULL DEFAULT '',
    utm_medium      text NOT NULL DEFAULT '',
    utm_campaign    text NOT NULL DEFAULT '',
    utm_term        text NOT NULL DEFAULT '',
    utm_content     text NOT NULL DEFAULT '',
    device_type     text NOT NULL,
    user_agent      text NOT NULL DEFAULT '',
    ip              inet
);
CREATE SEQUENCE sessions_id_seq INCREMENT BY 100;
CREATE INDEX sessions_visitor_idx ON sessions (visitor_id, started_at);
CREATE INDEX sessions_site_idx ON sessions (site_id, started_at);

CREATE TABLE hits (
    id           bigint PRIMARY KEY,
    site_id      bigint NOT NULL,
    visitor_id   bigint NOT NULL,
    session_id   bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    url          text NOT NULL,
    title        text NOT NULL DEFAULT '',
    referrer     text NOT NULL DEFAULT '',
    utm_source   text NOT NULL DEFAULT '',
    utm_medium   text NOT NULL DEFAULT '',
    utm_campaign text NOT NULL DEFAULT '',
    utm_term     text NOT NULL DEFAULT '',
    utm_content  text NOT NULL DEFAULT '',
    device_type  text NOT NULL,
    user_agent   text NOT NULL DEFAULT '',
    ip           inet
);
CREATE SEQUENCE hits_id_seq INCREMENT BY 100;
CREATE INDEX hits_session_idx ON hits (session_id);
CREATE INDEX hits_created_brin ON hits USING brin (created_at);

CREATE TABLE events (
    id         bigserial PRIMARY KEY,
    site_id    bigint NOT NULL,
    visitor_id bigint NOT NULL,
    session_id bigint NOT NULL,
    hit_id     bigint,
    created_at timestamptz NOT NULL,
    category   text NOT NULL,
    action     text NOT NULL,
    name       text NOT NULL DEFAULT '',
    value      text NOT NULL DEFAULT ''
);
CREATE INDEX events_created_brin ON events USING brin (created_at);
CREATE INDEX events_session_idx ON events (session_id);

-- Properties and contacts belong to a visitor, who belongs to the site: the
-- visitor's key is the one to check.
CREATE TABLE visitor_properties (
    site_id    bigint NOT NULL,
    visitor_id bigint NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    name       text NOT NULL,
    value      text, -- NULL: a bare flag without value
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (visitor_id, name)
);
CREATE INDEX visitor_properties_site_idx ON visitor_properties (site_id, name);

CREATE TABLE visitor_contacts (
    site_id    bigint NOT NULL,
    visitor_id bigint NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('phone', 'email')),
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (visitor_id, kind, value)
);
CREATE INDEX visitor_contacts_site_idx ON visitor_contacts (site_id, kind, value);

CREATE TABLE offline_requests (
    id          bigserial PRIMARY KEY,
    site_id     bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id  bigint REFERENCES visitors (id) ON DELETE SET NULL,
    session_id  bigint REFERENCES sessions (id) ON DELETE SET NULL,
    hit_id      bigint,
    name        text NOT NULL DEFAULT '',
    email       text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT '',
    is_sale     boolean NOT NULL DEFAULT false,
    sale_cost   numeric(14, 2) CHECK (sale_cost IS NULL OR is_sale),
    group_id    bigint,
    form_name   text NOT NULL DEFAULT '',
    source      text NOT NULL CHECK (source IN ('browser', 'api')),
    extra       jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offline_requests_site_idx ON offline_requests (site_id, created_at);
CREATE INDEX offline_requests_visitor_idx ON offline_requests (visitor_id);
