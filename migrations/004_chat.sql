-- Employees (operators), groups, operator tokens, chats and their durable event
-- log, chat files, timers and the mail outbox (SPEC §1, §7).

CREATE TABLE employees (
    id              bigserial PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Logins are unique across the server: the login form asks for nothing else.
    login           text NOT NULL UNIQUE CHECK (login ~ '^[A-Za-z0-9._@+-]{1,100}$'),
    name            text NOT NULL CHECK (name <> '' AND length(name) <= 200),
    position        text NOT NULL DEFAULT '' CHECK (length(position) <= 200),
    avatar          text NOT NULL DEFAULT '' CHECK (length(avatar) <= 2000),
    password_hash   text NOT NULL DEFAULT '', -- '' = cannot log in
    status          text NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'away', 'offline')),
    status_at       timestamptz NOT NULL DEFAULT now(),
    max_chats       integer NOT NULL DEFAULT 5 CHECK (max_chats BETWEEN 0 AND 100),
    can_chat        boolean NOT NULL DEFAULT true,
    can_invite      boolean NOT NULL DEFAULT true,
    handles_offline boolean NOT NULL DEFAULT true,
    disabled_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employees_account_idx ON employees (account_id);

-- The sites an employee works on (same account only; the CLI checks).
CREATE TABLE employee_sites (
    employee_id bigint NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    site_id     bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    PRIMARY KEY (employee_id, site_id)
);
CREATE INDEX employee_sites_site_idx ON employee_sites (site_id);

CREATE TABLE employee_groups (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name <> '' AND length(name) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);

CREATE TABLE employee_group_members (
    group_id    bigint NOT NULL REFERENCES employee_groups (id) ON DELETE CASCADE,
    employee_id bigint NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, employee_id)
);
CREATE INDEX employee_group_members_employee_idx ON employee_group_members (employee_id);

-- Operator tokens: only a SHA-256 of the token is stored.
CREATE TABLE operator_tokens (
    id          bigserial PRIMARY KEY,
    employee_id bigint NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX operator_tokens_employee_idx ON operator_tokens (employee_id);
CREATE INDEX operator_tokens_expires_idx ON operator_tokens (expires_at);

-- A chat of a visitor on a site. state: invite (an operator or a rule invited,
-- the visitor has not answered), queued (waiting for an operator), active (an
-- operator has it), closed.
CREATE TABLE chats (
    id            bigserial PRIMARY KEY,
    site_id       bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id    bigint NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    session_id    bigint,
    group_id      bigint REFERENCES employee_groups (id) ON DELETE SET NULL,
    employee_id   bigint REFERENCES employees (id) ON DELETE SET NULL,
    state         text NOT NULL CHECK (state IN ('invite', 'queued', 'active', 'closed')),
    closed_by     text CHECK (closed_by IN ('visitor', 'operator', 'idle', 'invite_rejected', 'system')),
    rating        smallint CHECK (rating BETWEEN 1 AND 5),
    last_seq      bigint NOT NULL DEFAULT 0,
    -- visitor_seen_seq: the last seq delivered to a visitor's open page; an
    -- operator answer that no page received in time is emailed (late answer).
    visitor_seen_seq bigint NOT NULL DEFAULT 0,
    visitor_email text NOT NULL DEFAULT '',
    -- last_visitor_at: the visitor's last message or sign of life (idle close,
    -- late answers by mail); answered_at: the first operator message.
    last_visitor_at  timestamptz,
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    answered_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    accepted_at   timestamptz,
    closed_at     timestamptz
);
-- One open chat per visitor and site.
CREATE UNIQUE INDEX chats_open_visitor_idx ON chats (site_id, visitor_id) WHERE state <> 'closed';
CREATE INDEX chats_visitor_idx ON chats (visitor_id, id);
CREATE INDEX chats_queue_idx ON chats (site_id, created_at) WHERE state = 'queued';
CREATE INDEX chats_employee_idx ON chats (employee_id) WHERE state = 'active';

-- Everything that happens in a chat, in order: messages of the visitor, the
-- operator and the system, files, joins and leaves of operators, ratings,
-- retention actions, the close. seq numbers a chat's events from 1 without
-- gaps; clients resume from the last seq they saw. uid makes a resent message
-- idempotent.
CREATE TABLE chat_events (
    chat_id     bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    id          bigserial UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('message', 'file', 'system', 'invite', 'join', 'leave',
                                              'rating', 'retention_action', 'close', 'visitor_card')),
    sender      text NOT NULL CHECK (sender IN ('visitor', 'operator', 'system')),
    employee_id bigint REFERENCES employees (id) ON DELETE SET NULL,
    text        text NOT NULL DEFAULT '',
    uid         text CHECK (length(uid) <= 100),
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, seq)
);
CREATE UNIQUE INDEX chat_events_uid_idx ON chat_events (chat_id, sender, uid) WHERE uid IS NOT NULL;

-- Files sent in chats; the bytes live in the file storage under storage_key.
CREATE TABLE chat_files (
    id           bigserial PRIMARY KEY,
    chat_id      bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    sender       text NOT NULL CHECK (sender IN ('visitor', 'operator')),
    name         text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    storage_key  text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_files_chat_idx ON chat_files (chat_id);

-- Timers: each row fires once, on one node, when due (claimed with FOR UPDATE
-- SKIP LOCKED and deleted in the same transaction as its effect).
CREATE TABLE chat_timers (
    id       bigserial PRIMARY KEY,
    kind     text NOT NULL CHECK (kind IN ('retention', 'retention_action', 'idle_close', 'auto_invite', 'late_answer')),
    chat_id  bigint REFERENCES chats (id) ON DELETE CASCADE,
    site_id  bigint REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id bigint,
    due_at   timestamptz NOT NULL,
    data     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX chat_timers_due_idx ON chat_timers (due_at);
CREATE INDEX chat_timers_chat_idx ON chat_timers (chat_id);

-- Auto-invite rules of a site: invite a visitor when an operator is online and
-- every given condition holds.
CREATE TABLE auto_invite_rules (
    id              bigserial PRIMARY KEY,
    site_id         bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    message         text NOT NULL CHECK (message <> '' AND length(message) <= 2000),
    min_time_on_site_s integer NOT NULL DEFAULT 0 CHECK (min_time_on_site_s >= 0),
    min_page_views  integer NOT NULL DEFAULT 0 CHECK (min_page_views >= 0),
    url_pattern     text NOT NULL DEFAULT '', -- substring of the page URL; '' = any
    source          text NOT NULL DEFAULT '', -- utm_source or referrer domain; '' = any
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auto_invite_rules_site_idx ON auto_invite_rules (site_id);

-- Mail to send (transcripts, late answers): retried until the SMTP server takes
-- it; claimed with FOR UPDATE SKIP LOCKED so one node sends each.
CREATE TABLE mail_outbox (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    to_addr         text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL DEFAULT '',
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- Chat options of a site beside its widget settings.
ALTER TABLE sites
    ADD COLUMN chat_idle_timeout_s integer NOT NULL DEFAULT 1800 CHECK (chat_idle_timeout_s BETWEEN 10 AND 86400),
    ADD COLUMN chat_max_file_bytes bigint NOT NULL DEFAULT 10485760 CHECK (chat_max_file_bytes BETWEEN 0 AND 104857600);
