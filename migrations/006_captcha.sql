-- Captchas of the sitephone (SPEC §8): Comagic.getCaptcha gives a key and the
-- URL of an image of 4 digits; a callback order sends the key back with what
-- the visitor read. Stored here so that any node can check it. The digits are
-- never stored in clear: answer_hash is an HMAC-SHA-256 of the site, the key
-- and the digits (to check an answer), sealed the digits encrypted with
-- AES-GCM (to draw the image on any node), both keyed by the server's secret.
-- A captcha is single use (used_at) and expires after 10
-- minutes; expired rows are purged by expires_at.
CREATE TABLE captchas (
    key         text PRIMARY KEY,
    site_id     bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    answer_hash bytea NOT NULL,
    sealed      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL DEFAULT now() + interval '10 minutes',
    used_at     timestamptz
);
CREATE INDEX captchas_expires_idx ON captchas (expires_at);
CREATE INDEX captchas_site_idx ON captchas (site_id);
