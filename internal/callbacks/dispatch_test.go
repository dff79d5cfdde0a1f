package callbacks_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/callbacks"
	"github.com/comagicd/comagicd/internal/testenv"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// onceEach checks that rcv got each of ids exactly once, signed with secret,
// not before its due time.
func onceEach(t *testing.T, rcv *receiver, secret string, due time.Time, ids ...int64) {
	t.Helper()
	seen := map[int64]int{}
	for _, d := range rcv.deliveries() {
		p := checkSigned(t, d, secret)
		seen[p.CallbackID]++
		if d.at.Before(due) || p.DueAt.Before(due.Add(-time.Second)) {
			t.Fatalf("callback %d sent at %s, due %s", p.CallbackID, d.at, due)
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("callback %d sent %d times (%v)", id, seen[id], seen)
		}
	}
	if len(seen) != len(ids) {
		t.Fatalf("sent %v, want %v", seen, ids)
	}
}

func TestDelayedCallbackSurvivesRestart(t *testing.T) {
	a := testenv.StartServer(t, testenv.Options{})
	site := a.CreateSite(t, "shop.example")
	rcv := newReceiver(t, 0)
	sc := addScenario(t, a, site, "", rcv.URL, false)
	v := a.NewVisitor(t, site)
	due := time.Now().Add(2 * time.Second)
	code, ans := order(t, a, v, map[string]any{"phone": "+74951234567", "delayed_call_time": strconv.FormatInt(due.UnixMilli(), 10)})
	id := expect(t, code, ans, callbacks.StatusAccepted, "")
	// The node dies before the call is due; another starts on the database.
	a.Kill()
	b := testenv.StartServer(t, testenv.Options{DatabaseURL: a.DatabaseURL})
	waitFor(t, 15*time.Second, "dispatched by the new node", func() bool {
		return count(t, b, `SELECT count(*) FROM callbacks WHERE id = $1 AND status = 'dispatched' AND attempts = 0`, id) == 1
	})
	onceEach(t, rcv, sc.Secret, due.Truncate(time.Millisecond), id)
}

func TestTwoNodesDispatchOnce(t *testing.T) {
	a := testenv.StartServer(t, testenv.Options{})
	b := testenv.StartServer(t, testenv.Options{DatabaseURL: a.DatabaseURL})
	site := a.CreateSite(t, "shop.example")
	rcv := newReceiver(t, 0)
	sc := addScenario(t, a, site, "", rcv.URL, false)
	due := time.Now().Add(2 * time.Second)
	var ids []int64
	for i := range 8 {
		node := []*testenv.Server{a, b}[i%2]
		v := node.NewVisitor(t, site)
		code, ans := order(t, node, v, map[string]any{"phone": "+74951234567", "delayed_call_time": due.UnixMilli()})
		ids = append(ids, expect(t, code, ans, callbacks.StatusAccepted, ""))
	}
	waitFor(t, 15*time.Second, "every order dispatched", func() bool {
		return count(t, a, `SELECT count(*) FROM callbacks WHERE status = 'dispatched'`) == len(ids)
	})
	onceEach(t, rcv, sc.Secret, due.Truncate(time.Millisecond), ids...)
}

