package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/app"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/web"
)

// benchSecret signs the visitor credentials of the benchmark server.
const benchSecret = "comagicd-bench-secret-0123456789"

// bareBody is the fixed answer of the baseline handler.
const bareBody = `{"success":true}` + "\n"

// env is the benchmark's world: a fresh database, the real server and the bare
// baseline on loopback ports, and the client that drives them.
type env struct {
	logger  *slog.Logger
	adminDB string // URL of the maintenance database the bench database is made on
	dbName  string
	app     *app.App
	assets  *web.Assets
	server  *http.Server
	bare    *http.Server
	client  *http.Client
	baseURL string // the comagicd server, without a trailing slash
	bareURL string
	siteKey string
	// poolSiteKey is a site whose pages show a number of a dynamic pool.
	poolSiteKey string

	// setups counts the successful per-worker setup bootstraps (hits rows).
	setups int64
	// cleanups run in reverse order by close.
	cleanups []func() error
}

// startEnv creates the database, starts both servers and creates the site. On
// error everything already started is torn down again.
func startEnv(ctx context.Context, opts options, logger *slog.Logger) (_ *env, err error) {
	e := &env{logger: logger, adminDB: opts.databaseURL}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.close())
		}
	}()

	dbURL, err := e.createDatabase(ctx)
	if err != nil {
		return nil, err
	}
	if e.assets, err = web.New(); err != nil {
		return nil, fmt.Errorf("bench: build web assets: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	e.baseURL = "http://" + ln.Addr().String()
	// The server logs warnings and errors only: a per-request log would be load of its own.
	serverLog := slog.New(logger.Handler()).With("component", "comagicd")
	filesDir, err := os.MkdirTemp("", "comagicd-bench-files-")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("bench: files directory: %w", err)
	}
	e.cleanups = append(e.cleanups, func() error { return os.RemoveAll(filesDir) })
	cfg := config.Config{DatabaseURL: dbURL, ListenAddr: ln.Addr().String(), BaseURL: e.baseURL + "/", Secret: benchSecret, RateLimit: 0,
		FilesDir: filesDir, PubSubURL: opts.pubsubURL}
	a, err := app.New(ctx, cfg, serverLog, e.assets)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("bench: start comagicd: %w", err)
	}
	e.app = a
	e.cleanups = append(e.cleanups, func() error { a.Close(); return nil })
	// The workers (the hub among them) run until the server has stopped:
	// cleanups run in reverse order.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(runCtx) }()
	e.cleanups = append(e.cleanups, func() error {
		stopRun()
		if err := <-runErr; err != nil {
			return fmt.Errorf("bench: stop comagicd workers: %w", err)
		}
		return nil
	})
	e.server = &http.Server{Handler: a.Handler, ReadHeaderTimeout: 5 * time.Second}
	e.serve(e.server, ln)

	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	e.bareURL = "http://" + bareLn.Addr().String() + "/"
	e.bare = &http.Server{Handler: http.HandlerFunc(bareHandler), ReadHeaderTimeout: 5 * time.Second}
	e.serve(e.bare, bareLn)

	acc, err := a.Sites.EnsureAccount(ctx, "bench")
	if err != nil {
		return nil, fmt.Errorf("bench: create account: %w", err)
	}
	site, err := a.Sites.CreateSite(ctx, acc.ID, []string{"bench.example"})
	if err != nil {
		return nil, fmt.Errorf("bench: create site: %w", err)
	}
	e.siteKey = site.Key
	if e.poolSiteKey, err = createPoolSite(ctx, a, acc.ID); err != nil {
		return nil, err
	}
	e.client = newClient(opts.concurrency)
	e.cleanups = append(e.cleanups, func() error { e.client.CloseIdleConnections(); return nil })
	logger.Info("bench: ready", "server", e.baseURL, "bare", e.bareURL, "database", e.dbName)
	return e, nil
}

// poolNumbers is the size of the bench's dynamic pool: more than a run's
// page views, so that every page view claims a number.
const poolNumbers = 200_000

// createPoolSite creates the site of bootstrap-pool: a replacement group
// whose dynamic rule (any traffic, 30 minutes) has poolNumbers numbers.
func createPoolSite(ctx context.Context, a *app.App, accountID int64) (string, error) {
	site, err := a.Sites.CreateSite(ctx, accountID, []string{"pool.bench.example"})
	if err != nil {
		return "", fmt.Errorf("bench: create pool site: %w", err)
	}
	store := postgres.NewCallTracking(a.DB, nil)
	g, err := store.AddGroup(ctx, comagic.ReplacementGroup{SiteID: site.ID, Name: "bench", DefaultNumber: "74950000000",
		Selectors: []comagic.PhoneSelector{{Type: comagic.SelectorID, Value: "comagic_phone"}}})
	if err != nil {
		return "", fmt.Errorf("bench: create phone group: %w", err)
	}
	numbers := make([]string, poolNumbers)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("7%010d", 4990000000+i)
	}
	if _, err := store.AddRule(ctx, comagic.PhoneRule{GroupID: g.ID, SiteID: site.ID, Kind: comagic.RuleDynamic, ReserveMinutes: 30}, numbers); err != nil {
		return "", fmt.Errorf("bench: create number pool: %w", err)
	}
	return site.Key, nil
}

// bareHandler is the baseline: the least a JSON endpoint can do.
func bareHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = io.WriteString(w, bareBody)
}

