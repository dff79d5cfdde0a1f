package mail

import (
	"context"
	"github.com/comagicd/comagicd/internal/poll"
	"log/slog"
	"time"
)

// Queued is a message claimed from the outbox.
type Queued struct {
	ID       int64
	Attempts int // failed attempts so far
	Message
}

// Queue is the durable store of the outbox (internal/postgres.MailOutbox).
type Queue interface {
	// Claim leases up to limit due, unsent messages for lease: until the lease
	// ends no other Claim returns them. Concurrent claims (on any node) never
	// return the same message.
	Claim(ctx context.Context, limit int, lease time.Duration) ([]Queued, error)
	// MarkSent records that the message was delivered; it is not sent again.
	MarkSent(ctx context.Context, id int64) error
	// MarkFailed records a failed attempt (attempts+1, the error text) and
	// makes the message due again after retryIn.
	MarkFailed(ctx context.Context, id int64, sendErr string, retryIn time.Duration) error
	// Release makes claimed, unsent messages due now, without counting an
	// attempt (the worker is stopping).
	Release(ctx context.Context, ids []int64) error
}

// Backoff is the delay before the next attempt after the given number of
// failed attempts (1 after the first failure): 10 s, 30 s, 1 min, 5 min,
// 15 min, then hourly for ever.
func Backoff(attempts int) time.Duration {
	steps := [...]time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	if attempts < 1 {
		attempts = 1
	}
	if attempts > len(steps) {
		attempts = len(steps)
	}
	return steps[attempts-1]
}

// OutboxOptions tune an Outbox; zero values take the defaults.
type OutboxOptions struct {
	// Interval between polls for due mail; 1 s.
	Interval time.Duration
	// Batch is how many messages one claim takes; 10.
	Batch int
	// SendTimeout bounds one delivery; 1 min. A claim's lease is
	// Batch×SendTimeout plus a minute, so a worker that dies mid-batch delays
	// its messages by at most that.
	SendTimeout time.Duration
	// Backoff gives the delay after the n-th failed attempt; Backoff above.
	Backoff func(attempts int) time.Duration
	// OnResult, when set, is called after each attempt with its error (nil =
	// delivered) and the failed attempts before it; for metrics.
	OnResult func(m Queued, err error)
}

// Outbox delivers queued mail. Run it on every node: the queue's claims make
// sure each message is delivered by one of them. Delivery is at least once: a
// node that dies after the server took a message but before it recorded that
// sends it again once the lease ends.
type Outbox struct {
	queue  Queue
	sender Sender
	log    *slog.Logger
	opt    OutboxOptions
	wake   poll.Waker
}

// NewOutbox returns an outbox worker sending from queue through sender. It does
// not start: call Run.
func NewOutbox(queue Queue, sender Sender, log *slog.Logger, opt OutboxOptions) *Outbox {
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.Batch <= 0 {
		opt.Batch = 10
	}
	if opt.SendTimeout <= 0 {
		opt.SendTimeout = time.Minute
	}
	if opt.Backoff == nil {
		opt.Backoff = Backoff
	}
	return &Outbox{queue: queue, sender: sender, log: log, opt: opt, wake: poll.NewWaker()}
}

// Notify wakes the worker at once (after a message was queued and committed)
// instead of at its next poll. It never blocks.
func (o *Outbox) Notify() {
	o.wake.Notify()
}

// Run delivers due mail until ctx ends, then returns nil. Database and SMTP
// errors are logged and retried; they never stop the worker.
func (o *Outbox) Run(ctx context.Context) error {
	return o.wake.Loop(ctx, o.opt.Interval, o.drain)
}

// drain sends due mail batch by batch until none is left or ctx ends.
func (o *Outbox) drain(ctx context.Context) {
	lease := time.Duration(o.opt.Batch)*o.opt.SendTimeout + time.Minute
	for ctx.Err() == nil {
		batch, err := o.queue.Claim(ctx, o.opt.Batch, lease)
		if err != nil {
			if ctx.Err() == nil {
				o.log.Error("mail: claim outbox", "err", err)
			}
			return
		}
		for i, q := range batch {
			if ctx.Err() != nil {
				o.release(ctx, batch[i:])
				return
			}
			o.deliver(ctx, q)
		}
		if len(batch) < o.opt.Batch {
			return
		}
	}
}

// deliver sends one claimed message and records the outcome. The outcome is
// recorded even when ctx ends meanwhile, so a delivered message is not sent
// again.
func (o *Outbox) deliver(ctx context.Context, q Queued) {
	sendCtx, cancel := context.WithTimeout(ctx, o.opt.SendTimeout)
	err := o.sender.Send(sendCtx, q.Message)
	cancel()
	markCtx, cancelMark := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelMark()
	switch {
	case err == nil:
		if err := o.queue.MarkSent(markCtx, q.ID); err != nil {
			o.log.Error("mail: mark sent", "id", q.ID, "err", err)
		}
	case ctx.Err() != nil:
		// Failed while shutting down, probably interrupted rather than
		// refused: not counted as an attempt; another node or the next start
		// sends it.
		o.release(markCtx, []Queued{q})
		return
	default:
		retry := o.opt.Backoff(q.Attempts + 1)
		o.log.Warn("mail: send failed", "id", q.ID, "kind", q.Kind, "attempts", q.Attempts+1, "retry_in", retry, "err", err)
		if err := o.queue.MarkFailed(markCtx, q.ID, err.Error(), retry); err != nil {
			o.log.Error("mail: mark failed", "id", q.ID, "err", err)
		}
	}
	if o.opt.OnResult != nil {
		o.opt.OnResult(q, err)
	}
}

func (o *Outbox) release(ctx context.Context, qs []Queued) {
	ids := make([]int64, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := o.queue.Release(ctx, ids); err != nil {
		o.log.Error("mail: release claimed mail", "ids", ids, "err", err)
	}
}
