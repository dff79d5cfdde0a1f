// Package browsertest drives real headless Chromium from Go tests: it starts
// the browser (Debian's chromium), opens isolated tabs, serves test pages from
// an origin of their own, and runs php -S for PHP backends.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ActionTimeout bounds every single browser action of a Tab.
const ActionTimeout = 30 * time.Second

// Browser is one headless Chromium process shared by the tests of a package.
type Browser struct {
	ctx     context.Context
	cancel  context.CancelFunc
	dataDir string
}

// ErrNoChromium is returned by Start when no Chromium binary is installed.
var ErrNoChromium = errors.New("browsertest: chromium not found (apt-get install chromium)")

// ChromiumPath returns the browser binary: $CHROMIUM, else chromium,
// chromium-browser or google-chrome from PATH.
func ChromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Start launches headless Chromium with a temporary profile.
func Start() (*Browser, error) {
	path, err := ChromiumPath()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "browsertest-profile-")
	if err != nil {
		return nil, fmt.Errorf("browsertest: profile dir: %w", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{ctx: ctx, dataDir: dir, cancel: func() { cancel(); acancel() }}
	// The first Run starts the browser; it must not carry a timeout (that would
	// end the browser with it), so bound it from the outside.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		err = errors.New("timed out")
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("browsertest: start %s: %w", path, err)
	}
	return b, nil
}

// Close stops the browser and removes its profile.
func (b *Browser) Close() {
	b.cancel()
	os.RemoveAll(b.dataDir)
}

// Message is one console entry of a tab: a console API call, an uncaught
// exception ("exception") or a browser log entry ("log:<level>").
type Message struct {
	Type string
	Text string
}

// Tab is a page in a browser context of its own (own cookies and storage).
type Tab struct {
	t   testing.TB
	ctx context.Context

	mu   sync.Mutex
	msgs []Message
}

// NewTab opens a tab in a fresh browser context; it closes with the test.
// When the test fails, a screenshot of the tab is saved first (see
// SaveScreenshot) and its path logged.
func (b *Browser) NewTab(t testing.TB) *Tab {
	t.Helper()
	tab := &Tab{t: t}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tab.listen))
	t.Cleanup(cancel)
	tab.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: open tab: %v", err)
	}
	t.Cleanup(func() { // runs before cancel: cleanups run last-in first-out
		if !t.Failed() {
			return
		}
		if path, err := tab.SaveScreenshot("failed"); err != nil {
			t.Logf("browsertest: no screenshot of the failed test: %v", err)
		} else {
			t.Logf("browsertest: screenshot of the failed test: %s", path)
		}
	})
	return tab
}

// ArtifactDir returns the directory for test artefacts such as screenshots:
// $BROWSERTEST_ARTIFACTS, else comagicd-browsertest under os.TempDir(). It is
// created when missing.
func ArtifactDir() (string, error) {
	dir := os.Getenv("BROWSERTEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "comagicd-browsertest")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("browsertest: artefact dir: %w", err)
	}
	return dir, nil
}

// SaveScreenshot captures the tab's viewport as PNG into ArtifactDir, named
// after the test and name, and returns the file's path.
func (tab *Tab) SaveScreenshot(name string) (string, error) {
	ctx, cancel := context.WithTimeout(tab.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", fmt.Errorf("browsertest: screenshot: %w", err)
	}
	dir, err := ArtifactDir()
	if err != nil {
		return "", err
	}
	file := strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(tab.t.Name()+"-"+name) + "-" + time.Now().Format("150405.000") + ".png"
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", fmt.Errorf("browsertest: screenshot: %w", err)
	}
	return path, nil
}

func (tab *Tab) listen(ev any) {
	var m Message
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, remoteText(a))
		}
		m = Message{Type: string(e.Type), Text: strings.Join(parts, " ")}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		m = Message{Type: "exception", Text: text}
	default:
		return
	}
	tab.mu.Lock()
	tab.msgs = append(tab.msgs, m)
	tab.mu.Unlock()
}

func remoteText(a *runtime.RemoteObject) string {
	if a.Type == "string" {
		if s, err := strconv.Unquote(string(a.Value)); err == nil {
			return s
		}
	}
	if len(a.Value) > 0 {
		return string(a.Value)
	}
	if a.Description != "" {
		return a.Description
	}
	return string(a.Type)
}

