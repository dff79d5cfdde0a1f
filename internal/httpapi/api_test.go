package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

// client talks to a test server the way browsers and site backends do.
type client struct {
	t   *testing.T
	srv *testenv.Server
}

func newServer(t *testing.T) (*client, *testenv.Server) {
	t.Helper()
	srv := testenv.StartServer(t, testenv.Options{})
	return &client{t: t, srv: srv}, srv
}

type answer map[string]any

func (a answer) num(k string) int64 {
	f, _ := a[k].(float64)
	return int64(f)
}

func (a answer) str(k string) string { s, _ := a[k].(string); return s }

func (a answer) errField() string {
	e, _ := a["error"].(map[string]any)
	s, _ := e["field"].(string)
	return s
}

func (c *client) do(req *http.Request) (int, answer) {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		c.t.Fatalf("%s %s: answer %d is not JSON: %q", req.Method, req.URL, resp.StatusCode, body)
	}
	return resp.StatusCode, a
}

// post sends a JSON body as text/plain, as the embed script does.
func (c *client) post(path string, body any, headers ...string) (int, answer) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// postHeaders is post for tests of the answer's headers.
func (c *client) postHeaders(path string, body any, headers ...string) (int, http.Header) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.srv.URL+path, bytes.NewReader(b))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func (c *client) get(path string, headers ...string) (int, answer) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// visit is a bootstrap answer: what the browser keeps.
type visit struct {
	site                         string
	visitor, session, hit, start int64
	key                          string
	newSession                   bool
}

func (v visit) creds() map[string]any {
	return map[string]any{"visitor_id": v.visitor, "session_id": v.session, "key": v.key, "hit_id": v.hit}
}

func (c *client) bootstrap(site string, prev *visit, pageURL, referrer string) visit {
	c.t.Helper()
	body := map[string]any{"url": pageURL, "title": "Page", "referrer": referrer}
	if prev != nil {
		body["visitor_id"], body["session_id"], body["key"] = prev.visitor, prev.session, prev.key
	}
	u, _ := url.Parse(pageURL)
	status, a := c.post("/api/track/"+site+"/bootstrap", body, "Origin", u.Scheme+"://"+u.Host)
	if status != 200 || a["success"] != true {
		c.t.Fatalf("bootstrap: %d %v", status, a)
	}
	return visit{site: site, visitor: a.num("visitor_id"), session: a.num("session_id"), hit: a.num("hit_id"),
		start: a.num("session_started_at"), key: a.str("key"), newSession: a["new_session"] == true}
}

func (c *client) count(query string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.srv.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		c.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestBootstrapAnswerAndCORS(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/", "title": "Shop"},
		"Origin", "https://www.shop.example:8443", "User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
	if status != 200 {
		t.Fatalf("%d %v", status, a)
	}
	for _, k := range []string{"visitor_id", "session_id", "hit_id", "session_started_at"} {
		if a.num(k) <= 0 {
			t.Errorf("%s = %v, want a positive number", k, a[k])
		}
	}
	if a.str("uri") != srv.URL+"/" || a.str("consultant_server_url") != srv.URL+"/" || len(a.str("key")) != 32 ||
		a.str("site_key") != site || a.str("device_type") != "mobile" || a.str("cookie_suffix") == "" {
		t.Errorf("answer: %v", a)
	}
	if n := c.count(`SELECT count(*) FROM hits h JOIN sessions s ON s.id = h.session_id WHERE s.device_type = 'mobile' AND h.url = 'https://shop.example/'`); n != 1 {
		t.Errorf("hits stored: %d", n)
	}

	// CORS: the site's own origins get the header, a foreign origin is refused.
	if _, h := c.postHeaders("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"}, "Origin", "https://shop.example"); h.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("allow-origin %q", h.Get("Access-Control-Allow-Origin"))
	}
	status, a = c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://evil.example/"}, "Origin", "https://evil.example")
	if status != 403 || a.errField() != "origin" {
		t.Errorf("foreign origin: %d %v", status, a)
	}
	status, a = c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "x"}, "Origin", "https://notshop.example")
	if status != 403 {
		t.Errorf("suffix-alike origin: %d %v", status, a)
	}
	pre, _ := http.NewRequest(http.MethodOptions, srv.URL+"/api/track/"+site+"/event", nil)
	pre.Header.Set("Origin", "http://shop.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "http://shop.example" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	// Bad input: unknown site, missing url, broken JSON, wrong types, huge body.
	if status, a := c.post("/api/track/"+strings.Repeat("x", 32)+"/bootstrap", map[string]any{"url": "u"}); status != 404 || a.errField() != "site_key" {
		t.Errorf("unknown site: %d %v", status, a)
	}
	if status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"title": "no url"}); status != 400 || a.errField() != "url" {
		t.Errorf("no url: %d %v", status, a)
	}
	if status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "u", "visitor_id": "abc"}); status != 400 || a.errField() != "visitor_id" {
		t.Errorf("bad visitor_id: %d %v", status, a)
	}
	if status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": map[string]any{}}); status != 400 || a.errField() != "url" {
		t.Errorf("url object: %d %v", status, a)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/track/"+site+"/bootstrap", strings.NewReader(`{"url":`))
	if status, a := c.do(req); status != 400 || a.errField() != "body" {
		t.Errorf("broken json: %d %v", status, a)
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/api/track/"+site+"/bootstrap", strings.NewReader(`{"url":"`+strings.Repeat("a", 70000)+`"}`))
	if status, a := c.do(req); status != 400 || a.errField() != "body" {
		t.Errorf("huge body: %d %v", status, a)
	}
	if status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/\x00\xff<script>", "title": strings.Repeat("й", 5000)}); status != 200 {
		t.Errorf("odd text must be stored cleaned: %d %v", status, a)
	}
}

