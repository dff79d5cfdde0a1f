// Package natsengine is the hub engine on NATS core publish/subscribe, for
// deployments that outgrow one PostgreSQL's NOTIFY rate. A message on topic T
// is published on subject "comagicd.T"; every node subscribes to "comagicd.>".
// Core NATS keeps nothing: a node that is down misses what was published
// meanwhile and resynchronises from PostgreSQL when it is back.
package natsengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/comagicd/comagicd/internal/comagic"
)

// SubjectPrefix is prepended to a topic to make its subject.
const SubjectPrefix = "comagicd."

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// flushTimeout bounds the round trip that confirms the subscription.
	flushTimeout = 5 * time.Second
	// inbox is how many received messages may wait for delivery; beyond it
	// NATS drops them (a slow consumer) and the engine resynchronises.
	inbox = 1 << 16
)

// Engine is the NATS hub engine.
type Engine struct {
	url     string
	logger  *slog.Logger
	nc      atomic.Pointer[nats.Conn]
	ready   atomic.Bool
	running atomic.Bool
}

// New returns an engine for the NATS server(s) at url (nats:// or tls://,
// several separated by commas). It connects when Run is called.
func New(url string, logger *slog.Logger) *Engine {
	return &Engine{url: url, logger: logger}
}

// Publish sends payload on the topic's subject through Run's connection.
// While that connection is reconnecting, NATS buffers what is published;
// before Run has connected for the first time it is an EUNAVAILABLE error.
func (e *Engine) Publish(_ context.Context, topic string, payload []byte) error {
	nc := e.nc.Load()
	if nc == nil {
		return comagic.Errorf(comagic.EUNAVAILABLE, "natsengine: not running")
	}
	if err := nc.Publish(SubjectPrefix+topic, payload); err != nil {
		return fmt.Errorf("natsengine: publish: %w", err)
	}
	return nil
}

// Ready reports whether Run is connected and its subscription confirmed.
func (e *Engine) Ready() bool {
	nc := e.nc.Load()
	return e.ready.Load() && nc != nil && nc.IsConnected()
}

// event is what the connection's callbacks tell Run, in their order.
type event int

const (
	evUp   event = iota // connected or reconnected
	evDown              // disconnected, or a reconnection attempt failed
	evLost              // messages were dropped (slow consumer)
)

// Run connects (retrying until the server answers), subscribes and delivers
// messages until ctx ends. NATS reconnects by itself with a backoff of
// 100 ms doubling to 5 s; after a reconnection (or a first connection that
// needed retries) Run calls resync, and also when NATS dropped messages
// because delivery fell behind. deliver and resync are called from Run's
// goroutine only. Run returns nil when ctx ends.
func (e *Engine) Run(ctx context.Context, deliver func(topic string, payload []byte), resync func()) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("natsengine: Run is already running")
	}
	defer e.running.Store(false)
	done := make(chan struct{})
	defer close(done)
	events := make(chan event, 64)
	signal := func(ev event) {
		select {
		case events <- ev:
		case <-done:
		}
	}
	msgs := make(chan *nats.Msg, inbox)
	nc, err := nats.Connect(e.url,
		nats.Name("comagicd hub"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ConnectHandler(func(*nats.Conn) { signal(evUp) }),
		nats.ReconnectHandler(func(*nats.Conn) { signal(evUp) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil when Run closes the connection
				e.logger.Warn("natsengine: disconnected", "err", err)
			}
			signal(evDown)
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			e.logger.Debug("natsengine: reconnection failed", "err", err)
			signal(evDown)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			e.logger.Warn("natsengine: asynchronous error", "err", err)
			if errors.Is(err, nats.ErrSlowConsumer) {
				signal(evLost)
			}
		}),
	)
	if err != nil {
		return fmt.Errorf("natsengine: connect: %w", err)
	}
	defer func() {
		e.ready.Store(false)
		e.nc.Store(nil)
		nc.Close()
	}()
	// A first connection that is not up at once is being retried: messages
	// published meanwhile are missed.
	failed := !nc.IsConnected()
	if _, err := nc.ChanSubscribe(SubjectPrefix+">", msgs); err != nil {
		return fmt.Errorf("natsengine: subscribe: %w", err)
	}
	e.nc.Store(nc)
	// retry is set while a confirmation round trip has to be tried again.
	var retry <-chan time.Time
	confirm := func() {
		// The subscription is (re)sent on connecting; a round trip makes
		// sure the server has it before Ready says so.
		fctx, cancel := context.WithTimeout(ctx, flushTimeout)
		err := nc.FlushWithContext(fctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				e.logger.Warn("natsengine: flush after connecting", "err", err)
				retry = time.After(minBackoff)
			}
			return
		}
		retry = nil
		e.ready.Store(true)
		if failed {
			failed = false
			resync()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			deliver(strings.TrimPrefix(m.Subject, SubjectPrefix), m.Data)
		case <-retry:
			if nc.IsConnected() {
				confirm()
			}
		case ev := <-events:
			switch ev {
			case evDown:
				e.ready.Store(false)
				failed = true
				retry = nil
			case evLost:
				resync()
			case evUp:
				confirm()
			}
		}
	}
}

// reconnectDelay is 100 ms doubling to 5 s per round over the servers, with
// up to 10% jitter so that nodes do not reconnect in step.
func reconnectDelay(attempts int) time.Duration {
	d := maxBackoff
	if attempts < 10 {
		d = min(minBackoff<<max(attempts-1, 0), maxBackoff)
	}
	return d + rand.N(d/10+1)
}
