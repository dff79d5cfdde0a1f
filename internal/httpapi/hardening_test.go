package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/comagicd/comagicd/internal/testenv"
)

// rawPost sends body with the content type and headers and returns the status,
// the answer's headers and its body.
func rawPost(t *testing.T, srv *testenv.Server, method, path, ctype, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const formType = "application/x-www-form-urlencoded; charset=UTF-8"

// Issue 12 item 0: the WordPress plugin posts the ids without key; the lead is
// kept, unattributed, with the claimed ids. A wrong key is still refused.
func TestLeadWithoutKeyIsKept(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	form := url.Values{"site_key": {site}, "visitor_id": {fmt.Sprint(v.visitor)}, "session_id": {fmt.Sprint(v.session)},
		"hit_id": {fmt.Sprint(v.hit)}, "name": {"wp plugin"}, "phone": {"+7 912 000-00-01"}, "email": {"wp@example.com"}, "text": {"call me"}}
	status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, form.Encode())
	if status != 200 {
		t.Fatalf("no key: %d %s", status, body)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name = 'wp plugin' AND visitor_id IS NULL AND session_id IS NULL AND hit_id IS NULL
		AND claimed_visitor_id = $1 AND claimed_session_id = $2 AND claimed_hit_id = $3`, v.visitor, v.session, v.hit); n != 1 {
		t.Fatalf("stored unattributed with claimed ids: %d", n)
	}
	// Partial ids (a visitor id alone) are kept the same way.
	form = url.Values{"site_key": {site}, "visitor_id": {fmt.Sprint(v.visitor)}, "name": {"partial ids"}}
	if status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, form.Encode()); status != 200 {
		t.Fatalf("partial ids: %d %s", status, body)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name = 'partial ids' AND visitor_id IS NULL AND claimed_visitor_id = $1`, v.visitor); n != 1 {
		t.Fatalf("partial ids stored: %d", n)
	}
	// A wrong key stays refused, and so does an unknown session with a key.
	for _, f := range []url.Values{
		{"site_key": {site}, "key": {strings.Repeat("Z", 32)}, "visitor_id": {fmt.Sprint(v.visitor)}, "session_id": {fmt.Sprint(v.session)}, "name": {"bad key"}},
		{"site_key": {site}, "key": {v.key}, "visitor_id": {fmt.Sprint(v.visitor)}, "session_id": {"999999999"}, "name": {"bad key"}},
	} {
		if status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, f.Encode()); status != 401 {
			t.Errorf("wrong key: %d %s", status, body)
		}
	}
	// Without key and without site_key there is no site to keep the lead for.
	f := url.Values{"visitor_id": {fmt.Sprint(v.visitor)}, "session_id": {fmt.Sprint(v.session)}, "name": {"no site"}}
	if status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, f.Encode()); status != 400 || !strings.Contains(body, `"field":"site_key"`) {
		t.Errorf("no site: %d %s", status, body)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name IN ('bad key', 'no site')`); n != 0 {
		t.Errorf("refused leads stored: %d", n)
	}
	// The browser endpoint keeps a lead with ids but no key in the same way.
	status, a := c.post("/api/track/"+site+"/offline_request", map[string]any{"visitor_id": v.visitor, "session_id": v.session, "name": "browser no key"})
	if status != 200 {
		t.Fatalf("browser without key: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name = 'browser no key' AND visitor_id IS NULL AND claimed_session_id = $1`, v.session); n != 1 {
		t.Fatalf("browser lead stored: %d", n)
	}
}