func TestSessionRules(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	first := c.bootstrap(site, nil, "https://shop.example/", "")
	if !first.newSession {
		t.Fatal("first page view must start a session")
	}
	// An internal page view continues the session and the key stays valid.
	second := c.bootstrap(site, &first, "https://shop.example/catalog", "https://shop.example/")
	if second.visitor != first.visitor || second.session != first.session || second.newSession || second.key != first.key || second.hit == first.hit {
		t.Fatalf("internal navigation: %+v after %+v", second, first)
	}
	// A new traffic source starts a new session of the same visitor.
	third := c.bootstrap(site, &second, "https://shop.example/?utm_source=yandex&utm_medium=cpc", "https://yandex.ru/")
	if third.visitor != first.visitor || third.session == first.session || !third.newSession || third.key == first.key {
		t.Fatalf("source change: %+v after %+v", third, second)
	}
	// The same campaign again continues; a plain referral from elsewhere does not.
	fourth := c.bootstrap(site, &third, "https://shop.example/?utm_source=yandex&utm_medium=cpc", "")
	if fourth.session != third.session {
		t.Fatalf("same source must continue: %+v after %+v", fourth, third)
	}
	fifth := c.bootstrap(site, &fourth, "https://shop.example/", "https://google.com/search")
	if fifth.session == fourth.session {
		t.Fatal("a referral from another domain must start a session")
	}
	// 30 minutes without a hit end the session.
	if _, err := srv.DB.Exec(context.Background(), `UPDATE sessions SET last_hit_at = last_hit_at - interval '31 minutes' WHERE id = $1`, fifth.session); err != nil {
		t.Fatal(err)
	}
	sixth := c.bootstrap(site, &fifth, "https://shop.example/", "")
	if sixth.session == fifth.session || sixth.visitor != first.visitor || !sixth.newSession {
		t.Fatalf("timeout: %+v after %+v", sixth, fifth)
	}
	// 29 minutes do not.
	if _, err := srv.DB.Exec(context.Background(), `UPDATE sessions SET last_hit_at = last_hit_at - interval '29 minutes' WHERE id = $1`, sixth.session); err != nil {
		t.Fatal(err)
	}
	if seventh := c.bootstrap(site, &sixth, "https://shop.example/x", ""); seventh.session != sixth.session {
		t.Fatal("29 minutes must not end the session")
	}
	// The session's source and UTM tags were recorded.
	var src, utm string
	if err := srv.DB.QueryRow(context.Background(), `SELECT source_key, utm_source FROM sessions WHERE id = $1`, third.session).Scan(&src, &utm); err != nil || utm != "yandex" {
		t.Fatalf("stored source %q %q %v", src, utm, err)
	}
	if n := c.count(`SELECT count(*) FROM hits WHERE visitor_id = $1`, first.visitor); n != 7 {
		t.Fatalf("hits of the visitor: %d, want 7", n)
	}
	// SPA navigation: a new hit in the same session.
	status, a := c.post("/api/track/"+site+"/hit", map[string]any{"visitor_id": sixth.visitor, "session_id": sixth.session, "key": sixth.key, "url": "https://shop.example/#/cart"})
	if status != 200 || a.num("session_id") != sixth.session || a["settings"] != nil {
		t.Fatalf("spa hit: %d %v", status, a)
	}
}

