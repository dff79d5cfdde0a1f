// Package app assembles comagicd from its parts: database, migrations, secret,
// stores, services, the hub and the HTTP handler, and runs its background
// workers. cmd/comagicd, the test environment and the benchmark all build the
// server through it: New, then Run (in a goroutine) beside the HTTP listeners,
// then, after the listeners stopped, the end of Run's context and Close.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/callbacks"
	"github.com/comagicd/comagicd/internal/calltracking"
	"github.com/comagicd/comagicd/internal/captcha"
	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/chatws"
	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/credentials"
	"github.com/comagicd/comagicd/internal/httpapi"
	"github.com/comagicd/comagicd/internal/hub"
	"github.com/comagicd/comagicd/internal/hub/natsengine"
	"github.com/comagicd/comagicd/internal/hub/pgengine"
	"github.com/comagicd/comagicd/internal/leads"
	"github.com/comagicd/comagicd/internal/metrics"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/tracking"
	"github.com/comagicd/comagicd/internal/workstation"
)

// App is a comagicd instance without its listeners.
type App struct {
	DB      *pgxpool.Pool
	Sites   *postgres.Sites
	Store   *postgres.Store
	Handler http.Handler
	Metrics *metrics.Metrics
	// Hub carries wake-ups between the nodes and fans them out to this
	// node's subscribers; it receives while Run runs.
	Hub *hub.Hub
	// Chat is the consultant chat; ChatServer serves its websockets.
	Chat       *chat.Service
	ChatServer *chatws.Server
	// Employees stores operators; Operators logs them in.
	Employees *postgres.Employees
	Operators *operators.Service

	logger  *slog.Logger
	workers *runner
	chats   *postgres.Chats
	ct      *postgres.CallTracking
}

// sentMailKept is how long sent mail (transcripts, late answers) stays in
// the outbox, for support questions, before it is deleted.
const sentMailKept = 7 * 24 * time.Hour

// purgeInterval is how often expired idempotency keys are deleted.
const purgeInterval = 10 * time.Minute

// defaultShutdownTimeout bounds the workers' stop when the configuration
// does not say.
const defaultShutdownTimeout = 15 * time.Second

