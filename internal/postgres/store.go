package postgres

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/groupcommit"
)

// Store holds the write paths of tracking and leads. Each write path groups
// concurrent requests into shared transactions (internal/groupcommit) and returns
// only after its transaction has committed.
type Store struct {
	db *pgxpool.Pool

	visitorIDs, sessionIDs, hitIDs *idAllocator

	sessMu   sync.RWMutex
	sessions map[int64]comagic.SessionRef // SessionByID answers

	hits   *groupcommit.Batcher[*comagic.HitWrite]
	events *groupcommit.Batcher[*EventWrite]
	ops    *groupcommit.Batcher[*op]
}

// maxCachedSessions bounds the SessionByID cache; it is emptied when full.
const maxCachedSessions = 100000

// BatchObserver receives the size of every committed batch of a write path
// ("hits", "events", "ops"); used for metrics. It may be nil.
type BatchObserver func(path string, n int)

// NewStore starts the store's batchers on db. Close stops them.
func NewStore(db *pgxpool.Pool, observe BatchObserver) *Store {
	s := &Store{
		db:         db,
		visitorIDs: newIDAllocator(db, "visitors_id_seq"),
		sessionIDs: newIDAllocator(db, "sessions_id_seq"),
		hitIDs:     newIDAllocator(db, "hits_id_seq"),
		sessions:   map[int64]comagic.SessionRef{},
	}
	// Every flush writes with one statement or one pipelined batch, which
	// PostgreSQL commits as one implicit transaction.
	atomic := groupcommit.Options{Atomic: true, Workers: 2}
	s.hits = groupcommit.New("hits", db, s.flushHits, atomic)
	s.events = groupcommit.New("events", db, flushEvents, atomic)
	s.ops = groupcommit.New("ops", db, flushOps, atomic)
	if observe != nil {
		s.hits.OnBatch(func(n int) { observe("hits", n) })
		s.events.OnBatch(func(n int) { observe("events", n) })
		s.ops.OnBatch(func(n int) { observe("ops", n) })
	}
	return s
}

// Close writes what was submitted and stops the batchers.
func (s *Store) Close() {
	s.hits.Close()
	s.events.Close()
	s.ops.Close()
}

// op is a small write of its own statements, pipelined with other ops in one
// transaction: queue adds its statements to the batch and read consumes their
// results in the same order. An error from read fails the whole batch (which is
// then retried op by op); per-op outcomes such as "not found" are kept in the op.
type op struct {
	queue func(b *pgx.Batch)
	read  func(br pgx.BatchResults) error
}

func flushOps(ctx context.Context, conn groupcommit.Conn, items []*op) error {
	b := &pgx.Batch{}
	for _, o := range items {
		o.queue(b)
	}
	br := conn.SendBatch(ctx, b)
	for _, o := range items {
		if err := o.read(br); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

// exec runs statements as one op and returns the rows each affected.
func (s *Store) exec(ctx context.Context, stmts ...stmt) ([]int64, error) {
	affected := make([]int64, len(stmts))
	o := &op{
		queue: func(b *pgx.Batch) {
			for _, st := range stmts {
				b.Queue(st.sql, st.args...)
			}
		},
		read: func(br pgx.BatchResults) error {
			for i := range stmts {
				tag, err := br.Exec()
				if err != nil {
					return err
				}
				affected[i] = tag.RowsAffected()
			}
			return nil
		},
	}
	if err := s.ops.Do(ctx, o); err != nil {
		return nil, err
	}
	return affected, nil
}

type stmt struct {
	sql  string
	args []any
}
