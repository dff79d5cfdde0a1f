package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// wsClientArg, as the first argument, makes the bench binary the client side
// of the ws-idle scenario: a child process that holds the idle visitor
// sockets, so that the measured server process holds only the server side.
const wsClientArg = "-ws-idle-client"

// wsClientJob is what the parent writes to the child's stdin (one JSON value).
type wsClientJob struct {
	// URL is the visitor channel of the site, without the query.
	URL         string `json:"url"`
	Origin      string `json:"origin"`
	Concurrency int    `json:"concurrency"`
	// Visitors are the credentials, one socket each: [visitor_id, session_id, key].
	Visitors [][3]string `json:"visitors"`
}

// wsClientReport is the child's one-line JSON answer on stdout once every
// socket is connected (or failed).
type wsClientReport struct {
	Held    int64    `json:"held"`
	Failed  int64    `json:"failed"`
	Samples []string `json:"samples,omitempty"`
	// P50ms and P99ms are the connect latencies: dial to the first (state) frame.
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	Seconds float64 `json:"seconds"`
}

// connectWait bounds one socket's dial and first frame.
const connectWait = 30 * time.Second

// maxDialFailures stops the dialing: the server is refusing the sockets.
const maxDialFailures = 200

// errGaveUp marks the sockets not tried after too many failures.
var errGaveUp = fmt.Errorf("not tried: %d sockets had failed", maxDialFailures)

// wsClientMain runs the child: it reads the job from in, opens every socket,
// reads each one's first frame, writes the report to out and then holds the
// sockets, answering pings, until in is closed. It returns the exit code.
func wsClientMain(in io.Reader, out io.Writer) int {
	raiseFileLimit()
	dec := json.NewDecoder(in)
	var job wsClientJob
	if err := dec.Decode(&job); err != nil {
		fmt.Fprintf(out, "{\"failed\":1,\"samples\":[%q]}\n", "ws client: read job: "+err.Error())
		return 1
	}
	conns, rep := dialAll(job)
	b, _ := json.Marshal(rep)
	if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
		return 1
	}
	// Hold until the parent closes stdin (or dies).
	_, _ = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), in))
	for _, c := range conns {
		_ = c.Close()
	}
	return 0
}

// dialAll opens the job's sockets with bounded concurrency. Each held socket
// gets a reader that discards frames and answers pings.
func dialAll(job wsClientJob) ([]*websocket.Conn, *wsClientReport) {
	dialer := &websocket.Dialer{
		NetDialContext:   (&net.Dialer{Timeout: connectWait}).DialContext,
		HandshakeTimeout: connectWait,
		ReadBufferSize:   512,
		WriteBufferSize:  512,
	}
	header := http.Header{"Origin": {job.Origin}}
	conns := make([]*websocket.Conn, len(job.Visitors))
	lat := make([]time.Duration, len(job.Visitors))
	errs := make([]error, len(job.Visitors))
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range max(1, job.Concurrency) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(job.Visitors) {
					return
				}
				if failed.Load() >= maxDialFailures {
					errs[i] = errGaveUp
					continue
				}
				v := job.Visitors[i]
				q := url.Values{"visitor_id": {v[0]}, "session_id": {v[1]}, "key": {v[2]}}
				t0 := time.Now()
				c, err := dialFirstFrame(dialer, job.URL+"?"+q.Encode(), header)
				if err != nil {
					errs[i] = err
					failed.Add(1)
					continue
				}
				lat[i] = time.Since(t0)
				conns[i] = c
				go discardFrames(c)
			}
		})
	}
	wg.Wait()
	rep := &wsClientReport{Seconds: time.Since(start).Seconds()}
	var held []*websocket.Conn
	var ok []time.Duration
	for i, c := range conns {
		if c == nil {
			rep.Failed++
			if s := errs[i].Error(); len(rep.Samples) < maxSamples && !slices.Contains(rep.Samples, s) {
				rep.Samples = append(rep.Samples, s)
			}
			continue
		}
		held = append(held, c)
		ok = append(ok, lat[i])
	}
	slices.Sort(ok)
	rep.Held = int64(len(held))
	rep.P50ms, rep.P99ms = percentile(ok, 0.50), percentile(ok, 0.99)
	return held, rep
}

// dialFirstFrame connects one visitor socket and reads its first frame, which
// must be the state.
func dialFirstFrame(dialer *websocket.Dialer, u string, header http.Header) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), connectWait)
	defer cancel()
	c, resp, err := dialer.DialContext(ctx, u, header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return nil, fmt.Errorf("dial: %w (status %d: %s)", err, resp.StatusCode, clip(body))
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(connectWait))
	_, data, err := c.ReadMessage()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("first frame: %w", err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &f) != nil || f.Type != "state" {
		c.Close()
		return nil, fmt.Errorf("first frame is not the state: %s", clip(data))
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// discardFrames reads until the socket ends; gorilla answers pings meanwhile.
func discardFrames(c *websocket.Conn) {
	for {
		_, r, err := c.NextReader()
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}

// wsIdleChild is the running client process of the ws-idle scenario.
type wsIdleChild struct {
	stdin io.WriteCloser
	out   *bufio.Reader
	wait  func() error
}

// newWSClientJob describes the sockets the child is to open.
func newWSClientJob(u, origin string, concurrency int, visitors []*creds) wsClientJob {
	job := wsClientJob{URL: u, Origin: origin, Concurrency: concurrency, Visitors: make([][3]string, len(visitors))}
	for i, c := range visitors {
		job.Visitors[i] = [3]string{strconv.FormatInt(c.VisitorID, 10), strconv.FormatInt(c.SessionID, 10), c.Key}
	}
	return job
}

// report reads the child's report line.
func (c *wsIdleChild) report() (*wsClientReport, error) {
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("bench: ws-idle client: read report: %w", err)
	}
	var rep wsClientReport
	if err := json.Unmarshal(line, &rep); err != nil {
		return nil, fmt.Errorf("bench: ws-idle client: report %s: %w", clip(line), err)
	}
	return &rep, nil
}

// stop closes the child's stdin, so that it closes its sockets and exits,
// and waits for it.
func (c *wsIdleChild) stop() error {
	_ = c.stdin.Close()
	if err := c.wait(); err != nil {
		return fmt.Errorf("bench: ws-idle client: %w", err)
	}
	return nil
}

// raiseFileLimit raises the soft limit of open files to the hard limit.
func raiseFileLimit() (syscall.Rlimit, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return lim, fmt.Errorf("bench: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return lim, fmt.Errorf("bench: setrlimit: %w", err)
		}
	}
	return lim, nil
}
