// Package hubtest is the conformance suite every hub engine passes. An
// engine's tests call Run, and RunReconnect with a way to cut the engine's
// connection to its broker. The suite runs real engines on a real broker;
// several test processes may share the broker, so every topic it uses starts
// with a random prefix.
package hubtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/hub"
)

// deadline bounds every wait of the suite.
const deadline = 20 * time.Second

// Run checks an engine's behaviour through hubs on two or more of its engines
// ("nodes"). Every engine newEngine returns within one call of Run must reach
// the same broker; newEngine must not start the engine's Run.
func Run(t *testing.T, newEngine func(t *testing.T) hub.Engine) {
	t.Run("RunStopsWithContext", func(t *testing.T) {
		e := newEngine(t)
		if e.Ready() {
			t.Fatal("Ready before Run")
		}
		h := hub.New(e, Logger(t))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- h.Run(ctx) }()
		WaitFor(t, "engine ready", h.Ready)
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("Run after cancel: %v", err)
			}
		case <-time.After(deadline):
			t.Fatal("Run did not return after its context ended")
		}
		if e.Ready() {
			t.Fatal("Ready after Run returned")
		}
	})

	t.Run("BothNodesReceive", func(t *testing.T) {
		a, b := Node(t, newEngine(t)), Node(t, newEngine(t))
		topic := Topic("both")
		ra, rb := Record(a, topic), Record(b, topic)
		// Messages of different nodes have no order between them; each
		// waits for the one before.
		var want []string
		for _, m := range []struct {
			from *hub.Hub
			text string
		}{{a, "from a"}, {b, "from b"}, {a, "end"}} {
			publish(t, m.from, topic, m.text)
			want = append(want, m.text)
			ra.WaitFor(t, want...)
			rb.WaitFor(t, want...)
		}
	})

	t.Run("OrderPerTopic", func(t *testing.T) {
		a, b := Node(t, newEngine(t)), Node(t, newEngine(t))
		topic := Topic("order")
		ra, rb := Record(a, topic), Record(b, topic)
		want := make([]string, 1000)
		for i := range want {
			want[i] = strconv.Itoa(i)
			publish(t, a, topic, want[i])
		}
		ra.WaitFor(t, want...)
		rb.WaitFor(t, want...)
	})

	t.Run("ManyTopics", func(t *testing.T) {
		a, b := Node(t, newEngine(t)), Node(t, newEngine(t))
		prefix := Topic("many")
		recs := make([]*Recorder, 300)
		for i := range recs {
			recs[i] = Record(b, prefix+"."+strconv.Itoa(i))
		}
		silent := Record(b, prefix+".silent")
		for m := range 3 {
			for i := range recs {
				publish(t, a, prefix+"."+strconv.Itoa(i), fmt.Sprintf("%d/%d", i, m))
			}
		}
		for i, r := range recs {
			r.WaitFor(t, fmt.Sprintf("%d/0", i), fmt.Sprintf("%d/1", i), fmt.Sprintf("%d/2", i))
		}
		if got := silent.Got(); len(got) != 0 {
			t.Fatalf("a topic nobody published on received %q", got)
		}
	})

	t.Run("ManySubscribers", func(t *testing.T) {
		a, b := Node(t, newEngine(t)), Node(t, newEngine(t))
		prefix := Topic("subs")
		const topics, perTopic = 10000, 2
		var delivered atomic.Int64
		cancels := make([]func(), 0, topics*perTopic)
		before := b.Subscribers()
		for i := range topics {
			for range perTopic {
				cancels = append(cancels, b.Subscribe(prefix+"."+strconv.Itoa(i), func([]byte) { delivered.Add(1) }))
			}
		}
		if n := b.Subscribers() - before; n != topics*perTopic {
			t.Fatalf("Subscribers() grew by %d, want %d", n, topics*perTopic)
		}
		end := Record(b, prefix+".end")
		for i := 0; i < topics; i += topics / 50 {
			publish(t, a, prefix+"."+strconv.Itoa(i), "x")
		}
		publish(t, a, prefix+".end", "end")
		end.WaitFor(t, "end")
		if n := delivered.Load(); n != 50*perTopic {
			t.Fatalf("%d deliveries, want %d", n, 50*perTopic)
		}
		for _, c := range cancels {
			c()
		}
		if n := b.Subscribers() - before; n != 1 {
			t.Fatalf("after cancelling, %d subscriptions left, want 1 (end)", n)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		a, b := Node(t, newEngine(t)), Node(t, newEngine(t))
		topic := Topic("cancel")
		r1, r2 := Record(b, topic), Record(b, topic)
		publish(t, a, topic, "1")
		r1.WaitFor(t, "1")
		r1.Cancel()
		r1.Cancel() // a second cancel does nothing
		publish(t, a, topic, "2")
		publish(t, a, topic, "3")
		r2.WaitFor(t, "1", "2", "3")
		if got := r1.Got(); !slices.Equal(got, []string{"1"}) {
			t.Fatalf("cancelled subscriber received %q", got)
		}
	})

	t.Run("SubscribeAndCancelInsideDelivery", func(t *testing.T) {
		a, b := Node(t, newEngine(t)), Node(t, newEngine(t))
		topic, other := Topic("inside"), Topic("other")
		victim := Record(b, topic)
		var later atomic.Pointer[Recorder]
		var once sync.Once
		cancel := b.Subscribe(topic, func([]byte) {
			once.Do(func() {
				victim.Cancel()
				later.Store(Record(b, other))
			})
		})
		defer cancel()
		publish(t, a, topic, "first")
		WaitFor(t, "the subscriber's own subscription", func() bool { return b.Subscribers() >= 2 })
		publish(t, a, other, "second")
		WaitFor(t, "delivery to the subscription made inside a delivery", func() bool {
			r := later.Load()
			return r != nil && len(r.Got()) == 1
		})
		later.Load().WaitFor(t, "second")
		if got := victim.Got(); len(got) > 1 {
			t.Fatalf("subscription cancelled inside a delivery received %q", got)
		}
	})

	t.Run("Limits", func(t *testing.T) {
		a, b := Node(t, newEngine(t)), Node(t, newEngine(t))
		topic := Topic("limits")
		rb := Record(b, topic)
		biggest := strings.Repeat("я", hub.MaxPayload/2) // 2 bytes each
		publish(t, a, topic, biggest)
		long := topic + "." + strings.Repeat("x", hub.MaxTopic-len(topic)-1)
		rlong := Record(b, long)
		publish(t, a, long, `{"k":"state"}`)
		rb.WaitFor(t, biggest)
		rlong.WaitFor(t, `{"k":"state"}`)

		for _, p := range [][]byte{
			[]byte(biggest + "x"), {0xff, 0xfe}, []byte("a\x00b"),
		} {
			err := a.Publish(context.Background(), topic, p)
			if e := asInvalid(err); e == nil || e.Field != "payload" {
				t.Errorf("Publish of a bad payload (%d bytes): %v, want EINVALID on payload", len(p), err)
			}
		}
		for _, bad := range []string{"", "a b", "a..b", ".a", "a.", "a.*", "a.>", "ä", long + "y", "a\nb"} {
			err := a.Publish(context.Background(), bad, []byte("x"))
			if e := asInvalid(err); e == nil || e.Field != "topic" {
				t.Errorf("Publish on topic %q: %v, want EINVALID on topic", bad, err)
			}
		}
	})

	t.Run("NoOldMessagesForLateNode", func(t *testing.T) {
		a := Node(t, newEngine(t))
		topic := Topic("late")
		ra := Record(a, topic)
		for i := range 5 {
			publish(t, a, topic, "old"+strconv.Itoa(i))
		}
		// a received them back: they went through the broker before b exists.
		ra.WaitFor(t, "old0", "old1", "old2", "old3", "old4")
		b := Node(t, newEngine(t))
		rb := Record(b, topic)
		publish(t, a, topic, "new")
		ra.WaitFor(t, "old0", "old1", "old2", "old3", "old4", "new")
		rb.WaitFor(t, "new")
	})
}

