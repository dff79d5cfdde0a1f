package mail_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/mail"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

// countingQueue counts the claims an outbox made, so tests can wait for a
// worker to have looked again instead of sleeping.
type countingQueue struct {
	mail.Queue
	claims atomic.Int64
}

func (c *countingQueue) Claim(ctx context.Context, limit int, lease time.Duration) ([]mail.Queued, error) {
	defer c.claims.Add(1)
	return c.Queue.Claim(ctx, limit, lease)
}

// waitClaims waits until q made n more claims than now.
func waitClaims(t *testing.T, q *countingQueue, n int64) {
	t.Helper()
	target := q.claims.Load() + n
	waitFor(t, fmt.Sprintf("%d claims", n), 10*time.Second, func() bool { return q.claims.Load() >= target })
}

// nudge wakes o and waits for the look it takes. The count is read before
// the wake-up: the look may be over before Notify returns.
func nudge(t *testing.T, o *mail.Outbox, q *countingQueue) {
	t.Helper()
	target := q.claims.Load() + 1
	o.Notify()
	waitFor(t, "a claim after Notify", 10*time.Second, func() bool { return q.claims.Load() >= target })
}

// run starts o.Run and stops it when the test ends, checking that it returns nil.
func run(t *testing.T, o *mail.Outbox) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	t.Cleanup(stop)
	return stop
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSender(t *testing.T, srv *smtpServer) *mail.SMTPSender {
	t.Helper()
	s, err := mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://" + srv.addr, From: "Чат <chat@example.com>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type row struct {
	attempts  int
	lastError string
	sent      bool
	due       bool
}

func outboxRow(t *testing.T, db *pgxpool.Pool, id int64) row {
	t.Helper()
	var r row
	err := db.QueryRow(context.Background(), `SELECT attempts, last_error, sent_at IS NOT NULL, next_attempt_at <= now()
		FROM mail_outbox WHERE id = $1`, id).Scan(&r.attempts, &r.lastError, &r.sent, &r.due)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOutboxDeliversOnce(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDB(t)
	srv := startSMTP(t, serverOptions{})
	store := postgres.NewMailOutbox(db)
	q := &countingQueue{Queue: store}
	// Polls are an hour apart: only Notify makes this worker look.
	o := mail.NewOutbox(q, newSender(t, srv), quiet(), mail.OutboxOptions{Interval: time.Hour})
	run(t, o)
	waitClaims(t, q, 1) // the first look, at start

	m := mail.Message{Kind: "transcript", To: "ivan@example.org", Subject: "Переписка с оператором", Body: russianBody}

	// Queued in a transaction that rolls back: never sent.
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Enqueue(ctx, tx, m); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	nudge(t, o, q)
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("a rolled-back mail was sent (%d messages)", n)
	}

	// Queued in a transaction that commits: sent once Notify wakes the worker.
	tx, err = db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := store.Enqueue(ctx, tx, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	o.Notify()
	waitFor(t, "delivery", 10*time.Second, func() bool { return len(srv.messages()) == 1 })
	waitFor(t, "sent_at", 10*time.Second, func() bool { return outboxRow(t, db, id).sent })
	if r := outboxRow(t, db, id); r.attempts != 0 || r.lastError != "" {
		t.Fatalf("row after delivery: %+v", r)
	}
	// Later looks do not send it again.
	for range 3 {
		nudge(t, o, q)
	}
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("delivered %d times", len(msgs))
	}
	d := decode(t, msgs[0].Data)
	if d.Subject != m.Subject || d.Body != m.Body || msgs[0].To[0] != m.To {
		t.Fatalf("delivered subject %q to %v, body\n%s", d.Subject, msgs[0].To, d.Body)
	}

	// A bad message is refused before it is stored.
	if _, err := store.Enqueue(ctx, nil, mail.Message{Kind: "transcript", To: "nobody", Subject: "x", Body: "y"}); err == nil {
		t.Fatal("enqueued a mail to an invalid address")
	}
}

