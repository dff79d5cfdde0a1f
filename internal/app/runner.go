package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Restart backoff of a failed worker: it doubles from the first to the last
// value, and starts again from the first once a worker ran for at least the
// last value before failing.
const (
	minRestartBackoff = time.Second
	maxRestartBackoff = time.Minute
)

// worker is a named background loop: it runs until its context ends.
type worker struct {
	name string
	fn   func(ctx context.Context) error
}

// runner starts, supervises and stops the workers. A worker that fails
// (returns an error or panics) or returns before shutdown is logged and
// restarted after a backoff: one broken loop must not take the HTTP side down
// with it, and the error log says what is wrong.
type runner struct {
	logger          *slog.Logger
	shutdownTimeout time.Duration
	minBackoff      time.Duration
	maxBackoff      time.Duration

	mu      sync.Mutex
	workers []worker
	started bool
	closed  bool
	cancel  context.CancelFunc
	running map[string]int // workers not yet returned, by name
	stopped chan struct{}  // closed when run returns
}

func newRunner(logger *slog.Logger, shutdownTimeout time.Duration) *runner {
	return &runner{
		logger: logger, shutdownTimeout: shutdownTimeout,
		minBackoff: minRestartBackoff, maxBackoff: maxRestartBackoff,
		running: map[string]int{}, stopped: make(chan struct{}),
	}
}

// add registers a worker; it panics once run has started.
func (r *runner) add(name string, fn func(ctx context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		panic("app: AddWorker(" + name + ") after Run")
	}
	r.workers = append(r.workers, worker{name, fn})
}

// run starts every worker and returns when ctx ends and they all returned,
// or with an error naming the workers still running shutdownTimeout after
// ctx ended.
func (r *runner) run(ctx context.Context) error {
	r.mu.Lock()
	if r.started || r.closed {
		r.mu.Unlock()
		return errors.New("app: Run called twice or after Close")
	}
	r.started = true
	ctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	workers := slices.Clone(r.workers)
	for _, w := range workers {
		r.running[w.name]++
	}
	r.mu.Unlock()
	defer close(r.stopped)
	defer cancel()

	var g errgroup.Group
	for _, w := range workers {
		g.Go(func() error {
			defer func() {
				r.mu.Lock()
				if r.running[w.name]--; r.running[w.name] == 0 {
					delete(r.running, w.name)
				}
				r.mu.Unlock()
			}()
			r.supervise(ctx, w)
			return nil
		})
	}
	r.logger.Debug("app: workers started", "n", len(workers))
	<-ctx.Done()
	done := make(chan struct{})
	go func() {
		_ = g.Wait()
		close(done)
	}()
	t := time.NewTimer(r.shutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		r.mu.Lock()
		names := make([]string, 0, len(r.running))
		for name := range r.running {
			names = append(names, name)
		}
		r.mu.Unlock()
		sort.Strings(names)
		return fmt.Errorf("app: workers still running %s after shutdown began: %s", r.shutdownTimeout, strings.Join(names, ", "))
	}
}

// supervise runs w until ctx ends, restarting it with a backoff whenever it
// fails or returns early.
func (r *runner) supervise(ctx context.Context, w worker) {
	backoff := r.minBackoff
	for {
		start := time.Now()
		err := call(ctx, w)
		if ctx.Err() != nil {
			if err != nil && !errors.Is(err, context.Canceled) {
				r.logger.Warn("app: worker stopped with an error", "worker", w.name, "err", err)
			}
			return
		}
		if err == nil {
			err = errors.New("returned before shutdown")
		}
		if time.Since(start) >= r.maxBackoff {
			backoff = r.minBackoff
		}
		r.logger.Error("app: worker failed, restarting", "worker", w.name, "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, r.maxBackoff)
	}
}

// call runs w once, turning a panic into an error with its stack.
func call(ctx context.Context, w worker) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return w.fn(ctx)
}

// close stops a running run and waits for it (run itself is bounded by the
// shutdown timeout); after close, run refuses to start.
func (r *runner) close() {
	r.mu.Lock()
	r.closed = true
	started, cancel := r.started, r.cancel
	r.mu.Unlock()
	if started {
		cancel()
		<-r.stopped
	}
}
