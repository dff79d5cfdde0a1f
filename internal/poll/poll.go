// Package poll runs the loop of an outbox worker: do the due work, then wait
// for the next tick or for a nudge that new work was just stored.
package poll

import (
	"context"
	"sync"
	"time"
)

// Waker lets the writer of new work wake the worker at once. The zero value
// is not usable; use NewWaker.
type Waker struct {
	c chan struct{}
}

// NewWaker returns a Waker.
func NewWaker() Waker { return Waker{c: make(chan struct{}, 1)} }

// Notify wakes the loop; nudges made while it works coalesce. It never blocks.
func (w Waker) Notify() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// Loop calls work now and then after every interval or Notify, until ctx ends;
// it returns nil then.
func (w Waker) Loop(ctx context.Context, interval time.Duration, work func(ctx context.Context)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		work(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-w.c:
		}
	}
}

// Drain claims batches of up to size items with claim and handles each
// batch's items concurrently, until a batch comes back short, ctx ends or
// claim fails; it returns claim's error (nil when ctx ended meanwhile).
func Drain[T any](ctx context.Context, size int, claim func(context.Context) ([]T, error), handle func(context.Context, T)) error {
	for ctx.Err() == nil {
		batch, err := claim(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var wg sync.WaitGroup
		for _, item := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(ctx, item)
			}()
		}
		wg.Wait()
		if len(batch) < size {
			return nil
		}
	}
	return nil
}