// Messages returns the console entries seen so far.
func (tab *Tab) Messages() []Message {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]Message(nil), tab.msgs...)
}

// Exceptions returns the texts of uncaught exceptions seen so far.
func (tab *Tab) Exceptions() []string {
	var out []string
	for _, m := range tab.Messages() {
		if m.Type == "exception" {
			out = append(out, m.Text)
		}
	}
	return out
}

// Logged returns the console texts of the given type ("log", "warning", "error").
func (tab *Tab) Logged(typ string) []string {
	var out []string
	for _, m := range tab.Messages() {
		if m.Type == typ {
			out = append(out, m.Text)
		}
	}
	return out
}

// Ctx returns a context for one bounded action on the tab.
func (tab *Tab) Ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tab.ctx, ActionTimeout)
}

// Run runs chromedp actions on the tab, failing the test on error.
func (tab *Tab) Run(actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := tab.Ctx()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tab.fail("run", err)
	}
}

// Go navigates to url and waits for the load event.
func (tab *Tab) Go(url string) {
	tab.t.Helper()
	ctx, cancel := tab.Ctx()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tab.fail("navigate "+url, err)
	}
}

func (tab *Tab) fail(what string, err error) {
	tab.t.Helper()
	var b strings.Builder
	for _, m := range tab.Messages() {
		fmt.Fprintf(&b, "\n  console %s: %s", m.Type, m.Text)
	}
	tab.t.Fatalf("browsertest: %s: %v%s", what, err, b.String())
}

// Eval evaluates a JS expression (awaiting a promise result) and decodes its
// JSON value into T, failing the test on error.
func Eval[T any](tab *Tab, js string) T {
	tab.t.Helper()
	ctx, cancel := tab.Ctx()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tab.fail("eval "+short(js), err)
	}
	return v
}

// Wait polls the JS expression until it is truthy and returns its value
// decoded into T; it fails the test after timeout. Polling goes on across
// navigations of the page.
func Wait[T any](tab *Tab, js string, timeout time.Duration) T {
	tab.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		ctx, cancel := context.WithTimeout(tab.ctx, left+5*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Poll[T](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(left)))
		cancel()
		if err == nil {
			return v
		}
		if navigated(err) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		tab.fail("wait for "+short(js), err)
		return v
	}
}

// PollInterval is how often Eventually checks its condition.
const PollInterval = 50 * time.Millisecond

// Eventually calls check every PollInterval until it returns nil and fails the
// test with check's last error when timeout passes first. It is the one way
// the tests wait for something on the Go side (calls recorded, rows stored):
//
//	Eventually(t, 10*time.Second, func() error {
//		if n := len(api.Calls("event")); n != 1 {
//			return fmt.Errorf("%d event calls, want 1", n)
//		}
//		return nil
//	})
//
// To check that something did NOT happen, first wait for a positive signal
// that comes after it would have happened, then check once.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("browsertest: not so after %v: %v", timeout, err)
		}
		time.Sleep(PollInterval)
	}
}

// navigated reports whether err says the page went away under a running script.
func navigated(err error) bool {
	s := err.Error()
	return strings.Contains(s, "navigated or closed") || strings.Contains(s, "Execution context was destroyed") ||
		strings.Contains(s, "Cannot find context")
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// PageServer serves test pages on a loopback port, addressed as
// http://localhost:PORT so that its origin differs from an API served on
// http://127.0.0.1:PORT.
type PageServer struct {
	URL string // http://localhost:PORT
	mu  sync.Mutex
	mux *http.ServeMux
}

// NewPageServer starts a page server that closes with the test.
func NewPageServer(t testing.TB) *PageServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &PageServer{mux: http.NewServeMux()}
	srv := &http.Server{Handler: ps, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ps.URL = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	return ps
}

func (ps *PageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ps.mu.Lock()
	mux := ps.mux
	ps.mu.Unlock()
	mux.ServeHTTP(w, r)
}

// Page serves html at path (exact match); extra headers are name, value pairs.
// It returns the page's URL.
func (ps *PageServer) Page(path, html string, headers ...string) string {
	ps.Handle(path, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Cache-Control", "no-store")
		if strings.HasSuffix(path, ".js") {
			w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		w.Write([]byte(html))
	})
	return ps.URL + path
}

// Handle registers a handler for the exact path.
func (ps *PageServer) Handle(path string, h http.HandlerFunc) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.mux.HandleFunc(path, h)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
