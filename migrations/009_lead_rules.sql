-- Lead generator rules (SPEC §10): when the embed script shows a site's lead
-- form. Every condition given must hold: time on the page, time on the site
-- (since the session started), pages viewed in the session, a substring of
-- the page URL, the visit's source (utm_source or referrer domain). A rule
-- fires at most once per session or per visitor (once_per), and not after a
-- lead form was submitted or cancelled in that scope. The rules are sent in
-- the bootstrap answer and evaluated by the browser.
CREATE TABLE lead_rules (
    id                 bigserial PRIMARY KEY,
    site_id            bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    widget             text NOT NULL CHECK (widget IN ('call_generator', 'offline_message_generator', 'personal_form')),
    min_time_on_page_s integer NOT NULL DEFAULT 0 CHECK (min_time_on_page_s BETWEEN 0 AND 86400),
    min_time_on_site_s integer NOT NULL DEFAULT 0 CHECK (min_time_on_site_s BETWEEN 0 AND 86400),
    min_page_views     integer NOT NULL DEFAULT 0 CHECK (min_page_views BETWEEN 0 AND 10000),
    url_pattern        text NOT NULL DEFAULT '' CHECK (length(url_pattern) <= 2000), -- substring of the page URL; '' = any
    source             text NOT NULL DEFAULT '' CHECK (length(source) <= 200), -- utm_source or referrer domain; '' = any
    once_per           text NOT NULL DEFAULT 'session' CHECK (once_per IN ('session', 'visitor')),
    active             boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_rules_site_idx ON lead_rules (site_id) WHERE active;
