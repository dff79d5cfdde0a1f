package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/httpapi"
	"github.com/comagicd/comagicd/internal/metrics"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

const opPassword = "s3cret-passw0rd"

// opServer is a real HTTP server with the operator endpoints on a fresh
// database, with employee anna (password opPassword) on one site.
type opServer struct {
	t    *testing.T
	url  string
	db   *pgxpool.Pool
	emps *postgres.Employees
	ops  *operators.Service
	anna int64
	deps httpapi.Deps
}

func startOpServer(t *testing.T, baseURL string, withOperators bool) *opServer {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewDB(t)
	sites := postgres.NewSites(db)
	emps := postgres.NewEmployees(db)
	acc, err := sites.EnsureAccount(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	site, err := sites.CreateSite(ctx, acc.ID, []string{"a.example"})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := operators.HashPassword(opPassword)
	if err != nil {
		t.Fatal(err)
	}
	anna, err := emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "anna", Name: "Anna <b>", Position: "Sales",
		Avatar: "https://a.example/a.png", PasswordHash: hash, Sites: []string{site.Key}})
	if err != nil {
		t.Fatal(err)
	}
	s := &opServer{t: t, db: db, emps: emps, anna: anna.ID}
	d := httpapi.Deps{Sites: sites, DB: db, Metrics: metrics.New(nil), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		BaseURL: baseURL, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if withOperators {
		s.ops = operators.NewService(emps)
		d.Operators = s.ops
		d.LoginFailures = postgres.NewLoginFailures(db)
	}
	s.deps = d
	srv := httptest.NewServer(httpapi.New(d))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// do sends a request with a body and headers (name, value pairs) and returns
// the status, the answer's headers and its decoded JSON body.
func (s *opServer) do(method, path, body string, headers ...string) (int, http.Header, answer) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		s.t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, a
}

func (s *opServer) login(login, password string, headers ...string) (int, http.Header, answer) {
	s.t.Helper()
	b, _ := json.Marshal(map[string]string{"login": login, "password": password})
	return s.do(http.MethodPost, "/api/operator/login", string(b), append([]string{"Content-Type", "application/json"}, headers...)...)
}

// wantUnauthorized checks the 401 answer in the API's error shape.
func wantUnauthorized(t *testing.T, what string, status int, h http.Header, a answer) {
	t.Helper()
	e, _ := a["error"].(map[string]any)
	if status != 401 || a["success"] != false || e["code"] != "unauthorized" || e["message"] == "" || len(a) != 2 ||
		h.Get("WWW-Authenticate") == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: %d %v %v", what, status, h, a)
	}
}

