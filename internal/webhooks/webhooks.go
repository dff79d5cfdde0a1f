// Package webhooks delivers an account's events to its webhooks: signed HTTP
// POSTs retried from a durable outbox (tables webhooks and webhook_deliveries,
// SPEC §12).
//
// Publish queues one delivery per matching active webhook of the account,
// preferably in the transaction of the change it announces. A Dispatcher on
// every node claims due deliveries (FOR UPDATE SKIP LOCKED under a lease),
// POSTs them and records the outcome; a failed attempt is retried with
// backoff, and the rows are the delivery log. Delivery is at least once: a
// receiver deduplicates by the X-Comagicd-Delivery header (the delivery id).
//
// A delivery's body is JSON {"id", "event", "created_at", "data"}; its headers
// X-Comagicd-Event, X-Comagicd-Delivery, X-Comagicd-Timestamp (unix seconds of
// the attempt) and X-Comagicd-Signature: sha256=<hex HMAC-SHA256 of
// timestamp + "." + body with the webhook's secret>. Verify checks them.
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The events a webhook can receive.
const (
	EventOfflineRequestCreated = "offline_request.created"
	EventChatClosed            = "chat.closed"
	EventLeadActionCreated     = "lead_action.created"
	EventCallbackRequested     = "callback.requested"
	EventCallbackDispatched    = "callback.dispatched"
	EventCallbackFailed        = "callback.failed"
	EventCallCreated           = "call.created"
)

// Events lists every event, in the order the CLI shows them.
var Events = [...]string{EventOfflineRequestCreated, EventChatClosed, EventLeadActionCreated,
	EventCallbackRequested, EventCallbackDispatched, EventCallbackFailed, EventCallCreated}

// ValidEvent reports whether name is one of Events.
func ValidEvent(name string) bool {
	for _, e := range Events {
		if e == name {
			return true
		}
	}
	return false
}

// The headers of a delivery.
const (
	HeaderEvent     = "X-Comagicd-Event"
	HeaderDelivery  = "X-Comagicd-Delivery"
	HeaderTimestamp = "X-Comagicd-Timestamp"
	HeaderSignature = "X-Comagicd-Signature"
)

// Querier runs statements: *pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it, so
// Publish can join the caller's transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// publishSQL queues a delivery for each active webhook of account $1 that
// takes event $2 (every event when its list is empty).
const publishSQL = `INSERT INTO webhook_deliveries (webhook_id, event, payload)
SELECT id, $2, $3 FROM webhooks
WHERE account_id = $1 AND active AND (events = '{}' OR $2 = ANY (events))`

// Publish queues event with payload (marshalled to JSON, the "data" of the
// delivery) for every active webhook of the account subscribed to it, through
// q: pass the transaction of the change, so the event is delivered if and
// only if the change commits. It returns how many deliveries it queued.
func Publish(ctx context.Context, q Querier, accountID int64, event string, payload any) (int64, error) {
	if !ValidEvent(event) {
		return 0, fmt.Errorf("webhooks: publish: unknown event %q", event)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("webhooks: publish %s: payload: %w", event, err)
	}
	tag, err := q.Exec(ctx, publishSQL, accountID, event, data)
	if err != nil {
		return 0, fmt.Errorf("webhooks: publish %s: %w", event, err)
	}
	return tag.RowsAffected(), nil
}

// publishTimeout bounds a Publisher's insert.
const publishTimeout = 10 * time.Second

// Publisher publishes events right after the change they announce committed,
// for the write paths that commit in groups and have no transaction to join
// (lead actions) or where the event is a consequence of the commit (a closed
// chat). An event is lost only when this node dies between the commit and the
// insert. Offline requests queue theirs in their own statement and only call
// Notify.
type Publisher struct {
	db     Querier
	log    *slog.Logger
	notify func()
}

// NewPublisher returns a publisher inserting through db; notify, when not
// nil, wakes the local dispatcher after a delivery was queued.
func NewPublisher(db Querier, log *slog.Logger, notify func()) *Publisher {
	return &Publisher{db: db, log: log, notify: notify}
}

// Publish queues the event for the account's webhooks. It does not fail the
// caller, whose change is committed already: an error is logged. It keeps
// going when ctx is cancelled (the client went away after the commit).
func (p *Publisher) Publish(ctx context.Context, accountID int64, event string, payload any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	n, err := Publish(ctx, p.db, accountID, event, payload)
	if err != nil {
		p.log.Error("webhooks: publish", "account", accountID, "event", event, "err", err)
		return
	}
	if n > 0 && p.notify != nil {
		p.notify()
	}
}

// Notify wakes the local dispatcher after a caller queued deliveries in its
// own transaction.
func (p *Publisher) Notify() {
	if p.notify != nil {
		p.notify()
	}
}

// Sign returns the X-Comagicd-Signature value of body sent at timestamp (unix
// seconds, as in X-Comagicd-Timestamp) with secret.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Tolerance is how far from the receiver's clock Verify accepts a delivery's
// timestamp; every attempt is signed anew, so a genuine delivery is fresh.
const Tolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhooks: bad signature")
	ErrStale        = errors.New("webhooks: timestamp too far from now")
)

// Verify checks a delivery received by a webhook: signature (the
// X-Comagicd-Signature header) must be Sign(secret, timestamp, body), compared
// in constant time, and timestamp (X-Comagicd-Timestamp) within Tolerance of
// now, so that a captured request cannot be replayed later. It returns nil,
// ErrBadSignature or ErrStale.
func Verify(secret, timestamp string, body []byte, signature string) error {
	want := Sign(secret, timestamp, body)
	if !hmac.Equal([]byte(want), []byte(strings.TrimSpace(signature))) {
		return ErrBadSignature
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := time.Since(time.Unix(ts, 0)); math.Abs(float64(d)) > float64(Tolerance) {
		return ErrStale
	}
	return nil
}
