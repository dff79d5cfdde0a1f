package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/comagicd/comagicd/internal/app"
	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/hub/hubtest"
	"github.com/comagicd/comagicd/internal/testenv"
)

func newApp(t *testing.T, pubsub string) *app.App {
	t.Helper()
	cfg := config.Config{DatabaseURL: testenv.NewDatabase(t), BaseURL: "http://127.0.0.1/", Secret: testenv.Secret, FilesDir: t.TempDir(),
		PubSubURL: pubsub, ShutdownTimeout: 5 * time.Second}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func readyz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Status
}

// New starts nothing; Run starts the hub and the workers added, /readyz
// follows the hub, and the end of Run's context stops every worker.
func TestRunStartsAndStopsTheWorkers(t *testing.T) {
	a := newApp(t, "")
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	if status, s := readyz(t, srv.URL); status != 503 || s != "hub unavailable" {
		t.Fatalf("readyz before Run: %d %s", status, s)
	}
	var running, stopped atomic.Int32
	for _, name := range []string{"one", "two"} {
		a.AddWorker(name, func(ctx context.Context) error {
			running.Add(1)
			<-ctx.Done()
			stopped.Add(1)
			return nil
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	hubtest.WaitFor(t, "workers", func() bool { return running.Load() == 2 })
	hubtest.WaitFor(t, "hub", a.Hub.Ready)
	if status, s := readyz(t, srv.URL); status != 200 || s != "ready" {
		t.Fatalf("readyz while running: %d %s", status, s)
	}
	// The hub delivers on this node through PostgreSQL.
	topic := hubtest.Topic("app")
	r := hubtest.Record(a.Hub, topic)
	if err := a.Hub.Publish(ctx, topic, []byte(`{"k":"state"}`)); err != nil {
		t.Fatal(err)
	}
	r.WaitFor(t, `{"k":"state"}`)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if n := stopped.Load(); n != 2 {
		t.Fatalf("Run returned with %d of 2 workers stopped", n)
	}
	if status, s := readyz(t, srv.URL); status != 503 || s != "hub unavailable" {
		t.Fatalf("readyz after Run: %d %s", status, s)
	}
}

// COMAGICD_PUBSUB_URL=nats://… puts the hub on NATS: what the app publishes
// is on subject comagicd.<topic>.
func TestHubOnNATS(t *testing.T) {
	a := newApp(t, "nats://127.0.0.1:4222")
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	topic := hubtest.Topic("nats")
	sub, err := nc.SubscribeSync("comagicd." + topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	hubtest.WaitFor(t, "hub", a.Hub.Ready)
	r := hubtest.Record(a.Hub, topic)
	if err := a.Hub.Publish(ctx, topic, []byte("wake")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil || string(m.Data) != "wake" {
		t.Fatalf("on NATS: %v %v", m, err)
	}
	r.WaitFor(t, "wake")
	// And what another NATS client publishes there reaches the app's subscribers.
	if err := nc.Publish("comagicd."+topic, []byte("from outside")); err != nil {
		t.Fatal(err)
	}
	r.WaitFor(t, "wake", "from outside")
}

func TestNewRefusesAnUnknownPubSubURL(t *testing.T) {
	cfg := config.Config{DatabaseURL: testenv.NewDatabase(t), BaseURL: "http://127.0.0.1/", Secret: testenv.Secret, PubSubURL: "redis://x"}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil {
		a.Close()
		t.Fatal("accepted")
	}
	if !strings.Contains(err.Error(), "redis://x") {
		t.Fatalf("error %v", err)
	}
}