func TestForgedCredentials(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	victim := c.bootstrap(site, nil, "https://shop.example/", "")
	c.post("/api/track/"+site+"/property/set", merge(victim.creds(), map[string]any{"name": "secret", "value": "42"}))

	forged := visit{visitor: victim.visitor, session: victim.session, key: strings.Repeat("A", 32)}
	// A bootstrap with a forged key becomes a new visitor, never the victim.
	got := c.bootstrap(site, &forged, "https://shop.example/", "")
	if got.visitor == victim.visitor || got.session == victim.session {
		t.Fatalf("forged key reached the victim: %+v", got)
	}
	// Every visitor call refuses the forged key.
	for _, path := range []string{"property/get", "property/has", "property/set", "property/delete", "event", "visitor_info"} {
		body := merge(forged.creds(), map[string]any{"name": "secret", "value": "x", "category": "c", "action": "a", "email": "a@b.ru"})
		status, a := c.post("/api/track/"+site+"/"+path, body)
		if status != 401 || a.errField() != "key" || a["result"] != nil {
			t.Errorf("%s with forged key: %d %v", path, status, a)
		}
	}
	// The victim's key of another session does not fit either.
	other := c.bootstrap(site, nil, "https://shop.example/", "")
	mixed := visit{visitor: victim.visitor, session: victim.session, key: other.key}
	if status, _ := c.post("/api/track/"+site+"/property/get", merge(mixed.creds(), map[string]any{"name": "secret"})); status != 401 {
		t.Errorf("key of another visitor accepted: %d", status)
	}
	if n := c.count(`SELECT count(*) FROM visitor_properties WHERE visitor_id = $1 AND value = '42'`, victim.visitor); n != 1 {
		t.Errorf("victim's property changed: %d", n)
	}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestEventsAndProperties(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	p := "/api/track/" + site + "/"

	status, a := c.post(p+"event", merge(v.creds(), map[string]any{"category": "Offer", "action": "DownloadBook", "name": "CallTrackingBook", "value": "value"}))
	if status != 200 || a["success"] != true {
		t.Fatalf("event: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM events WHERE session_id = $1 AND hit_id = $2 AND category = 'Offer' AND action = 'DownloadBook' AND name = 'CallTrackingBook' AND value = 'value'`, v.session, v.hit); n != 1 {
		t.Fatalf("event rows: %d", n)
	}
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"action": "a"}, "category"},
		{map[string]any{"category": "c"}, "action"},
		{map[string]any{"category": strings.Repeat("x", 300), "action": "a"}, "category"},
		{map[string]any{"category": []int{1}, "action": "a"}, "category"},
	} {
		if status, a := c.post(p+"event", merge(v.creds(), bad.body)); status != 400 || a.errField() != bad.field {
			t.Errorf("event %v: %d %v", bad.body, status, a)
		}
	}

	// Properties: with value, bare flag, absent, overwrite, delete.
	set := func(name string, value any) {
		body := merge(v.creds(), map[string]any{"name": name})
		if value != nil {
			body["value"] = value
		}
		if status, a := c.post(p+"property/set", body); status != 200 || a["success"] != true {
			t.Fatalf("set %s: %d %v", name, status, a)
		}
	}
	ask := func(op, name string) any {
		status, a := c.post(p+"property/"+op, merge(v.creds(), map[string]any{"name": name}))
		if status != 200 || a["success"] != true {
			t.Fatalf("%s %s: %d %v", op, name, status, a)
		}
		return a["result"]
	}
	set("Тип посетителя", "Потенциальный")
	set("Действующий клиент", nil)
	if r := ask("get", "Тип посетителя"); r != "Потенциальный" {
		t.Errorf("get value: %v", r)
	}
	if r := ask("has", "Действующий клиент"); r != true {
		t.Errorf("has flag: %v", r)
	}
	if r := ask("get", "Действующий клиент"); r != true {
		t.Errorf("get flag: %v", r)
	}
	if r := ask("has", "нет такого"); r != false {
		t.Errorf("has absent: %v", r)
	}
	if r := ask("get", "нет такого"); r != false {
		t.Errorf("get absent: %v", r)
	}
	set("Тип посетителя", "Действующий")
	if r := ask("get", "Тип посетителя"); r != "Действующий" {
		t.Errorf("overwrite: %v", r)
	}
	set("roistat_id", 123)
	if r := ask("get", "roistat_id"); r != "123" {
		t.Errorf("numeric value: %v", r)
	}
	if status, _ := c.post(p+"property/delete", merge(v.creds(), map[string]any{"name": "Тип посетителя"})); status != 200 {
		t.Fatal("delete")
	}
	if r := ask("has", "Тип посетителя"); r != false {
		t.Errorf("after delete: %v", r)
	}
	if status, a := c.post(p+"property/set", merge(v.creds(), map[string]any{"name": ""})); status != 400 || a.errField() != "name" {
		t.Errorf("empty name: %d %v", status, a)
	}
	if status, _ := c.post(p+"property/frobnicate", merge(v.creds(), map[string]any{"name": "x"})); status != 404 {
		t.Errorf("unknown op: %d", status)
	}
	// Properties belong to the visitor: a new session still sees them.
	later := c.bootstrap(site, &v, "https://shop.example/?utm_source=mail", "")
	status, a = c.post(p+"property/has", merge(later.creds(), map[string]any{"name": "Действующий клиент"}))
	if later.session == v.session || a["result"] != true {
		t.Errorf("property across sessions: %d %v", status, a)
	}
}