// Issue 12 items 1 and 2: numbers Postgres cannot store, money that rounds over
// its column and trailing garbage are refused with 400 before any write; bad
// requests in flight do not disturb good ones.
func TestLeadBadNumbersAndGarbage(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	paths := []string{"/api/add_offline_message/", "/api/add_offline_message", "/comagic/api/add_offline_message/", "/api/track/" + site + "/offline_request"}
	for _, p := range paths {
		for _, tc := range []struct{ body, field string }{
			{`{"site_key":"` + site + `","name":"x","f":1e999999}`, "f"},
			{`{"site_key":"` + site + `","name":"x","f":-1e-999999}`, "f"},
			{`{"site_key":"` + site + `","name":"x","f":{"g":[1E400]}}`, "f"},
			{`{"site_key":"` + site + `","name":"x","is_sale":true,"sale_cost":"999999999999.999"}`, "sale_cost"},
			{`{"site_key":"` + site + `","name":"x","is_sale":true,"sale_cost":1e20}`, "sale_cost"},
			{`{"site_key":"` + site + `","name":"x"} GARBAGE`, "body"},
			{`{"site_key":"` + site + `","name":"x"}{"name":"y"}`, "body"},
		} {
			status, _, body := rawPost(t, srv, "POST", p, "application/json", tc.body)
			if status != 400 || !strings.Contains(body, `"field":"`+tc.field+`"`) {
				t.Errorf("%s %s: %d %s, want 400 naming %s", p, tc.body, status, body, tc.field)
			}
		}
	}
	if n := c.count(`SELECT count(*) FROM offline_requests`); n != 0 {
		t.Fatalf("refused requests stored %d rows", n)
	}
	// Money is decimal: 1234567.895 rounds half up to .90 (a float64 gives .89).
	status, _, body := rawPost(t, srv, "POST", paths[0], formType, url.Values{"site_key": {site}, "name": {"money"}, "is_sale": {"1"}, "sale_cost": {"1 234 567,895"}}.Encode())
	if status != 200 {
		t.Fatalf("money: %d %s", status, body)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name = 'money' AND sale_cost = 1234567.90`); n != 1 {
		t.Errorf("sale_cost not rounded as a decimal")
	}
	// Good and bad requests at once: every good one is stored, every bad one refused.
	var wg sync.WaitGroup
	errs := make(chan string, 80)
	for i := range 40 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			b := fmt.Sprintf(`{"site_key":%q,"name":"good %d","f":1.5e300}`, site, i)
			if status, _, body := rawPost(t, srv, "POST", paths[0], "application/json", b); status != 200 {
				errs <- fmt.Sprintf("good: %d %s", status, body)
			}
		}()
		go func() {
			defer wg.Done()
			b := fmt.Sprintf(`{"site_key":%q,"name":"bad %d","f":1e999999}`, site, i)
			if status, _, body := rawPost(t, srv, "POST", paths[0], "application/json", b); status != 400 {
				errs <- fmt.Sprintf("bad: %d %s", status, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name LIKE 'good %'`); n != 40 {
		t.Errorf("good leads stored: %d", n)
	}
}

// Issue 12 item 3: an outage answers 503 with Retry-After, and /readyz says so.
func TestDatabaseOutageAnswers503(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	c.bootstrap(site, nil, "https://shop.example/", "")
	admin := testenv.NewDBAt(t, strings.Replace(srv.DatabaseURL, "/"+dbName(srv.DatabaseURL)+"?", "/postgres?", 1))
	ctx := context.Background()
	name := dbName(srv.DatabaseURL)
	if _, err := admin.Exec(ctx, `ALTER DATABASE "`+name+`" ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(ctx, `ALTER DATABASE "`+name+`" ALLOW_CONNECTIONS true`) })
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"site_key": {site}, "name": {"during outage"}}
	for range 3 { // the first may meet a connection killed under it
		status, h, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, form.Encode())
		if status != 503 || h.Get("Retry-After") == "" {
			t.Errorf("lead during outage: %d %q %s", status, h.Get("Retry-After"), body)
		}
		status, h, body = rawPost(t, srv, "POST", "/api/track/"+site+"/bootstrap", "text/plain", `{"url":"https://shop.example/"}`)
		if status != 503 || h.Get("Retry-After") == "" {
			t.Errorf("bootstrap during outage: %d %q %s", status, h.Get("Retry-After"), body)
		}
	}
	if status, h, body := rawPost(t, srv, "GET", "/readyz", "", ""); status != 503 || h.Get("Retry-After") == "" {
		t.Errorf("readyz during outage: %d %s", status, body)
	}
}

func dbName(u string) string {
	p, _ := url.Parse(u)
	return strings.TrimPrefix(p.Path, "/")
}

// Issue 12 items 4 and 5: /vc/s/ refused means nothing written; with sk every
// mismatch looks the same and failed guesses are limited per site key.
func TestVCSetRefusalsWriteNothing(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	other := srv.CreateSite(t, "other.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	w := c.bootstrap(other, nil, "https://other.example/", "")
	ci := fmt.Sprintf("%d.%d.%d", v.visitor, v.session, v.start)
	status, a := c.get("/vc/s/?"+url.Values{"k": {v.key}, "ci": {ci}, "vn": {"evil"}, "vp": {"+7 925 000-00-66"}}.Encode(), "Origin", "https://evil.example")
	if status != 403 {
		t.Fatalf("foreign origin: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM visitors WHERE id = $1 AND name IS NOT NULL`, v.visitor); n != 0 {
		t.Errorf("refused call stored the name")
	}
	if n := c.count(`SELECT count(*) FROM visitor_contacts WHERE visitor_id = $1`, v.visitor); n != 0 {
		t.Errorf("refused call stored contacts")
	}
	// One answer for every mismatch: no session, another site's session, wrong start.
	var msgs []string
	for _, bad := range []string{
		fmt.Sprintf("%d.%d.%d", v.visitor, v.session+999999, v.start),
		fmt.Sprintf("%d.%d.%d", w.visitor, w.session, w.start),
		fmt.Sprintf("%d.%d.%d", v.visitor, v.session, v.start+1),
		fmt.Sprintf("%d.%d.%d", v.visitor+1, v.session, v.start),
	} {
		status, a := c.get("/vc/s/?" + url.Values{"sk": {site}, "ci": {bad}, "vn": {"x"}}.Encode())
		e, _ := a["error"].(map[string]any)
		msgs = append(msgs, fmt.Sprint(status, e))
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] {
			t.Errorf("mismatches answer differently: %q", msgs)
			break
		}
	}
	// Guessing is limited per site key: after the failures even a right ci waits.
	limited := false
	for range 40 {
		bad := fmt.Sprintf("%d.%d.%d", v.visitor, v.session, rand.Int64N(1e9)+2)
		status, _ := c.get("/vc/s/?" + url.Values{"sk": {site}, "ci": {bad}, "vn": {"x"}}.Encode())
		if status == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("failed ci lookups are not limited")
	}
	if status, a := c.get("/vc/s/?" + url.Values{"sk": {site}, "ci": {ci}, "vn": {"guessed"}}.Encode()); status != 429 {
		t.Errorf("right ci after the limit: %d %v", status, a)
	}
	// Another site is not affected, nor the key form.
	wci := fmt.Sprintf("%d.%d.%d", w.visitor, w.session, w.start)
	if status, a := c.get("/vc/s/?" + url.Values{"sk": {other}, "ci": {wci}, "vn": {"fine"}}.Encode()); status != 200 {
		t.Errorf("other site: %d %v", status, a)
	}
	if status, a := c.get("/vc/s/?" + url.Values{"k": {v.key}, "ci": {ci}, "vn": {"with key"}}.Encode()); status != 200 {
		t.Errorf("key form: %d %v", status, a)
	}
}

