package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/testenv"
)

// fuzzServer is a real server on a fresh database with one site and one
// visitor, driven in process: every fuzzed request goes through the router.
type fuzzServer struct {
	srv  *testenv.Server
	site string
	ci   string
	key  string
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	srv := testenv.StartServer(f, testenv.Options{})
	site := srv.CreateSite(f, "shop.example")
	rec := serve(srv, http.MethodPost, "/api/track/"+site+"/bootstrap", "text/plain", `{"url":"https://shop.example/"}`, "")
	if rec.Code != 200 {
		f.Fatalf("bootstrap: %d %s", rec.Code, rec.Body)
	}
	var v struct {
		VisitorID, SessionID, SessionStartedAt int64
		Key                                    string
	}
	a := answerOf(rec.Body.Bytes())
	v.VisitorID, v.SessionID, v.SessionStartedAt, v.Key = a.num("visitor_id"), a.num("session_id"), a.num("session_started_at"), a.str("key")
	return &fuzzServer{srv: srv, site: site, key: v.Key, ci: fmt.Sprintf("%d.%d.%d", v.VisitorID, v.SessionID, v.SessionStartedAt)}
}

func serve(srv *testenv.Server, method, target, ctype, body, origin string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	rec := httptest.NewRecorder()
	srv.App.Handler.ServeHTTP(rec, req)
	return rec
}

// check fails on a 5xx: bad input must get a 4xx, and a panic answers 500.
func check(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
}

var leadTypes = []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=XyZ", "application/json", "text/plain", ""}

// FuzzOfflineMessage drives /api/add_offline_message/ with fuzzed bodies in
// every encoding (form, multipart, JSON), with and without an idempotency key.
func FuzzOfflineMessage(f *testing.F) {
	s := newFuzzServer(f)
	f.Add(uint8(0), "site_key="+s.site+"&name=x&phone=89120000000&is_sale=1&sale_cost=1,5")
	f.Add(uint8(1), "--XyZ\r\nContent-Disposition: form-data; name=\"site_key\"\r\n\r\n"+s.site+"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--XyZ--\r\n")
	f.Add(uint8(2), `{"site_key":"`+s.site+`","name":"x","f":1e999999,"g":[1,{"h":null}]}`)
	f.Add(uint8(2), `{"site_key":"`+s.site+`","name":"x","idempotency_key":"k1","is_sale":true,"sale_cost":999999999999.999}`)
	f.Add(uint8(3), `{"site_key":"`+s.site+`","visitor_id":"1","session_id":2,"key":"x","name":"y"} GARBAGE`)
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		ctype := leadTypes[int(kind)%len(leadTypes)]
		req := httptest.NewRequest(http.MethodPost, "/api/add_offline_message/", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if kind&0x80 != 0 {
			req.Header.Set("Idempotency-Key", body[:min(len(body), 20)])
		}
		rec := httptest.NewRecorder()
		s.srv.App.Handler.ServeHTTP(rec, req)
		check(t, rec, ctype)
		// The browser endpoint decodes the same way.
		check(t, serve(s.srv, http.MethodPost, "/api/track/"+s.site+"/offline_request", ctype, body, "https://shop.example"), "offline_request")
	})
}

var trackPaths = []string{"bootstrap", "hit", "event", "visitor_info", "property/set", "property/get", "property/has", "property/delete", "lead_action"}

// FuzzTrackBodies drives the tracking calls with fuzzed JSON bodies.
func FuzzTrackBodies(f *testing.F) {
	s := newFuzzServer(f)
	ids := strings.Split(s.ci, ".")
	creds := `"visitor_id":` + ids[0] + `,"session_id":"` + ids[1] + `","key":"` + s.key + `"`
	f.Add(uint8(0), `{"url":"https://shop.example/?utm_source=x","title":"t","referrer":"https://a.example/"}`)
	f.Add(uint8(2), `{`+creds+`,"category":"c","action":"a","hit_id":1}`)
	f.Add(uint8(3), `{`+creds+`,"name":"n","phone":"+7 912 000 00 00","email":"a@b.cd"}`)
	f.Add(uint8(4), `{`+creds+`,"name":"n","value":{"x":1}}`)
	f.Add(uint8(5), `{`+creds+`,"name":"n"} trailing`)
	f.Add(uint8(8), `{`+creds+`,"widget":"personal_form","action":"submit","data":{"name":"n","n":1.5,"ok":true}}`)
	f.Fuzz(func(t *testing.T, path uint8, body string) {
		p := trackPaths[int(path)%len(trackPaths)]
		check(t, serve(s.srv, http.MethodPost, "/api/track/"+s.site+"/"+p, "text/plain;charset=UTF-8", body, ""), p)
	})
}

// FuzzVCQuery drives /vc/s/ with fuzzed query strings.
func FuzzVCQuery(f *testing.F) {
	s := newFuzzServer(f)
	f.Add(url.Values{"sk": {s.site}, "ci": {s.ci}, "vn": {"n"}, "vp": {"89120000000"}, "ve": {"a@b.cd"}, "s": {"1"}}.Encode())
	f.Add(url.Values{"k": {s.key}, "ci": {s.ci}, "vn": {"n"}}.Encode())
	f.Add("sk=" + s.site + "&ci=1.2.3&vn=%ff")
	f.Add("ci=" + s.ci + "&k=&sk=&vp=abc")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/vc/s/", nil)
		req.URL.RawQuery = query // any bytes: more than a request line can carry
		rec := httptest.NewRecorder()
		s.srv.App.Handler.ServeHTTP(rec, req)
		check(t, rec, query)
	})
}

// FuzzOrigin sends fuzzed Origin headers to the CORS checks of every kind of
// endpoint; an origin that is not the site's must never be echoed.
func FuzzOrigin(f *testing.F) {
	s := newFuzzServer(f)
	for _, o := range []string{"https://shop.example", "https://evil.com#.shop.example", "null", "http://[::1]:80", "https://x@shop.example"} {
		f.Add(o)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		if strings.ContainsAny(origin, "\r\n\x00") || origin == "" {
			return
		}
		for _, target := range []struct{ method, path, body string }{
			{http.MethodPost, "/api/track/" + s.site + "/bootstrap", `{"url":"https://shop.example/"}`},
			{http.MethodOptions, "/api/track/" + s.site + "/bootstrap", ""},
			{http.MethodOptions, "/api/add_offline_message/", ""},
			{http.MethodGet, "/vc/s/?sk=" + s.site + "&ci=" + s.ci + "&vn=n", ""},
		} {
			rec := serve(s.srv, target.method, target.path, "text/plain", target.body, origin)
			check(t, rec, target.path)
			if echoed := rec.Header().Get("Access-Control-Allow-Origin"); echoed != "" {
				host, ok := comagic.OriginHost(echoed)
				if !ok || (host != "shop.example" && !strings.HasSuffix(host, ".shop.example")) {
					t.Fatalf("%s %s: echoed %q", target.method, target.path, echoed)
				}
			}
		}
	})
}

func answerOf(b []byte) answer {
	var a answer
	_ = json.NewDecoder(bytes.NewReader(b)).Decode(&a)
	return a
}
