package browsertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/comagicd/comagicd/internal/testenv"
)

// fakeAPI is the real comagicd server (testenv.StartServer, its own database)
// behind a recorder: the loader and the resilience of the script are tested
// against the answers the product really gives, while the tests see every
// API call the page made and can inject failures at will. (It used to be an
// in-memory imitation of the track API, whose answers drifted from the
// contract; the name stays for the tests that use it.)
type fakeAPI struct {
	URL     string // http://127.0.0.1:PORT
	SiteKey string // a site for localhost and 127.0.0.1
	Server  *testenv.Server

	mu    sync.Mutex
	calls []fakeCall
	fail  int // answer this status to every track API call (0: none)
}

// fakeCall is one API call the page (or a site backend) made.
type fakeCall struct {
	Path   string // bootstrap, hit, event, property/set, ... or add_offline_message
	Origin string
	CType  string
	Body   map[string]any // the JSON body, or the form's first values
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.Server = testenv.StartServer(t, testenv.Options{Wrap: f.wrap})
	f.URL = f.Server.URL
	f.SiteKey = f.Server.CreateSite(t, "localhost", "127.0.0.1")
	return f
}

// setFail makes every track API call answer status with the API's error shape
// (0: pass them to the server again). Calls are still recorded.
func (f *fakeAPI) setFail(status int) {
	f.mu.Lock()
	f.fail = status
	f.mu.Unlock()
}

// Calls returns the recorded API calls, optionally only those to path.
func (f *fakeAPI) Calls(path string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if (path == "" || c.Path == path) && c.Body["name"] != barrierProperty {
			out = append(out, c)
		}
	}
	return out
}

// barrierProperty is the property that roundTrip asks about; Calls leaves its
// calls out.
const barrierProperty = "browsertest-barrier"

// roundTrip waits for one API round trip of the page's script: it asks the
// server about a property nobody sets and waits for the answer. What the
// script sent before has then reached the server, and what it does on an
// answer it got before has been done: the positive signal before checking
// that something did not happen.
func roundTrip(tab *Tab) {
	tab.t.Helper()
	Eval[bool](tab, `new Promise(done => Comagic.hasProperty(`+jsString(barrierProperty)+`, () => done(true)))`)
}

// wrap records the API calls on their way to the real handler.
func (f *fakeAPI) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, track := apiPath(r.URL.Path)
		if path == "" || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		call := fakeCall{Path: path, Origin: r.Header.Get("Origin"), CType: r.Header.Get("Content-Type"), Body: map[string]any{}}
		if track {
			_ = json.Unmarshal(raw, &call.Body) // a bad body is the server's to refuse
		} else if form, err := url.ParseQuery(string(raw)); err == nil {
			for k, v := range form {
				call.Body[k] = v[0]
			}
		}
		f.mu.Lock()
		f.calls = append(f.calls, call)
		fail := f.fail
		f.mu.Unlock()
		if fail != 0 && track {
			// What the server's own failures look like (api/openapi.yaml, Error),
			// with the CORS headers that let the page read it.
			if o := r.Header.Get("Origin"); o != "" {
				w.Header().Set("Access-Control-Allow-Origin", o)
				w.Header().Set("Vary", "Origin")
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(fail)
			_ = json.NewEncoder(w).Encode(map[string]any{"success": false,
				"error": map[string]any{"code": "internal", "message": "injected failure (HTTP " + strconv.Itoa(fail) + ")"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiPath returns the call's name for the recorded API paths: the part after
// the site key of /api/track/{site_key}/..., or add_offline_message for the
// site backends' endpoint (in all its spellings); "" for anything else.
func apiPath(p string) (name string, track bool) {
	if rest, ok := strings.CutPrefix(p, "/api/track/"); ok {
		if _, call, ok := strings.Cut(rest, "/"); ok && call != "" {
			return call, true
		}
		return "", false
	}
	switch strings.TrimSuffix(strings.TrimPrefix(p, "/comagic"), "/") {
	case "/api/add_offline_message":
		return "add_offline_message", false
	}
	return "", false
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// embedPage returns an HTML page with head markup and body markup.
func embedPage(head, body string) string {
	return "<!doctype html><html><head><meta charset=utf-8><title>Test page</title>" + head + "</head><body>" + body + "</body></html>"
}

// classic returns the generation-1 embed code for the server.
func (f *fakeAPI) classic() string {
	return `<script>var __cs = __cs || []; __cs.push(["setCsAccount", "` + f.SiteKey + `"]);</script>` +
		`<script async src="` + strings.TrimPrefix(f.URL, "http:") + `/static/cs.min.js"></script>`
}
