// Package pgengine is the hub engine on PostgreSQL LISTEN/NOTIFY, the default:
// every node listens on one channel with one dedicated connection, and a
// message is a notification "topic payload" published through the pool.
package pgengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the NOTIFY channel the engine uses.
const Channel = "comagicd"

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// idleCheck is how long the listener waits for a notification before it
	// pings the server, so a silently dead connection is noticed.
	idleCheck = 30 * time.Second
	// pingTimeout bounds that ping.
	pingTimeout = 5 * time.Second
)

// Engine is the PostgreSQL LISTEN/NOTIFY hub engine.
type Engine struct {
	pool       *pgxpool.Pool
	connString string
	logger     *slog.Logger
	ready      atomic.Bool

	// Publications made while one is on its way go out together in the next
	// statement: one transaction (one NOTIFY queue lock) for many wake-ups.
	mu       sync.Mutex
	pending  []publication
	flushing bool
}

type publication struct {
	msg  string
	done chan error
}

// New returns an engine that publishes through pool and listens with a
// connection of its own to connString (the same database). It connects when
// Run is called.
func New(pool *pgxpool.Pool, connString string, logger *slog.Logger) *Engine {
	return &Engine{pool: pool, connString: connString, logger: logger}
}

// Publish notifies every listening node, this one included. The topic must not
// contain a space and topic and payload together must stay under PostgreSQL's
// 8000 bytes; the hub checks both.
func (e *Engine) Publish(ctx context.Context, topic string, payload []byte) error {
	if strings.IndexByte(topic, ' ') >= 0 {
		return fmt.Errorf("pgengine: topic %q contains a space", topic)
	}
	p := publication{msg: topic + " " + string(payload), done: make(chan error, 1)}
	e.mu.Lock()
	e.pending = append(e.pending, p)
	if !e.flushing {
		e.flushing = true
		go e.flush()
	}
	e.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("pgengine: notify: %w", ctx.Err())
	}
}

// flushTimeout bounds one batch of notifications.
const flushTimeout = 10 * time.Second

// flush sends the pending publications, a batch per statement, until none
// is left. Notifications of one statement are delivered in their order.
func (e *Engine) flush() {
	for {
		e.mu.Lock()
		batch := e.pending
		e.pending = nil
		if len(batch) == 0 {
			e.flushing = false
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		msgs := make([]string, len(batch))
		for i, p := range batch {
			msgs[i] = p.msg
		}
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		_, err := e.pool.Exec(ctx, `SELECT pg_notify('`+Channel+`', m) FROM unnest($1::text[]) WITH ORDINALITY AS t(m, i) ORDER BY i`, msgs)
		cancel()
		if err != nil {
			err = fmt.Errorf("pgengine: notify: %w", err)
		}
		for _, p := range batch {
			p.done <- err
		}
	}
}

// Ready reports whether the listening connection is up and has run LISTEN.
func (e *Engine) Ready() bool { return e.ready.Load() }

// Run holds the listening connection until ctx ends, calling deliver for each
// notification. On any error it reconnects with a backoff of 100 ms doubling
// to 5 s, listens again and then calls resync (also when the very first
// attempt failed: messages may have been published meanwhile). It returns nil
// when ctx ends.
func (e *Engine) Run(ctx context.Context, deliver func(topic string, payload []byte), resync func()) error {
	cfg, err := pgx.ParseConfig(e.connString)
	if err != nil {
		return fmt.Errorf("pgengine: parse database url: %w", err)
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "comagicd hub"
	}
	backoff := minBackoff
	// failed is set once an attempt failed or a connection was lost: the
	// next connection may have missed messages, so it resynchronises.
	failed := false
	for {
		start := time.Now()
		err := e.listen(ctx, cfg, deliver, func() {
			if failed {
				resync()
			}
		})
		e.ready.Store(false)
		failed = true
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > maxBackoff {
			backoff = minBackoff
		}
		e.logger.Warn("pgengine: listening connection lost, reconnecting", "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen connects, runs LISTEN, calls listening and then delivers
// notifications until the connection fails or ctx ends.
func (e *Engine) listen(ctx context.Context, cfg *pgx.ConnConfig, deliver func(string, []byte), listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("pgengine: connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+Channel); err != nil {
		return fmt.Errorf("pgengine: listen: %w", err)
	}
	e.ready.Store(true)
	listening()
	for {
		wctx, cancel := context.WithTimeout(ctx, idleCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("pgengine: ping: %w", err)
			}
			continue
		case err != nil:
			return fmt.Errorf("pgengine: wait for notification: %w", err)
		}
		if n.Channel != Channel {
			continue
		}
		topic, payload, ok := strings.Cut(n.Payload, " ")
		if !ok {
			e.logger.Warn("pgengine: notification without a topic", "payload", n.Payload)
			continue
		}
		deliver(topic, []byte(payload))
	}
}
