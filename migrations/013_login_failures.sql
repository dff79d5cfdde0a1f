-- Failed operator logins, counted per client address and per login in fixed
-- windows and shared by every node (a password guesser spreading attempts
-- over the nodes meets one limit). Rows whose window ended long ago are
-- purged by the server.
CREATE TABLE login_failures (
    scope        text NOT NULL CHECK (scope IN ('ip', 'login')),
    key          text NOT NULL CHECK (length(key) <= 200),
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX login_failures_window_idx ON login_failures (window_start);
