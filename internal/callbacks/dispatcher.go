package callbacks

import (
	"context"
	"errors"
	"fmt"
	"github.com/comagicd/comagicd/internal/poll"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/webhooks"
)

// Backoff is the delay before the next attempt after the given number of
// failed attempts: 5 s, 30 s, 2 min, then 2 min.
func Backoff(attempts int) time.Duration {
	steps := [...]time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute}
	return steps[min(max(attempts, 1), len(steps))-1]
}

// MaxAttempts is how many failed attempts make an order failed.
const MaxAttempts = 5

// DispatcherOptions tune a Dispatcher; zero values take the defaults.
type DispatcherOptions struct {
	// Interval between polls for due orders; 1 s.
	Interval time.Duration
	// Batch is how many orders one claim takes and sends at once; 10.
	Batch int
	// Timeout bounds one POST; 10 s. A claim's lease is Timeout plus a
	// minute: a node that dies mid-POST delays the order by at most that.
	Timeout time.Duration
	// Backoff gives the delay after the n-th failed attempt; Backoff above.
	Backoff func(attempts int) time.Duration
	// MaxAttempts failed attempts fail the order; MaxAttempts above.
	MaxAttempts int
	// Client sends the POSTs; by default one that does not follow redirects.
	Client *http.Client
	// WebhooksNotify, when set, wakes the webhook dispatcher after
	// callback.dispatched or callback.failed was queued.
	WebhooksNotify func()
	// Observe, when set, is told the outcome of each recorded attempt:
	// "dispatched", "retried" or "failed".
	Observe func(outcome string)
}

// Dispatcher POSTs due orders of asynchronous scenarios. Run one on every
// node: claims make sure each order is attempted by one node at a time, and
// an order is marked dispatched once.
type Dispatcher struct {
	db   *pgxpool.Pool
	log  *slog.Logger
	opt  DispatcherOptions
	wake poll.Waker
}

// NewDispatcher returns a dispatcher of the orders in db. It does not start:
// call Run.
func NewDispatcher(db *pgxpool.Pool, log *slog.Logger, opt DispatcherOptions) *Dispatcher {
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
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = MaxAttempts
	}
	if opt.Client == nil {
		opt.Client = noRedirectClient()
	}
	return &Dispatcher{db: db, log: log, opt: opt, wake: poll.NewWaker()}
}

// Notify wakes the dispatcher at once (after an order was stored) instead of
// at its next poll. It never blocks.
func (d *Dispatcher) Notify() {
	d.wake.Notify()
}

// Run dispatches due orders until ctx ends, then returns nil. Database and
// HTTP errors are logged and retried; they never stop it.
func (d *Dispatcher) Run(ctx context.Context) error {
	return d.wake.Loop(ctx, d.opt.Interval, d.drain)
}

// claimed is an order taken by a dispatcher, with where it goes.
type claimed struct {
	Event
	AccountID int64
	URL       string // "" when the scenario was removed or disabled
	Secret    string
}

// drain dispatches due orders batch by batch until none is left or ctx ends.
func (d *Dispatcher) drain(ctx context.Context) {
	lease := d.opt.Timeout + time.Minute
	claim := func(ctx context.Context) ([]claimed, error) { return d.claim(ctx, lease) }
	if err := poll.Drain(ctx, d.opt.Batch, claim, d.dispatch); err != nil {
		d.log.Error("callbacks: claim orders", "err", err)
	}
}

