package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Webhook is an endpoint of an account.
type Webhook struct {
	ID          int64
	AccountID   int64
	AccountName string // filled by List
	URL         string
	// Secret signs the deliveries; the store keeps it as given (it must
	// sign), and the CLI shows it once, at creation.
	Secret string
	// Events the webhook receives; empty = every event.
	Events    []string
	Active    bool
	CreatedAt time.Time
}

// Delivery is one event for one webhook and the outcome of its attempts: an
// entry of the delivery log.
type Delivery struct {
	ID            int64
	WebhookID     int64
	Event         string
	Payload       []byte // JSON, the "data" of the body
	Attempts      int    // failed attempts
	NextAttemptAt time.Time
	LastStatus    int // HTTP status of the last attempt; 0 = none or no answer
	LastError     string
	DeliveredAt   *time.Time
	CreatedAt     time.Time
}

// claimed is a delivery claimed by a dispatcher, with its webhook's address.
type claimed struct {
	Delivery
	URL    string
	Secret string
}

// Store keeps webhooks and their deliveries.
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns the store on db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// AccountID returns the id of the account named name, or ENOTFOUND.
func (s *Store) AccountID(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT id FROM accounts WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, &comagic.Error{Code: comagic.ENOTFOUND, Field: "account", Message: fmt.Sprintf("no account %q", name)}
	}
	if err != nil {
		return 0, fmt.Errorf("webhooks: account %q: %w", name, err)
	}
	return id, nil
}

// CheckURL returns EINVALID naming url unless u is an absolute http or https
// URL with a host, of at most 2000 characters.
func CheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || len(u) > 2000 || p.User != nil {
		return comagic.Invalid("url", "url must be an http:// or https:// address with a host, without credentials, of at most 2000 characters")
	}
	return nil
}

