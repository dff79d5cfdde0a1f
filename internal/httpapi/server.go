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
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"

	"github.com/comagicd/comagicd/internal/callhours"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/leads"
	"github.com/comagicd/comagicd/internal/metrics"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/tracking"
	"github.com/comagicd/comagicd/internal/workstation"
)

// Tracking is the tracking service the handlers call.
type Tracking interface {
	comagic.TrackingService
	// AddVisitorInfoByComagicID serves /vc/s/: contacts for the visitor of a
	// comagic_id, proven by its key or, with the site, by the session start;
	// allow vets the site before anything is written.
	AddVisitorInfoByComagicID(ctx context.Context, site *comagic.Site, key string, ci tracking.ComagicID, info comagic.VisitorInfo, allow func(*comagic.Site) error) (*comagic.Site, error)
}

// Leads stores offline requests.
type Leads interface {
	Submit(ctx context.Context, site *comagic.Site, in *leads.Input, source string, allow func(*comagic.Site) error) (*comagic.OfflineRequest, error)
}

// Sites finds sites, also without asking the database.
type Sites interface {
	comagic.SiteService
	// CachedSiteByKey returns the site when it is cached, nil otherwise; it
	// never asks the database.
	CachedSiteByKey(key string) *comagic.Site
	// OriginKnown reports whether some site allows browser requests from origin.
	OriginKnown(ctx context.Context, origin string) (bool, error)
}

// LeadRules gives a site's active lead rules (cached; SPEC §10).
type LeadRules interface {
	Active(ctx context.Context, siteID int64) ([]comagic.LeadRule, error)
}

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the services and settings the HTTP layer needs.
type Deps struct {
	Sites    Sites
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
	// Assets serves /static/*, /comagic/static/*, /demo/* and /operator/*; may be nil.
	Assets http.Handler
	// Chat serves the chat channels; nil leaves them out.
	Chat *ChatDeps
	// LoginFailures counts failed operator logins for every node; nil keeps
	// the counts in this process (one node).
	LoginFailures FailureStore
	// Operators logs operators in and authenticates them; nil leaves the
	// operator endpoints out.
	Operators *operators.Service
	// Ready, when set, reports whether the hub listens; /readyz fails without it.
	Ready func() bool
	// Captcha issues and draws the sitephone's captchas; nil leaves the
	// captcha endpoints out.
	Captcha Captcha
	// Callbacks takes call-back orders; nil leaves the endpoint out.
	Callbacks Callbacks
	// LeadRules gives the lead rules the bootstrap answer carries; nil sends none.
	LeadRules LeadRules
	// Workstation serves the operator workstation's endpoints (with
	// Operators); nil leaves them out.
	Workstation *workstation.Service
	// CallTracking gives page views their phone numbers and takes calls;
	// nil leaves both out.
	CallTracking CallTracking
}

// Handler serves the HTTP API. Metrics are not part of it: they are served on
// their own listener (see metrics.Metrics.Handler).
type Handler struct {
	Deps
	router chi.Router
	// ciFailures limits failed /vc/s/ lookups without key, by site key.
	ciFailures *failureLimiter
	// callTimes derives the call widgets' working-hours keys of the bootstrap.
	callTimes *callhours.Cache
}

// Limits on failed /vc/s/ lookups without key (sk + ci), per site key: real
// pages send the ci of their own cookie and do not fail; guessing needs far more.
const (
	maxCIFailures   = 20
	ciFailureWindow = time.Minute
)

// New builds the router.
func New(d Deps) *Handler {
	h := &Handler{Deps: d, ciFailures: newFailureLimiter(maxCIFailures, ciFailureWindow), callTimes: &callhours.Cache{}}
	r := chi.NewRouter()
	r.Use(h.recoverer, h.instrument, h.guard, h.clientIP)

	// The public endpoints are rate limited per client IP before anything else
	// (site lookup, Origin check, database); the 429 carries the site's CORS
	// headers when the site is known without a query, so a page can read it.
	limit := func(next http.Handler) http.Handler { return next }
	if d.RateLimit > 0 {
		limit = httprate.LimitBy(d.RateLimit, time.Minute,
			func(r *http.Request) (string, error) { return clientIPOf(r), nil },
			httprate.WithLimitHandler(h.tooManyRequests))
	}
	r.Get("/healthz", h.healthz)
	r.With(limit).Get("/readyz", h.readyz)
	r.Route("/api/track/{site_key}", func(r chi.Router) {
		r.Use(limit, h.siteCORS)
		r.Post("/bootstrap", h.bootstrap)
		r.Post("/hit", h.hit)
		r.Post("/event", h.event)
		r.Post("/visitor_info", h.visitorInfo)
		r.Post("/property/{op}", h.property)
		r.Post("/offline_request", h.offlineRequest)
		r.Post("/lead_action", h.leadAction)
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
	h.operatorRoutes(r)
	h.chatRoutes(r, limit)
	h.captchaRoutes(r, limit)
	h.callbackRoutes(r, limit)
	h.callRoutes(r, limit)
	if d.Assets != nil {
		assets := h.jsonNotFound(d.Assets)
		r.Handle("/static/*", assets)
		r.Handle("/demo/*", assets)
		r.Handle("/demo", assets) // redirects to /demo/, keeping ?k=
		r.Handle("/operator/*", assets)
		r.Handle("/operator", assets) // redirects to /operator/
		r.Handle("/comagic/static/*", http.StripPrefix("/comagic", assets))
	}
	r.NotFound(h.notFound)
	r.MethodNotAllowed(h.methodNotAllowed)
	h.router = r
	return h
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, comagic.Errorf(comagic.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
}

func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusMethodNotAllowed, errorBody(comagic.Errorf(comagic.EINVALID, "method %s is not allowed here", r.Method)))
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

// readyz answers 200 when the pool can hand out a connection that answers
// within 2 s and the hub (Deps.Ready) listens, 503 with Retry-After otherwise
// (database down, every connection busy for that long, or the hub's
// connection to its broker lost).
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.DB.Ping(ctx); err != nil {
		h.Logger.Warn("readyz: database does not answer", "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	if h.Ready != nil && !h.Ready() {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "hub unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
