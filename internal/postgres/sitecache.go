package postgres

import (
	"context"
	"sync"
	"time"
)

// siteCache keeps a per-site value that every bootstrap answer needs (lead
// rules, call-tracking configuration) for siteCacheTTL, so that a change made
// through another node shows within that time and a busy site costs one query
// per node and TTL.
type siteCache[T any] struct {
	now func() time.Time

	mu sync.RWMutex
	m  map[int64]cachedValue[T] // by site id
}

type cachedValue[T any] struct {
	v  T
	at time.Time
}

func newSiteCache[T any]() *siteCache[T] {
	return &siteCache[T]{now: time.Now, m: map[int64]cachedValue[T]{}}
}

// get returns the site's cached value, loading it when missing or stale.
func (c *siteCache[T]) get(ctx context.Context, siteID int64, load func(ctx context.Context) (T, error)) (T, error) {
	c.mu.RLock()
	e, ok := c.m[siteID]
	c.mu.RUnlock()
	if ok && c.now().Sub(e.at) < siteCacheTTL {
		return e.v, nil
	}
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) > maxCached {
		clear(c.m)
	}
	c.m[siteID] = cachedValue[T]{v: v, at: c.now()}
	c.mu.Unlock()
	return v, nil
}

// forget drops the site's value after a change made through this node.
func (c *siteCache[T]) forget(siteID int64) {
	c.mu.Lock()
	delete(c.m, siteID)
	c.mu.Unlock()
}
