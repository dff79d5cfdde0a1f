package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/comagicd/comagicd/internal/poll"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Backoff is the delay before the next attempt after the given number of
// failed attempts (1 after the first failure): 5 s, 30 s, 2 min, 10 min,
// 1 h, then hourly for ever.
func Backoff(attempts int) time.Duration {
	steps := [...]time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}
	if attempts < 1 {
		attempts = 1
	}
	if attempts > len(steps) {
		attempts = len(steps)
	}
	return steps[attempts-1]
}

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	// Interval between polls for due deliveries; 1 s.
	Interval time.Duration
	// Batch is how many deliveries one claim takes and sends at once; 10.
	Batch int
	// Timeout bounds one POST; 10 s. A claim's lease is Timeout plus a
	// minute, so a node that dies mid-batch delays its deliveries by at most
	// that.
	Timeout time.Duration
	// Backoff gives the delay after the n-th failed attempt; Backoff above.
	Backoff func(attempts int) time.Duration
	// Client sends the requests; by default one that does not follow
	// redirects (a redirect is a failed attempt).
	Client *http.Client
}

// Dispatcher delivers due webhook deliveries. Run one on every node: claims
// make sure each delivery is attempted by one node at a time.
type Dispatcher struct {
	store *Store
	log   *slog.Logger
	opt   Options
	wake  poll.Waker
}

// NewDispatcher returns a dispatcher of store's deliveries. It does not start:
// call Run.
func NewDispatcher(store *Store, log *slog.Logger, opt Options) *Dispatcher {
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.Batch <= 0 {
		opt.Batch = 10
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.Backoff == nil {
		opt.Backoff = Backoff
	}
	if opt.Client == nil {
		opt.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Dispatcher{store: store, log: log, opt: opt, wake: poll.NewWaker()}
}

// Notify wakes the dispatcher at once (after a delivery was queued and
// committed) instead of at its next poll. It never blocks.
func (d *Dispatcher) Notify() {
	d.wake.Notify()
}

// Run delivers due deliveries until ctx ends, then returns nil. Database and
// HTTP errors are logged and retried; they never stop it.
func (d *Dispatcher) Run(ctx context.Context) error {
	return d.wake.Loop(ctx, d.opt.Interval, d.drain)
}

// drain sends due deliveries batch by batch, each batch's concurrently, until
// none is left or ctx ends.
func (d *Dispatcher) drain(ctx context.Context) {
	lease := d.opt.Timeout + time.Minute
	claim := func(ctx context.Context) ([]claimed, error) { return d.store.claim(ctx, d.opt.Batch, lease) }
	if err := poll.Drain(ctx, d.opt.Batch, claim, d.deliver); err != nil {
		d.log.Error("webhooks: claim deliveries", "err", err)
	}
}

// body is the JSON body of a delivery.
type body struct {
	ID        int64           `json:"id"`
	Event     string          `json:"event"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// maxBodyInError bounds how much of a refusing answer's body the log keeps.
const maxBodyInError = 300

// deliver POSTs one claimed delivery and records the outcome, even when ctx
// ends meanwhile (a delivered event is not sent again).
func (d *Dispatcher) deliver(ctx context.Context, c claimed) {
	status, err := d.post(ctx, c)
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch {
	case err == nil:
		if err := d.store.markDelivered(markCtx, c.ID, status); err != nil {
			d.log.Error("webhooks: mark delivered", "id", c.ID, "err", err)
		}
	case ctx.Err() != nil:
		// Interrupted by the shutdown rather than refused: not counted;
		// another node or the next start sends it.
		if err := d.store.release(markCtx, []int64{c.ID}); err != nil {
			d.log.Error("webhooks: release delivery", "id", c.ID, "err", err)
		}
	default:
		retry := d.opt.Backoff(c.Attempts + 1)
		d.log.Warn("webhooks: delivery failed", "id", c.ID, "webhook", c.WebhookID, "event", c.Event,
			"attempts", c.Attempts+1, "status", status, "retry_in", retry, "err", err)
		if err := d.store.markFailed(markCtx, c.ID, status, err.Error(), retry); err != nil {
			d.log.Error("webhooks: mark failed", "id", c.ID, "err", err)
		}
	}
}

// post sends the delivery once: nil error for a 2xx answer, else the status
// (0 without an answer) and what went wrong.
func (d *Dispatcher) post(ctx context.Context, c claimed) (int, error) {
	data := json.RawMessage(c.Payload)
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	b, err := json.Marshal(body{ID: c.ID, Event: c.Event, CreatedAt: c.CreatedAt.UTC(), Data: data})
	if err != nil {
		return 0, fmt.Errorf("body: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "comagicd-webhooks/1")
	req.Header.Set(HeaderEvent, c.Event)
	req.Header.Set(HeaderDelivery, strconv.FormatInt(c.ID, 10))
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(c.Secret, ts, b))
	resp, err := d.opt.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyInError))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %s: %s", resp.Status, bytes.TrimSpace(snippet))
	}
	return resp.StatusCode, nil
}