// claim leases up to a batch of due scheduled orders, oldest due first,
// locked with FOR UPDATE SKIP LOCKED (concurrent claims on any node take
// different rows) and moved past the lease, in one transaction.
func (d *Dispatcher) claim(ctx context.Context, lease time.Duration) ([]claimed, error) {
	var out []claimed
	err := pgx.BeginFunc(ctx, d.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT c.id, c.site_id, s.site_key, s.account_id, c.phone, c.group_id, c.visitor_id, c.session_id,
				c.source, c.data, c.created_at, c.due_at, COALESCE(c.scenario_id, 0), c.attempts,
				CASE WHEN sc.active THEN sc.url ELSE '' END, COALESCE(sc.secret, '')
			FROM callbacks c JOIN sites s ON s.id = c.site_id
			LEFT JOIN callback_scenarios sc ON sc.id = c.scenario_id
			WHERE c.status = 'scheduled' AND c.next_attempt_at <= now()
			ORDER BY c.next_attempt_at, c.id LIMIT $1
			FOR UPDATE OF c SKIP LOCKED`, d.opt.Batch)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
			var c claimed
			var url *string
			err := row.Scan(&c.CallbackID, &c.SiteID, &c.SiteKey, &c.AccountID, &c.Phone, &c.GroupID, &c.VisitorID, &c.SessionID,
				&c.Source, &c.Values, &c.RequestedAt, &c.DueAt, &c.ScenarioID, &c.Attempts, &url, &c.Secret)
			if url != nil {
				c.URL = *url
			}
			c.RequestedAt, c.DueAt, c.Status = c.RequestedAt.UTC(), c.DueAt.UTC(), StateScheduled
			return c, err
		})
		if err != nil || len(out) == 0 {
			return err
		}
		ids := make([]int64, len(out))
		for i, c := range out {
			ids[i] = c.CallbackID
		}
		_, err = tx.Exec(ctx, `UPDATE callbacks SET next_attempt_at = now() + make_interval(secs => $2) WHERE id = ANY ($1)`,
			ids, lease.Seconds())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("callbacks: claim: %w", err)
	}
	return out, nil
}

// dispatch POSTs one claimed order and records the outcome, even when ctx
// ends meanwhile (a dispatched order is not sent again).
func (d *Dispatcher) dispatch(ctx context.Context, c claimed) {
	var status int
	var err error
	if c.URL == "" {
		err = fmt.Errorf("the scenario was removed or disabled")
	} else {
		status, err = post(ctx, d.opt.Client, d.opt.Timeout, c.URL, c.Secret, &c.Payload)
	}
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	outcome := ""
	switch {
	case err == nil:
		outcome = "dispatched"
		err = d.record(markCtx, &c, func(tx pgx.Tx) (string, error) {
			c.Status, c.LastStatus = StateDispatched, status
			err := tx.QueryRow(markCtx, `UPDATE callbacks SET status = 'dispatched', dispatched_at = now(), last_status = $2, last_error = NULL
				WHERE id = $1 AND status = 'scheduled' RETURNING dispatched_at`, c.CallbackID, status).Scan(&c.DispatchedAt)
			return webhooks.EventCallbackDispatched, err
		})
	case ctx.Err() != nil && c.URL != "":
		// Interrupted by the shutdown rather than refused: not counted;
		// another node or the next start sends it.
		_, err = d.db.Exec(markCtx, `UPDATE callbacks SET next_attempt_at = now() WHERE id = $1 AND status = 'scheduled'`, c.CallbackID)
	default:
		c.Attempts++
		c.LastStatus, c.LastError = status, clip(err.Error())
		final := c.Attempts >= d.opt.MaxAttempts || c.URL == ""
		retry := d.opt.Backoff(c.Attempts)
		outcome = "retried"
		if final {
			outcome = "failed"
		}
		d.log.Warn("callbacks: dispatch failed", "callback", c.CallbackID, "scenario", c.ScenarioID, "attempts", c.Attempts,
			"status", status, "final", final, "retry_in", retry, "err", err)
		err = d.record(markCtx, &c, func(tx pgx.Tx) (string, error) {
			if final {
				c.Status = StateFailed
				tag, err := tx.Exec(markCtx, `UPDATE callbacks SET status = 'failed', attempts = $2, last_status = NULLIF($3, 0), last_error = $4
					WHERE id = $1 AND status = 'scheduled'`, c.CallbackID, c.Attempts, status, c.LastError)
				if err == nil && tag.RowsAffected() == 0 {
					err = pgx.ErrNoRows
				}
				return webhooks.EventCallbackFailed, err
			}
			_, err := tx.Exec(markCtx, `UPDATE callbacks SET attempts = $2, last_status = NULLIF($3, 0), last_error = $4,
					next_attempt_at = now() + make_interval(secs => $5)
				WHERE id = $1 AND status = 'scheduled'`, c.CallbackID, c.Attempts, status, c.LastError, retry.Seconds())
			return "", err
		})
	}
	if err != nil {
		d.log.Error("callbacks: record dispatch", "callback", c.CallbackID, "err", err)
		return
	}
	if d.opt.Observe != nil && outcome != "" {
		d.opt.Observe(outcome)
	}
}

// record runs change in a transaction and publishes the event it names for
// the account's webhooks in the same transaction. A change that finds the
// order no longer scheduled (pgx.ErrNoRows) publishes nothing.
func (d *Dispatcher) record(ctx context.Context, c *claimed, change func(pgx.Tx) (string, error)) error {
	published := false
	err := pgx.BeginFunc(ctx, d.db, func(tx pgx.Tx) error {
		event, err := change(tx)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil || event == "" {
			return err
		}
		n, err := webhooks.Publish(ctx, tx, c.AccountID, event, c.Event)
		published = n > 0
		return err
	})
	if published && d.opt.WebhooksNotify != nil {
		d.opt.WebhooksNotify()
	}
	return err
}