// Issue 12 item 6: the limit comes before the site lookup and the Origin check;
// /readyz is limited too.
func TestRateLimitFirst(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{RateLimit: 3})
	site := srv.CreateSite(t, "shop.example")
	for _, tc := range []struct {
		name    string
		path    func(i int) string
		headers []string
	}{
		{"random site keys", func(i int) string { return fmt.Sprintf("/api/track/%032d/bootstrap", i) }, nil},
		{"foreign origin", func(int) string { return "/api/track/" + site + "/bootstrap" }, []string{"Origin", "https://evil.example"}},
		{"readyz", func(int) string { return "/readyz" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.StartServer(t, testenv.Options{RateLimit: 3})
			limited := false
			for i := range 5 {
				method := "POST"
				if tc.name == "readyz" {
					method = "GET"
				}
				status, _, _ := rawPost(t, srv, method, tc.path(i), "text/plain", `{"url":"https://shop.example/"}`, tc.headers...)
				if status == 429 {
					limited = i >= 3
					break
				}
			}
			if !limited {
				t.Errorf("%s never limited after 3 requests", tc.name)
			}
		})
	}
}

// Issue 12 item 7: bounded labels; metrics are not on the public listener.
func TestMetricsBounded(t *testing.T) {
	c, srv := newServer(t)
	for i := range 30 {
		rawPost(t, srv, fmt.Sprintf("M%dX", i), "/healthz", "", "")
	}
	status, _, _ := rawPost(t, srv, "GET", "/metrics", "", "")
	if status == 200 {
		t.Errorf("/metrics is served on the public listener")
	}
	families, err := srv.App.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					methods[l.GetValue()] = true
				}
			}
		}
	}
	if len(methods) > 3 || !methods["other"] {
		t.Errorf("method labels: %v", methods)
	}
	_ = c
}

