package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/comagicd/comagicd/internal/calltracking"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
)

// CallTracking picks the numbers of page views and takes the telephony's
// calls (calltracking.Service).
type CallTracking interface {
	// ForHit returns the numbers the page view shows; nil when none.
	ForHit(ctx context.Context, site *comagic.Site, hit *comagic.Hit) (*calltracking.Phones, error)
	// Heartbeat renews the session's reservations. Returns EUNAUTHORIZED.
	Heartbeat(ctx context.Context, site *comagic.Site, creds comagic.Credentials) (int64, error)
	// Authenticate returns the account of an API token. Returns EUNAUTHORIZED.
	Authenticate(ctx context.Context, token string) (int64, error)
	// RecordCall stores an attributed call once. Returns EINVALID.
	RecordCall(ctx context.Context, accountID int64, in calltracking.CallInput) (*comagic.Call, bool, error)
	// Calls lists the account's calls.
	Calls(ctx context.Context, accountID int64, f postgres.CallFilter) ([]comagic.Call, error)
}

// maxCallBody bounds a reported call.
const maxCallBody = 16 << 10

// callRoutes mounts the account API of calls (rate limited like every
// public endpoint); nothing when Deps.CallTracking is nil.
func (h *Handler) callRoutes(r chi.Router, limit func(http.Handler) http.Handler) {
	if h.CallTracking == nil {
		return
	}
	r.With(limit, h.siteCORS).Options("/api/track/{site_key}/phones/heartbeat", h.phonesHeartbeat) // siteCORS answers
	r.With(limit, h.siteCORS).Post("/api/track/{site_key}/phones/heartbeat", h.phonesHeartbeat)
	r.Route("/api/v1/calls", func(r chi.Router) {
		r.Use(limit, h.apiAccount)
		r.Post("/", h.postCall)
		r.Get("/", h.listCalls)
	})
}

// phones fills the answer's numbers of a page view; when they cannot be had
// the page keeps the numbers it shows and the rest of the answer goes out.
func (h *Handler) phones(r *http.Request, site *comagic.Site, hit *comagic.Hit, ans *hitAnswer) {
	if h.CallTracking == nil {
		return
	}
	p, err := h.CallTracking.ForHit(r.Context(), site, hit)
	if err != nil {
		h.Logger.Warn("page view: phone numbers", "site", site.ID, "err", err)
		return
	}
	if p != nil {
		ans.Phones, ans.PhonesHeartbeatS = p.List, p.HeartbeatS
	}
}

// phonesHeartbeat renews the numbers reserved for the visitor's session
// while a page of it is open: one UPDATE.
func (h *Handler) phonesHeartbeat(w http.ResponseWriter, r *http.Request) {
	_, c, _, ok := h.visitorCall(w, r)
	if !ok {
		return
	}
	n, err := h.CallTracking.Heartbeat(r.Context(), siteOf(r), c)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "kept": n})
}

type ctxAccountKey struct{}

// apiAccount authenticates the account API: "Authorization: Bearer <token>"
// with an account API token; 401 otherwise.
func (h *Handler) apiAccount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="comagicd"`)
			h.fail(w, r, &comagic.Error{Code: comagic.EUNAUTHORIZED, Field: "Authorization", Message: "Authorization: Bearer <account API token> is required"})
			return
		}
		account, err := h.CallTracking.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="comagicd", error="invalid_token"`)
			h.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxAccountKey{}, account)))
	})
}

func accountOf(r *http.Request) int64 {
	id, _ := r.Context().Value(ctxAccountKey{}).(int64)
	return id
}

type callAnswer struct {
	Success bool          `json:"success"`
	Created bool          `json:"created"`
	Call    *comagic.Call `json:"call"`
}

// postCall takes a call from the telephony: 201 when stored, 200 with the
// stored call when it was reported before.
func (h *Handler) postCall(w http.ResponseWriter, r *http.Request) {
	o, err := decodeJSON(w, r, maxCallBody)
	var t []string
	if err == nil {
		t, err = o.texts("called_number", "caller_number", "started_at", "duration", "record_url", "pbx_call_id")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, created, err := h.CallTracking.RecordCall(r.Context(), accountOf(r), calltracking.CallInput{
		CalledNumber: t[0], CallerNumber: t[1], StartedAt: t[2], Duration: t[3], RecordURL: t[4], PBXCallID: t[5]})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, callAnswer{Success: true, Created: created, Call: c})
}

type callsAnswer struct {
	Success bool           `json:"success"`
	Calls   []comagic.Call `json:"calls"`
	// NextBefore is the before of the next page; 0 on the last page.
	NextBefore int64 `json:"next_before"`
}

// listCalls is the calls report: ?from=&to= (RFC 3339, on the call start),
// ?before= (a call id: the page after it) and ?limit= (1..1000, default 100),
// newest first.
func (h *Handler) listCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f postgres.CallFilter
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				h.fail(w, r, comagic.Invalid(p.name, "%s must be RFC 3339 time, e.g. 2026-01-02T15:04:05Z", p.name))
				return
			}
			*p.to = t
		}
	}
	for _, p := range []struct {
		name string
		max  int64
		to   func(int64)
	}{{"before", 1 << 62, func(v int64) { f.Before = v }}, {"limit", 1000, func(v int64) { f.Limit = int(v) }}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || n > p.max {
				h.fail(w, r, comagic.Invalid(p.name, "%s must be an integer 1..%d", p.name, p.max))
				return
			}
			p.to(n)
		}
	}
	calls, err := h.CallTracking.Calls(r.Context(), accountOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ans := callsAnswer{Success: true, Calls: calls}
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	if len(calls) == limit {
		ans.NextBefore = calls[len(calls)-1].ID
	}
	if ans.Calls == nil {
		ans.Calls = []comagic.Call{}
	}
	writeJSON(w, http.StatusOK, ans)
}
