package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"
)

// maxSamples is how many distinct error messages a scenario keeps.
const maxSamples = 5

// hangLimit is how long past its planned end a scenario may run before its
// outstanding requests are abandoned as errors.
const hangLimit = 30 * time.Second

// successMark is what every successful answer contains.
const successMark = `"success":true`

// result is the outcome of one scenario.
type result struct {
	Name string `json:"name"`
	// Requests completed successfully within the measured window.
	Requests int64   `json:"requests"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// Errors over the whole scenario, warm-up and setup included.
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Successes over the whole scenario, warm-up included (setup not): the rows it wrote.
	Successes int64 `json:"successes"`
	// Setups is the number of per-worker setup bootstraps that succeeded.
	Setups int64 `json:"setups"`
	// Batches is the number of group-commit transactions the server committed
	// during the scenario (setup included).
	Batches int64 `json:"batches"`
	// PoolWaits and PoolWaitMs are the server's database pool acquisitions that
	// found no idle connection during the scenario, and the time they waited.
	PoolWaits  int64   `json:"pool_waits"`
	PoolWaitMs float64 `json:"pool_wait_ms"`
	// CPUus is the CPU time of this whole process (client and server, user and
	// system) per request, in µs, over warm-up and measurement.
	CPUus float64 `json:"cpu_us_per_request"`
	// Ratio is RPS over the bare handler's RPS (0 when bare did not run).
	Ratio   float64  `json:"ratio_to_bare,omitempty"`
	Target  string   `json:"target"`
	Verdict string   `json:"verdict"`
	Misses  []string `json:"misses,omitempty"`
	// Held and KiBPerSocket are the ws-idle scenario's sockets held by the
	// server and the server's resident memory per socket.
	Held         int64   `json:"held,omitempty"`
	KiBPerSocket float64 `json:"kib_per_socket,omitempty"`
	// Notes explain a scenario's figures beyond the table.
	Notes []string `json:"notes,omitempty"`

	target *target
	// units is what poolwait is divided by when it is not successes and
	// setups (the websocket scenarios: sockets, messages).
	units int64
	// noRatio leaves out the ratio to bare (not requests per second).
	noRatio bool
	// unanswered are writes sent that got no answer (counted as errors):
	// they may or may not have been committed.
	unanswered int64
}

// worker is one client loop and what it observed.
type worker struct {
	send     requestFunc
	check    func([]byte) error
	buf      bytes.Buffer
	lat      []time.Duration
	ok       int64 // successes, warm-up included
	errors   int64
	samples  []string
	setupErr error
}

// runScenario sets up the workers, runs them through warm-up and measurement
// and summarises what they saw.
func (e *env) runScenario(parent context.Context, sc scenario, opts options) (*result, error) {
	if sc.run != nil {
		res, err := sc.run(e, parent, sc, opts)
		if res != nil {
			res.noRatio = true
		}
		return res, err
	}
	ctx, cancel := context.WithTimeout(parent, hangLimit+opts.warmup+opts.duration)
	defer cancel()
	batchesBefore, err := e.batches()
	if err != nil {
		return nil, err
	}
	poolBefore := e.app.DB.Stat()
	res := &result{Name: sc.name, target: sc.target, Target: sc.target.String()}
	workers := make([]*worker, opts.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{check: sc.check, lat: make([]time.Duration, 0, 4096)}
		workers[i] = w
		wg.Go(func() {
			var c *creds
			if sc.needsCreds {
				if c, w.setupErr = e.setupVisitor(ctx); w.setupErr != nil {
					return
				}
			}
			w.send = sc.prepare(e, c, i, opts.concurrency)
		})
	}
	wg.Wait()

	cpuBefore, err := processCPU()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	measureFrom := start.Add(opts.warmup)
	end := measureFrom.Add(opts.duration)
	for _, w := range workers {
		if w.setupErr != nil {
			continue
		}
		wg.Go(func() { w.loop(ctx, parent, e.client, measureFrom, end) })
	}
	wg.Wait()

	cpuAfter, err := processCPU()
	if err != nil {
		return nil, err
	}
	batchesAfter, err := e.batches()
	if err != nil {
		return nil, err
	}
	res.Batches = batchesAfter - batchesBefore
	poolAfter := e.app.DB.Stat()
	res.PoolWaits = poolAfter.EmptyAcquireCount() - poolBefore.EmptyAcquireCount()
	res.PoolWaitMs = float64(poolAfter.EmptyAcquireWaitTime()-poolBefore.EmptyAcquireWaitTime()) / float64(time.Millisecond)
	var lat []time.Duration
	for _, w := range workers {
		if w.setupErr != nil {
			res.Errors++
			res.addSample(w.setupErr.Error())
			continue
		}
		if sc.needsCreds {
			res.Setups++
		}
		res.Successes += w.ok
		res.Errors += w.errors
		for _, s := range w.samples {
			res.addSample(s)
		}
		lat = append(lat, w.lat...)
	}
	e.setups += res.Setups
	if n := res.Successes + res.Errors; n > 0 {
		res.CPUus = float64(cpuAfter-cpuBefore) / float64(time.Microsecond) / float64(n)
	}
	slices.Sort(lat)
	res.Requests = int64(len(lat))
	res.RPS = float64(len(lat)) / opts.duration.Seconds()
	res.P50ms = percentile(lat, 0.50)
	res.P99ms = percentile(lat, 0.99)
	return res, nil
}

// loop sends requests back to back until end. Successful requests that complete
// within [measureFrom, end] are measured; every success and error is counted.
// ctx bounds the requests; parent's cancellation is an interrupt, not an error.
func (w *worker) loop(ctx, parent context.Context, client *http.Client, measureFrom, end time.Time) {
	for n := int64(0); ; n++ {
		t0 := time.Now()
		if !t0.Before(end) || ctx.Err() != nil {
			return
		}
		err := w.do(ctx, client, n)
		t1 := time.Now()
		if err != nil {
			if parent.Err() != nil {
				return // interrupted, not a failure of the server
			}
			w.errors++
			if len(w.samples) < maxSamples {
				w.samples = append(w.samples, err.Error())
			}
			continue
		}
		w.ok++
		if !t0.Before(measureFrom) && !t1.After(end) {
			w.lat = append(w.lat, t1.Sub(t0))
		}
	}
}

// do sends the worker's n-th request and checks the answer.
func (w *worker) do(ctx context.Context, client *http.Client, n int64) error {
	req, err := w.send(ctx, n)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	body := w.buf.Bytes()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(successMark)) {
		return fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, clip(body))
	}
	if w.check != nil {
		if err := w.check(body); err != nil {
			return fmt.Errorf("%s %s: %w: %s", req.Method, req.URL.Path, err, clip(body))
		}
	}
	return nil
}

// addSample keeps a few distinct error messages.
func (r *result) addSample(s string) {
	if len(r.ErrorSamples) < maxSamples && !slices.Contains(r.ErrorSamples, s) {
		r.ErrorSamples = append(r.ErrorSamples, s)
	}
}

// percentile returns the nearest-rank q-quantile of sorted latencies in ms.
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// processCPU returns the user and system CPU time this process has used.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("bench: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
