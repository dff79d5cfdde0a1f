// Package operators logs employees (operators) in and authenticates their
// requests: passwords hashed with argon2id, revocable login tokens stored as
// SHA-256 hashes, and one middleware for the operator's HTTP endpoints and
// websocket (SPEC §1, §11, §13).
package operators

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
)

// CookieName is the cookie that carries the operator token in browsers.
const CookieName = "comagicd_operator"

// DefaultTTL is how long a login token is valid.
const DefaultTTL = 12 * time.Hour

// tokenBytes is the size of a token before encoding; its base64url text is
// tokenLen characters long.
const (
	tokenBytes = 32
	tokenLen   = 43
)

// Store is what the service needs of the employee store.
type Store interface {
	// PasswordHash returns the id and the encoded password hash ("" when
	// none) of the employee with the login. Returns ENOTFOUND for an unknown
	// login or a disabled employee.
	PasswordHash(ctx context.Context, login string) (employeeID int64, hash string, err error)
	// InsertToken stores a token hash of the employee valid until expiresAt.
	// Returns ENOTFOUND when the employee is gone or disabled.
	InsertToken(ctx context.Context, employeeID int64, tokenHash []byte, expiresAt time.Time) error
	// EmployeeByToken returns the employee of a token hash that is neither
	// revoked nor expired, when the employee is not disabled. Returns ENOTFOUND.
	EmployeeByToken(ctx context.Context, tokenHash []byte) (*comagic.Employee, error)
	// RevokeToken revokes a token hash; unknown hashes are no error.
	RevokeToken(ctx context.Context, tokenHash []byte) error
}

// FailFunc answers a request with an error in the API's error shape.
type FailFunc func(w http.ResponseWriter, r *http.Request, err error)

// Service logs operators in and out and authenticates their tokens. It holds
// no mutable state: one value serves every request.
type Service struct {
	// TTL is the lifetime of new tokens; DefaultTTL unless changed.
	TTL time.Duration

	store Store
	now   func() time.Time
	fail  FailFunc
	// dummy is a hash checked for unknown logins, so that they take as long
	// as known ones.
	dummy string
}

// NewService returns a service on the store with tokens valid for DefaultTTL.
// It hashes a dummy password once (a few tens of milliseconds).
func NewService(store Store) *Service {
	return &Service{TTL: DefaultTTL, store: store, now: time.Now, dummy: hashPassword(GeneratePassword())}
}

// WithFail returns a copy of the service whose Middleware answers refused
// requests with fail (the HTTP layer's error writer) instead of its own
// minimal JSON error.
func (s *Service) WithFail(fail FailFunc) *Service {
	c := *s
	c.fail = fail
	return &c
}

// Principal is an authenticated operator.
type Principal struct {
	EmployeeID, AccountID                 int64
	Login, Name, Position, Avatar, Status string
	MaxChats                              int
	CanChat, CanInvite                    bool
	// SiteIDs are the sites the operator works on, GroupIDs their groups,
	// both ascending; all of the operator's account.
	SiteIDs  []int64
	GroupIDs []int64
}

// HasSite reports whether the operator works on the site.
func (p *Principal) HasSite(id int64) bool {
	_, ok := slices.BinarySearch(p.SiteIDs, id)
	return ok
}

// NewPrincipal returns the principal of an employee.
func NewPrincipal(e *comagic.Employee) *Principal {
	p := &Principal{
		EmployeeID: e.ID, AccountID: e.AccountID,
		Login: e.Login, Name: e.Name, Position: e.Position, Avatar: e.Avatar, Status: e.Status,
		MaxChats: e.MaxChats, CanChat: e.CanChat, CanInvite: e.CanInvite,
		SiteIDs: slices.Clone(e.SiteIDs), GroupIDs: slices.Clone(e.GroupIDs),
	}
	slices.Sort(p.SiteIDs)
	slices.Sort(p.GroupIDs)
	return p
}

// wrongLogin is the one answer to every failed login.
func wrongLogin() error { return comagic.Errorf(comagic.EUNAUTHORIZED, "wrong login or password") }