func TestVisitorInfoUniqueness(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	p := "/api/track/" + site + "/visitor_info"
	for _, body := range []map[string]any{
		{"name": "Test", "phone": "79000000000", "email": "myemail@axample.com"},
		{"name": "Тест", "phone": "8 (900) 000-00-00", "email": "MyEmail@axample.com"},
		{"phone": "+7 900 000 00 01", "unknown": "ignored"},
	} {
		if status, a := c.post(p, merge(v.creds(), body)); status != 200 || a["success"] != true {
			t.Fatalf("%v: %d %v", body, status, a)
		}
	}
	var name string
	if err := srv.DB.QueryRow(context.Background(), `SELECT name FROM visitors WHERE id = $1`, v.visitor).Scan(&name); err != nil || name != "Тест" {
		t.Errorf("name %q %v", name, err)
	}
	if n := c.count(`SELECT count(*) FROM visitor_contacts WHERE visitor_id = $1 AND kind = 'phone'`, v.visitor); n != 2 {
		t.Errorf("phones: %d, want 2 (79000000000, 79000000001)", n)
	}
	if n := c.count(`SELECT count(*) FROM visitor_contacts WHERE visitor_id = $1 AND kind = 'email' AND value = 'myemail@axample.com'`, v.visitor); n != 1 {
		t.Errorf("emails: %d, want 1", n)
	}
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{}, "name"},
		{map[string]any{"phone": "12"}, "phone"},
		{map[string]any{"email": "nope"}, "email"},
		{map[string]any{"name": strings.Repeat("x", 256)}, "name"},
	} {
		if status, a := c.post(p, merge(v.creds(), bad.body)); status != 400 || a.errField() != bad.field {
			t.Errorf("%v: %d %v", bad.body, status, a)
		}
	}
}

