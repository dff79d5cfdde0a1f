// Package app assembles comagicd from its parts: database, migrations, secret,
// stores, services and the HTTP handler. cmd/comagicd, the test environment and
// the benchmark all build the server through it.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/credentials"
	"github.com/comagicd/comagicd/internal/httpapi"
	"github.com/comagicd/comagicd/internal/leads"
	"github.com/comagicd/comagicd/internal/metrics"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/tracking"
)

// App is a running comagicd instance without its listeners.
type App struct {
	DB      *pgxpool.Pool
	Sites   *postgres.Sites
	Store   *postgres.Store
	Handler http.Handler
	Metrics *metrics.Metrics

	stop context.CancelFunc
	done chan struct{}
}

// purgeInterval is how often expired idempotency keys are deleted.
const purgeInterval = 10 * time.Minute

// New connects to the database (creating it when missing), applies migrations,
// loads or creates the credential secret and builds the handler. assets serves
// the embed script and demo page; it may be nil.
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
	m := metrics.New(db)
	sites := postgres.NewSites(db)
	store := postgres.NewStore(db, m.ObserveBatch)
	h := httpapi.New(httpapi.Deps{
		Sites:          sites,
		Tracking:       tracking.NewService(store, sites, signer),
		Leads:          leads.NewService(store, sites, signer),
		DB:             db,
		Metrics:        m,
		Logger:         logger,
		BaseURL:        cfg.BaseURL,
		TrustedProxies: cfg.TrustedProxies,
		RateLimit:      cfg.RateLimit,
		Assets:         assets,
	})
	a := &App{DB: db, Sites: sites, Store: store, Handler: h, Metrics: m, done: make(chan struct{})}
	var bg context.Context
	bg, a.stop = context.WithCancel(context.WithoutCancel(ctx))
	go a.purge(bg, logger)
	return a, nil
}

// purge deletes expired idempotency keys now and then until ctx ends.
func (a *App) purge(ctx context.Context, logger *slog.Logger) {
	defer close(a.done)
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := a.Store.PurgeIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("purge idempotency keys", "err", err)
			} else if n > 0 {
				logger.Debug("purged idempotency keys", "n", n)
			}
		}
	}
}

// Close flushes pending writes and closes the database pool. Call it after the
// HTTP server has stopped taking requests.
func (a *App) Close() {
	a.stop()
	<-a.done
	a.Store.Close()
	a.DB.Close()
}
