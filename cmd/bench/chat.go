package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
)

// benchOrigin is the page origin of the bench site's visitors.
const benchOrigin = "https://bench.example"

// fdReserve is how many descriptors the server process keeps free of idle
// sockets (database pool, listeners, the hub's connection, files).
const fdReserve = 200

// dialConcurrency is how many sockets the ws-idle client connects at once.
const dialConcurrency = 128

// idleHold is how long the ws-idle sockets stay idle before the memory is read.
const idleHold = 2 * time.Second

// drainWait is how long after its last send the chat-latency scenario waits
// for outstanding events and replies.
const drainWait = 5 * time.Second

// ---- ws-idle ----

// runWSIdle opens opts.wsIdle idle visitor sockets from a child process and
// measures the server process's resident memory per socket.
func (e *env) runWSIdle(ctx context.Context, sc scenario, opts options) (*result, error) {
	res := &result{Name: sc.name, target: sc.target, Target: sc.target.String()}
	n := opts.wsIdle
	lim, err := raiseFileLimit()
	if err != nil {
		return nil, err
	}
	open, err := openFiles()
	if err != nil {
		return nil, err
	}
	if room := int(lim.Cur) - open - fdReserve; n > room {
		res.Notes = append(res.Notes, fmt.Sprintf("the open-file limit (%d, %d open) allows %d sockets, not the %d asked for", lim.Cur, open, max(room, 0), n))
		n = max(room, 0)
	}
	t0 := time.Now()
	visitors, err := e.setupVisitors(ctx, res, n, opts.concurrency)
	if err != nil {
		return nil, err
	}
	e.logger.Info("bench: ws-idle visitors bootstrapped", "n", len(visitors), "took", time.Since(t0).Round(time.Millisecond))
	baseConns := e.app.ChatServer.Connections()
	memBefore, err := settledMemory()
	if err != nil {
		return nil, err
	}
	goroutinesBefore := runtime.NumGoroutine()
	cpuBefore, err := processCPU()
	if err != nil {
		return nil, err
	}
	poolBefore := e.app.DB.Stat()

	child, err := e.startWSClient(ctx, newWSClientJob(e.wsURL()+"/ws/chat/"+e.siteKey, benchOrigin, dialConcurrency, visitors))
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = child.stop()
		}
	}()
	rep, err := child.report()
	if err != nil {
		return nil, err
	}
	e.logger.Info("bench: ws-idle sockets connected", "held", rep.Held, "failed", rep.Failed, "took", time.Duration(rep.Seconds*float64(time.Second)).Round(time.Millisecond))
	res.Errors += rep.Failed
	for _, s := range rep.Samples {
		res.addSample(s)
	}
	res.P50ms, res.P99ms = rep.P50ms, rep.P99ms
	if rep.Seconds > 0 {
		res.RPS = float64(rep.Held) / rep.Seconds
	}
	cpuAfter, err := processCPU()
	if err != nil {
		return nil, err
	}
	poolAfter := e.app.DB.Stat()
	res.PoolWaits = poolAfter.EmptyAcquireCount() - poolBefore.EmptyAcquireCount()
	res.PoolWaitMs = float64(poolAfter.EmptyAcquireWaitTime()-poolBefore.EmptyAcquireWaitTime()) / float64(time.Millisecond)
	res.units = rep.Held
	if rep.Held > 0 {
		res.CPUus = float64(cpuAfter-cpuBefore) / float64(time.Microsecond) / float64(rep.Held)
	}

	// The sockets stay idle a while; the server must still hold every one
	// of them at the end.
	idleUntil := time.Now().Add(idleHold)
	held := int64(e.app.ChatServer.Connections() - baseConns)
	for time.Now().Before(idleUntil) && ctx.Err() == nil {
		sleepCtx(ctx, min(200*time.Millisecond, time.Until(idleUntil)))
		held = min(held, int64(e.app.ChatServer.Connections()-baseConns))
	}
	if ctx.Err() != nil {
		return res, nil
	}
	memAfter, err := settledMemory()
	if err != nil {
		return nil, err
	}
	if opts.memProfile != "" {
		if err := writeHeapProfile(opts.memProfile); err != nil {
			return nil, err
		}
	}
	held = min(held, int64(e.app.ChatServer.Connections()-baseConns))
	goroutines := runtime.NumGoroutine() - goroutinesBefore
	runtime.KeepAlive(visitors)
	if held < rep.Held {
		res.Errors += rep.Held - held
		res.addSample(fmt.Sprintf("the server dropped %d of %d idle sockets within %s", rep.Held-held, rep.Held, idleHold))
	}
	res.Held, res.Requests = held, held
	if held > 0 {
		per := func(before, after int64) float64 { return float64(after-before) / float64(held) }
		res.KiBPerSocket = per(memBefore.rss, memAfter.rss)
		res.Notes = append(res.Notes, fmt.Sprintf(
			"%d idle visitor sockets held by the server process (clients in a child process) for %s: server RSS %.1f → %.1f MiB = %.1f KiB/socket (after GC and FreeOSMemory), of it Go heap %.1f and stacks %.1f KiB/socket; %.1f goroutines/socket",
			held, idleHold, float64(memBefore.rss)/1024, float64(memAfter.rss)/1024, res.KiBPerSocket,
			per(memBefore.heap, memAfter.heap), per(memBefore.stacks, memAfter.stacks), float64(goroutines)/float64(held)))
	}
	stopped = true
	if err := child.stop(); err != nil {
		return nil, err
	}
	// The next scenario starts with the server's sockets closed.
	deadline := time.Now().Add(30 * time.Second)
	for e.app.ChatServer.Connections() > baseConns && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepCtx(ctx, 50*time.Millisecond)
	}
	if left := e.app.ChatServer.Connections() - baseConns; left > 0 && ctx.Err() == nil {
		res.Errors++
		res.addSample(fmt.Sprintf("the server still held %d sockets 30 s after the client closed them", left))
	}
	return res, nil
}