func TestVCSetCompat(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	ci := fmt.Sprintf("%d.%d.%d", v.visitor, v.session, v.start)

	// k form, full answer.
	status, a := c.get("/vc/s/?" + url.Values{"k": {v.key}, "ur": {srv.URL + "/"}, "ci": {ci}, "hi": {fmt.Sprint(v.hit)}, "vp": {"+7 925 123-45-67"}, "vn": {"new_user"}}.Encode())
	if status != 200 || a["success"] != true || a.num("visitor_id") != v.visitor || a.str("site_key") != site {
		t.Fatalf("k form: %d %v", status, a)
	}
	// sk form with s=1: only success; legacy prefix and no trailing slash work too.
	status, a = c.get("/comagic/vc/s?" + url.Values{"sk": {site}, "ci": {ci}, "ve": {"user@example.com"}, "s": {"1"}}.Encode())
	if status != 200 || len(a) != 1 || a["success"] != true {
		t.Fatalf("sk form: %d %v", status, a)
	}
	var name string
	if err := srv.DB.QueryRow(context.Background(), `SELECT name FROM visitors WHERE id = $1`, v.visitor).Scan(&name); err != nil || name != "new_user" {
		t.Errorf("name %q %v", name, err)
	}
	if n := c.count(`SELECT count(*) FROM visitor_contacts WHERE visitor_id = $1 AND value IN ('79251234567', 'user@example.com')`, v.visitor); n != 2 {
		t.Errorf("contacts: %d", n)
	}
	// Refusals: wrong key, wrong session start with sk, another site's key, garbage.
	other := srv.CreateSite(t, "other.example")
	for _, tc := range []struct {
		q      url.Values
		status int
		field  string
	}{
		{url.Values{"k": {strings.Repeat("B", 32)}, "ci": {ci}, "vn": {"x"}}, 401, "ci"},
		{url.Values{"sk": {site}, "ci": {fmt.Sprintf("%d.%d.%d", v.visitor, v.session, v.start+1)}, "vn": {"x"}}, 401, "ci"},
		{url.Values{"sk": {other}, "ci": {ci}, "vn": {"x"}}, 401, "ci"},
		{url.Values{"sk": {site}, "ci": {"1.2"}, "vn": {"x"}}, 400, "ci"},
		{url.Values{"ci": {ci}, "vn": {"x"}}, 400, "k"},
		{url.Values{"sk": {"nope"}, "ci": {ci}, "vn": {"x"}}, 400, "sk"},
		{url.Values{"sk": {site}, "ci": {ci}}, 400, "name"},
		{url.Values{"sk": {site}, "ci": {ci}, "vp": {"abc"}}, 400, "phone"},
	} {
		if status, a := c.get("/vc/s/?" + tc.q.Encode()); status != tc.status || a.errField() != tc.field {
			t.Errorf("%v: %d %v, want %d %s", tc.q, status, a, tc.status, tc.field)
		}
	}
	if name := ""; srv.DB.QueryRow(context.Background(), `SELECT name FROM visitors WHERE id = $1`, v.visitor).Scan(&name) != nil || name != "new_user" {
		t.Errorf("a refused call changed the name to %q", name)
	}
}

