package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// target is a performance target of DESIGN.md §6; zero fields are not part of it.
type target struct {
	MinRPS   float64       // at least this many requests per second
	MaxP99   time.Duration // 99th percentile latency below this
	MinRatio float64       // at least this fraction of the bare handler's req/s
	MinHeld  int64         // at least this many sockets held at once
	MaxKiB   float64       // at most this much resident memory per socket, KiB
}

// String renders the target compactly, e.g. "≥15000/s p99<25ms ≥0.25×bare".
func (t *target) String() string {
	if t == nil {
		return "-"
	}
	var parts []string
	if t.MinRPS > 0 {
		parts = append(parts, fmt.Sprintf("≥%.0f/s", t.MinRPS))
	}
	if t.MaxP99 > 0 {
		parts = append(parts, fmt.Sprintf("p99<%dms", t.MaxP99.Milliseconds()))
	}
	if t.MinRatio > 0 {
		parts = append(parts, fmt.Sprintf("≥%.2f×bare", t.MinRatio))
	}
	if t.MinHeld > 0 {
		parts = append(parts, fmt.Sprintf("≥%d held", t.MinHeld))
	}
	if t.MaxKiB > 0 {
		parts = append(parts, fmt.Sprintf("≤%gKiB/socket", t.MaxKiB))
	}
	return strings.Join(parts, " ")
}

// creds are a visitor's tracking credentials, from a bootstrap answer.
type creds struct {
	Success          bool   `json:"success"`
	Key              string `json:"key"`
	VisitorID        int64  `json:"visitor_id"`
	SessionID        int64  `json:"session_id"`
	HitID            int64  `json:"hit_id"`
	SessionStartedAt int64  `json:"session_started_at"`
	NewSession       bool   `json:"new_session"`
}

// requestFunc builds the n-th request of a worker.
type requestFunc func(ctx context.Context, n int64) (*http.Request, error)

// scenario is one measured endpoint.
type scenario struct {
	name   string
	target *target
	// needsCreds makes every worker bootstrap a visitor of its own first.
	needsCreds bool
	// prepare returns the worker's request builder; c is nil unless needsCreds.
	// worker and workers let it derive names unique over the whole run.
	prepare func(e *env, c *creds, worker, workers int) requestFunc
	// check vets a 200 answer's body beyond "success":true; may be nil.
	check func(body []byte) error
	// run, when set, is the whole scenario instead of request workers
	// (the websocket scenarios).
	run func(e *env, ctx context.Context, sc scenario, opts options) (*result, error)
}

// bootstrapBody is the page view of every bootstrap request.
const bootstrapBody = `{"url":"https://bench.example/p","title":"t","referrer":""}`