func TestRetriesThenFails(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	ctx := context.Background()
	site, site2 := srv.CreateSite(t, "shop.example"), srv.CreateSite(t, "other.example")
	s2, err := srv.App.Sites.SiteByKey(ctx, site2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webhooks.NewStore(srv.DB).Add(ctx, s2.AccountID, "http://127.0.0.1:9/unused", nil); err != nil {
		t.Fatal(err)
	}
	// One receiver fails twice, the other always.
	flaky, down := newReceiver(t, 2), newReceiver(t, 1000)
	sc := addScenario(t, srv, site, "", flaky.URL, false)
	addScenario(t, srv, site2, "", down.URL, false)
	later := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	code, ans := order(t, srv, srv.NewVisitor(t, site), map[string]any{"phone": "+74951234567", "delayed_call_time": later})
	id := expect(t, code, ans, callbacks.StatusAccepted, "")
	code, ans = order(t, srv, srv.NewVisitor(t, site2), map[string]any{"phone": "+74951234567", "delayed_call_time": later})
	id2 := expect(t, code, ans, callbacks.StatusAccepted, "")

	// The server's dispatcher backs off 5 s, 30 s...: it stops, and this
	// test's dispatcher, on the same database, retries at once.
	srv.Kill()
	if _, err := srv.DB.Exec(ctx, `UPDATE callbacks SET next_attempt_at = now() WHERE id = ANY ($1)`, []int64{id, id2}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := callbacks.NewDispatcher(srv.DB, log, callbacks.DispatcherOptions{Interval: 20 * time.Millisecond,
		Backoff: func(int) time.Duration { return 50 * time.Millisecond }, MaxAttempts: 3})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})

	// The receiver failing twice gets the order on the third try.
	waitFor(t, 10*time.Second, "dispatched on the third try", func() bool {
		return count(t, srv, `SELECT count(*) FROM callbacks WHERE id = $1 AND status = 'dispatched' AND attempts = 2 AND last_status = 204`, id) == 1
	})
	got := flaky.deliveries()
	if len(got) != 3 {
		t.Fatalf("attempts %d", len(got))
	}
	for _, g := range got {
		if p := checkSigned(t, g, sc.Secret); p.CallbackID != id {
			t.Fatalf("payload %+v", p)
		}
	}
	// The order of the receiver that always fails fails after MaxAttempts,
	// and callback.failed is queued for the account's webhooks.
	waitFor(t, 10*time.Second, "failed after 3 attempts", func() bool {
		return count(t, srv, `SELECT count(*) FROM callbacks WHERE id = $1 AND status = 'failed' AND attempts = 3 AND last_status = 500`, id2) == 1
	})
	if n := len(down.deliveries()); n != 3 {
		t.Fatalf("attempts %d", n)
	}
	if n := count(t, srv, `SELECT count(*) FROM webhook_deliveries WHERE event = 'callback.failed' AND (payload->>'callback_id')::bigint = $1
		AND payload->>'status' = 'failed' AND (payload->>'attempts')::int = 3`, id2); n != 1 {
		t.Fatalf("callback.failed events %d", n)
	}
}

func TestOperatorSeesCallback(t *testing.T) {
	a := testenv.StartServer(t, testenv.Options{})
	b := testenv.StartServer(t, testenv.Options{DatabaseURL: a.DatabaseURL})
	site := a.CreateSite(t, "shop.example")
	other := a.CreateSite(t, "other.example")
	addScenario(t, a, site, "", newReceiver(t, 0).URL, false)
	op := a.CreateOperator(t, "anna", "Анна", []string{site})
	ws := a.DialOperator(t, op.Token)
	ws.Wait(t, testenv.Type("hello"), "hello")
	// Ordered through the other node.
	code, ans := order(t, b, b.NewVisitor(t, site), map[string]any{"phone": "+74951234567"})
	id := expect(t, code, ans, callbacks.StatusAccepted, "")
	s, err := a.App.Sites.SiteByKey(context.Background(), site)
	if err != nil {
		t.Fatal(err)
	}
	f := ws.Wait(t, testenv.Type("callback"), "callback frame")
	if f["site_id"] != float64(s.ID) || f["callback_id"] != float64(id) {
		t.Fatalf("frame %v", f)
	}
	// Another site's orders do not reach this operator.
	addScenario(t, a, other, "", newReceiver(t, 0).URL, false)
	code, ans = order(t, a, a.NewVisitor(t, other), map[string]any{"phone": "+74951234567"})
	foreign := expect(t, code, ans, callbacks.StatusAccepted, "")
	code, ans = order(t, a, a.NewVisitor(t, site), map[string]any{"phone": "+74951234567"})
	id = expect(t, code, ans, callbacks.StatusAccepted, "")
	ws.Wait(t, func(f map[string]any) bool { return f["type"] == "callback" && f["callback_id"] == float64(id) }, "second callback frame")
	for _, f := range ws.All() {
		if f["type"] == "callback" && f["callback_id"] == float64(foreign) {
			t.Fatalf("another site's callback: %v", f)
		}
	}
}
