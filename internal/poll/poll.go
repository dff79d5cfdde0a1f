// Package poll runs the loop of an outbox worker: do the due work, then wait
// for the next tick or for a nudge that new work was just stored.
package poll

import (
	"context"
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
