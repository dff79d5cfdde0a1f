package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// LoginFailures counts failed operator logins per scope ("ip" or "login") and
// key in fixed windows, in Postgres, so that every node sees the same count.
type LoginFailures struct {
	db *pgxpool.Pool
}

// NewLoginFailures returns the failure counter on db.
func NewLoginFailures(db *pgxpool.Pool) *LoginFailures { return &LoginFailures{db: db} }

// Failures returns the failures of key counted in its window, or 0 when the
// window (of length window) has ended.
func (l *LoginFailures) Failures(ctx context.Context, scope, key string, window time.Duration) (int, error) {
	var n int
	err := l.db.QueryRow(ctx, `SELECT coalesce((SELECT failures FROM login_failures
		WHERE scope = $1 AND key = $2 AND window_start > now() - make_interval(secs => $3)), 0)`, scope, key, window.Seconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: login failures: %w", err)
	}
	return n, nil
}

// Fail counts a failure of key; the first failure after a window ended
// starts a new one.
func (l *LoginFailures) Fail(ctx context.Context, scope, key string, window time.Duration) error {
	_, err := l.db.Exec(ctx, `INSERT INTO login_failures AS f (scope, key, window_start, failures) VALUES ($1, $2, now(), 1)
		ON CONFLICT (scope, key) DO UPDATE SET
			failures = CASE WHEN f.window_start > now() - make_interval(secs => $3) THEN f.failures + 1 ELSE 1 END,
			window_start = CASE WHEN f.window_start > now() - make_interval(secs => $3) THEN f.window_start ELSE now() END`,
		scope, key, window.Seconds())
	if err != nil {
		return fmt.Errorf("postgres: count a login failure: %w", err)
	}
	return nil
}

// Purge deletes the counts whose window started before before.
func (l *LoginFailures) Purge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := l.db.Exec(ctx, `DELETE FROM login_failures WHERE window_start < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge login failures: %w", err)
	}
	return tag.RowsAffected(), nil
}
