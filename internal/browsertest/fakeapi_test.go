package browsertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comagicd/comagicd/web"
)

// fakeAPI is an in-memory server that speaks the track API contract, so the
// loader and the resilience of the script can be tested without Postgres and
// with failures injected at will. The acceptance tests use the real server.
type fakeAPI struct {
	URL     string // http://127.0.0.1:PORT
	SiteKey string

	mu        sync.Mutex
	calls     []fakeCall
	fail      int // answer this status to every API call (0: none)
	nextID    int64
	props     map[string]any
	operators bool
}

type fakeCall struct {
	Path   string // bootstrap, hit, event, property/set, ...
	Origin string
	CType  string
	Body   map[string]any
}

var assets = func() *web.Assets {
	a, err := web.New()
	if err != nil {
		panic(err)
	}
	return a
}()

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{SiteKey: "AbCdEfGhIjKlMnOpQrStUvWxYz012345", nextID: 1000, props: map[string]any{}}
	mux := http.NewServeMux()
	mux.Handle("/static/", assets)
	mux.Handle("/comagic/static/", http.StripPrefix("/comagic", assets))
	mux.Handle("/demo/", assets)
	mux.HandleFunc("/api/track/{key}/{path...}", f.serve)
	mux.HandleFunc("/api/add_offline_message/", f.addOfflineMessage)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.URL = "http://" + ln.Addr().String()
	return f
}

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
		if path == "" || c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if u, err := url.Parse(origin); err == nil && u.Hostname() == "localhost" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		writeJSON(w, 400, map[string]any{"success": false, "error": map[string]any{"code": "invalid", "message": "bad JSON: " + err.Error()}})
		return
	}
	path := r.PathValue("path")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{Path: path, Origin: origin, CType: r.Header.Get("Content-Type"), Body: body})
	if f.fail != 0 {
		writeJSON(w, f.fail, map[string]any{"success": false, "error": map[string]any{"code": "internal", "message": "injected failure"}})
		return
	}
	if r.PathValue("key") != f.SiteKey {
		writeJSON(w, 404, map[string]any{"success": false, "error": map[string]any{"code": "not_found", "message": "no such site"}})
		return
	}
	ok := map[string]any{"success": true}
	switch path {
	case "bootstrap", "hit":
		f.nextID++
		vid, _ := body["visitor_id"].(float64)
		sid, _ := body["session_id"].(float64)
		newSession := vid == 0
		if newSession {
			vid, sid = float64(f.nextID*10), float64(f.nextID*10+1)
		}
		ans := map[string]any{
			"success": true, "site_key": f.SiteKey, "key": fmt.Sprintf("k%031d", int64(sid)),
			"uri": f.URL + "/", "consultant_server_url": f.URL + "/",
			"visitor_id": vid, "session_id": sid, "hit_id": f.nextID*1000 + 7,
			"session_started_at": 1700000000, "new_session": newSession, "cookie_suffix": "s1",
			"device_type": "desktop",
		}
		if path == "bootstrap" {
			ans["settings"] = map[string]any{}
			ans["operators_online"] = f.operators
		}
		writeJSON(w, 200, ans)
	case "event", "visitor_info", "property/delete":
		if path == "property/delete" {
			delete(f.props, str(body["name"]))
		}
		writeJSON(w, 200, ok)
	case "property/set":
		if v, has := body["value"]; has {
			f.props[str(body["name"])] = v
		} else {
			f.props[str(body["name"])] = true
		}
		writeJSON(w, 200, ok)
	case "property/has":
		_, has := f.props[str(body["name"])]
		writeJSON(w, 200, map[string]any{"success": true, "result": has})
	case "property/get":
		v, has := f.props[str(body["name"])]
		if !has {
			v = false
		}
		writeJSON(w, 200, map[string]any{"success": true, "result": v})
	case "offline_request":
		if str(body["name"]) == "" && str(body["phone"]) == "" && str(body["email"]) == "" {
			writeJSON(w, 400, map[string]any{"success": false, "error": map[string]any{"code": "invalid", "message": "a name, phone or email is required", "field": "name"}})
			return
		}
		writeJSON(w, 200, map[string]any{"success": true, "result": nil})
	default:
		writeJSON(w, 404, map[string]any{"success": false, "error": map[string]any{"code": "not_found", "message": "no such call"}})
	}
}

// addOfflineMessage records a site backend's form post.
func (f *fakeAPI) addOfflineMessage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]any{"success": false, "error": map[string]any{"code": "invalid", "message": err.Error()}})
		return
	}
	body := map[string]any{}
	for k, v := range r.PostForm {
		body[k] = v[0]
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Path: "add_offline_message", CType: r.Header.Get("Content-Type"), Body: body})
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"success": true})
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// embedPage returns an HTML page with head markup and body markup.
func embedPage(head, body string) string {
	return "<!doctype html><html><head><meta charset=utf-8><title>Test page</title>" + head + "</head><body>" + body + "</body></html>"
}

// classic returns the generation-1 embed code for the fake API.
func (f *fakeAPI) classic() string {
	return `<script>var __cs = __cs || []; __cs.push(["setCsAccount", "` + f.SiteKey + `"]);</script>` +
		`<script async src="` + strings.TrimPrefix(f.URL, "http:") + `/static/cs.min.js"></script>`
}
