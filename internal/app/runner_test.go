package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the logged records whose message is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

func testRunner(shutdown time.Duration) (*runner, *logBuffer) {
	logs := &logBuffer{}
	r := newRunner(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), shutdown)
	r.minBackoff, r.maxBackoff = 10*time.Millisecond, 40*time.Millisecond
	return r, logs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// start runs r in a goroutine; the returned function cancels it and returns
// run's result (failing after a deadline).
func start(t *testing.T, r *runner) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("run did not return")
			return nil
		}
	}
}

func TestRunStopsEveryWorker(t *testing.T) {
	r, _ := testRunner(5 * time.Second)
	var started, stopped atomic.Int32
	for _, name := range []string{"a", "b", "c"} {
		r.add(name, func(ctx context.Context) error {
			started.Add(1)
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // some cleanup
			stopped.Add(1)
			return nil
		})
	}
	stop := start(t, r)
	waitFor(t, "three workers", func() bool { return started.Load() == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := stopped.Load(); n != 3 {
		t.Fatalf("run returned with %d of 3 workers stopped", n)
	}
	// No restart after shutdown.
	if n := started.Load(); n != 3 {
		t.Fatalf("%d starts", n)
	}
}

func TestFailedWorkersAreLoggedAndRestarted(t *testing.T) {
	r, logs := testRunner(5 * time.Second)
	var runs atomic.Int32
	r.add("flaky", func(ctx context.Context) error {
		switch runs.Add(1) {
		case 1:
			return errors.New("boom")
		case 2:
			panic("kaboom")
		case 3:
			return nil // returns before shutdown
		}
		<-ctx.Done()
		return ctx.Err() // a worker may return its context's error on shutdown
	})
	var steady atomic.Int32
	r.add("steady", func(ctx context.Context) error {
		steady.Add(1)
		<-ctx.Done()
		return nil
	})
	stop := start(t, r)
	waitFor(t, "the fourth run", func() bool { return runs.Load() == 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := steady.Load(); n != 1 {
		t.Fatalf("the steady worker started %d times", n)
	}
	failures := logs.records(t, "app: worker failed, restarting")
	if len(failures) != 3 {
		t.Fatalf("%d failures logged: %v", len(failures), failures)
	}
	for i, want := range []string{"boom", "panic: kaboom", "returned before shutdown"} {
		if failures[i]["worker"] != "flaky" || !strings.HasPrefix(failures[i]["err"].(string), want) {
			t.Errorf("failure %d logged as %v, want %q", i, failures[i], want)
		}
	}
	if !strings.Contains(failures[1]["err"].(string), "runner_test.go") {
		t.Errorf("the panic's stack is not logged: %v", failures[1]["err"])
	}
	if n := len(logs.records(t, "app: worker stopped with an error")); n != 0 {
		t.Errorf("context.Canceled on shutdown logged as an error")
	}
}

func TestRestartBackoffDoubles(t *testing.T) {
	r, logs := testRunner(5 * time.Second)
	var runs atomic.Int32
	r.add("broken", func(context.Context) error {
		runs.Add(1)
		return errors.New("broken")
	})
	stop := start(t, r)
	waitFor(t, "six runs", func() bool { return runs.Load() >= 6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	failures := logs.records(t, "app: worker failed, restarting")
	var got []string
	for _, f := range failures[:5] {
		got = append(got, time.Duration(f["in"].(float64)).String())
	}
	if strings.Join(got, " ") != "10ms 20ms 40ms 40ms 40ms" {
		t.Fatalf("backoffs %v", got)
	}
}

func TestRunNamesWorkersThatDoNotStop(t *testing.T) {
	r, _ := testRunner(50 * time.Millisecond)
	release := make(chan struct{})
	defer close(release)
	var started atomic.Int32
	r.add("polite", func(ctx context.Context) error { started.Add(1); <-ctx.Done(); return nil })
	r.add("stubborn", func(context.Context) error { started.Add(1); <-release; return nil })
	stop := start(t, r)
	waitFor(t, "both workers", func() bool { return started.Load() == 2 })
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "stubborn") || strings.Contains(err.Error(), "polite") {
		t.Fatalf("run: %v", err)
	}
}

func TestRunOnceAndClose(t *testing.T) {
	r, _ := testRunner(time.Second)
	var stopped atomic.Bool
	r.add("w", func(ctx context.Context) error { <-ctx.Done(); stopped.Store(true); return nil })
	done := make(chan error, 1)
	go func() { done <- r.run(context.Background()) }()
	waitFor(t, "run started", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.started })
	if err := r.run(context.Background()); err == nil {
		t.Fatal("a second run started")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("add after run did not panic")
			}
		}()
		r.add("late", func(context.Context) error { return nil })
	}()
	// close stops a running run and waits for it.
	r.close()
	if !stopped.Load() {
		t.Fatal("close returned before the worker stopped")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	r2, _ := testRunner(time.Second)
	r2.close() // never ran: returns at once
	if err := r2.run(context.Background()); err == nil {
		t.Fatal("run after close started")
	}
}