// Issue 12 item 8: headers and malformed origins.
func TestHeadersAndOrigins(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	status, h, _ := rawPost(t, srv, "POST", "/api/track/"+site+"/bootstrap", "text/plain", `{"url":"https://shop.example/"}`)
	if status != 200 || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("bootstrap: %d nosniff %q", status, h.Get("X-Content-Type-Options"))
	}
	// A page can read the 400 of an offline path.
	status, h, _ = rawPost(t, srv, "POST", "/api/add_offline_message/", formType, url.Values{"site_key": {site}, "email": {"bad"}}.Encode(), "Origin", "https://shop.example")
	if status != 400 || h.Get("Access-Control-Allow-Origin") != "https://shop.example" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("offline 400: %d %v", status, h)
	}
	// The preflight does not echo an origin no site allows.
	status, h, _ = rawPost(t, srv, "OPTIONS", "/api/add_offline_message/", "", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight echoes a foreign origin: %d %v", status, h)
	}
	status, h, _ = rawPost(t, srv, "OPTIONS", "/api/add_offline_message/", "", "", "Origin", "https://www.shop.example", "Access-Control-Request-Method", "POST")
	if status != 204 || h.Get("Access-Control-Allow-Origin") != "https://www.shop.example" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Idempotency-Key") {
		t.Errorf("preflight of a site's origin: %d %v", status, h)
	}
	// Origins with a path, query, fragment or user are malformed.
	for _, o := range []string{"https://evil.com#.shop.example", "https://evil.com/.shop.example", "https://evil.com?.shop.example", "https://x@shop.example", "null"} {
		if status, _, body := rawPost(t, srv, "POST", "/api/track/"+site+"/bootstrap", "text/plain", `{"url":"https://shop.example/"}`, "Origin", o); status != 403 {
			t.Errorf("origin %q: %d %s", o, status, body)
		}
	}
	for _, p := range []string{"/api/track/" + site + "/bootstrap", "/healthz", "/"} {
		if status, _, _ := rawPost(t, srv, "TRACE", p, "", ""); status != 405 {
			t.Errorf("TRACE %s: %d", p, status)
		}
	}
	for _, p := range []string{"/static/nope.js", "/static", "/comagic/static/nope.css", "/demo/nope"} {
		status, h, body := rawPost(t, srv, "GET", p, "", "")
		if status != 404 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || !strings.Contains(body, `"code":"not_found"`) {
			t.Errorf("GET %s: %d %q %s", p, status, h.Get("Content-Type"), body)
		}
	}
	_ = c
}

// Issue 12 item 9: a retried write with the same idempotency key gives the same
// answer and one row.
func TestIdempotencyKey(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	other := srv.CreateSite(t, "other.example")
	form := url.Values{"site_key": {site}, "name": {"retried"}, "phone": {"+7 912 000-00-02"}}
	var answers []string
	for range 3 {
		status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, form.Encode(), "Idempotency-Key", "order-1")
		answers = append(answers, fmt.Sprint(status, body))
	}
	if answers[0] != "200{\"success\":true}\n" || answers[1] != answers[0] || answers[2] != answers[0] {
		t.Errorf("answers: %q", answers)
	}
	// The form field works for PHP; concurrent retries still make one row.
	form2 := url.Values{"site_key": {site}, "name": {"php retried"}, "idempotency_key": {"order-2"}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, form2.Encode()); status != 200 {
				t.Errorf("php retry: %d %s", status, body)
			}
		}()
	}
	wg.Wait()
	// The browser endpoint too.
	for range 2 {
		if status, a := c.post("/api/track/"+site+"/offline_request", map[string]any{"name": "browser retried"}, "Idempotency-Key", "b-1"); status != 200 {
			t.Errorf("browser: %d %v", status, a)
		}
	}
	for name, want := range map[string]int{"retried": 1, "php retried": 1, "browser retried": 1} {
		if n := c.count(`SELECT count(*) FROM offline_requests WHERE name = $1`, name); n != want {
			t.Errorf("%s: %d rows, want %d", name, n, want)
		}
	}
	// The same key with another request is a conflict; on another site it is another key.
	form["name"] = []string{"changed"}
	if status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, form.Encode(), "Idempotency-Key", "order-1"); status != 409 || !strings.Contains(body, "idempotency_key") {
		t.Errorf("reused key: %d %s", status, body)
	}
	if status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, url.Values{"site_key": {other}, "name": {"retried"}}.Encode(), "Idempotency-Key", "order-1"); status != 200 {
		t.Errorf("other site: %d %s", status, body)
	}
	if status, _, body := rawPost(t, srv, "POST", "/api/add_offline_message/", formType, form.Encode(), "Idempotency-Key", strings.Repeat("k", 300)); status != 400 || !strings.Contains(body, "idempotency_key") {
		t.Errorf("long key: %d %s", status, body)
	}
	if n := c.count(`SELECT count(*) FROM idempotency_keys WHERE expires_at > now()`); n != 4 {
		t.Errorf("keys stored: %d", n)
	}
}