func TestOutboxRetriesUntilServerRecovers(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDB(t)
	srv := startSMTP(t, serverOptions{})
	srv.setRefuse(3) // 451 three times, then accept
	store := postgres.NewMailOutbox(db)

	const backoff = 200 * time.Millisecond
	var mu sync.Mutex
	var backoffArgs []int
	type result struct {
		attempts int
		err      error
		at       time.Time
	}
	var results []result
	o := mail.NewOutbox(store, newSender(t, srv), quiet(), mail.OutboxOptions{
		Interval: 10 * time.Millisecond,
		Backoff: func(n int) time.Duration {
			mu.Lock()
			backoffArgs = append(backoffArgs, n)
			mu.Unlock()
			return backoff
		},
		OnResult: func(q mail.Queued, err error) {
			mu.Lock()
			results = append(results, result{q.Attempts, err, time.Now()})
			mu.Unlock()
		},
	})
	id, err := store.Enqueue(ctx, nil, mail.Message{Kind: "late_answer", To: "olga@example.org", Subject: "Ответ", Body: "Да, есть в наличии."})
	if err != nil {
		t.Fatal(err)
	}
	run(t, o)
	waitFor(t, "delivery after the server recovers", 20*time.Second, func() bool { return len(srv.messages()) == 1 })
	waitFor(t, "sent_at", 10*time.Second, func() bool { return outboxRow(t, db, id).sent })

	r := outboxRow(t, db, id)
	if r.attempts != 3 || !strings.Contains(r.lastError, "451") {
		t.Fatalf("row after recovery: %+v; want 3 failed attempts, last error with 451", r)
	}
	if attempts, refused := srv.counts(); refused != 3 || attempts != 4 {
		t.Fatalf("server saw %d transactions, refused %d", attempts, refused)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(backoffArgs) != "[1 2 3]" {
		t.Fatalf("backoff asked for %v, want [1 2 3]", backoffArgs)
	}
	if len(results) != 4 {
		t.Fatalf("%d results, want 4", len(results))
	}
	for i, res := range results {
		if res.attempts != i || (res.err == nil) != (i == 3) {
			t.Errorf("result %d: attempts %d, err %v", i, res.attempts, res.err)
		}
		// Each retry waited for its backoff (less a margin for the time
		// between recording the failure and reporting it).
		if i > 0 && res.at.Sub(results[i-1].at) < backoff*3/4 {
			t.Errorf("retry %d came %v after the previous attempt, before the %v backoff", i, res.at.Sub(results[i-1].at), backoff)
		}
	}
}

func TestOutboxTwoWorkersDeliverEachMailOnce(t *testing.T) {
	ctx := context.Background()
	url := testenv.NewDatabase(t)
	srv := startSMTP(t, serverOptions{})
	sender := newSender(t, srv)
	// Two nodes: a pool each.
	storeA := postgres.NewMailOutbox(testenv.NewDBAt(t, url))
	storeB := postgres.NewMailOutbox(testenv.NewDBAt(t, url))
	const total = 60
	for i := range total {
		m := mail.Message{Kind: "transcript", To: fmt.Sprintf("v%d@example.org", i), Subject: fmt.Sprintf("Письмо %d", i), Body: "Текст"}
		if _, err := storeA.Enqueue(ctx, nil, m); err != nil {
			t.Fatal(err)
		}
	}
	var sentA, sentB atomic.Int64
	qa, qb := &countingQueue{Queue: storeA}, &countingQueue{Queue: storeB}
	opts := func(n *atomic.Int64) mail.OutboxOptions {
		return mail.OutboxOptions{Interval: 5 * time.Millisecond, Batch: 3, OnResult: func(_ mail.Queued, err error) {
			if err == nil {
				n.Add(1)
			}
		}}
	}
	run(t, mail.NewOutbox(qa, sender, quiet(), opts(&sentA)))
	run(t, mail.NewOutbox(qb, sender, quiet(), opts(&sentB)))
	waitFor(t, "all deliveries", 30*time.Second, func() bool { return len(srv.messages()) >= total })
	// Both workers look a few more times: nothing is sent twice.
	waitClaims(t, qa, 3)
	waitClaims(t, qb, 3)
	seen := map[string]int{}
	for _, m := range srv.messages() {
		seen[decode(t, m.Data).Subject]++
	}
	for i := range total {
		if n := seen[fmt.Sprintf("Письмо %d", i)]; n != 1 {
			t.Errorf("mail %d delivered %d times", i, n)
		}
	}
	if n := len(srv.messages()); n != total {
		t.Errorf("%d deliveries, want %d", n, total)
	}
	t.Logf("worker A sent %d, worker B sent %d", sentA.Load(), sentB.Load())
	var unsent int
	if err := testenv.NewDBAt(t, url).QueryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL`).Scan(&unsent); err != nil {
		t.Fatal(err)
	}
	if unsent != 0 {
		t.Fatalf("%d mails not marked sent", unsent)
	}
}

func TestOutboxShutdownReleasesInterruptedMail(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDB(t)
	srv := startSMTP(t, serverOptions{})
	srv.hold = make(chan struct{}) // the server stalls in DATA
	defer close(srv.hold)
	store := postgres.NewMailOutbox(db)
	id, err := store.Enqueue(ctx, nil, mail.Message{Kind: "transcript", To: "a@example.org", Subject: "x", Body: "y"})
	if err != nil {
		t.Fatal(err)
	}
	// The SMTP timeout is long: only the shutdown can interrupt the send.
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://" + srv.addr, From: "chat@example.com", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	o := mail.NewOutbox(store, sender, quiet(), mail.OutboxOptions{})
	stop := run(t, o)
	waitFor(t, "the send to stall", 10*time.Second, func() bool { return srv.stalled.Load() })
	if r := outboxRow(t, db, id); r.due {
		t.Fatal("a claimed mail is still due")
	}
	start := time.Now()
	stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	// Released: due again at once, no attempt counted, not sent.
	if r := outboxRow(t, db, id); !r.due || r.attempts != 0 || r.sent {
		t.Fatalf("row after shutdown: %+v", r)
	}
}
