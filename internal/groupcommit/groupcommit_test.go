package groupcommit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/groupcommit"
	"github.com/comagicd/comagicd/internal/testenv"
)

type item struct {
	n  int
	id int64
}

func TestGroupCommit(t *testing.T) {
	for _, atomic := range []bool{false, true} {
		t.Run(fmt.Sprintf("atomic=%v", atomic), func(t *testing.T) { testGroupCommit(t, atomic) })
	}
}

func testGroupCommit(t *testing.T, noTx bool) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE gc (id bigserial PRIMARY KEY, n int NOT NULL CHECK (n >= 0))`); err != nil {
		t.Fatal(err)
	}
	var batches, maxBatch atomic.Int64
	b := groupcommit.New("gc", db, func(ctx context.Context, tx groupcommit.Conn, items []*item) error {
		bt := &pgx.Batch{}
		for _, it := range items {
			bt.Queue(`INSERT INTO gc (n) VALUES ($1) RETURNING id`, it.n)
		}
		br := tx.SendBatch(ctx, bt)
		defer br.Close()
		for _, it := range items {
			if err := br.QueryRow().Scan(&it.id); err != nil {
				return err
			}
		}
		return nil
	}, groupcommit.Options{MaxBatch: 64, Workers: 2, Atomic: noTx})
	b.OnBatch(func(n int) {
		batches.Add(1)
		for {
			m := maxBatch.Load()
			if int64(n) <= m || maxBatch.CompareAndSwap(m, int64(n)) {
				break
			}
		}
	})

	// 400 concurrent writers, all valid: they must share transactions.
	submit := func(items []*item) []error {
		var wg sync.WaitGroup
		results := make([]error, len(items))
		for i := range items {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = b.Do(ctx, items[i])
			}(i)
		}
		wg.Wait()
		return results
	}
	valid := make([]*item, 400)
	for i := range valid {
		valid[i] = &item{n: i}
	}
	for i, err := range submit(valid) {
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	if maxBatch.Load() < 2 {
		t.Errorf("no batching happened (largest batch %d over %d batches)", maxBatch.Load(), batches.Load())
	}
	t.Logf("%d batches, largest %d", batches.Load(), maxBatch.Load())

	// Again with every 50th item invalid (negative): only those fail.
	items := make([]*item, 400)
	for i := range items {
		n := i
		if i%50 == 49 {
			n = -1
		}
		items[i] = &item{n: n}
	}
	results := submit(items)
	b.Close()
	for i, err := range results {
		bad := i%50 == 49
		if bad != (err != nil) {
			t.Fatalf("item %d: err %v", i, err)
		}
		if err != nil {
			continue
		}
		// Acknowledged means committed: the row is there with the id handed back.
		var n int
		if err := db.QueryRow(ctx, `SELECT n FROM gc WHERE id = $1`, items[i].id).Scan(&n); err != nil || n != items[i].n {
			t.Fatalf("item %d acknowledged but row %d is %d, %v", i, items[i].id, n, err)
		}
	}
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM gc`).Scan(&total); err != nil || total != 792 {
		t.Fatalf("rows %d %v, want 792", total, err)
	}

	if err := b.Do(ctx, &item{n: 1}); !errors.Is(err, groupcommit.ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
}

func TestCallerGivesUp(t *testing.T) {
	db := testenv.NewDB(t)
	release := make(chan struct{})
	b := groupcommit.New("slow", db, func(ctx context.Context, tx groupcommit.Conn, items []*item) error {
		<-release
		return nil
	}, groupcommit.Options{Workers: 1})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Do(ctx, &item{}) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	close(release)
	// Another caller still gets through.
	if err := b.Do(context.Background(), &item{}); err != nil {
		t.Fatal(fmt.Errorf("after a canceled caller: %w", err))
	}
}
