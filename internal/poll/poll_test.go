package poll

import (
	"context"
	"errors"
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

func TestDrain(t *testing.T) {
	// Batches of 3 until a short one: 3 + 3 + 1 items, each handled once.
	left := 7
	var claims int
	var handled atomic.Int32
	claim := func(context.Context) ([]int, error) {
		claims++
		n := min(3, left)
		left -= n
		return make([]int, n), nil
	}
	if err := Drain(context.Background(), 3, claim, func(context.Context, int) { handled.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if claims != 3 || handled.Load() != 7 {
		t.Fatalf("%d claims, %d handled; want 3 and 7", claims, handled.Load())
	}
	// A failing claim stops and says why.
	boom := errors.New("boom")
	if err := Drain(context.Background(), 3, func(context.Context) ([]int, error) { return nil, boom }, func(context.Context, int) {}); err != boom {
		t.Fatalf("err %v, want boom", err)
	}
}