func cookieOf(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	resp := http.Response{Header: h}
	for _, c := range resp.Cookies() {
		if c.Name == operators.CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", operators.CookieName, h)
	return nil
}

func TestOperatorLoginMeLogout(t *testing.T) {
	s := startOpServer(t, "https://ops.example/", true)
	before := time.Now()
	status, h, a := s.login("anna", opPassword)
	if status != 200 || a["success"] != true {
		t.Fatalf("login: %d %v", status, a)
	}
	token := a.str("token")
	emp, _ := a["employee"].(map[string]any)
	if len(token) != 43 || emp["id"] != float64(s.anna) || emp["name"] != "Anna <b>" || emp["login"] != "anna" || emp["position"] != "Sales" ||
		emp["avatar"] != "https://a.example/a.png" || emp["status"] != "offline" || emp["max_chats"] != float64(5) {
		t.Fatalf("login answer: %v", a)
	}
	if exp := time.Unix(a.num("expires_at"), 0); exp.Before(before.Add(12*time.Hour-2*time.Second)) || exp.After(before.Add(12*time.Hour+time.Second)) {
		t.Fatalf("expires_at %v", exp)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Fatalf("login answer may be cached: %v", h)
	}
	// The cookie: the token, HttpOnly, SameSite=Strict, Path=/, Secure (the
	// base URL is https), Max-Age = the TTL.
	c := cookieOf(t, h)
	if c.Value != token || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || !c.Secure || c.MaxAge != 12*3600 {
		t.Fatalf("cookie: %+v (%s)", c, h.Values("Set-Cookie"))
	}

	for _, auth := range [][]string{{"Authorization", "Bearer " + token}, {"Cookie", operators.CookieName + "=" + token}} {
		status, _, a = s.do(http.MethodGet, "/api/operator/me", "", auth...)
		emp, _ = a["employee"].(map[string]any)
		sites, _ := emp["site_ids"].([]any)
		if status != 200 || a["success"] != true || emp["id"] != float64(s.anna) || emp["name"] != "Anna <b>" || len(sites) != 1 || emp["can_chat"] != true {
			t.Fatalf("me with %s: %d %v", auth[0], status, a)
		}
	}

	// Logout by cookie revokes the token and clears the cookie; the token is
	// refused afterwards, by header and cookie.
	status, h, a = s.do(http.MethodPost, "/api/operator/logout", "", "Cookie", operators.CookieName+"="+token)
	if status != 200 || a["success"] != true {
		t.Fatalf("logout: %d %v", status, a)
	}
	if c := cookieOf(t, h); c.Value != "" || c.MaxAge != -1 || !c.HttpOnly || c.Path != "/" {
		t.Fatalf("logout cookie: %+v", c)
	}
	status, h, a = s.do(http.MethodGet, "/api/operator/me", "", "Authorization", "Bearer "+token)
	wantUnauthorized(t, "revoked, bearer", status, h, a)
	status, h, a = s.do(http.MethodGet, "/api/operator/me", "", "Cookie", operators.CookieName+"="+token)
	wantUnauthorized(t, "revoked, cookie", status, h, a)
	status, h, a = s.do(http.MethodPost, "/api/operator/logout", "", "Authorization", "Bearer "+token)
	wantUnauthorized(t, "logout revoked", status, h, a)

	// Logout by bearer token.
	_, _, a = s.login("anna", opPassword)
	token = a.str("token")
	if status, _, _ := s.do(http.MethodPost, "/api/operator/logout", "", "Authorization", "Bearer "+token); status != 200 {
		t.Fatalf("logout by bearer: %d", status)
	}
	status, h, a = s.do(http.MethodGet, "/api/operator/me", "", "Authorization", "Bearer "+token)
	wantUnauthorized(t, "after bearer logout", status, h, a)
}

func TestOperatorCookieOverHTTP(t *testing.T) {
	s := startOpServer(t, "http://localhost:8080/", true)
	status, h, _ := s.login("anna", opPassword)
	if c := cookieOf(t, h); status != 200 || c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie over http: %d %+v", status, c)
	}
}