// Login checks the login and password and returns a new token, the operator
// and when the token expires. Returns EINVALID (field login or password) when
// either is empty, EUNAUTHORIZED "wrong login or password" for an unknown
// login, a wrong password, an employee without a password or a disabled one
// (all answered in about the same time).
func (s *Service) Login(ctx context.Context, login, password string) (string, *Principal, time.Time, error) {
	if login == "" {
		return "", nil, time.Time{}, comagic.Invalid("login", "login is required")
	}
	if password == "" {
		return "", nil, time.Time{}, comagic.Invalid("password", "password is required")
	}
	id, hash, err := s.store.PasswordHash(ctx, login)
	switch {
	case comagic.ErrorCode(err) == comagic.ENOTFOUND || err == nil && hash == "":
		verifyPassword(s.dummy, password)
		return "", nil, time.Time{}, wrongLogin()
	case err != nil:
		return "", nil, time.Time{}, fmt.Errorf("operators: login: %w", err)
	}
	if !verifyPassword(hash, password) {
		return "", nil, time.Time{}, wrongLogin()
	}
	token := NewToken()
	expires := s.now().Add(s.TTL).Truncate(time.Second)
	if err := s.store.InsertToken(ctx, id, HashToken(token), expires); err != nil {
		if comagic.ErrorCode(err) == comagic.ENOTFOUND {
			return "", nil, time.Time{}, wrongLogin() // disabled meanwhile
		}
		return "", nil, time.Time{}, fmt.Errorf("operators: login: %w", err)
	}
	e, err := s.store.EmployeeByToken(ctx, HashToken(token))
	if err != nil {
		if comagic.ErrorCode(err) == comagic.ENOTFOUND {
			return "", nil, time.Time{}, wrongLogin()
		}
		return "", nil, time.Time{}, fmt.Errorf("operators: login: %w", err)
	}
	return token, NewPrincipal(e), expires, nil
}

// badToken is the one answer to every refused token.
func badToken() error {
	return comagic.Errorf(comagic.EUNAUTHORIZED, "invalid or expired operator token")
}

// Authenticate returns the operator of a token. Returns EUNAUTHORIZED for a
// malformed, unknown, expired or revoked token and for a disabled employee.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if !WellFormedToken(token) {
		return nil, badToken()
	}
	e, err := s.store.EmployeeByToken(ctx, HashToken(token))
	if comagic.ErrorCode(err) == comagic.ENOTFOUND {
		return nil, badToken()
	}
	if err != nil {
		return nil, fmt.Errorf("operators: authenticate: %w", err)
	}
	return NewPrincipal(e), nil
}

// Logout revokes the token. Returns EUNAUTHORIZED for a malformed token.
func (s *Service) Logout(ctx context.Context, token string) error {
	if !WellFormedToken(token) {
		return badToken()
	}
	if err := s.store.RevokeToken(ctx, HashToken(token)); err != nil {
		return fmt.Errorf("operators: logout: %w", err)
	}
	return nil
}

// NewToken returns 32 random bytes in base64url without padding.
func NewToken() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is what the store keeps of a token: its SHA-256.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// WellFormedToken reports whether token has the shape of our tokens (operator and API tokens), so that
// garbage costs no query.
func WellFormedToken(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil && len(b) == tokenBytes
}

// TokenFromRequest returns the operator token of a request: from
// "Authorization: Bearer <token>", else from the CookieName cookie. It reports
// false when the request carries neither (or another authorization scheme).
func TokenFromRequest(r *http.Request) (string, bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		token = strings.TrimSpace(token)
		return token, token != ""
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

type principalKey struct{}

// NewContext returns ctx carrying the principal.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the middleware stored in ctx, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Middleware authenticates the request by its operator token (see
// TokenFromRequest) and hands it on with the principal in its context (see
// FromContext). It serves HTTP endpoints and websocket upgrades alike. A
// request without a valid token is answered 401 with WWW-Authenticate: Bearer
// in the API's error shape; other failures (database down) with their own
// code.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *Principal
		token, ok := TokenFromRequest(r)
		err := error(comagic.Errorf(comagic.EUNAUTHORIZED, "operator token required (Authorization: Bearer or the %s cookie)", CookieName))
		if ok {
			p, err = s.Authenticate(r.Context(), token)
		}
		if err != nil {
			if comagic.ErrorCode(err) == comagic.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="comagicd"`)
			}
			if s.fail != nil {
				s.fail(w, r, err)
			} else {
				writeError(w, err)
			}
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

// writeError is the minimal error answer of a service without a FailFunc:
// the API's error shape, 401 for EUNAUTHORIZED, 503 when the database cannot
// serve, 500 otherwise (details are not shown).
func writeError(w http.ResponseWriter, err error) {
	code := comagic.ErrorCode(err)
	status := http.StatusInternalServerError
	switch code {
	case comagic.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case comagic.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	}
	var body struct {
		Success bool `json:"success"`
		Error   struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, comagic.ErrorMessage(err)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
