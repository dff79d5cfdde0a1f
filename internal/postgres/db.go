// Package postgres implements comagicd's storage on PostgreSQL with pgx: schema
// migrations, sites, tracking writes with group commit, visitor data and leads.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/migrations"
)

// migrationLockID is the advisory lock that serialises migrations between nodes.
const migrationLockID = 0x636f6d61 // "coma"

// defaultMaxConns is the pool size when DATABASE_URL does not set pool_max_conns:
// group-commit workers keep several transactions in flight.
const defaultMaxConns = 24

// Open connects a pool to the database at databaseURL and checks that it answers.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return pool, nil
}

// poolConfig is the configuration of the server's pool for databaseURL. The
// planner's settings are PostgreSQL's: the statements whose cached generic
// plan would go bad as tables grow run with a plan of their own (queueCustomPlanned).
func poolConfig(databaseURL string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database url: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	return cfg, nil
}

// EnsureDatabase creates the database named in databaseURL when it does not exist
// yet, connecting to the server's "postgres" database to do so.
func EnsureDatabase(ctx context.Context, databaseURL string) error {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("postgres: parse database url: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: connect to create database %q: %w", name, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created meanwhile by another node
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: create database %q: %w", name, err)
	}
	return nil
}

// Migrate applies the embedded migrations under an advisory lock, so that several
// nodes starting at once apply each migration exactly once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: acquire: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID) //nolint:errcheck
	m, err := migrate.NewMigrator(ctx, conn.Conn(), "schema_version")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return fmt.Errorf("postgres: migrate: load: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// RedactURL returns databaseURL without its password, for logs.
func RedactURL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.User == nil {
		return databaseURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// queueCustomPlanned queues sql into a batch so that it runs with a plan of
// its own, made with its parameters and the tables' current sizes (a custom
// plan): plan_cache_mode, read when a statement is bound, is set for sql alone
// (the batch's statements run in order in one implicit transaction; when it
// fails, the setting is rolled back with it). The results of the batch are
// then: SET, sql's, RESET.
//
// Statements are prepared once per connection and soon run on a cached
// generic plan, which is right for key lookups and for writes that read no
// table, but not for a statement that reads a list of rows (id = ANY($1)): its
// generic plan, made while the table was small (a new database), scans the
// table whole until the next ANALYZE, however fast it grows meanwhile. Only
// such statements use this; plans_test.go checks them at size.
func queueCustomPlanned(b *pgx.Batch, sql string, args ...any) {
	b.Queue(`SET plan_cache_mode = force_custom_plan`)
	b.Queue(sql, args...)
	b.Queue(`RESET plan_cache_mode`)
}

// isForeignKeyViolation reports a row that points at a row that no longer exists
// (a purged visitor or session).
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// notFoundIfGone turns a foreign-key violation into ENOTFOUND.
func notFoundIfGone(err error, what string) error {
	if isForeignKeyViolation(err) {
		return &comagic.Error{Code: comagic.ENOTFOUND, Message: what + " no longer exists"}
	}
	return err
}
