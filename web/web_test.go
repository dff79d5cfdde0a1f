package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
)

// coreBudget is the gzip size budget of cs.min.js (DESIGN.md §6).
const coreBudget = 15 * 1024

// consultantBudget is the gzip size budget of what a page fetches lazily for
// the default consultant: framework, controller, CSS and templates.
const consultantBudget = 40 * 1024

// sitephoneBudget is the gzip size budget of what a page fetches lazily for
// the default sitephone: framework, controller, CSS and templates.
const sitephoneBudget = 36 * 1024

// leadBudget is the gzip size budget of what a page fetches lazily for the
// default lead forms: framework, lead.js, lead.css and the three templates.
const leadBudget = 34 * 1024

var shared struct {
	once sync.Once
	a    *Assets
	err  error
}

// newAssets builds the assets once per test binary (esbuild and brotli are slow under -race).
func newAssets(t *testing.T) *Assets {
	t.Helper()
	shared.once.Do(func() { shared.a, shared.err = New() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.a
}

func get(t *testing.T, a *Assets, path string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	return w.Result()
}

func TestCoreSizeBudget(t *testing.T) {
	a := newAssets(t)
	t.Logf("cs.min.js: %d bytes, %d bytes gzip", len(a.files["/static/cs.min.js"].raw), a.CoreSize())
	if a.CoreSize() <= 0 || a.CoreSize() > coreBudget {
		t.Fatalf("cs.min.js is %d bytes gzip, budget is %d", a.CoreSize(), coreBudget)
	}
	if min, full := len(a.files["/static/cs.min.js"].raw), len(a.files["/static/cs.js"].raw); min >= full {
		t.Fatalf("minified %d bytes is not smaller than readable %d bytes", min, full)
	}
}

func TestConsultantSizeBudget(t *testing.T) {
	a := newAssets(t)
	n := a.WidgetSize("consultant")
	t.Logf("consultant widget (ui.js, ui.css, consultant.js, .css, .tpls.json): %d bytes gzip", n)
	if n <= 0 || n > consultantBudget {
		t.Fatalf("the consultant widget is %d bytes gzip, budget is %d", n, consultantBudget)
	}
	if a.WidgetSize("call_generator_none") != 0 {
		t.Error("WidgetSize of a view controller without a default widget must be 0")
	}
}

func TestSitephoneSizeBudget(t *testing.T) {
	a := newAssets(t)
	n := a.WidgetSize("sitephone")
	t.Logf("sitephone widget (ui.js, ui.css, sitephone.js, .css, .tpls.json): %d bytes gzip", n)
	if n <= 0 || n > sitephoneBudget {
		t.Fatalf("the sitephone widget is %d bytes gzip, budget is %d", n, sitephoneBudget)
	}
	res := get(t, a, "/static/widgets/sitephone.tpls.json")
	var tpls map[string]string
	if err := json.NewDecoder(res.Body).Decode(&tpls); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sitephone", "sitephone_label"} {
		if !strings.Contains(tpls[name], "cmgs") {
			t.Errorf("template %s missing or empty: %q", name, tpls[name])
		}
	}
	for _, p := range []string{"/static/widgets/sitephone.js", "/static/widgets/sitephone.css"} {
		if res := get(t, a, p); res.StatusCode != http.StatusOK {
			t.Errorf("%s: HTTP %d", p, res.StatusCode)
		}
	}
}

func TestServeWidgets(t *testing.T) {
	a := newAssets(t)
	want := map[string]string{
		"/static/widgets/ui.js":                "application/javascript; charset=utf-8",
		"/static/widgets/ui.css":               "text/css; charset=utf-8",
		"/static/widgets/consultant.js":        "application/javascript; charset=utf-8",
		"/static/widgets/consultant.css":       "text/css; charset=utf-8",
		"/static/widgets/consultant.tpls.json": "application/json; charset=utf-8",
		"/static/widgets/operator.svg":         "image/svg+xml",
	}
	for p, ct := range want {
		res := get(t, a, p)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ct || len(body) == 0 {
			t.Errorf("%s: status %d, type %q, %d bytes", p, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
		if res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS header (templates are fetched cross-origin)", p)
		}
	}
	var tpls map[string]string
	res := get(t, a, "/static/widgets/consultant.tpls.json")
	if err := json.NewDecoder(res.Body).Decode(&tpls); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"consultant_label", "consultant_rack", "consultant_offline_message", "consultant_chat", "consultant_chat_message", "consultant_chat_bot"} {
		if !strings.Contains(tpls[name], "<div") {
			t.Errorf("template %s missing or empty: %q", name, tpls[name])
		}
	}
	if ui := a.files["/static/widgets/ui.js"].raw; !bytes.Contains(ui, []byte("/ws/chat/")) || !bytes.Contains(ui, []byte("/poll")) {
		t.Error("ui.js has no chat client (websocket and long polling)")
	}
	core := a.files["/static/cs.min.js"].raw
	for _, s := range []string{"createObserver=", "c-validator", "consultant_offline_message", "/ws/chat/"} {
		if bytes.Contains(core, []byte(s)) {
			t.Errorf("the core contains %q: the framework must load lazily", s)
		}
	}
}

func TestServeScript(t *testing.T) {
	a := newAssets(t)
	for _, p := range []string{"/static/cs.min.js", "/static/cs.js"} {
		res := get(t, a, p)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", p, res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != "application/javascript; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p, got)
		}
		if got := res.Header.Get("Cache-Control"); got != "public, max-age=300" {
			t.Errorf("%s: Cache-Control %q", p, got)
		}
		if res.Header.Get("ETag") == "" || res.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: ETag %q, Content-Encoding %q", p, res.Header.Get("ETag"), res.Header.Get("Content-Encoding"))
		}
		if !bytes.Contains(body, []byte("setCsAccount")) || !bytes.Contains(body, []byte("/api/track/")) {
			t.Errorf("%s: body does not look like the embed script", p)
		}
	}
}