// CleanEvents checks and deduplicates event names; EINVALID naming event for
// an unknown one.
func CleanEvents(events []string) ([]string, error) {
	out := []string{}
	for _, e := range events {
		e = strings.TrimSpace(e)
		if !ValidEvent(e) {
			return nil, comagic.Invalid("event", "unknown event %q; events are %s", e, strings.Join(Events[:], ", "))
		}
		dup := false
		for _, o := range out {
			dup = dup || o == e
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out, nil
}

// NewSecret returns a random webhook secret: 32 bytes, hex.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

const webhookColumns = `w.id, w.account_id, w.url, w.secret, w.events, w.active, w.created_at`

// Add creates an active webhook of the account for rawURL and events (none =
// every event) with a new secret, and returns it with the secret. Returns
// EINVALID naming url or event, ENOTFOUND for an unknown account.
func (s *Store) Add(ctx context.Context, accountID int64, rawURL string, events []string) (*Webhook, error) {
	rawURL = strings.TrimSpace(rawURL)
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	events, err := CleanEvents(events)
	if err != nil {
		return nil, err
	}
	w := &Webhook{}
	err = s.db.QueryRow(ctx, `INSERT INTO webhooks AS w (account_id, url, secret, events) VALUES ($1, $2, $3, $4)
		RETURNING `+webhookColumns, accountID, rawURL, NewSecret(), events).
		Scan(&w.ID, &w.AccountID, &w.URL, &w.Secret, &w.Events, &w.Active, &w.CreatedAt)
	if err != nil {
		if strings.Contains(err.Error(), "webhooks_account_id_fkey") {
			return nil, &comagic.Error{Code: comagic.ENOTFOUND, Field: "account", Message: "no such account"}
		}
		return nil, fmt.Errorf("webhooks: add: %w", err)
	}
	return w, nil
}

// List returns the webhooks of the account (0 = every account) with their
// account names, oldest first.
func (s *Store) List(ctx context.Context, accountID int64) ([]Webhook, error) {
	rows, err := s.db.Query(ctx, `SELECT `+webhookColumns+`, a.name FROM webhooks w JOIN accounts a ON a.id = w.account_id
		WHERE $1 = 0 OR w.account_id = $1 ORDER BY w.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("webhooks: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Webhook, error) {
		var w Webhook
		err := row.Scan(&w.ID, &w.AccountID, &w.URL, &w.Secret, &w.Events, &w.Active, &w.CreatedAt, &w.AccountName)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: list: %w", err)
	}
	return out, nil
}

// Remove deletes webhook id and its deliveries; ENOTFOUND when there is none.
func (s *Store) Remove(ctx context.Context, id int64) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("webhooks: remove %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return &comagic.Error{Code: comagic.ENOTFOUND, Field: "id", Message: fmt.Sprintf("no webhook %d", id)}
	}
	return nil
}

const deliveryColumns = `d.id, d.webhook_id, d.event, d.payload, d.attempts, d.next_attempt_at,
	COALESCE(d.last_status, 0), COALESCE(d.last_error, ''), d.delivered_at, d.created_at`

func scanDelivery(row pgx.Row, extra ...any) (Delivery, error) {
	var d Delivery
	err := row.Scan(append([]any{&d.ID, &d.WebhookID, &d.Event, &d.Payload, &d.Attempts, &d.NextAttemptAt,
		&d.LastStatus, &d.LastError, &d.DeliveredAt, &d.CreatedAt}, extra...)...)
	return d, err
}

// Deliveries returns the latest deliveries of webhook id, newest first, at
// most limit: the delivery log. ENOTFOUND when there is no such webhook.
func (s *Store) Deliveries(ctx context.Context, webhookID int64, limit int) ([]Delivery, error) {
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = $1)`, webhookID).Scan(&exists); err != nil {
		return nil, fmt.Errorf("webhooks: deliveries of %d: %w", webhookID, err)
	}
	if !exists {
		return nil, &comagic.Error{Code: comagic.ENOTFOUND, Field: "id", Message: fmt.Sprintf("no webhook %d", webhookID)}
	}
	rows, err := s.db.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		WHERE d.webhook_id = $1 ORDER BY d.id DESC LIMIT $2`, webhookID, limit)
	if err != nil {
		return nil, fmt.Errorf("webhooks: deliveries of %d: %w", webhookID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Delivery, error) { return scanDelivery(row) })
	if err != nil {
		return nil, fmt.Errorf("webhooks: deliveries of %d: %w", webhookID, err)
	}
	return out, nil
}

// claim leases up to limit due, undelivered deliveries of active webhooks,
// oldest due first: it locks them with FOR UPDATE SKIP LOCKED (so concurrent
// claims on any node take different rows) and moves their next attempt past
// the lease, in one transaction.
func (s *Store) claim(ctx context.Context, limit int, lease time.Duration) ([]claimed, error) {
	var out []claimed
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+`, w.url, w.secret
			FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.delivered_at IS NULL AND d.next_attempt_at <= now() AND w.active
			ORDER BY d.next_attempt_at, d.id LIMIT $1
			FOR UPDATE OF d SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
			var c claimed
			var err error
			c.Delivery, err = scanDelivery(row, &c.URL, &c.Secret)
			return c, err
		})
		if err != nil || len(out) == 0 {
			return err
		}
		ids := make([]int64, len(out))
		for i, c := range out {
			ids[i] = c.ID
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $2)
			WHERE id = ANY ($1)`, ids, lease.Seconds())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: claim deliveries: %w", err)
	}
	return out, nil
}

// markDelivered records the successful attempt of delivery id.
func (s *Store) markDelivered(ctx context.Context, id int64, status int) error {
	if _, err := s.db.Exec(ctx, `UPDATE webhook_deliveries SET delivered_at = now(), last_status = $2, last_error = NULL
		WHERE id = $1 AND delivered_at IS NULL`, id, status); err != nil {
		return fmt.Errorf("webhooks: mark delivery %d delivered: %w", id, err)
	}
	return nil
}

// maxError bounds the stored text of the last error.
const maxError = 2000

// markFailed counts a failed attempt of delivery id, keeps its status and
// error and makes it due again after retryIn.
func (s *Store) markFailed(ctx context.Context, id int64, status int, msg string, retryIn time.Duration) error {
	msg = strings.ReplaceAll(strings.ToValidUTF8(msg, "?"), "\x00", "")
	if len(msg) > maxError {
		msg = strings.ToValidUTF8(msg[:maxError], "")
	}
	if _, err := s.db.Exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = NULLIF($2, 0),
			last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
		WHERE id = $1 AND delivered_at IS NULL`, id, status, msg, retryIn.Seconds()); err != nil {
		return fmt.Errorf("webhooks: mark delivery %d failed: %w", id, err)
	}
	return nil
}

// release makes claimed, undelivered deliveries due now without counting an
// attempt (the dispatcher is stopping).
func (s *Store) release(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.db.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = now()
		WHERE id = ANY ($1) AND delivered_at IS NULL`, ids); err != nil {
		return fmt.Errorf("webhooks: release deliveries: %w", err)
	}
	return nil
}
