package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// idBlock is the INCREMENT of the id sequences (see migrations): one nextval
// reserves idBlock consecutive ids for this node. Sequences are not
// transactional, so ids of a rolled-back batch are simply skipped.
const idBlock = 100

// idAllocator hands out ids from blocks reserved with one sequence call each.
type idAllocator struct {
	pool *pgxpool.Pool
	seq  string
	mu   sync.Mutex
	next int64
	end  int64
}

func newIDAllocator(pool *pgxpool.Pool, seq string) *idAllocator {
	return &idAllocator{pool: pool, seq: seq}
}

// take returns n fresh ids, reserving new blocks when needed.
func (a *idAllocator) take(ctx context.Context, n int) ([]int64, error) {
	out := make([]int64, 0, n)
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(out) < n {
		if a.next >= a.end {
			var first int64
			if err := a.pool.QueryRow(ctx, `SELECT nextval($1::regclass)`, a.seq).Scan(&first); err != nil {
				return nil, fmt.Errorf("postgres: reserve ids from %s: %w", a.seq, err)
			}
			a.next, a.end = first, first+idBlock
		}
		out = append(out, a.next)
		a.next++
	}
	return out, nil
}
