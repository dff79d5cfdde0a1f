package httpapi_test

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/testenv"
)

// getImage fetches a captcha image: status, headers and body.
func getImage(t *testing.T, u string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestCaptchaEndpoints(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	p := "/api/track/" + site + "/captcha"
	urlRE := regexp.MustCompile(`^` + regexp.QuoteMeta(srv.URL) + `/api/captcha/([0-9a-f]{32})\.png(\?bg=[0-9a-f]{6})?$`)

	// The embed script's call: credentials (ignored) and bg, from the page.
	status, h := c.postHeaders(p, merge(v.creds(), map[string]any{"bg": "#FFCC00"}), "Origin", "https://shop.example")
	if status != 200 || h.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("from the page: %d %v", status, h)
	}
	status, a := c.post(p, merge(v.creds(), map[string]any{"bg": "#FFCC00"}), "Origin", "https://shop.example")
	m := urlRE.FindStringSubmatch(a.str("url"))
	if status != 200 || a["success"] != true || m == nil || m[1] != a.str("key") || m[2] != "?bg=ffcc00" || len(a) != 3 {
		t.Fatalf("captcha: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM captchas WHERE key = $1 AND used_at IS NULL AND expires_at > now() + interval '9 minutes'`, a.str("key")); n != 1 {
		t.Fatalf("stored captchas %d", n)
	}

	// The image: a PNG on the asked background, not cached.
	status, hdr, body := getImage(t, a.str("url"))
	if status != 200 || hdr.Get("Content-Type") != "image/png" || hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("image: %d %v", status, hdr)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil || img.Bounds().Dx() != 120 || img.Bounds().Dy() != 50 {
		t.Fatalf("image: %v %v", err, img)
	}
	// No body at all, bg in the query, no bg.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+p+"?bg=000000", nil)
	status, a2 := c.do(req)
	if m := urlRE.FindStringSubmatch(a2.str("url")); status != 200 || m == nil || m[2] != "?bg=000000" {
		t.Fatalf("empty body: %d %v", status, a2)
	}
	status, a3 := c.post(p, map[string]any{"bg": nil})
	if m := urlRE.FindStringSubmatch(a3.str("url")); status != 200 || m == nil || m[2] != "" || a3.str("key") == a2.str("key") {
		t.Fatalf("no bg: %d %v", status, a3)
	}
	if status, _, _ := getImage(t, a3.str("url")); status != 200 {
		t.Fatalf("image without bg: %d", status)
	}

	// Bad input.
	for _, body := range []any{map[string]any{"bg": "red"}, map[string]any{"bg": "#12345"}, map[string]any{"bg": []int{1}}, []int{1}} {
		status, a := c.post(p, body)
		if status != 400 || (a.errField() != "bg" && a.errField() != "body") {
			t.Fatalf("bad %v: %d %v", body, status, a)
		}
	}
	if status, a := c.get("/api/captcha/" + a3.str("key") + ".png?bg=zzzzzz"); status != 400 || a.errField() != "bg" {
		t.Fatalf("image with a bad bg: %d %v", status, a)
	}
	// A preflight (the script needs none) is answered as on the other track endpoints.
	req, _ = http.NewRequest(http.MethodOptions, srv.URL+p, nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if n := c.count(`SELECT count(*) FROM captchas`); n != 4 {
		t.Fatalf("captchas after the preflight: %d", n)
	}
	// Unknown site, other origin.
	if status, a := c.post("/api/track/"+strings.Repeat("x", 32)+"/captcha", map[string]any{}); status != 404 {
		t.Fatalf("unknown site: %d %v", status, a)
	}
	if status, a := c.post(p, map[string]any{}, "Origin", "https://evil.example"); status != 403 {
		t.Fatalf("other origin: %d %v", status, a)
	}

	// 404 in the API's error shape for unknown, malformed, used and expired keys.
	notFound := func(what, path string) {
		t.Helper()
		status, a := c.get(path)
		e, _ := a["error"].(map[string]any)
		if status != 404 || a["success"] != false || e["code"] != "not_found" {
			t.Fatalf("%s: %d %v", what, status, a)
		}
	}
	notFound("unknown", "/api/captcha/0123456789abcdef0123456789abcdef.png")
	notFound("malformed", "/api/captcha/nope.png")
	notFound("no extension", "/api/captcha/"+a3.str("key"))
	if _, err := srv.DB.Exec(t.Context(), `UPDATE captchas SET used_at = now() WHERE key = $1`, a.str("key")); err != nil {
		t.Fatal(err)
	}
	notFound("used", "/api/captcha/"+a.str("key")+".png")
	if _, err := srv.DB.Exec(t.Context(), `UPDATE captchas SET expires_at = now() - interval '1 second' WHERE key = $1`, a2.str("key")); err != nil {
		t.Fatal(err)
	}
	notFound("expired", "/api/captcha/"+a2.str("key")+".png")
}

func TestCaptchaRateLimited(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{RateLimit: 2})
	c := &client{t: t, srv: srv}
	site := srv.CreateSite(t, "shop.example")
	p := "/api/track/" + site + "/captcha"
	for i := range 2 {
		if status, a := c.post(p, map[string]any{}); status != 200 {
			t.Fatalf("request %d: %d %v", i, status, a)
		}
	}
	if status, a := c.post(p, map[string]any{}); status != 429 {
		t.Fatalf("over the limit: %d %v", status, a)
	}
	if status, a := c.get("/api/captcha/0123456789abcdef0123456789abcdef.png"); status != 429 {
		t.Fatalf("image over the limit: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM captchas`); n != 2 {
		t.Fatalf("captchas %d", n)
	}
}
