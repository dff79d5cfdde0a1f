package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/mail"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

func enqueueMails(t *testing.T, o *postgres.MailOutbox, n int) []int64 {
	t.Helper()
	var ids []int64
	for range n {
		id, err := o.Enqueue(context.Background(), nil, mail.Message{Kind: "transcript", To: "a@example.org", Subject: "Тема", Body: "Текст"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func claimedIDs(qs []mail.Queued) map[int64]bool {
	m := map[int64]bool{}
	for _, q := range qs {
		m[q.ID] = true
	}
	return m
}

func TestMailOutboxClaimLease(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDB(t)
	o := postgres.NewMailOutbox(db)
	ids := enqueueMails(t, o, 3)

	got, err := o.Claim(ctx, 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first, with their contents.
	if len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[1] || got[0].Subject != "Тема" || got[0].Body != "Текст" ||
		got[0].To != "a@example.org" || got[0].Kind != "transcript" || got[0].Attempts != 0 {
		t.Fatalf("first claim: %+v", got)
	}
	// Leased: a second claim gets only the third.
	again, err := o.Claim(ctx, 10, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].ID != ids[2] {
		t.Fatalf("second claim: %+v", again)
	}
	none, err := o.Claim(ctx, 10, time.Hour)
	if err != nil || len(none) != 0 {
		t.Fatalf("third claim: %+v, %v", none, err)
	}

	// Released: due again, no attempt counted.
	if err := o.Release(ctx, []int64{ids[0]}); err != nil {
		t.Fatal(err)
	}
	// Failed: due after retryIn, attempt counted.
	if err := o.MarkFailed(ctx, ids[1], "451 4.3.0 try later \xff\x00", 0); err != nil {
		t.Fatal(err)
	}
	if err := o.MarkFailed(ctx, ids[2], "refused", time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err = o.Claim(ctx, 10, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c := claimedIDs(got); len(got) != 2 || !c[ids[0]] || !c[ids[1]] {
		t.Fatalf("claim after release and failures: %+v", got)
	}
	for _, q := range got {
		if want := map[int64]int{ids[0]: 0, ids[1]: 1}[q.ID]; q.Attempts != want {
			t.Errorf("mail %d: %d attempts, want %d", q.ID, q.Attempts, want)
		}
	}
	var lastErr string
	var retryIn float64
	if err := db.QueryRow(ctx, `SELECT last_error FROM mail_outbox WHERE id = $1`, ids[1]).Scan(&lastErr); err != nil {
		t.Fatal(err)
	}
	if lastErr != "451 4.3.0 try later ?" {
		t.Fatalf("stored error %q", lastErr)
	}
	if err := db.QueryRow(ctx, `SELECT extract(epoch FROM next_attempt_at - now()) FROM mail_outbox WHERE id = $1`, ids[2]).Scan(&retryIn); err != nil {
		t.Fatal(err)
	}
	if retryIn < 3590 || retryIn > 3600 {
		t.Fatalf("next attempt in %.0f s, want an hour", retryIn)
	}

	// Sent: never claimed again, and a late failure report does not revive it.
	if err := o.MarkSent(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := o.MarkFailed(ctx, ids[0], "late", 0); err != nil {
		t.Fatal(err)
	}
	if err := o.Release(ctx, []int64{ids[0]}); err != nil {
		t.Fatal(err)
	}
	var attempts int
	var sent bool
	if err := db.QueryRow(ctx, `SELECT attempts, sent_at IS NOT NULL FROM mail_outbox WHERE id = $1`, ids[0]).Scan(&attempts, &sent); err != nil {
		t.Fatal(err)
	}
	if attempts != 0 || !sent {
		t.Fatalf("sent mail: attempts %d, sent %v", attempts, sent)
	}
	if err := o.Release(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// A claim skips rows another transaction holds instead of waiting for them.
func TestMailOutboxClaimSkipsLockedRows(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDB(t)
	o := postgres.NewMailOutbox(db)
	ids := enqueueMails(t, o, 3)

	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM mail_outbox WHERE id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := o.Claim(cctx, 10, time.Hour)
	if err != nil {
		t.Fatalf("claim beside a locked row: %v", err)
	}
	if c := claimedIDs(got); len(got) != 2 || c[ids[0]] {
		t.Fatalf("claimed %+v, want the two unlocked mails", got)
	}
}

func TestMailOutboxEnqueue(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDB(t)
	o := postgres.NewMailOutbox(db)
	// In the caller's transaction: gone with its rollback.
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Enqueue(ctx, tx, mail.Message{Kind: "transcript", To: "a@example.org", Subject: "s", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM mail_outbox`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows after rollback (%v)", n, err)
	}
	_, err = o.Enqueue(ctx, db, mail.Message{Kind: "transcript", To: "a@example.org\r\nBcc: x@example.org", Subject: "s", Body: "b"})
	if comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) != "to" {
		t.Fatalf("bad address: %v", err)
	}
}

func TestMailOutboxPurgeSent(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDB(t)
	o := postgres.NewMailOutbox(db)
	var ids []int64
	for i := range 3 {
		id, err := o.Enqueue(ctx, nil, mail.Message{Kind: "transcript", To: fmt.Sprintf("v%d@shop.example", i), Subject: "s", Body: "b"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// One sent long ago, one sent now, one not sent.
	if _, err := db.Exec(ctx, `UPDATE mail_outbox SET sent_at = now() - interval '30 days' WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := o.MarkSent(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	n, err := o.PurgeSent(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	var left []int64
	rows, _ := db.Query(ctx, `SELECT id FROM mail_outbox ORDER BY id`)
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		left = append(left, id)
	}
	if len(left) != 2 || left[0] != ids[1] || left[1] != ids[2] {
		t.Fatalf("left %v, want %v", left, ids[1:])
	}
}
