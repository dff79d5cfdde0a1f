// Package httpapi is comagicd's HTTP layer: the chi router, thin handlers that
// decode a request, call a service and encode the answer, and the one place where
// application error codes become HTTP status codes.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/leads"
	"github.com/comagicd/comagicd/internal/metrics"
	"github.com/comagicd/comagicd/internal/tracking"
)

// Tracking is the tracking service the handlers call.
type Tracking interface {
	comagic.TrackingService
	// AddVisitorInfoByComagicID serves /vc/s/: contacts for the visitor of a
	// comagic_id, proven by its key or, with the site, by the session start.
	AddVisitorInfoByComagicID(ctx context.Context, site *comagic.Site, key string, ci tracking.ComagicID, info comagic.VisitorInfo) (*comagic.Site, error)
}

// Leads stores offline requests.
type Leads interface {
	Submit(ctx context.Context, site *comagic.Site, in *leads.Input, source string, allow func(*comagic.Site) error) (*comagic.OfflineRequest, error)
}

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the services and settings the HTTP layer needs.
type Deps struct {
	Sites    comagic.SiteService
	Tracking Tracking
	Leads    Leads
	DB       Pinger
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	// BaseURL is the public URL of the server, ending with "/".
	BaseURL string
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RateLimit is requests per minute per client IP on public endpoints; 0 = off.
	RateLimit int
	// Assets serves /static/*, /comagic/static/* and /demo/*; may be nil.
	Assets http.Handler
}

// Handler serves the HTTP API.
type Handler struct {
	Deps
	router chi.Router
}

// New builds the router.
func New(d Deps) *Handler {
	h := &Handler{Deps: d}
	r := chi.NewRouter()
	r.Use(h.recoverer, h.clientIP, h.instrument)

	r.Get("/healthz", h.healthz)
	r.Get("/readyz", h.readyz)
	r.Handle("/metrics", promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{}))

	// The public endpoints are rate limited per client IP; the site's CORS
	// headers come first so that a page can read a 429.
	limit := func(next http.Handler) http.Handler { return next }
	if d.RateLimit > 0 {
		limit = httprate.LimitBy(d.RateLimit, time.Minute,
			func(r *http.Request) (string, error) { return clientIPOf(r), nil },
			httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
				h.fail(w, r, comagic.Errorf(comagic.ERATELIMITED, "too many requests, slow down"))
			}))
	}
	r.Route("/api/track/{site_key}", func(r chi.Router) {
		r.Use(h.siteCORS, limit)
		r.Post("/bootstrap", h.bootstrap)
		r.Post("/hit", h.hit)
		r.Post("/event", h.event)
		r.Post("/visitor_info", h.visitorInfo)
		r.Post("/property/{op}", h.property)
		r.Post("/offline_request", h.offlineRequest)
	})
	r.Group(func(r chi.Router) {
		r.Use(limit)
		for _, prefix := range []string{"", "/comagic"} {
			r.Get(prefix+"/vc/s", h.vcSet)
			r.Get(prefix+"/vc/s/", h.vcSet)
			r.Options(prefix+"/api/add_offline_message", h.addOfflineMessagePreflight)
			r.Options(prefix+"/api/add_offline_message/", h.addOfflineMessagePreflight)
			r.Post(prefix+"/api/add_offline_message", h.addOfflineMessage)
			r.Post(prefix+"/api/add_offline_message/", h.addOfflineMessage)
		}
	})
	if d.Assets != nil {
		r.Handle("/static/*", d.Assets)
		r.Handle("/demo/*", d.Assets)
		r.Handle("/demo", d.Assets) // redirects to /demo/, keeping ?k=
		r.Handle("/comagic/static/*", http.StripPrefix("/comagic", d.Assets))
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, comagic.Errorf(comagic.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody(comagic.Errorf(comagic.EINVALID, "method %s is not allowed here", r.Method)))
	})
	h.router = r
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// recoverer turns a panic in a handler into a logged internal error with the
// API's error shape, instead of a dropped connection.
func (h *Handler) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.Logger.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, errorBody(comagic.Errorf(comagic.EINTERNAL, "internal error")))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.DB.Ping(ctx); err != nil {
		h.Logger.Warn("readyz: database does not answer", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
