package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/testenv"
)

func TestAdminSiteCommands(t *testing.T) {
	db := testenv.NewDatabase(t)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"admin", "site", "create", "--account", "Shop LLC", "--domain", "https://www.Shop.example/", "--domain", "shop.example.org",
		"-database-url", db, "-base-url", "https://track.example.com"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	m := regexp.MustCompile(`(?m)^site_key: ([A-Za-z0-9]{32})$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no site_key line in:\n%s", out.String())
	}
	key := m[1]
	if !strings.Contains(out.String(), `__cs.push(["setCsAccount", "`+key+`"]);`) ||
		!strings.Contains(out.String(), `src="https://track.example.com/static/cs.min.js"`) ||
		!strings.Contains(out.String(), "domains: shop.example, shop.example.org") {
		t.Fatalf("snippet:\n%s", out.String())
	}

	out.Reset()
	if err := run(ctx, []string{"admin", "site", "update", "--site", key, "--session-timeout", "45m", "--region", "KZ", "-database-url", db}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "session_timeout: 45m0s") || !strings.Contains(out.String(), "region: KZ") {
		t.Fatalf("update:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"admin", "site", "list", "-database-url", db}, &out, &errOut); err != nil || !strings.Contains(out.String(), key+"\taccount=Shop LLC") {
		t.Fatalf("list: %v\n%s", err, out.String())
	}

	// Widget settings: a settings file of the vendor's shape (our fixture, then
	// the reference's when it is beside the repository) is accepted and
	// delivered, a wrong one is refused with the reason, --remove takes it away.
	var colour string
	for _, dir := range testenv.WidgetSettingsDirs(t) {
		out.Reset()
		if err := run(ctx, []string{"admin", "site", "settings", "--site", key, "--widget", "consultant", "--device", "desktop", "--file", filepath.Join(dir, "consultant.desktop.json"), "-database-url", db}, &out, &errOut); err != nil {
			t.Fatalf("settings from %s: %v", dir, err)
		}
		var file struct {
			Common struct {
				BannerColor string `json:"banner_color"`
			} `json:"common"`
		}
		raw, err := os.ReadFile(filepath.Join(dir, "consultant.desktop.json"))
		if err != nil || json.Unmarshal(raw, &file) != nil || file.Common.BannerColor == "" {
			t.Fatalf("%s: no common.banner_color: %v", dir, err)
		}
		colour = file.Common.BannerColor
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"offline_message":{"h_position":"up","fields":[{"name":"fax","title":"t","is_required":true}]}}`), 0o644)
	err = run(ctx, []string{"admin", "site", "settings", "--site", key, "--widget", "consultant", "--device", "mobile", "--file", bad, "-database-url", db}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "offline_message.h_position: must be one of left, right, center") ||
		!strings.Contains(err.Error(), "offline_message.fields[0].name: must be one of name, phone, email, message") {
		t.Fatalf("bad settings: %v", err)
	}
	var stored int
	pool := testenv.NewDBAt(t, db)
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sites WHERE settings->'consultant' ? 'desktop' AND NOT settings->'consultant' ? 'mobile' AND settings#>>'{consultant,desktop,common,banner_color}' = $1`, colour).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("stored settings: %d %v", stored, err)
	}
	if err := run(ctx, []string{"admin", "site", "settings", "--site", key, "--widget", "consultant", "--device", "desktop", "--remove", "-database-url", db}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sites WHERE settings->'consultant' ? 'desktop'`).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("removed settings: %d %v", stored, err)
	}

	for _, bad := range [][]string{
		{"admin", "site", "settings", "--site", key, "--widget", "chat", "--device", "desktop", "--remove"},
		{"admin", "site", "settings", "--site", key, "--widget", "consultant", "--device", "watch", "--remove"},
		{"admin", "site", "settings", "--site", key, "--widget", "consultant", "--device", "desktop"},
		{"admin", "site", "settings", "--site", key, "--widget", "consultant", "--device", "desktop", "--file", "/nonexistent.json"},
		{"admin", "site", "create", "--domain", "x.example"},
		{"admin", "site", "create", "--account", "A"},
		{"admin", "site", "create", "--account", "A", "--domain", "bad domain"},
		{"admin", "site", "update", "--site", key, "--region", "russia"},
		{"admin", "site", "update", "--site", key, "--time-zone", "Mars/Base"},
		{"admin", "site", "update", "--site", strings.Repeat("x", 32), "--region", "RU"},
		{"admin", "site", "frob"},
		{"admin"},
		{"nonsense"},
	} {
		if err := run(ctx, append(bad, "-database-url", db), &out, &errOut); err == nil {
			t.Errorf("%v succeeded", bad)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"version"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "embed script core:") {
		t.Fatalf("version: %v %s", err, out.String())
	}
}

// TestServeDemo is `make run` in miniature: serve -demo on an empty database
// seeds the demo site, prints its URLs, answers, and shuts down gracefully.
func TestServeDemo(t *testing.T) {
	db := testenv.NewDatabase(t)
	freeAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	addr, metricsAddr := freeAddr(), freeAddr()
	t.Setenv("DATABASE_URL", db)
	t.Setenv("COMAGICD_LISTEN_ADDR", addr)
	// Metrics get a port of their own: the default 127.0.0.1:9090 may be taken
	// on a developer's machine (a `make run` server).
	t.Setenv("COMAGICD_METRICS_ADDR", metricsAddr)
	t.Setenv("COMAGICD_BASE_URL", "")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "-demo", "-log-format", "json"}, &out, &errOut) }()

	base := "http://" + addr
	var ready bool
	// Generous: under -race on a loaded CI machine the start (database, migrations, bundles) is slow.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			ready = resp.StatusCode == 200
			resp.Body.Close()
		}
	}
	if !ready {
		cancel()
		t.Fatalf("server did not become ready: %v\n%s", <-done, errOut.String())
	}
	m := regexp.MustCompile(`demo page:\s+(\S+/demo/\?k=([A-Za-z0-9]{32}))`).FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "site_key: "+m[2]) {
		t.Fatalf("demo output:\n%s", out.String())
	}
	// The demo site has the consultant's request form on.
	var n int
	if err := testenv.NewDBAt(t, db).QueryRow(context.Background(),
		`SELECT count(*) FROM sites WHERE settings->'consultant' ?& array['desktop','tablet','mobile']`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("demo consultant settings: %d %v", n, err)
	}
	resp, err := http.Get(base + "/demo/?k=" + m[2])
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("demo page: %v %v", resp, err)
	}
	resp.Body.Close()
	// The demo operator printed can log in and works on the demo site.
	op := regexp.MustCompile(`operator:\s+login (\S+), password (\S+)`).FindStringSubmatch(out.String())
	if op == nil {
		t.Fatalf("no demo operator in the output:\n%s", out.String())
	}
	resp, err = http.Post(base+"/api/operator/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"login":%q,"password":%q}`, op[1], op[2])))
	if err != nil {
		t.Fatal(err)
	}
	login, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(login), `"token"`) {
		t.Fatalf("demo operator login: %d %s", resp.StatusCode, login)
	}
	// The workstation's address is printed with the demo login, and serves the app.
	ws := regexp.MustCompile(`workstation: (\S+/operator/)\s+\(sign in as (\S+) / (\S+)\)`).FindStringSubmatch(out.String())
	if ws == nil || ws[2] != op[1] || ws[3] != op[2] {
		t.Fatalf("no workstation line in the output:\n%s", out.String())
	}
	resp, err = http.Get(ws[1])
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("workstation page: %v %v", resp, err)
	}
	resp.Body.Close()
	// Metrics are served on their own listener, not on the public one.
	resp, err = http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("metrics listener: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "comagicd_") {
		t.Fatalf("metrics listener: %d %.200s", resp.StatusCode, body)
	}
	if resp, err = http.Get(base + "/metrics"); err != nil || resp.StatusCode == 200 {
		t.Fatalf("metrics on the public listener: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/static/cs.min.js")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("script: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(errOut.String(), `"msg":"shutting down"`) {
		t.Errorf("logs:\n%s", errOut.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
