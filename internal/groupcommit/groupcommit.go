// Package groupcommit batches concurrent writes into shared transactions. Every
// caller of Do waits until the transaction holding its item has committed, so an
// acknowledged write is durable, while many concurrent requests cost one commit.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Conn is what a flush writes through: a transaction, or a pooled connection
// when the batcher runs without explicit transactions (Options.Atomic).
type Conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// FlushFunc writes a batch of items through conn. It may record per-item results
// in the items themselves (they are usually pointers). An error rolls the batch
// back; the batcher then retries each item alone so that one bad item fails only
// itself.
type FlushFunc[T any] func(ctx context.Context, conn Conn, items []T) error

// Options tune a Batcher.
type Options struct {
	// MaxBatch caps the number of items in one transaction (default 256).
	MaxBatch int
	// Workers is the number of transactions that may be in flight at once (default 4).
	Workers int
	// Atomic says the flush writes with one statement, or one pgx.Batch (which
	// PostgreSQL runs as one implicit transaction), so it is atomic without
	// BEGIN and COMMIT; the batcher then spares those two round trips.
	Atomic bool
}

// commitTimeout bounds one transaction so that a stuck database fails callers
// instead of holding them forever.
const commitTimeout = 30 * time.Second

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("groupcommit: batcher closed")

type pending[T any] struct {
	item T
	done chan error
}

// Batcher groups items submitted concurrently with Do into transactions.
type Batcher[T any] struct {
	name   string
	pool   *pgxpool.Pool
	flush  FlushFunc[T]
	max    int
	atomic bool
	in     chan *pending[T]

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
	// onBatch, when set, observes the size of every committed batch.
	onBatch func(n int)
}

// New starts a batcher whose workers run until Close. name appears in errors.
func New[T any](name string, pool *pgxpool.Pool, flush FlushFunc[T], opts Options) *Batcher[T] {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	b := &Batcher[T]{
		name:   name,
		pool:   pool,
		flush:  flush,
		max:    opts.MaxBatch,
		atomic: opts.Atomic,
		in:     make(chan *pending[T], opts.MaxBatch*opts.Workers),
	}
	for range opts.Workers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// OnBatch registers an observer of committed batch sizes (for metrics). It must
// be called before the first Do.
func (b *Batcher[T]) OnBatch(fn func(n int)) { b.onBatch = fn }

// Do submits item and waits until the transaction that wrote it has committed or
// failed. When ctx ends first, Do returns ctx.Err() and the item may still be
// written: the caller must not report success.
func (b *Batcher[T]) Do(ctx context.Context, item T) error {
	p := &pending[T]{item: item, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.in <- p:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting items, writes the ones already submitted and waits for
// the workers to finish.
func (b *Batcher[T]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Batcher[T]) work() {
	defer b.wg.Done()
	batch := make([]*pending[T], 0, b.max)
	for first := range b.in {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.max {
			select {
			case p, ok := <-b.in:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		b.run(batch)
	}
}

// run writes the batch; on failure each item is retried in a transaction of its
// own so that it gets its own verdict.
func (b *Batcher[T]) run(batch []*pending[T]) {
	items := make([]T, len(batch))
	for i, p := range batch {
		items[i] = p.item
	}
	err := b.commit(items)
	var pgErr *pgconn.PgError
	if err == nil || len(batch) == 1 || (b.atomic && !errors.As(err, &pgErr)) {
		// Without an explicit transaction, only an error the server reported
		// proves the batch was rolled back; after any other error it may have
		// committed, so it is not written a second time.
		if err == nil && b.onBatch != nil {
			b.onBatch(len(batch))
		}
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	for i, p := range batch {
		p.done <- b.commit(items[i : i+1])
	}
}

func (b *Batcher[T]) commit(items []T) error {
	// The transaction is not tied to any one caller's context: a caller that gave
	// up must not abort the others' writes.
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var err error
	if b.atomic {
		err = b.pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error { return b.flush(ctx, c, items) })
	} else {
		err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return b.flush(ctx, tx, items) })
	}
	if err != nil {
		return fmt.Errorf("groupcommit %s: %w", b.name, err)
	}
	return nil
}