func TestOperatorTokensRefused(t *testing.T) {
	ctx := context.Background()
	s := startOpServer(t, "http://localhost:8080/", true)
	_, _, a := s.login("anna", opPassword)
	token := a.str("token")
	both := func(what, tok string) {
		t.Helper()
		status, h, a := s.do(http.MethodGet, "/api/operator/me", "", "Authorization", "Bearer "+tok)
		wantUnauthorized(t, what+", bearer", status, h, a)
		status, h, a = s.do(http.MethodGet, "/api/operator/me", "", "Cookie", operators.CookieName+"="+tok)
		wantUnauthorized(t, what+", cookie", status, h, a)
	}
	both("wrong token", strings.Repeat("A", 43))
	both("garbage", "x")
	status, h, a := s.do(http.MethodGet, "/api/operator/me", "")
	wantUnauthorized(t, "no token", status, h, a)
	status, h, a = s.do(http.MethodGet, "/api/operator/me", "", "Authorization", "Basic YW5uYTpzM2NyZXQ=")
	wantUnauthorized(t, "basic auth", status, h, a)

	// Expired.
	if _, err := s.db.Exec(ctx, `UPDATE operator_tokens SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	both("expired token", token)

	// Disabled employee.
	_, _, a = s.login("anna", opPassword)
	token = a.str("token")
	if status, _, _ := s.do(http.MethodGet, "/api/operator/me", "", "Authorization", "Bearer "+token); status != 200 {
		t.Fatalf("fresh token: %d", status)
	}
	if _, err := s.emps.DisableEmployee(ctx, s.anna); err != nil {
		t.Fatal(err)
	}
	both("disabled employee", token)
}

func TestOperatorLoginRefusals(t *testing.T) {
	s := startOpServer(t, "http://localhost:8080/", true)
	for _, c := range [][2]string{{"anna", "wrong"}, {"nobody", opPassword}, {"ANNA", opPassword}} {
		status, _, a := s.login(c[0], c[1])
		e, _ := a["error"].(map[string]any)
		if status != 401 || e["code"] != "unauthorized" || e["message"] != "wrong login or password" {
			t.Fatalf("%v: %d %v", c, status, a)
		}
	}
	for body, field := range map[string]string{
		`{"login":"anna","password":"` + opPassword + `"} GARBAGE`: "body",
		`[1]`:                               "body",
		`not json`:                          "body",
		`{"login":"","password":"x"}`:       "login",
		`{"login":"anna"}`:                  "password",
		`{"login":{"a":1},"password":"x"}`:  "login",
		`{"login":"anna","password":["x"]}`: "password",
		`{"login":"anna","password":"` + strings.Repeat("x", 5000) + `"}`: "body",
	} {
		status, _, a := s.do(http.MethodPost, "/api/operator/login", body)
		if status != 400 || a.errField() != field {
			t.Fatalf("%.60s: %d %v", body, status, a)
		}
	}
	if status, _, _ := s.do(http.MethodGet, "/api/operator/login", ""); status != 405 {
		t.Fatalf("GET login: %d", status)
	}
	var n int
	if err := s.db.QueryRow(context.Background(), `SELECT count(*) FROM operator_tokens`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused logins stored tokens: %d %v", n, err)
	}
}

// Failed logins are limited per client IP and per login: 10 a minute.
func TestOperatorLoginRateLimited(t *testing.T) {
	s := startOpServer(t, "http://localhost:8080/", true)
	ip := func(n int) []string { return []string{"X-Forwarded-For", "203.0.113." + strconv.Itoa(n)} }

	// Per login: ten failures from ten addresses, then even the right
	// password from an eleventh is refused; other logins are not affected.
	for i := range 10 {
		if status, _, _ := s.login("anna", "wrong", ip(i)...); status != 401 {
			t.Fatalf("failure %d: %d", i, status)
		}
	}
	status, h, a := s.login("anna", opPassword, ip(10)...)
	if e, _ := a["error"].(map[string]any); status != 429 || e["code"] != "rate_limited" || h.Get("Retry-After") == "" {
		t.Fatalf("11th attempt for the login: %d %v %v", status, h, a)
	}
	if status, _, _ := s.login("bob", "wrong", ip(10)...); status != 401 {
		t.Fatalf("other login: %d", status)
	}

	// Per IP: ten failures with other logins from one address block it,
	// whatever the login; another address still gets in.
	for i := range 10 {
		if status, _, _ := s.login("user"+strconv.Itoa(i), "wrong", ip(50)...); status != 401 {
			t.Fatalf("ip failure %d: %d", i, status)
		}
	}
	if status, _, _ := s.login("carl", opPassword, ip(50)...); status != 429 {
		t.Fatalf("blocked ip: %d", status)
	}
	if status, _, _ := s.login("carl", "wrong", ip(51)...); status != 401 {
		t.Fatalf("other ip: %d", status)
	}
}

// The counts are shared by every node: failures spread over two servers on
// one database meet one limit, on both.
func TestOperatorLoginRateLimitedAcrossNodes(t *testing.T) {
	a := startOpServer(t, "http://localhost:8080/", true)
	second := httptest.NewServer(httpapi.New(a.deps))
	t.Cleanup(second.Close)
	b := *a
	b.url = second.URL
	ip := []string{"X-Forwarded-For", "198.51.100.7"}
	for i := range 10 {
		node := a
		if i%2 == 1 {
			node = &b
		}
		if status, _, _ := node.login("user"+strconv.Itoa(i), "wrong", ip...); status != 401 {
			t.Fatalf("failure %d: %d", i, status)
		}
	}
	for _, node := range []*opServer{a, &b} {
		if status, _, _ := node.login("anna", opPassword, ip...); status != 429 {
			t.Fatalf("%s: the address is not blocked after 10 failures on two nodes: %d", node.url, status)
		}
	}
	var n int
	if err := a.db.QueryRow(context.Background(), `SELECT failures FROM login_failures WHERE scope = 'ip' AND key = '198.51.100.7'`).Scan(&n); err != nil || n != 10 {
		t.Fatalf("stored failures %d (%v), want 10", n, err)
	}
	// A new window starts once the last one ended.
	if _, err := a.db.Exec(context.Background(), `UPDATE login_failures SET window_start = now() - interval '2 minutes'`); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := b.login("anna", opPassword, ip...); status != 200 {
		t.Fatalf("after the window: %d", status)
	}
	if purged, err := postgres.NewLoginFailures(a.db).Purge(context.Background(), time.Now().Add(-time.Minute)); err != nil || purged == 0 {
		t.Fatalf("purge: %d %v", purged, err)
	}
}

func TestOperatorRoutesNeedService(t *testing.T) {
	s := startOpServer(t, "http://localhost:8080/", false)
	for _, p := range []string{"/api/operator/login", "/api/operator/logout"} {
		if status, _, a := s.do(http.MethodPost, p, `{}`); status != 404 || a.str("success") != "" {
			t.Fatalf("%s without operators: %d %v", p, status, a)
		}
	}
}
