// Package testenv gives tests the real parts: a fresh PostgreSQL database per
// caller (cloned from a migrated template) and a real comagicd server on a random
// loopback port.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/app"
	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/migrations"
	"github.com/comagicd/comagicd/web"
)

// BaseURL returns the server URL tests connect to (TEST_DATABASE_URL, default
// the local server as user postgres), pointing at its maintenance database.
func BaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func withDatabase(base, name string) string {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		panic(err)
	}
	host := cfg.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	user := cfg.User
	if cfg.Password != "" {
		user += ":" + cfg.Password
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", user, host, cfg.Port, name)
}

// templateName is derived from the migrations, so a changed schema gets a new template.
func templateName() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(migrations.FS, p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return "comagicd_tpl_" + hex.EncodeToString(h.Sum(nil))[:12]
}

// NewDatabase creates a fresh, migrated database for the test and drops it when
// the test ends. It returns the database's URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := BaseURL()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL does not answer at %s: %v", base, err)
	}
	defer admin.Close(ctx)
	tpl := templateName()
	// One creator at a time across test processes.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(7355608)`); err != nil {
		t.Fatal(err)
	}
	var exists bool
	err = admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tpl).Scan(&exists)
	if err == nil && !exists {
		err = buildTemplate(ctx, admin, base, tpl)
	}
	var name string
	if err == nil {
		name = "comagicd_test_" + randomSuffix()
		_, err = admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tpl))
	}
	_, _ = admin.Exec(ctx, `SELECT pg_advisory_unlock(7355608)`)
	if err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
		}
	})
	return withDatabase(base, name)
}

func buildTemplate(ctx context.Context, admin *pgx.Conn, base, tpl string) error {
	building := tpl + "_build"
	if _, err := admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, withDatabase(base, building))
	if err != nil {
		return err
	}
	err = postgres.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, tpl))
	return err
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewDB returns a pool on a fresh migrated database, closed when the test ends.
func NewDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return NewDBAt(t, NewDatabase(t))
}

// NewDBAt returns a pool on the database at url (from NewDatabase), closed when
// the test ends.
func NewDBAt(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Options tune StartServer.
type Options struct {
	// RateLimit per client IP and minute; 0 (the default) turns it off.
	RateLimit int
	// Logger receives the server's logs; by default they are discarded.
	Logger *slog.Logger
	// TrustedProxies are the networks whose X-Forwarded-For the server believes.
	TrustedProxies []netip.Prefix
	// Wrap, when set, wraps the server's handler, e.g. to record requests or
	// to inject failures in front of the real server.
	Wrap func(http.Handler) http.Handler
	// DatabaseURL, when set, is the database to use (another node's); by
	// default the server gets a fresh one.
	DatabaseURL string
	// PubSubURL selects the hub engine (nats://…); PostgreSQL by default.
	PubSubURL string
	// SMTPURL is the mail server of the chat's mail; none by default.
	SMTPURL string
	// ChatLateAnswer is how long an operator answer may stay unseen before
	// it is mailed (default 1 s in tests).
	ChatLateAnswer time.Duration
}

// Server is a real comagicd listening on a random loopback port.
type Server struct {
	// URL is the server's base URL without the trailing slash, e.g. http://127.0.0.1:41234.
	URL string
	// DB is a pool on the server's database, for checking stored rows.
	DB  *pgxpool.Pool
	App *app.App
	// DatabaseURL is the URL of the server's database.
	DatabaseURL string

	kill func()
}

// Kill stops the server abruptly, as if its process died: the listener and
// every connection close at once, websockets included (their clients see an
// abnormal closure, not a close frame), and the app's Run is cancelled without
// waiting for it. The database pool stays open until the test ends, so the
// node's goroutines that were under way can wind down; the cleanup that
// StartServer registered still runs (and waits for Run) when the test ends.
func (s *Server) Kill() {
	s.kill()
}

// hijackedConns are the connections the HTTP server handed over to
// websocket handlers; http.Server.Close does not close them, Kill does.
type hijackedConns struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (h *hijackedConns) track(c net.Conn, state http.ConnState) {
	if state != http.StateHijacked {
		return
	}
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
}

func (h *hijackedConns) closeAll() {
	h.mu.Lock()
	conns := h.conns
	h.conns = nil
	h.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// buildAssets bundles the web assets once per test binary: esbuild takes a
// good part of a second, and the built assets are read-only, so every server
// of the binary shares them.
var buildAssets = sync.OnceValues(web.New)

// Assets returns the web assets that test servers serve, built once per test
// binary.
func Assets(t testing.TB) *web.Assets {
	t.Helper()
	a, err := buildAssets()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Secret is the credential secret of test servers.
const Secret = "testenv-secret-0123456789abcdef"

// StartServer starts comagicd on a fresh database; it stops when the test ends.
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	dbURL := opts.DatabaseURL
	if dbURL == "" {
		dbURL = NewDatabase(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	assets, err := buildAssets()
	if err != nil {
		t.Fatal(err)
	}
	late := opts.ChatLateAnswer
	if late <= 0 {
		late = time.Second
	}
	cfg := config.Config{DatabaseURL: dbURL, ListenAddr: ln.Addr().String(), BaseURL: url + "/", Secret: Secret, RateLimit: opts.RateLimit,
		TrustedProxies: opts.TrustedProxies, PubSubURL: opts.PubSubURL, SMTPURL: opts.SMTPURL, MailFrom: "comagicd@localhost",
		FilesDir: t.TempDir(), ChatLateAnswer: late, ShutdownTimeout: 5 * time.Second}
	a, err := app.New(context.Background(), cfg, logger, assets)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	var handler http.Handler = a.Handler
	if opts.Wrap != nil {
		handler = opts.Wrap(handler)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(runCtx) }()
	hijacked := &hijackedConns{}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ConnState: hijacked.track}
	go func() { _ = srv.Serve(ln) }()
	var killOnce sync.Once
	kill := func() {
		killOnce.Do(func() {
			_ = srv.Close() // the listener and every connection not hijacked
			hijacked.closeAll()
			stopRun()
		})
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		stopRun()
		if err := <-runErr; err != nil {
			t.Errorf("testenv: app Run: %v", err)
		}
		a.Close()
	})
	// The hub listens before the test starts, as /readyz would require.
	for end := time.Now().Add(30 * time.Second); !a.Hub.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("testenv: the hub is not ready after 30 s")
		}
	}
	return &Server{URL: url, DB: a.DB, App: a, DatabaseURL: dbURL, kill: kill}
}

// CreateSite creates a site (in a new account) for the domains and returns its key.
func (s *Server) CreateSite(t testing.TB, domains ...string) string {
	t.Helper()
	ctx := context.Background()
	acc, err := s.App.Sites.EnsureAccount(ctx, "account-"+randomSuffix())
	if err != nil {
		t.Fatal(err)
	}
	site, err := s.App.Sites.CreateSite(ctx, acc.ID, domains)
	if err != nil {
		t.Fatal(err)
	}
	return site.Key
}

// SetWidgetSettings stores the settings object (JSON text) of a view controller
// for a device type of the site; "" removes it. The next bootstrap delivers it.
func (s *Server) SetWidgetSettings(t testing.TB, siteKey, vc, device, settingsJSON string) {
	t.Helper()
	var raw []byte
	if settingsJSON != "" {
		raw = []byte(settingsJSON)
	}
	if _, err := s.App.Sites.SetWidgetSettings(context.Background(), siteKey, vc, device, raw); err != nil {
		t.Fatal(err)
	}
}
