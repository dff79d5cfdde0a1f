package poll

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoop: work runs at once, again on Notify well before the interval, and
// the loop ends with its context.
func TestLoop(t *testing.T) {
	w := NewWaker()
	var runs atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Loop(ctx, time.Hour, func(context.Context) { runs.Add(1) }) }()
	waitFor := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runs.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d runs, want %d", runs.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(1)
	w.Notify()
	waitFor(2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
