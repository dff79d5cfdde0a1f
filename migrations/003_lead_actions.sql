-- What visitors do with the lead forms (SPEC §10): every show, submit and
-- cancel of call_generator, offline_message_generator and personal_form, for
-- the lead-generation reports. A submit of personal_form is a lead of the
-- report (is_lead); the other forms' leads are the callbacks and offline
-- requests their submits create.
--
-- Low volume (a few rows per visitor at most), so the table keeps its foreign
-- keys: the session's proves that the session still exists, and deleting a
-- session or a site takes its lead actions with it.
CREATE TABLE lead_actions (
    id         bigserial PRIMARY KEY,
    site_id    bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id bigint NOT NULL,
    session_id bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    hit_id     bigint, -- NULL when not given or not a hit of the session
    widget     text NOT NULL CHECK (widget IN ('call_generator', 'offline_message_generator', 'personal_form')),
    action     text NOT NULL CHECK (action IN ('show', 'submit', 'cancel')),
    is_lead    boolean NOT NULL GENERATED ALWAYS AS (widget = 'personal_form' AND action = 'submit') STORED,
    data       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_actions_site_idx ON lead_actions (site_id, created_at);
CREATE INDEX lead_actions_session_idx ON lead_actions (session_id);