// New connects to the database (creating it when missing), applies migrations,
// loads or creates the credential secret and builds the hub and the handler.
// assets serves the embed script and demo page; it may be nil. New starts no
// goroutine of its own: the background work starts with Run.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, assets http.Handler) (*App, error) {
	if err := postgres.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	secret := cfg.Secret
	if secret == "" {
		if secret, err = postgres.LoadOrCreateSecret(ctx, db, "credentials"); err != nil {
			db.Close()
			return nil, err
		}
	}
	signer, err := credentials.NewSigner([]byte(secret))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("app: %w", err)
	}
	engine, err := newEngine(db, cfg, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	h := hub.New(engine, logger)
	m := metrics.New(db)
	sites := postgres.NewSites(db)
	store := postgres.NewStore(db, m.ObserveBatch)
	wh := newWebhooks(db, logger)
	trk := tracking.NewService(store, sites, signer, wh.Publisher)
	cp, err := newChat(db, sites, h, trk.Verify, ChatConfig{BaseURL: cfg.BaseURL, Secret: secret, FilesDir: cfg.FilesDir,
		SMTPURL: cfg.SMTPURL, MailFrom: cfg.MailFrom, ChatOptions: chat.Options{LateAnswerAfter: cfg.ChatLateAnswer, Closed: wh.chatClosed}}, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	capt, err := captcha.NewService(postgres.NewCaptchas(db), captcha.Options{Secret: []byte(secret)})
	if err != nil {
		db.Close()
		return nil, err
	}
	cbDispatcher := callbacks.NewDispatcher(db, logger, callbacks.DispatcherOptions{WebhooksNotify: wh.Dispatcher.Notify,
		Observe: func(outcome string) { m.CallbackDispatches.WithLabelValues(outcome).Inc() }})
	cbs := callbacks.NewService(callbacks.Deps{DB: db, Verify: trk.Verify, Captcha: capt, Hub: h, Notify: cbDispatcher.Notify,
		WebhooksNotify: wh.Dispatcher.Notify, Logger: logger})
	ctStore := postgres.NewCallTracking(db, func(n int) { m.ObserveBatch("claims", n) })
	ct := calltracking.NewService(ctStore, trk.Verify, m, wh.Dispatcher.Notify, logger)
	trk.PhoneClaims = ct.Claims
	ws := workstation.NewService(postgres.NewWorkstation(db), sites, h, logger)
	lds := leads.NewService(store, sites, signer, wh.Publisher)
	lds.Created = ws.OfflineRequestCreated
	loginFailures := postgres.NewLoginFailures(db)
	handler := httpapi.New(httpapi.Deps{
		Sites:          sites,
		Tracking:       trk,
		Leads:          lds,
		Workstation:    ws,
		DB:             db,
		Metrics:        m,
		Logger:         logger,
		BaseURL:        cfg.BaseURL,
		TrustedProxies: cfg.TrustedProxies,
		RateLimit:      cfg.RateLimit,
		Assets:         assets,
		Ready:          h.Ready,
		Operators:      cp.Operators,
		LoginFailures:  loginFailures,
		Chat:           cp.Deps,
		Captcha:        capt,
		Callbacks:      cbs,
		LeadRules:      postgres.NewLeadRules(db),
		CallTracking:   ct,
	})
	shutdown := cfg.ShutdownTimeout
	if shutdown <= 0 {
		shutdown = defaultShutdownTimeout
	}
	a := &App{DB: db, Sites: sites, Store: store, Handler: handler, Metrics: m, Hub: h,
		Chat: cp.Service, ChatServer: cp.Server, Employees: cp.Employees, Operators: cp.Operators, chats: cp.Chats,
		logger: logger, workers: newRunner(logger, shutdown), ct: ctStore}
	a.AddWorker("hub", h.Run)
	for name, fn := range cp.workers {
		a.AddWorker(name, fn)
	}
	a.AddWorker("webhook dispatcher", wh.Dispatcher.Run)
	a.AddWorker("callback dispatcher", cbDispatcher.Run)
	a.AddWorker("idempotency key purge", a.purge)
	a.AddWorker("operator token purge", a.purgeTokens)
	mails := postgres.NewMailOutbox(db)
	a.AddWorker("sent mail purge", func(ctx context.Context) error {
		return a.every(ctx, purgeInterval, "sent mail", func(ctx context.Context) (int64, error) {
			return mails.PurgeSent(ctx, time.Now().Add(-sentMailKept))
		})
	})
	a.AddWorker("reservation history purge", func(ctx context.Context) error {
		return a.every(ctx, purgeInterval, "phone reservations", func(ctx context.Context) (int64, error) { return calltracking.Purge(ctx, ctStore) })
	})
	a.AddWorker("captcha purge", func(ctx context.Context) error { return a.every(ctx, purgeInterval, "captchas", capt.Purge) })
	a.AddWorker("login failure purge", func(ctx context.Context) error {
		return a.every(ctx, purgeInterval, "login failures", func(ctx context.Context) (int64, error) {
			return loginFailures.Purge(ctx, time.Now().Add(-time.Hour))
		})
	})
	return a, nil
}

// newEngine is the hub engine cfg.PubSubURL asks for: PostgreSQL on the
// server's database when empty, NATS for nats:// and tls:// URLs.
func newEngine(db *pgxpool.Pool, cfg config.Config, logger *slog.Logger) (hub.Engine, error) {
	switch u := cfg.PubSubURL; {
	case u == "":
		return pgengine.New(db, cfg.DatabaseURL, logger), nil
	case strings.HasPrefix(u, "nats://"), strings.HasPrefix(u, "tls://"):
		return natsengine.New(u, logger), nil
	default:
		return nil, fmt.Errorf("app: pub/sub URL %q: want nats:// or tls://, or nothing for PostgreSQL", u)
	}
}

// AddWorker registers a background loop that Run starts: fn works until its
// context ends and then returns. A worker that fails, panics or returns early
// is logged and restarted after a backoff (1 s doubling to 1 min). Call it
// before Run; it panics afterwards.
func (a *App) AddWorker(name string, fn func(ctx context.Context) error) {
	a.workers.add(name, fn)
}

// Run starts every worker and returns when ctx ends and they have stopped:
// nil, or an error naming the workers still running after the shutdown
// timeout. End ctx after the HTTP listeners stopped taking requests, so that
// requests under way still find the workers (the hub, mostly). Run may be
// called once.
func (a *App) Run(ctx context.Context) error {
	return a.workers.run(ctx)
}

// purge deletes expired idempotency keys now and then until ctx ends.
func (a *App) purge(ctx context.Context) error {
	return a.every(ctx, purgeInterval, "idempotency keys", a.Store.PurgeIdempotencyKeys)
}

// purgeTokens deletes operator tokens that expired or were revoked more than
// a day ago, now and then until ctx ends.
func (a *App) purgeTokens(ctx context.Context) error {
	return a.every(ctx, purgeInterval, "operator tokens", func(ctx context.Context) (int64, error) {
		return a.Employees.DeleteTokens(ctx, time.Now().Add(-24*time.Hour))
	})
}

// every runs purge each interval until ctx ends, logging what it deleted.
func (a *App) every(ctx context.Context, interval time.Duration, what string, purge func(context.Context) (int64, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := purge(ctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("purge failed", "what", what, "err", err)
			} else if n > 0 {
				a.logger.Debug("purged", "what", what, "n", n)
			}
		}
	}
}

// Close stops Run if it still runs (waiting at most the shutdown timeout),
// flushes pending writes and closes the database pool. Call it after the HTTP
// server has stopped taking requests.
func (a *App) Close() {
	a.workers.close()
	a.chats.Close()
	a.ct.Close()
	a.Store.Close()
	a.DB.Close()
}