// RunReconnect checks that an engine whose connection to the broker was cut
// reconnects, calls resync exactly once per reconnection, and then delivers
// and publishes again. newEngine returns an engine and drop, which cuts that
// engine's connection to the broker (the engine must notice by itself).
func RunReconnect(t *testing.T, newEngine func(t *testing.T) (e hub.Engine, drop func())) {
	ea, drop := newEngine(t)
	eb, _ := newEngine(t)
	a, b := Node(t, ea), Node(t, eb)
	var resyncsA, resyncsB atomic.Int64
	defer a.OnResync(func() { resyncsA.Add(1) })()
	defer b.OnResync(func() { resyncsB.Add(1) })()
	topic := Topic("reconnect")
	ra, rb := Record(a, topic), Record(b, topic)
	publish(t, b, topic, "before")
	ra.WaitFor(t, "before")
	want := []string{"before"}
	for round := 1; round <= 2; round++ {
		drop()
		WaitFor(t, "resync after the dropped connection", func() bool { return resyncsA.Load() >= int64(round) })
		WaitFor(t, "ready after reconnecting", a.Ready)
		// Published by the other node after the reconnection: a gets it.
		msg := "after " + strconv.Itoa(round)
		publish(t, b, topic, msg)
		want = append(want, msg)
		ra.WaitFor(t, want...)
		// Published by the reconnected node: both get it.
		mine := "from a " + strconv.Itoa(round)
		publish(t, a, topic, mine)
		want = append(want, mine)
		ra.WaitFor(t, want...)
		rb.WaitFor(t, want...)
		if n := resyncsA.Load(); n != int64(round) {
			t.Fatalf("resync called %d times after %d reconnections", n, round)
		}
	}
	if n := resyncsB.Load(); n != 0 {
		t.Fatalf("the node whose connection stayed up resynchronised %d times", n)
	}
}