func TestCompression(t *testing.T) {
	a := newAssets(t)
	raw := a.files["/static/cs.min.js"].raw

	res := get(t, a, "/static/cs.min.js", "Accept-Encoding", "gzip, deflate")
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: Content-Encoding %q, Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, raw) {
		t.Fatal("gzip body does not decompress to the script")
	}

	res = get(t, a, "/static/cs.min.js", "Accept-Encoding", "gzip, deflate, br")
	if res.Header.Get("Content-Encoding") != "br" {
		t.Fatalf("br: Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	if got, _ := io.ReadAll(brotli.NewReader(res.Body)); !bytes.Equal(got, raw) {
		t.Fatal("brotli body does not decompress to the script")
	}

	res = get(t, a, "/static/cs.min.js", "Accept-Encoding", "br;q=0, gzip;q=0")
	if res.Header.Get("Content-Encoding") != "" {
		t.Fatalf("q=0: Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
}

func TestConditionalGet(t *testing.T) {
	a := newAssets(t)
	first := get(t, a, "/static/cs.min.js", "Accept-Encoding", "gzip")
	tag := first.Header.Get("ETag")
	for _, inm := range []string{tag, "W/" + tag, `"nope", ` + tag, "*"} {
		res := get(t, a, "/static/cs.min.js", "If-None-Match", inm)
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: status %d, want 304", inm, res.StatusCode)
		}
		if body, _ := io.ReadAll(res.Body); len(body) != 0 {
			t.Errorf("If-None-Match %s: 304 with a body", inm)
		}
	}
	if res := get(t, a, "/static/cs.min.js", "If-None-Match", `"other"`); res.StatusCode != 200 {
		t.Errorf("stale ETag: status %d, want 200", res.StatusCode)
	}
	if a.files["/static/cs.js"].etag == a.files["/static/cs.min.js"].etag {
		t.Error("cs.js and cs.min.js share an ETag")
	}
}

func TestDemoAndRouting(t *testing.T) {
	a := newAssets(t)
	res := get(t, a, "/demo/")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("demo.js")) {
		t.Fatalf("/demo/: status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res := get(t, a, "/demo/demo.js"); res.StatusCode != 200 {
		t.Fatalf("/demo/demo.js: status %d", res.StatusCode)
	}
	res = get(t, a, "/demo?k=abc")
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/demo/?k=abc" {
		t.Fatalf("/demo: status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []string{"/static/nope.js", "/static/", "/demo/../web.go", "/"} {
		if res := get(t, a, p); res.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", p, res.StatusCode)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/static/cs.min.js", nil)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", w.Code)
	}
	r = httptest.NewRequest(http.MethodHead, "/static/cs.min.js", nil)
	w = httptest.NewRecorder()
	a.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: status %d, body %d bytes", w.Code, w.Body.Len())
	}
}