// startWSClient runs this binary as the ws-idle client and sends it the job.
func (e *env) startWSClient(ctx context.Context, job wsClientJob) (*wsIdleChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: ws-idle client: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, wsClientArg)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: ws-idle client: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: ws-idle client: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: ws-idle client: start: %w", err)
	}
	child := &wsIdleChild{stdin: stdin, out: bufio.NewReader(stdout), wait: cmd.Wait}
	b, err := json.Marshal(job)
	if err == nil {
		_, err = stdin.Write(append(b, '\n'))
	}
	if err != nil {
		_ = child.stop()
		return nil, fmt.Errorf("bench: ws-idle client: send job: %w", err)
	}
	return child, nil
}

// memory is what settledMemory reads, in KiB.
type memory struct {
	rss, heap, stacks int64
}

// settledMemory collects garbage, returns freed memory to the OS and reports
// this process's resident set and the Go heap and stacks in use.
func settledMemory() (memory, error) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := readRSS()
	return memory{rss: rss, heap: int64(ms.HeapInuse) / 1024, stacks: int64(ms.StackInuse) / 1024}, err
}

// writeHeapProfile writes the live heap's profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	return nil
}

// readRSS returns VmRSS of this process from /proc/self/status, in KiB.
func readRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("bench: read RSS: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n, nil
				}
			}
		}
	}
	return 0, errors.New("bench: read RSS: no VmRSS line in /proc/self/status")
}

// openFiles counts this process's open descriptors.
func openFiles() (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("bench: count open files: %w", err)
	}
	return len(entries), nil
}

