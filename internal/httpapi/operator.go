package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/operators"
)

// Limits of the operator login: failed attempts per client IP and per login
// within a window. The counts live in the memory of each node, so behind a
// load balancer of n nodes an attacker gets up to n times as many tries.
const (
	maxLoginFailures   = 10
	loginFailureWindow = time.Minute
	maxLoginBody       = 4 << 10
)

// operatorRoutes mounts the operator's login, logout and profile endpoints
// when the server has an operator service.
func (h *Handler) operatorRoutes(r chi.Router) {
	if h.Operators == nil {
		return
	}
	ops := h.Operators.WithFail(h.fail)
	byIP, byLogin := h.loginLimiter("ip"), h.loginLimiter("login")
	r.Route("/api/operator", func(r chi.Router) {
		if h.RateLimit > 0 {
			r.Use(httprate.LimitBy(h.RateLimit, time.Minute,
				func(r *http.Request) (string, error) { return clientIPOf(r), nil },
				httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
					h.fail(w, r, comagic.Errorf(comagic.ERATELIMITED, "too many requests, slow down"))
				})))
		}
		r.Post("/login", h.operatorLogin(ops, byIP, byLogin))
		r.Group(func(r chi.Router) {
			r.Use(ops.Middleware)
			r.Post("/logout", h.operatorLogout(ops))
			r.Get("/me", h.operatorMe)
			h.workstationRoutes(r)
		})
	})
}

// operatorEmployee is the operator as the login and /me answers show them.
type operatorEmployee struct {
	ID        int64   `json:"id"`
	Login     string  `json:"login"`
	Name      string  `json:"name"`
	Position  string  `json:"position"`
	Avatar    string  `json:"avatar"`
	Status    string  `json:"status"`
	MaxChats  int     `json:"max_chats"`
	CanChat   bool    `json:"can_chat"`
	CanInvite bool    `json:"can_invite"`
	SiteIDs   []int64 `json:"site_ids"`
	GroupIDs  []int64 `json:"group_ids"`
}

func employeeOf(p *operators.Principal) operatorEmployee {
	e := operatorEmployee{ID: p.EmployeeID, Login: p.Login, Name: p.Name, Position: p.Position, Avatar: p.Avatar,
		Status: p.Status, MaxChats: p.MaxChats, CanChat: p.CanChat, CanInvite: p.CanInvite, SiteIDs: p.SiteIDs, GroupIDs: p.GroupIDs}
	if e.SiteIDs == nil {
		e.SiteIDs = []int64{}
	}
	if e.GroupIDs == nil {
		e.GroupIDs = []int64{}
	}
	return e
}

// loginKey bounds the login used as a limiter key.
func loginKey(login string) string {
	if len(login) > 100 {
		login = login[:100]
	}
	return login
}

// operatorLogin checks a login and password and answers a token, also set as
// the operator cookie. Failed attempts are limited per client IP and per login.
func (h *Handler) operatorLogin(ops *operators.Service, byIP, byLogin failureCounter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ip := clientIPOf(r)
		if byIP.blocked(r.Context(), ip) {
			h.loginLimited(w, r)
			return
		}
		o, err := decodeJSON(w, r, maxLoginBody)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		login, err := o.text("login")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		password, err := o.text("password")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		login = strings.TrimSpace(login)
		if byLogin.blocked(r.Context(), loginKey(login)) {
			h.loginLimited(w, r)
			return
		}
		token, p, expires, err := ops.Login(r.Context(), login, password)
		if err != nil {
			if comagic.ErrorCode(err) == comagic.EUNAUTHORIZED {
				byIP.fail(r.Context(), ip)
				byLogin.fail(r.Context(), loginKey(login))
			}
			h.fail(w, r, err)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: operators.CookieName, Value: token, Path: "/",
			MaxAge: int(ops.TTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode,
			Secure: strings.HasPrefix(h.BaseURL, "https:"),
		})
		writeJSON(w, http.StatusOK, struct {
			Success   bool             `json:"success"`
			Token     string           `json:"token"`
			ExpiresAt int64            `json:"expires_at"`
			Employee  operatorEmployee `json:"employee"`
		}{true, token, expires.Unix(), employeeOf(p)})
	}
}

func (h *Handler) loginLimited(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "60")
	h.fail(w, r, comagic.Errorf(comagic.ERATELIMITED, "too many failed logins, retry in a minute"))
}

// operatorLogout revokes the request's token and clears the cookie.
func (h *Handler) operatorLogout(ops *operators.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, _ := operators.TokenFromRequest(r) // the middleware found it
		if err := ops.Logout(r.Context(), token); err != nil {
			h.fail(w, r, err)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: operators.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(h.BaseURL, "https:"),
		})
		writeJSON(w, http.StatusOK, okBody)
	}
}

// operatorMe answers the authenticated operator.
func (h *Handler) operatorMe(w http.ResponseWriter, r *http.Request) {
	p := operators.FromContext(r.Context())
	writeJSON(w, http.StatusOK, struct {
		Success  bool             `json:"success"`
		Employee operatorEmployee `json:"employee"`
	}{true, employeeOf(p)})
}

// FailureStore counts failures per scope and key in fixed windows for every
// node (internal/postgres.LoginFailures).
type FailureStore interface {
	// Failures returns the failures of key in its current window; 0 once
	// the window has ended.
	Failures(ctx context.Context, scope, key string, window time.Duration) (int, error)
	// Fail counts a failure of key, starting a new window after one ended.
	Fail(ctx context.Context, scope, key string, window time.Duration) error
}

// failureCounter is what the login checks: the shared store or, without
// one, this process's failureLimiter.
type failureCounter interface {
	blocked(ctx context.Context, key string) bool
	fail(ctx context.Context, key string)
}

// loginLimiter returns the login failure counter of scope ("ip", "login").
func (h *Handler) loginLimiter(scope string) failureCounter {
	if h.LoginFailures == nil {
		return newFailureLimiter(maxLoginFailures, loginFailureWindow)
	}
	return &sharedLimiter{store: h.LoginFailures, scope: scope, log: h.Logger}
}

// sharedLimiter counts in the shared store. When the store cannot be read
// the login goes on (it needs the database too) and the error is logged.
type sharedLimiter struct {
	store FailureStore
	scope string
	log   *slog.Logger
}

func (l *sharedLimiter) blocked(ctx context.Context, key string) bool {
	n, err := l.store.Failures(ctx, l.scope, key, loginFailureWindow)
	if err != nil {
		l.log.Warn("login failures: read", "scope", l.scope, "err", err)
	}
	return n >= maxLoginFailures
}

func (l *sharedLimiter) fail(ctx context.Context, key string) {
	if err := l.store.Fail(context.WithoutCancel(ctx), l.scope, key, loginFailureWindow); err != nil {
		l.log.Warn("login failures: count", "scope", l.scope, "err", err)
	}
}