// scenarios returns the scenarios in the order they run; bare comes first so
// that the others can be compared with it.
func scenarios() []scenario {
	bootstrapTarget := &target{MinRPS: 15000, MaxP99: 25 * time.Millisecond, MinRatio: 0.25}
	writeTarget := &target{MinRPS: 20000}
	offlineTarget := &target{MinRPS: 5000, MaxP99: 30 * time.Millisecond}
	idleTarget := &target{MinHeld: 19000, MaxKiB: 20}
	chatTarget := &target{MinRPS: 2000, MaxP99: 20 * time.Millisecond}
	return []scenario{
		{name: "bare", prepare: func(e *env, _ *creds, _, _ int) requestFunc {
			return getRequest(e.bareURL)
		}},
		{name: "bootstrap-new", target: bootstrapTarget, prepare: func(e *env, _ *creds, _, _ int) requestFunc {
			return postRequest(e.bootstrapURL(), "text/plain;charset=UTF-8", []byte(bootstrapBody))
		}},
		{name: "bootstrap-returning", target: bootstrapTarget, needsCreds: true,
			prepare: func(e *env, c *creds, _, _ int) requestFunc {
				body := mustJSON(map[string]any{"url": "https://bench.example/p", "title": "t", "referrer": "",
					"visitor_id": c.VisitorID, "session_id": c.SessionID, "key": c.Key})
				return postRequest(e.bootstrapURL(), "text/plain;charset=UTF-8", body)
			},
			check: func(body []byte) error {
				if !bytes.Contains(body, []byte(`"new_session":false`)) {
					return errors.New("the session was not continued")
				}
				return nil
			}},
		// New visitors of a site whose dynamic pool gives each a number of its
		// own: the bootstrap plus the reservation (compare with bootstrap-new).
		{name: "bootstrap-pool", target: bootstrapTarget, prepare: func(e *env, _ *creds, _, _ int) requestFunc {
			return postRequest(e.baseURL+"/api/track/"+e.poolSiteKey+"/bootstrap", "text/plain;charset=UTF-8",
				[]byte(`{"url":"https://pool.bench.example/p","title":"t","referrer":""}`))
		},
			check: func(body []byte) error {
				if !bytes.Contains(body, []byte(`"dt":true`)) {
					return errors.New("no pool number in the answer")
				}
				return nil
			}},
		{name: "event", target: writeTarget, needsCreds: true, prepare: func(e *env, c *creds, _, _ int) requestFunc {
			body := mustJSON(map[string]any{"visitor_id": c.VisitorID, "session_id": c.SessionID, "key": c.Key,
				"hit_id": c.HitID, "category": "bench", "action": "click", "name": "button", "value": "1"})
			return postRequest(e.baseURL+"/api/track/"+e.siteKey+"/event", "text/plain;charset=UTF-8", body)
		}},
		{name: "property-set", target: writeTarget, needsCreds: true, prepare: func(e *env, c *creds, worker, workers int) requestFunc {
			// Every request sets a new property, so that each success is one row.
			prefix := fmt.Appendf(nil, `{"visitor_id":%d,"session_id":%d,"key":%s,"value":"v","name":"p`,
				c.VisitorID, c.SessionID, mustJSON(c.Key))
			u := e.baseURL + "/api/track/" + e.siteKey + "/property/set"
			return func(ctx context.Context, n int64) (*http.Request, error) {
				body := strconv.AppendInt(bytes.Clone(prefix), n*int64(workers)+int64(worker), 10)
				body = append(body, `"}`...)
				return newRequest(ctx, http.MethodPost, u, "text/plain;charset=UTF-8", body)
			}
		}},
		{name: "vc-s", target: writeTarget, needsCreds: true, prepare: func(e *env, c *creds, _, _ int) requestFunc {
			q := url.Values{"k": {c.Key}, "ci": {fmt.Sprintf("%d.%d.%d", c.VisitorID, c.SessionID, c.SessionStartedAt)},
				"vn": {"name"}, "s": {"1"}}
			return getRequest(e.baseURL + "/vc/s/?" + q.Encode())
		}},
		{name: "offline-message", target: offlineTarget, needsCreds: true, prepare: func(e *env, c *creds, _, _ int) requestFunc {
			form := url.Values{"key": {c.Key}, "visitor_id": {strconv.FormatInt(c.VisitorID, 10)},
				"session_id": {strconv.FormatInt(c.SessionID, 10)}, "hit_id": {strconv.FormatInt(c.HitID, 10)},
				"name": {"Bench"}, "phone": {"79251234567"}, "email": {"bench@example.com"},
				"text": {"benchmark message"}, "is_sale": {"true"}, "sale_cost": {"100"}}
			return postRequest(e.baseURL+"/api/add_offline_message/", "application/x-www-form-urlencoded", []byte(form.Encode()))
		}},
		// The websocket scenarios run last: ws-idle's sockets are closed before
		// chat-latency's operators go online.
		{name: "ws-idle", target: idleTarget, run: (*env).runWSIdle},
		{name: "chat-latency", target: chatTarget, run: (*env).runChatLatency},
	}
}

// scenarioNames lists the names of all scenarios.
func scenarioNames() []string {
	var names []string
	for _, s := range scenarios() {
		names = append(names, s.name)
	}
	return names
}

func (e *env) bootstrapURL() string { return e.baseURL + "/api/track/" + e.siteKey + "/bootstrap" }

func getRequest(u string) requestFunc {
	return func(ctx context.Context, _ int64) (*http.Request, error) {
		return newRequest(ctx, http.MethodGet, u, "", nil)
	}
}

func postRequest(u, contentType string, body []byte) requestFunc {
	return func(ctx context.Context, _ int64) (*http.Request, error) {
		return newRequest(ctx, http.MethodPost, u, contentType, body)
	}
}

func newRequest(ctx context.Context, method, u, contentType string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, fmt.Errorf("bench: build request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// mustJSON encodes values that cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bench: encode %T: %v", v, err))
	}
	return b
}

// setupVisitor bootstraps a new visitor and returns its credentials.
func (e *env) setupVisitor(ctx context.Context) (*creds, error) {
	req, err := newRequest(ctx, http.MethodPost, e.bootstrapURL(), "text/plain;charset=UTF-8", []byte(bootstrapBody))
	if err != nil {
		return nil, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: setup bootstrap: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("bench: setup bootstrap: read answer: %w", err)
	}
	var c creds
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: setup bootstrap: status %d: %s", resp.StatusCode, clip(body))
	}
	if err := json.Unmarshal(body, &c); err != nil || !c.Success || c.Key == "" || c.SessionID == 0 {
		return nil, fmt.Errorf("bench: setup bootstrap: unexpected answer %s (%v)", clip(body), err)
	}
	return &c, nil
}

// clip shortens an answer body for an error message.
func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