// serve runs srv on ln until close shuts it down.
func (e *env) serve(srv *http.Server, ln net.Listener) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logger.Error("bench: server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	e.cleanups = append(e.cleanups, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		<-done
		if err != nil {
			return fmt.Errorf("bench: shut down %s: %w", ln.Addr(), err)
		}
		return nil
	})
}

// newClient returns a keep-alive client that holds one idle connection per
// worker. It has no per-request timeout (that costs a timer per request): the
// scenario's context bounds its requests instead.
func newClient(concurrency int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConns:        2 * concurrency,
			MaxIdleConnsPerHost: concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// createDatabase makes a uniquely named empty database (app.New migrates it) and
// registers its removal. It returns the database's URL.
func (e *env) createDatabase(ctx context.Context) (string, error) {
	cfg, err := pgx.ParseConfig(e.adminDB)
	if err != nil {
		return "", fmt.Errorf("bench: parse database url: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "comagicd_bench_" + hex.EncodeToString(b)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("bench: connect to %s: %w", cfg.Host, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("bench: create database %s: %w", name, err)
	}
	e.dbName = name
	e.cleanups = append(e.cleanups, e.dropDatabase)
	return databaseURL(e.adminDB, cfg, name), nil
}

// dropDatabase removes the bench database, whatever state the run ended in.
func (e *env) dropDatabase() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.adminDB)
	if err != nil {
		return fmt.Errorf("bench: drop database %s: %w", e.dbName, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{e.dbName}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("bench: drop database %s: %w", e.dbName, err)
	}
	e.logger.Info("bench: dropped database", "database", e.dbName)
	return nil
}

// databaseURL returns the URL of database name on the server of adminURL. A
// URL-form adminURL keeps its parameters (sslmode, pool_max_conns, options…);
// a keyword/value one is rendered from cfg.
func databaseURL(adminURL string, cfg *pgx.ConnConfig, name string) string {
	if u, err := url.Parse(adminURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path, u.RawPath = "/"+name, ""
		return u.String()
	}
	host := cfg.Host
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	user := url.User(cfg.User)
	if cfg.Password != "" {
		user = url.UserPassword(cfg.User, cfg.Password)
	}
	sslmode := "disable"
	if cfg.TLSConfig != nil {
		sslmode = "require"
	}
	u := url.URL{Scheme: "postgres", User: user, Host: fmt.Sprintf("%s:%d", host, cfg.Port), Path: "/" + name,
		RawQuery: "sslmode=" + sslmode}
	return u.String()
}

// close tears down what was started, newest first, and reports every failure.
func (e *env) close() error {
	var errs []error
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		if err := e.cleanups[i](); err != nil {
			errs = append(errs, err)
		}
	}
	e.cleanups = nil
	return errors.Join(errs...)
}

// batches returns the number of group-commit transactions the server has
// committed so far, over all write paths (from its Prometheus registry).
func (e *env) batches() (int64, error) {
	families, err := e.app.Metrics.Registry.Gather()
	if err != nil {
		return 0, fmt.Errorf("bench: gather metrics: %w", err)
	}
	var n int64
	for _, f := range families {
		if f.GetName() != "comagicd_group_commit_batch_size" {
			continue
		}
		for _, m := range f.GetMetric() {
			n += int64(m.GetHistogram().GetSampleCount())
		}
	}
	return n, nil
}

// durability compares the rows of one table with the successful requests that
// wrote them.
type durability struct {
	Table string `json:"table"`
	// Where narrows the rows counted; Label names them in the report.
	Where    string `json:"where,omitempty"`
	Label    string `json:"label,omitempty"`
	Expected int64  `json:"expected"`
	// Unanswered writes (already errors) may have been committed: the rows
	// may exceed Expected by at most this many.
	Unanswered int64 `json:"unanswered,omitempty"`
	Rows       int64 `json:"rows"`
	OK         bool  `json:"ok"`
}

// checkDurability counts the rows every acknowledged write must have left.
func (e *env) checkDurability(ctx context.Context, results []*result) ([]durability, error) {
	succ := map[string]int64{}
	unanswered := map[string]int64{}
	for _, r := range results {
		succ[r.Name] = r.Successes
		unanswered[r.Name] = r.unanswered
	}
	checks := []durability{
		{Table: "hits", Expected: succ["bootstrap-new"] + succ["bootstrap-returning"] + succ["bootstrap-pool"] + e.setups},
		{Table: "ct_reservations", Label: "ct_reservations(pool numbers given)", Expected: succ["bootstrap-pool"]},
		{Table: "events", Expected: succ["event"]},
		{Table: "visitor_properties", Expected: succ["property-set"]},
		{Table: "offline_requests", Expected: succ["offline-message"]},
		{Table: "chat_events", Where: chatMessagesWhere, Label: "chat_events(visitor messages)", Expected: succ["chat-latency"],
			Unanswered: unanswered["chat-latency"]},
	}
	for i := range checks {
		c := &checks[i]
		q := "SELECT count(*) FROM " + pgx.Identifier{c.Table}.Sanitize()
		if c.Where != "" {
			q += " WHERE " + c.Where
		}
		if err := e.app.DB.QueryRow(ctx, q).Scan(&c.Rows); err != nil {
			return nil, fmt.Errorf("bench: count %s: %w", c.Table, err)
		}
		c.OK = c.Rows >= c.Expected && c.Rows <= c.Expected+c.Unanswered
	}
	return checks, nil
}