func TestBuildErrorNamesFile(t *testing.T) {
	fsys := fstest.MapFS{
		"src/main.js":     {Data: []byte("import { x } from './broken.js';\nx();\n")},
		"src/broken.js":   {Data: []byte("export function x() {\n  return 1 +;\n}\n")},
		"demo/index.html": {Data: []byte("<!doctype html>")},
	}
	_, err := build(fsys, "src/main.js")
	if err == nil || !strings.Contains(err.Error(), "src/broken.js:2") {
		t.Fatalf("error %v does not name src/broken.js:2", err)
	}
}

func TestLeadFormsSizeBudget(t *testing.T) {
	a := newAssets(t)
	n := a.WidgetSize("lead")
	t.Logf("lead forms (ui.js, ui.css, lead.js, .css, .tpls.json): %d bytes gzip", n)
	if n <= 0 || n > leadBudget {
		t.Fatalf("the default lead forms are %d bytes gzip, budget is %d", n, leadBudget)
	}
	res := get(t, a, "/static/widgets/lead.tpls.json")
	var tpls map[string]string
	if err := json.NewDecoder(res.Body).Decode(&tpls); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"call_generator", "offline_message_generator", "personal_form"} {
		if !strings.Contains(tpls[name], "cmgl-card") {
			t.Errorf("template %s missing or empty: %q", name, tpls[name])
		}
	}
	for _, p := range []string{"/static/widgets/lead.js", "/static/widgets/lead.css"} {
		if res := get(t, a, p); res.StatusCode != http.StatusOK {
			t.Errorf("%s: HTTP %d", p, res.StatusCode)
		}
	}
}

// The workstation is served under /operator/ with a strict CSP on every answer.
func TestServeWorkstation(t *testing.T) {
	a := newAssets(t)
	for path, ctype := range map[string]string{
		"/operator/":         "text/html; charset=utf-8",
		"/operator/app.js":   "application/javascript; charset=utf-8",
		"/operator/app.css":  "text/css; charset=utf-8",
		"/operator/icon.svg": "image/svg+xml",
	} {
		resp := get(t, a, path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
			t.Errorf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if want := strings.Replace(WorkstationCSP, "connect-src 'self'", "connect-src 'self' ws://example.com wss://example.com", 1); csp != want || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, resp.Header.Get("X-Frame-Options"))
		}
	}
	for host, want := range map[string]string{
		"chat.example.com:8443":  "connect-src 'self' ws://chat.example.com:8443 wss://chat.example.com:8443;",
		"[::1]:8080":             "connect-src 'self' ws://[::1]:8080 wss://[::1]:8080;",
		"evil.com; script-src *": "connect-src 'self';",
		"":                       "connect-src 'self';",
	} {
		if got := WorkstationCSPFor(host); !strings.Contains(got, want) || strings.Count(got, "script-src") != 1 {
			t.Errorf("CSP for host %q: %s", host, got)
		}
	}
	if cc := get(t, a, "/operator/").Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("the page's Cache-Control %q, want no-cache", cc)
	}
	body, _ := io.ReadAll(get(t, a, "/operator/").Body)
	if !strings.Contains(string(body), `<script src="app.js" defer></script>`) || strings.Contains(string(body), "style=") {
		t.Errorf("the page: %s", body)
	}
	if resp := get(t, a, "/operator"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/operator/" {
		t.Errorf("/operator: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	js, _ := io.ReadAll(get(t, a, "/operator/app.js").Body)
	for _, bad := range []string{"innerHTML", "eval(", "new Function", "insertAdjacentHTML", "document.write"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