// Node returns a hub on e whose Run works until the test ends; it waits until
// the engine is ready. At the end it checks that Run returned nil.
func Node(t *testing.T, e hub.Engine) *hub.Hub {
	t.Helper()
	h := hub.New(e, Logger(t))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("hub Run: %v", err)
			}
		case <-time.After(deadline):
			t.Errorf("hub Run did not return within %s after its context ended", deadline)
		}
	})
	WaitFor(t, "engine ready", h.Ready)
	return h
}

// Topic returns a topic unique to this call, starting with name.
func Topic(name string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "hubtest-" + hex.EncodeToString(b) + "." + name
}

// Recorder records the payloads a subscription receives.
type Recorder struct {
	mu     sync.Mutex
	got    []string
	cancel func()
}

// Record subscribes a new recorder to topic on h.
func Record(h *hub.Hub, topic string) *Recorder {
	r := &Recorder{}
	r.cancel = h.Subscribe(topic, func(p []byte) {
		r.mu.Lock()
		r.got = append(r.got, string(p))
		r.mu.Unlock()
	})
	return r
}

// Got returns what was received so far.
func (r *Recorder) Got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Cancel cancels the subscription.
func (r *Recorder) Cancel() { r.cancel() }

// WaitFor waits until the recorder received as many payloads as want and
// then fails the test unless they are want, in order.
func (r *Recorder) WaitFor(t *testing.T, want ...string) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("%d messages", len(want)), func() bool { return len(r.Got()) >= len(want) })
	if got := r.Got(); !slices.Equal(got, want) {
		t.Fatalf("received %d messages %s, want %d %s", len(got), short(got), len(want), short(want))
	}
}

// WaitFor polls cond until it holds, failing the test after the suite's deadline.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", deadline, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Logger returns a logger writing to the test's log while the test runs.
func Logger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter forwards to t.Log until the test ends: engines' callbacks may
// log a little after Run returned.
type testWriter struct {
	mu      sync.Mutex
	t       *testing.T
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

func publish(t *testing.T, h *hub.Hub, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := h.Publish(ctx, topic, []byte(payload)); err != nil {
		t.Fatalf("Publish on %s: %v", topic, err)
	}
}

func asInvalid(err error) *comagic.Error {
	var e *comagic.Error
	if errors.As(err, &e) && e.Code == comagic.EINVALID {
		return e
	}
	return nil
}

// short abbreviates a list of payloads for a failure message.
func short(s []string) string {
	out := make([]string, 0, 12)
	for i, p := range s {
		if i == 10 {
			out = append(out, "…")
			break
		}
		if len(p) > 20 {
			p = p[:20] + "…"
		}
		out = append(out, strconv.Quote(p))
	}
	return "[" + strings.Join(out, " ") + "]"
}
