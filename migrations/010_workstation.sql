-- The operator workstation (SPEC §11): offline requests and call-back orders
-- carry a processed mark set by operators, and the indexes its lists need.

-- processed_at / processed_by: when and by whom an operator marked the row
-- processed (both NULL: not processed).
ALTER TABLE offline_requests
    ADD COLUMN processed_at timestamptz,
    ADD COLUMN processed_by bigint REFERENCES employees (id) ON DELETE SET NULL;
ALTER TABLE callbacks
    ADD COLUMN processed_at timestamptz,
    ADD COLUMN processed_by bigint REFERENCES employees (id) ON DELETE SET NULL;

-- The lists are newest first by id, keyset-paged (id < before), per site.
CREATE INDEX offline_requests_site_id_idx ON offline_requests (site_id, id);
CREATE INDEX callbacks_site_id_idx ON callbacks (site_id, id);
-- A visitor's call-back orders (the visitor card).
CREATE INDEX callbacks_visitor_idx ON callbacks (visitor_id, id);

-- The visitors on a site now: sessions with a recent page view. last_hit_at
-- is refreshed at most every 10 s per session (internal/postgres/hits.go), so
-- the extra index entries cost one per session and 10 s at most.
CREATE INDEX sessions_site_last_hit_idx ON sessions (site_id, last_hit_at);

-- The latest page views of a session (current page, pages of the visit) read
-- in time order: the session index gains the time, replacing the one on the
-- session alone (every lookup by session still uses it).
DROP INDEX hits_session_idx;
CREATE INDEX hits_session_idx ON hits (session_id, created_at);