func TestTenantIsolation(t *testing.T) {
	c, srv := newServer(t)
	siteA := srv.CreateSite(t, "a.example")
	siteB := srv.CreateSite(t, "b.example")
	va := c.bootstrap(siteA, nil, "https://a.example/", "")
	c.post("/api/track/"+siteA+"/property/set", merge(va.creds(), map[string]any{"name": "p", "value": "a"}))

	// Site A's genuine credentials used on site B's endpoints get nowhere.
	for _, path := range []string{"property/get", "property/set", "event", "visitor_info", "offline_request"} {
		body := merge(va.creds(), map[string]any{"name": "p", "value": "b", "category": "c", "action": "a", "phone": "79001234567"})
		status, a := c.post("/api/track/"+siteB+"/"+path, body)
		if status != 401 {
			t.Errorf("site A credentials on site B %s: %d %v", path, status, a)
		}
	}
	// A bootstrap on site B with site A's ids starts a visitor of site B.
	vb := c.bootstrap(siteB, &va, "https://b.example/", "")
	if vb.visitor == va.visitor {
		t.Fatal("site B continued site A's visitor")
	}
	// Browser origin of A is refused on B.
	if status, _ := c.post("/api/track/"+siteB+"/bootstrap", map[string]any{"url": "https://a.example/"}, "Origin", "https://a.example"); status != 403 {
		t.Errorf("origin of A on B: %d", status)
	}
	// The backend API with site B's key and A's ids is refused.
	form := url.Values{"key": {va.key}, "visitor_id": {fmt.Sprint(va.visitor)}, "session_id": {fmt.Sprint(va.session)}, "site_key": {siteB}, "name": {"x"}}
	resp, err := http.PostForm(srv.URL+"/api/add_offline_message/", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("mixed site_key: %d", resp.StatusCode)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests`); n != 0 {
		t.Errorf("leads stored: %d", n)
	}
	if n := c.count(`SELECT count(*) FROM visitor_properties WHERE value = 'b'`); n != 0 {
		t.Errorf("properties written across sites: %d", n)
	}
}

// leadPost posts fields to the backend API in one of its encodings.
func leadPost(t *testing.T, srv *testenv.Server, path, encoding string, fields url.Values) (int, answer) {
	t.Helper()
	var body io.Reader
	var ctype string
	switch encoding {
	case "form":
		body, ctype = strings.NewReader(fields.Encode()), "application/x-www-form-urlencoded; charset=UTF-8"
	case "multipart":
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, vs := range fields {
			for _, v := range vs {
				_ = mw.WriteField(k, v)
			}
		}
		mw.Close()
		body, ctype = &buf, mw.FormDataContentType()
	case "json":
		m := map[string]any{}
		for k, vs := range fields {
			m[k] = vs[0]
		}
		b, _ := json.Marshal(m)
		body, ctype = bytes.NewReader(b), "application/json"
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, body)
	req.Header.Set("Content-Type", ctype)
	c := &client{t: t, srv: srv}
	return c.do(req)
}

func TestAddOfflineMessage(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	creds := url.Values{"key": {v.key}, "uri": {srv.URL + "/"}, "visitor_id": {fmt.Sprint(v.visitor)}, "hit_id": {fmt.Sprint(v.hit)},
		"session_id": {fmt.Sprint(v.session)}, "consultant_server_url": {srv.URL + "/"}}
	with := func(extra url.Values) url.Values {
		out := url.Values{}
		for k, vs := range creds {
			out[k] = vs
		}
		for k, vs := range extra {
			out[k] = vs
		}
		return out
	}
	paths := []string{"/api/add_offline_message/", "/api/add_offline_message", "/comagic/api/add_offline_message/"}
	for i, enc := range []string{"form", "multipart", "json"} {
		name := "John Smith " + enc
		status, a := leadPost(t, srv, paths[i], enc, with(url.Values{"name": {name}, "email": {"no@email.adr"}, "phone": {"8 925 123-45-67"},
			"text": {"Hello, world!"}, "is_sale": {"true"}, "sale_cost": {"10000"}, "city": {"Тула"}}))
		if status != 200 || a["success"] != true {
			t.Fatalf("%s via %s: %d %v", enc, paths[i], status, a)
		}
		// Durability: the row is there the moment success was answered.
		var phone, city string
		var cost float64
		var hit, visitor int64
		err := srv.DB.QueryRow(context.Background(), `SELECT phone, sale_cost, extra->>'city', hit_id, visitor_id FROM offline_requests
			WHERE name = $1 AND source = 'api' AND is_sale AND message = 'Hello, world!'`, name).Scan(&phone, &cost, &city, &hit, &visitor)
		if err != nil || phone != "79251234567" || cost != 10000 || city != "Тула" || hit != v.hit || visitor != v.visitor {
			t.Fatalf("%s stored: %q %v %q %d %d %v", enc, phone, cost, city, hit, visitor, err)
		}
	}
	// Lenient booleans; sale_cost without is_sale does not count.
	for _, b := range []string{"1", "on", ""} {
		if status, a := leadPost(t, srv, paths[0], "form", with(url.Values{"name": {"bool-" + b}, "is_sale": {b}, "sale_cost": {"5"}})); status != 200 {
			t.Fatalf("is_sale=%q: %d %v", b, status, a)
		}
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name LIKE 'bool-%' AND (is_sale = (name <> 'bool-')) AND (sale_cost IS NULL) = (name = 'bool-')`); n != 3 {
		t.Errorf("boolean leads: %d", n)
	}
	// Unattributed lead with only the site key.
	if status, a := leadPost(t, srv, paths[0], "form", url.Values{"site_key": {site}, "name": {"no tracking"}, "phone": {"+7 912 000-00-00"}}); status != 200 || a["success"] != true {
		t.Fatalf("unattributed: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name = 'no tracking' AND visitor_id IS NULL AND session_id IS NULL`); n != 1 {
		t.Errorf("unattributed stored: %d", n)
	}

	before := c.count(`SELECT count(*) FROM offline_requests`)
	for _, tc := range []struct {
		enc    string
		fields url.Values
		status int
		field  string
	}{
		{"form", url.Values{"name": {"x"}}, 400, "site_key"},
		{"form", with(url.Values{}), 400, "name"},
		{"form", with(url.Values{"name": {"x"}, "email": {"not an email"}}), 400, "email"},
		{"multipart", with(url.Values{"name": {"x"}, "phone": {"12345"}}), 400, "phone"},
		{"json", with(url.Values{"name": {"x"}, "is_sale": {"perhaps"}}), 400, "is_sale"},
		{"form", with(url.Values{"name": {"x"}, "is_sale": {"1"}, "sale_cost": {"lots"}}), 400, "sale_cost"},
		{"form", with(url.Values{"name": {"x"}, "group_id": {"g1"}}), 400, "group_id"},
		{"form", with(url.Values{"name": {"x"}, "visitor_id": {"12x"}}), 400, "visitor_id"},
		{"form", with(url.Values{"name": {"x"}, "key": {strings.Repeat("Z", 32)}}), 401, "key"},
		{"form", with(url.Values{"name": {"x"}, "session_id": {"999999999"}}), 401, "key"},
		{"form", url.Values{"site_key": {strings.Repeat("Q", 32)}, "name": {"x"}}, 400, "site_key"},
		{"form", with(url.Values{"name": {strings.Repeat("n", 300)}}), 400, "name"},
		{"form", with(url.Values{"name": {"bad \xff utf8"}}), 400, "name"},
	} {
		status, a := leadPost(t, srv, paths[0], tc.enc, tc.fields)
		if status != tc.status || a["success"] != false || a.errField() != tc.field {
			t.Errorf("%v: %d %v, want %d %s", tc.fields, status, a, tc.status, tc.field)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+paths[0], strings.NewReader("{not json"))
	req.Header.Set("Content-Type", "application/json")
	if status, a := c.do(req); status != 400 || a.errField() != "body" {
		t.Errorf("broken json: %d %v", status, a)
	}
	if after := c.count(`SELECT count(*) FROM offline_requests`); after != before {
		t.Errorf("bad requests stored %d rows", after-before)
	}
}

func TestBrowserOfflineRequest(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	status, a := c.post("/api/track/"+site+"/offline_request", merge(v.creds(), map[string]any{
		"name": "Дмитрий", "email": "dmitry@comagic.ru", "phone": "79123456789", "message": "Онлайн заказ...",
		"is_sale": true, "sale_cost": "9999", "form_name": "Название заявки", "note": "extra", "group_id": 1234,
	}), "Origin", "https://shop.example")
	if status != 200 || a["success"] != true || a["result"] != nil {
		t.Fatalf("%d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE source = 'browser' AND session_id = $1 AND sale_cost = 9999
		AND form_name = 'Название заявки' AND extra->>'note' = 'extra' AND group_id = 1234`, v.session); n != 1 {
		t.Fatalf("stored: %d", n)
	}
	// Without credentials the lead still belongs to the site of the path.
	if status, a := c.post("/api/track/"+site+"/offline_request", map[string]any{"name": "My Name Is"}); status != 200 {
		t.Fatalf("no creds: %d %v", status, a)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	c, srv := newServer(t)
	if status, a := c.get("/healthz"); status != 200 || a["status"] != "ok" {
		t.Fatalf("healthz %d %v", status, a)
	}
	if status, a := c.get("/readyz"); status != 200 || a["status"] != "ready" {
		t.Fatalf("readyz %d %v", status, a)
	}
	site := srv.CreateSite(t, "shop.example")
	c.bootstrap(site, nil, "https://shop.example/", "")
	// Metrics are served by their own handler (the metrics listener).
	rec := httptest.NewRecorder()
	srv.App.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b := rec.Body.Bytes()
	for _, want := range []string{
		`comagicd_hits_total 1`,
		`comagicd_http_requests_total{code="200",method="POST",route="/api/track/{site_key}/bootstrap"} 1`,
		`comagicd_db_pool_max_conns`,
		`comagicd_group_commit_batch_size_count{path="hits"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestConcurrentPageViewsAreDurable fires page views from many visitors at once
// (two tabs of each sharing a session) and checks every acknowledged hit is stored.
func TestConcurrentPageViewsAreDurable(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	const visitors, views = 40, 5
	var wg sync.WaitGroup
	errs := make(chan error, visitors)
	for i := 0; i < visitors; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := c.bootstrap(site, nil, "https://shop.example/", "")
			var tabs sync.WaitGroup
			for tab := 0; tab < 2; tab++ {
				tabs.Add(1)
				go func() {
					defer tabs.Done()
					for j := 0; j < views; j++ {
						next := c.bootstrap(site, &first, fmt.Sprintf("https://shop.example/p%d", j), "https://shop.example/")
						if next.session != first.session || next.visitor != first.visitor {
							errs <- fmt.Errorf("tab navigation left the session: %+v vs %+v", next, first)
							return
						}
					}
				}()
			}
			tabs.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := c.count(`SELECT count(*) FROM hits`); n != visitors*(1+2*views) {
		t.Fatalf("hits %d, want %d", n, visitors*(1+2*views))
	}
	if n := c.count(`SELECT count(*) FROM sessions`); n != visitors {
		t.Fatalf("sessions %d, want %d", n, visitors)
	}
	if n := c.count(`SELECT count(DISTINCT id) FROM hits`); n != visitors*(1+2*views) {
		t.Fatalf("hit ids are not unique: %d", n)
	}
}

func TestRateLimit(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{RateLimit: 3})
	c := &client{t: t, srv: srv}
	site := srv.CreateSite(t, "shop.example")
	for i := 0; i < 3; i++ {
		if status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"}); status != 200 {
			t.Fatalf("request %d: %d %v", i, status, a)
		}
	}
	status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"})
	if e, _ := a["error"].(map[string]any); status != 429 || e["code"] != "rate_limited" {
		t.Fatalf("over the limit: %d %v", status, a)
	}
	// A page can read the 429: the site's CORS headers are on it.
	if status, h := c.postHeaders("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"}, "Origin", "https://shop.example"); status != 429 || h.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("429 without CORS: %d %v", status, h)
	}
	if n := c.count(`SELECT count(*) FROM hits`); n != 3 {
		t.Fatalf("hits %d", n)
	}
	// Health endpoints are not limited.
	if status, _ := c.get("/healthz"); status != 200 {
		t.Fatalf("healthz limited: %d", status)
	}
}

// TestOddTextRoundTrips stores text with the characters array literals and SQL
// treat specially, and reads it back unchanged.
func TestOddTextRoundTrips(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	odd := `a "quoted" {brace}, back\slash\\ 'single' NULL null ; -- ünïcødé 🌷 tab	end`
	status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/?utm_source=" + url.QueryEscape(odd), "title": odd, "referrer": ""})
	if status != 200 {
		t.Fatalf("%d %v", status, a)
	}
	var title, utm string
	if err := srv.DB.QueryRow(context.Background(), `SELECT h.title, s.utm_source FROM hits h JOIN sessions s ON s.id = h.session_id WHERE h.id = $1`, a.num("hit_id")).Scan(&title, &utm); err != nil {
		t.Fatal(err)
	}
	if title != odd || utm != odd {
		t.Fatalf("stored %q / %q, want %q", title, utm, odd)
	}
	v := visit{visitor: a.num("visitor_id"), session: a.num("session_id"), key: a.str("key"), hit: a.num("hit_id")}
	if status, a := c.post("/api/track/"+site+"/event", merge(v.creds(), map[string]any{"category": odd, "action": odd, "name": "", "value": odd})); status != 200 {
		t.Fatalf("event: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM events WHERE category = $1 AND action = $1 AND value = $1 AND name = '' AND hit_id = $2`, odd, v.hit); n != 1 {
		t.Fatalf("event rows: %d", n)
	}
}

func TestClientIPAndAnonymisation(t *testing.T) {
	ip := func(srv *testenv.Server, hit int64) string {
		var s string
		if err := srv.DB.QueryRow(context.Background(), `SELECT host(ip) FROM hits WHERE id = $1`, hit).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Behind a trusted proxy the right-most untrusted X-Forwarded-For hop counts.
	srv := testenv.StartServer(t, testenv.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}})
	c := &client{t: t, srv: srv}
	site := srv.CreateSite(t, "shop.example")
	_, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"}, "X-Forwarded-For", "198.51.100.9, 203.0.113.7, 10.1.2.3")
	if got := ip(srv, a.num("hit_id")); got != "203.0.113.7" {
		t.Errorf("trusted proxy: ip %s", got)
	}
	if _, err := srv.App.Sites.UpdateSite(context.Background(), site, postgres.SiteOptions{AnonymizeIP: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	_, a = c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"}, "X-Forwarded-For", "203.0.113.7")
	if got := ip(srv, a.num("hit_id")); got != "203.0.113.0" {
		t.Errorf("anonymised: ip %s", got)
	}
	// Without trusted proxies the header is ignored.
	plain := testenv.StartServer(t, testenv.Options{})
	pc := &client{t: t, srv: plain}
	site2 := plain.CreateSite(t, "shop.example")
	_, a = pc.post("/api/track/"+site2+"/bootstrap", map[string]any{"url": "https://shop.example/"}, "X-Forwarded-For", "203.0.113.7")
	if got := ip(plain, a.num("hit_id")); got != "127.0.0.1" {
		t.Errorf("untrusted header believed: ip %s", got)
	}
}

func ptr[T any](v T) *T { return &v }