// setupVisitors bootstraps n new visitors with concurrency workers; failures
// are the scenario's errors. The bootstraps' hits count as setups.
func (e *env) setupVisitors(ctx context.Context, res *result, n, concurrency int) ([]*creds, error) {
	out := make([]*creds, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(concurrency, max(n, 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				out[i], errs[i] = e.setupVisitor(ctx)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("bench: interrupted while creating visitors: %w", context.Cause(ctx))
	}
	var ok []*creds
	for i, c := range out {
		if errs[i] != nil {
			res.Errors++
			res.addSample(errs[i].Error())
			continue
		}
		ok = append(ok, c)
	}
	res.Setups += int64(len(ok))
	e.setups += int64(len(ok))
	return ok, nil
}

// wsURL is the server's address with the ws scheme.
func (e *env) wsURL() string { return "ws" + strings.TrimPrefix(e.baseURL, "http") }

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ---- chat-latency ----

// frame is the part of a server frame the chat-latency clients look at.
type frame struct {
	Type   string          `json:"type"`
	ID     json.RawMessage `json:"id"`
	OK     *bool           `json:"ok"`
	Kind   string          `json:"kind"`
	Sender string          `json:"sender"`
	UID    string          `json:"uid"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	MessageID int64 `json:"message_id"`
}

// peer is a websocket client whose frames a handler sees as they arrive.
type peer struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	done chan struct{}
}

// dialPeer connects and starts reading; onFrame runs on the reader goroutine
// with the frame and the time it was read.
func dialPeer(ctx context.Context, u string, header http.Header, onFrame func(f *frame, at time.Time)) (*peer, error) {
	dialer := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := dialer.DialContext(ctx, u, header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return nil, fmt.Errorf("bench: dial %s: %w (status %d: %s)", strings.SplitN(u, "?", 2)[0], err, resp.StatusCode, clip(body))
		}
		return nil, fmt.Errorf("bench: dial %s: %w", strings.SplitN(u, "?", 2)[0], err)
	}
	p := &peer{conn: c, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			at := time.Now()
			var f frame
			if json.Unmarshal(data, &f) == nil {
				onFrame(&f, at)
			}
		}
	}()
	return p, nil
}

// send writes one frame.
func (p *peer) send(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := p.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("bench: send: %w", err)
	}
	return nil
}

func (p *peer) close() {
	_ = p.conn.Close()
	<-p.done
}

// sent is a visitor message on its way to an operator.
type sent struct {
	at       time.Time
	measured bool
}

// chatRun is the shared state of a chat-latency run.
type chatRun struct {
	mu       sync.Mutex
	pending  map[string]sent // uid → when it was sent, until an operator has it
	unacked  map[string]sent // uid → when it was sent, until its reply
	lat      []time.Duration // of measured messages received by an operator
	ackLat   []time.Duration // of measured messages, send to reply
	measured int64           // measured messages received
	lag      []time.Duration // how late measured messages were sent against the schedule
	dup      int64           // events received for a uid not pending (sent twice)

	sentN   atomic.Int64 // messages sent (setup included)
	acked   atomic.Int64 // replies ok with a message_id
	refused atomic.Int64 // replies not ok
	errors  atomic.Int64
	samples []string
}

func (r *chatRun) fail(s string) {
	r.errors.Add(1)
	r.mu.Lock()
	if len(r.samples) < maxSamples && !slices.Contains(r.samples, s) {
		r.samples = append(r.samples, s)
	}
	r.mu.Unlock()
}

// onOperator matches a visitor message event at an operator with its send.
func (r *chatRun) onOperator(f *frame, at time.Time) {
	switch {
	case f.Type == "event" && f.Kind == "message" && f.Sender == "visitor":
		r.mu.Lock()
		s, ok := r.pending[f.UID]
		if ok {
			delete(r.pending, f.UID)
			if s.measured {
				r.lat = append(r.lat, at.Sub(s.at))
				r.measured++
			}
		} else {
			r.dup++
		}
		r.mu.Unlock()
	case f.Type == "error", f.Type == "reply" && f.OK != nil && !*f.OK:
		r.fail("operator: " + errorText(f))
	}
}

// onVisitor counts the replies to messages (their id is the uid).
func (r *chatRun) onVisitor(f *frame, at time.Time) {
	if f.Type == "reply" {
		var uid string
		_ = json.Unmarshal(f.ID, &uid)
		r.mu.Lock()
		if s, ok := r.unacked[uid]; ok {
			delete(r.unacked, uid)
			if s.measured {
				r.ackLat = append(r.ackLat, at.Sub(s.at))
			}
		}
		r.mu.Unlock()
	}
	switch {
	case f.Type == "reply" && f.OK != nil && *f.OK && f.MessageID > 0:
		r.acked.Add(1)
	case f.Type == "reply" && f.OK != nil && !*f.OK:
		r.refused.Add(1)
		r.fail("visitor message refused: " + errorText(f))
	case f.Type == "error":
		r.fail("visitor: " + errorText(f))
	}
}

func errorText(f *frame) string {
	if f.Error == nil {
		return f.Type
	}
	return f.Error.Code + ": " + f.Error.Message
}

// outstanding is the number of messages not yet seen by an operator.
func (r *chatRun) outstanding() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// sendMessage sends visitor message uid and records it as pending.
func (r *chatRun) sendMessage(p *peer, uid string, measured bool, due time.Time) {
	b := fmt.Appendf(nil, `{"type":"message","id":%q,"uid":%q,"text":"bench message"}`, uid, uid)
	at := time.Now()
	r.mu.Lock()
	r.pending[uid] = sent{at: at, measured: measured}
	r.unacked[uid] = sent{at: at, measured: measured}
	if measured {
		r.lag = append(r.lag, at.Sub(due))
	}
	r.mu.Unlock()
	r.sentN.Add(1)
	if err := p.send(b); err != nil {
		r.mu.Lock()
		delete(r.pending, uid)
		delete(r.unacked, uid)
		r.mu.Unlock()
		r.fail(err.Error())
	}
}

// chatOperators returns how many operators share k chats and the capacity
// each gets (the schema allows at most 100 chats per operator).
func chatOperators(k int) (ops, maxChats int) {
	ops = max(4, (k+99)/100)
	return ops, (k + ops - 1) / ops
}

// runChatLatency puts opts.chatVisitors visitors into chats with a few
// online operators and sends visitor messages at opts.chatRate in total,
// measuring the time from a message's send to its event at the operator.
func (e *env) runChatLatency(ctx context.Context, sc scenario, opts options) (res *result, err error) {
	res = &result{Name: sc.name, target: sc.target, Target: sc.target.String()}
	k := opts.chatVisitors
	run := &chatRun{pending: map[string]sent{}, unacked: map[string]sent{}}
	var peers []*peer
	defer func() {
		for _, p := range peers {
			p.close()
		}
	}()

	// Operators online.
	nOps, maxChats := chatOperators(k)
	password := "bench-password-" + e.dbName
	hash, err := operators.HashPassword(password)
	if err != nil {
		return nil, fmt.Errorf("bench: hash operator password: %w", err)
	}
	online := make(chan *frame, nOps)
	for i := range nOps {
		login := fmt.Sprintf("bench-op-%d", i)
		if _, err := e.app.Employees.CreateEmployee(ctx, postgres.EmployeeInput{Account: "bench", Login: login,
			Name: fmt.Sprintf("Оператор %d", i), PasswordHash: hash, MaxChats: &maxChats, Sites: []string{e.siteKey}}); err != nil {
			return nil, fmt.Errorf("bench: create operator: %w", err)
		}
		token, err := e.operatorLogin(ctx, login, password)
		if err != nil {
			return nil, err
		}
		p, err := dialPeer(ctx, e.wsURL()+"/ws/operator", http.Header{"Authorization": {"Bearer " + token}}, func(f *frame, at time.Time) {
			if f.Type == "reply" && string(f.ID) == `"online"` {
				online <- f
				return
			}
			run.onOperator(f, at)
		})
		if err != nil {
			return nil, err
		}
		peers = append(peers, p)
		if err := p.send([]byte(`{"type":"status","id":"online","status":"online"}`)); err != nil {
			return nil, err
		}
	}
	for range nOps {
		select {
		case f := <-online:
			if f.OK == nil || !*f.OK {
				return nil, fmt.Errorf("bench: operator status online: %s", errorText(f))
			}
		case <-time.After(10 * time.Second):
			return nil, errors.New("bench: an operator got no answer to status online in 10 s")
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}

	// Visitors, each in a chat routed to an operator.
	visitors, err := e.setupVisitors(ctx, res, k, opts.concurrency)
	if err != nil {
		return nil, err
	}
	if len(visitors) < k {
		return res, nil // the bootstrap errors are the result
	}
	vpeers := make([]*peer, k)
	for j, c := range visitors {
		u := fmt.Sprintf("%s/ws/chat/%s?visitor_id=%d&session_id=%d&key=%s", e.wsURL(), e.siteKey, c.VisitorID, c.SessionID, c.Key)
		p, err := dialPeer(ctx, u, http.Header{"Origin": {benchOrigin}}, run.onVisitor)
		if err != nil {
			return nil, err
		}
		peers = append(peers, p)
		vpeers[j] = p
		run.sendMessage(p, fmt.Sprintf("s%d", j), false, time.Now())
	}
	deadline := time.Now().Add(30 * time.Second)
	for run.outstanding() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepCtx(ctx, 20*time.Millisecond)
	}
	if n := run.outstanding(); n > 0 {
		return nil, fmt.Errorf("bench: %d of %d visitors' first messages did not reach an operator in 30 s (chats not routed?); errors: %v", n, k, run.samples)
	}

	// The steady rate: visitor j sends at start + (j + n·k)/rate.
	cpuBefore, err := processCPU()
	if err != nil {
		return nil, err
	}
	poolBefore := e.app.DB.Stat()
	sentBefore := run.sentN.Load()
	start := time.Now().Add(10 * time.Millisecond)
	measureFrom := start.Add(opts.warmup)
	end := measureFrom.Add(opts.duration)
	interval := time.Duration(float64(k) / opts.chatRate * float64(time.Second))
	var wg sync.WaitGroup
	for j, p := range vpeers {
		first := start.Add(time.Duration(float64(j) / opts.chatRate * float64(time.Second)))
		wg.Go(func() {
			for n := int64(1); ; n++ {
				due := first.Add(time.Duration(n-1) * interval)
				if !due.Before(end) || ctx.Err() != nil {
					return
				}
				if d := time.Until(due); d > 0 {
					sleepCtx(ctx, d)
				}
				run.sendMessage(p, fmt.Sprintf("m%d-%d", j, n), !due.Before(measureFrom), due)
			}
		})
	}
	wg.Wait()
	// Drain: every message reaches an operator, every send gets its reply.
	drainUntil := time.Now().Add(drainWait)
	for (run.outstanding() > 0 || run.acked.Load()+run.refused.Load() < run.sentN.Load()) &&
		time.Now().Before(drainUntil) && ctx.Err() == nil {
		sleepCtx(ctx, 10*time.Millisecond)
	}
	if ctx.Err() != nil {
		return res, nil
	}
	cpuAfter, err := processCPU()
	if err != nil {
		return nil, err
	}
	poolAfter := e.app.DB.Stat()
	ran := run.sentN.Load() - sentBefore
	res.PoolWaits = poolAfter.EmptyAcquireCount() - poolBefore.EmptyAcquireCount()
	res.PoolWaitMs = float64(poolAfter.EmptyAcquireWaitTime()-poolBefore.EmptyAcquireWaitTime()) / float64(time.Millisecond)
	res.units = ran
	if ran > 0 {
		res.CPUus = float64(cpuAfter-cpuBefore) / float64(time.Microsecond) / float64(ran)
	}

	// With the sockets closed no frame arrives any more: run is settled.
	for _, p := range peers {
		p.close()
	}
	peers = nil
	if lost := len(run.pending); lost > 0 {
		run.errors.Add(int64(lost))
		res.addSample(fmt.Sprintf("%d messages never reached an operator (waited %s after the last send)", lost, drainWait))
	}
	if missing := run.sentN.Load() - run.acked.Load() - run.refused.Load(); missing > 0 {
		run.errors.Add(missing)
		res.addSample(fmt.Sprintf("%d messages got no reply (waited %s after the last send)", missing, drainWait))
	}
	res.Errors += run.errors.Load()
	for _, s := range run.samples {
		res.addSample(s)
	}
	// Acknowledged visitor messages are the rows the scenario wrote.
	res.Successes = run.acked.Load()
	res.unanswered = max(0, run.sentN.Load()-run.acked.Load()-run.refused.Load())
	slices.Sort(run.lat)
	slices.Sort(run.lag)
	slices.Sort(run.ackLat)
	res.Requests = run.measured
	res.RPS = float64(run.measured) / opts.duration.Seconds()
	res.P50ms = percentile(run.lat, 0.50)
	res.P99ms = percentile(run.lat, 0.99)
	res.Notes = append(res.Notes, fmt.Sprintf(
		"%d visitors in chats with %d operators, %.0f msg/s scheduled (%.1f/s per visitor socket): %d measured messages at the operators, max %.2f ms; reply to the visitor (stored) p50 %.2f ms p99 %.2f ms; sends late against the schedule p99 %.2f ms; %d acknowledged, %d events seen twice",
		k, nOps, opts.chatRate, opts.chatRate/float64(k), run.measured, maxMs(run.lat),
		percentile(run.ackLat, 0.50), percentile(run.ackLat, 0.99), percentile(run.lag, 0.99), run.acked.Load(), run.dup))
	return res, nil
}

func maxMs(sorted []time.Duration) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[len(sorted)-1]) / float64(time.Millisecond)
}

// operatorLogin logs an operator in over HTTP and returns the token.
func (e *env) operatorLogin(ctx context.Context, login, password string) (string, error) {
	body := mustJSON(map[string]string{"login": login, "password": password})
	req, err := newRequest(ctx, http.MethodPost, e.baseURL+"/api/operator/login", "application/json", body)
	if err != nil {
		return "", err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("bench: operator login: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("bench: operator login: read answer: %w", err)
	}
	var ans struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &ans) != nil || ans.Token == "" {
		return "", fmt.Errorf("bench: operator login: status %d: %s", resp.StatusCode, clip(b))
	}
	return ans.Token, nil
}

// chatMessagesWhere selects the rows acknowledged visitor messages leave.
const chatMessagesWhere = `kind = 'message' AND sender = 'visitor'`
