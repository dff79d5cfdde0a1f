package operators_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

const password = "correct horse battery"

type env struct {
	db    *pgxpool.Pool
	emps  *postgres.Employees
	svc   *operators.Service
	anna  *comagic.Employee
	site  *comagic.Site
	other *comagic.Site
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewDB(t)
	sites := postgres.NewSites(db)
	acc, err := sites.EnsureAccount(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	site, err := sites.CreateSite(ctx, acc.ID, []string{"a.example"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := sites.CreateSite(ctx, acc.ID, []string{"other.example"})
	if err != nil {
		t.Fatal(err)
	}
	emps := postgres.NewEmployees(db)
	if _, err := emps.CreateGroup(ctx, "A", "Sales"); err != nil {
		t.Fatal(err)
	}
	hash, err := operators.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	anna, err := emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "anna", Name: "Anna", Position: "Sales",
		PasswordHash: hash, Sites: []string{site.Key}, Groups: []string{"Sales"}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, emps: emps, svc: operators.NewService(emps), anna: anna, site: site, other: other}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if comagic.ErrorCode(err) != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

func TestLoginAuthenticateLogout(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	before := time.Now()
	token, p, expires, err := e.svc.Login(ctx, "anna", password)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 43 || strings.ContainsAny(token, "+/=") {
		t.Fatalf("token %q is not 32 bytes of base64url", token)
	}
	if d := expires.Sub(before); d < 12*time.Hour-2*time.Second || d > 12*time.Hour+time.Second {
		t.Fatalf("expires in %v, want 12h", d)
	}
	if p.EmployeeID != e.anna.ID || p.AccountID != e.anna.AccountID || p.Login != "anna" || p.Name != "Anna" || p.Position != "Sales" ||
		p.Status != "offline" || p.MaxChats != 5 || !p.CanChat || !p.CanInvite || len(p.GroupIDs) != 1 {
		t.Fatalf("principal: %+v", p)
	}
	if !p.HasSite(e.site.ID) || p.HasSite(e.other.ID) {
		t.Fatalf("HasSite: %+v", p.SiteIDs)
	}

	// Only a SHA-256 of the token is stored; never the token, never the password.
	var stored []byte
	var expiresAt time.Time
	if err := e.db.QueryRow(ctx, `SELECT token_hash, expires_at FROM operator_tokens WHERE employee_id = $1`, e.anna.ID).Scan(&stored, &expiresAt); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	if !bytes.Equal(stored, sum[:]) || !expiresAt.Equal(expires) {
		t.Fatalf("stored token %x expiring %v, want %x %v", stored, expiresAt, sum, expires)
	}
	var leaks int
	if err := e.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM operator_tokens t WHERE position(convert_to($1, 'UTF8') in t.token_hash) > 0)
		+ (SELECT count(*) FROM employees WHERE position($1 in password_hash) > 0 OR position($2 in password_hash) > 0)`,
		token, password).Scan(&leaks); err != nil || leaks != 0 {
		t.Fatalf("token or password stored in clear: %d %v", leaks, err)
	}
	var hash string
	if err := e.db.QueryRow(ctx, `SELECT password_hash FROM employees WHERE id = $1`, e.anna.ID).Scan(&hash); err != nil || !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("password hash %q %v", hash, err)
	}

	got, err := e.svc.Authenticate(ctx, token)
	if err != nil || got.EmployeeID != e.anna.ID || !got.HasSite(e.site.ID) {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	// A second login is a second token; logging one out keeps the other.
	token2, _, _, err := e.svc.Login(ctx, "anna", password)
	if err != nil || token2 == token {
		t.Fatalf("second login: %v", err)
	}
	if err := e.svc.Logout(ctx, token); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(ctx, token)
	wantCode(t, "revoked token", err, comagic.EUNAUTHORIZED)
	if err := e.svc.Logout(ctx, token); err != nil {
		t.Fatalf("logout twice: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, token2); err != nil {
		t.Fatalf("other token: %v", err)
	}
	wantCode(t, "logout garbage", e.svc.Logout(ctx, "garbage"), comagic.EUNAUTHORIZED)

	// Malformed and unknown tokens.
	for _, bad := range []string{"", "x", strings.Repeat("A", 42), strings.Repeat("A", 44), strings.Repeat("*", 43),
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", // 43 characters with non-zero padding bits
		strings.Repeat("A", 43)} {
		_, err := e.svc.Authenticate(ctx, bad)
		wantCode(t, "token "+bad, err, comagic.EUNAUTHORIZED)
	}
}

func TestLoginRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, c := range []struct{ login, password string }{
		{"anna", "wrong password"},
		{"anna", password + " "},
		{"Anna", password},
		{"nobody", password},
		{"bad login!", password},
		{"anna", strings.Repeat("x", 5000)},
	} {
		_, _, _, err := e.svc.Login(ctx, c.login, c.password)
		wantCode(t, c.login+"/"+c.password, err, comagic.EUNAUTHORIZED)
		if comagic.ErrorMessage(err) != "wrong login or password" {
			t.Fatalf("message %q", comagic.ErrorMessage(err))
		}
	}
	_, _, _, err := e.svc.Login(ctx, "", password)
	wantCode(t, "no login", err, comagic.EINVALID)
	_, _, _, err = e.svc.Login(ctx, "anna", "")
	wantCode(t, "no password", err, comagic.EINVALID)

	// An employee without a password cannot log in.
	if _, err := e.emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "nopass", Name: "N"}); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = e.svc.Login(ctx, "nopass", password)
	wantCode(t, "no password set", err, comagic.EUNAUTHORIZED)

	// Disabled: no login, and the tokens held are refused.
	token, _, _, err := e.svc.Login(ctx, "anna", password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.emps.DisableEmployee(ctx, e.anna.ID); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = e.svc.Login(ctx, "anna", password)
	wantCode(t, "disabled login", err, comagic.EUNAUTHORIZED)
	_, err = e.svc.Authenticate(ctx, token)
	wantCode(t, "disabled token", err, comagic.EUNAUTHORIZED)
	var n int
	if err := e.db.QueryRow(ctx, `SELECT count(*) FROM operator_tokens`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("refused logins stored tokens: %d %v", n, err)
	}
}

func TestExpiredToken(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// Expired in the database.
	token, _, _, err := e.svc.Login(ctx, "anna", password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `UPDATE operator_tokens SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(ctx, token)
	wantCode(t, "expired token", err, comagic.EUNAUTHORIZED)

	// Expired by a short TTL.
	e.svc.TTL = time.Second
	token, _, expires, err := e.svc.Login(ctx, "anna", password)
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(expires) > time.Second {
		t.Fatalf("TTL 1s: expires %v", expires)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = e.svc.Authenticate(ctx, token)
		if comagic.ErrorCode(err) == comagic.EUNAUTHORIZED {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("token of TTL 1s still valid after 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An unknown login costs a password hash, like a wrong password, so that
// timing does not tell which logins exist.
func TestUnknownLoginTakesAsLong(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	fastest := func(login string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			if _, _, _, err := e.svc.Login(ctx, login, "wrong password"); comagic.ErrorCode(err) != comagic.EUNAUTHORIZED {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := fastest("anna"), fastest("nobody")
	if unknown < known/3 {
		t.Fatalf("unknown login answered in %v, a wrong password in %v", unknown, known)
	}
}

func TestPasswords(t *testing.T) {
	for _, bad := range []string{"", "short", "1234567", strings.Repeat("я", 201), "pass\xffword"} {
		if _, err := operators.HashPassword(bad); comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) != "password" {
			t.Errorf("HashPassword(%q): %v", bad, err)
		}
	}
	// 200 characters (400 bytes: more than bcrypt could take) are fine, and
	// every character counts.
	long := strings.Repeat("я", 200)
	h1, err := operators.HashPassword(long)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := operators.HashPassword(long)
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.emps.UpdateEmployee(ctx, e.anna.ID, postgres.EmployeeUpdate{PasswordHash: &h1}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.svc.Login(ctx, "anna", long); err != nil {
		t.Fatalf("200-character password: %v", err)
	}
	if _, _, _, err := e.svc.Login(ctx, "anna", strings.Repeat("я", 199)+"ю"); comagic.ErrorCode(err) != comagic.EUNAUTHORIZED {
		t.Fatalf("last character ignored: %v", err)
	}
	// A corrupt stored hash matches nothing.
	for _, corrupt := range []string{"x", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$2a$10$abcdefghijklmnopqrstuv"} {
		if _, err := e.emps.UpdateEmployee(ctx, e.anna.ID, postgres.EmployeeUpdate{PasswordHash: &corrupt}); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := e.svc.Login(ctx, "anna", long); comagic.ErrorCode(err) != comagic.EUNAUTHORIZED {
			t.Fatalf("corrupt hash %q: %v", corrupt, err)
		}
	}
	if p := operators.GeneratePassword(); len(p) != 24 || operators.CheckPassword(p) != nil || p == operators.GeneratePassword() {
		t.Fatalf("generated password %q", p)
	}
}

func TestMiddleware(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	token, _, _, err := e.svc.Login(ctx, "anna", password)
	if err != nil {
		t.Fatal(err)
	}
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := operators.FromContext(r.Context())
		if p == nil {
			t.Error("no principal in the context")
			return
		}
		w.Write([]byte(p.Login))
	})
	var failed []error
	custom := e.svc.WithFail(func(w http.ResponseWriter, r *http.Request, err error) {
		failed = append(failed, err)
		w.WriteHeader(http.StatusTeapot)
	})
	call := func(svc *operators.Service, header, value string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/ws/operator", nil)
		if header != "" {
			req.Header.Set(header, value)
		}
		rec := httptest.NewRecorder()
		svc.Middleware(protected).ServeHTTP(rec, req)
		return rec
	}
	for _, ok := range [][2]string{
		{"Authorization", "Bearer " + token},
		{"Authorization", "bearer  " + token},
		{"Cookie", operators.CookieName + "=" + token},
	} {
		if rec := call(e.svc, ok[0], ok[1]); rec.Code != 200 || rec.Body.String() != "anna" {
			t.Fatalf("%s: %d %s", ok, rec.Code, rec.Body)
		}
	}
	for _, bad := range [][2]string{
		{"", ""},
		{"Authorization", "Bearer"},
		{"Authorization", "Basic " + token},
		{"Authorization", "Bearer " + strings.Repeat("A", 43)},
		{"Cookie", "other=" + token},
		{"Cookie", operators.CookieName + "=" + token[:42]},
	} {
		rec := call(e.svc, bad[0], bad[1])
		var body struct {
			Success *bool `json:"success"`
			Error   struct{ Code, Message string }
		}
		if rec.Code != 401 || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Success == nil || *body.Success ||
			body.Error.Code != "unauthorized" || body.Error.Message == "" || rec.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: %d %v %s", bad, rec.Code, rec.Header(), rec.Body)
		}
		if rec := call(custom, bad[0], bad[1]); rec.Code != http.StatusTeapot {
			t.Fatalf("custom fail not used: %d", rec.Code)
		}
	}
	var appErr *comagic.Error
	if len(failed) != 6 || !errors.As(failed[0], &appErr) || appErr.Code != comagic.EUNAUTHORIZED {
		t.Fatalf("custom fail got %v", failed)
	}
	// The original service keeps its own answer.
	if rec := call(e.svc, "", ""); rec.Code != 401 {
		t.Fatalf("WithFail changed the original: %d", rec.Code)
	}
	if operators.FromContext(ctx) != nil {
		t.Fatal("principal in an empty context")
	}
	p := &operators.Principal{Login: "x"}
	if operators.FromContext(operators.NewContext(ctx, p)) != p {
		t.Fatal("NewContext/FromContext")
	}
}
