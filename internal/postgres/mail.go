package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/mail"
)

// Querier runs statements; *pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it, so
// a write can join the caller's transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// MailOutbox is the durable mail queue (table mail_outbox). It implements
// mail.Queue.
type MailOutbox struct {
	db *pgxpool.Pool
}

// NewMailOutbox returns the mail queue on db.
func NewMailOutbox(db *pgxpool.Pool) *MailOutbox { return &MailOutbox{db: db} }

var _ mail.Queue = (*MailOutbox)(nil)

// Enqueue queues m through q — the caller's transaction, so the mail is sent if
// and only if the change that caused it commits — or through the outbox's pool
// when q is nil. It returns the message's id, or EINVALID (with the field) for
// a bad message. Call the Outbox's Notify after the commit to send at once.
func (o *MailOutbox) Enqueue(ctx context.Context, q Querier, m mail.Message) (int64, error) {
	if err := m.Validate(); err != nil {
		return 0, err
	}
	if q == nil {
		q = o.db
	}
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO mail_outbox (kind, to_addr, subject, body) VALUES ($1, $2, $3, $4) RETURNING id`,
		m.Kind, m.To, m.Subject, m.Body).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("postgres: enqueue mail: %w", err)
	}
	return id, nil
}

// Claim leases up to limit due, unsent messages, oldest due first: it locks
// them with FOR UPDATE SKIP LOCKED (so concurrent claims on any node take
// different rows) and moves their next attempt past the lease, in one
// transaction.
func (o *MailOutbox) Claim(ctx context.Context, limit int, lease time.Duration) ([]mail.Queued, error) {
	var out []mail.Queued
	err := pgx.BeginFunc(ctx, o.db, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT id, attempts, kind, to_addr, subject, body FROM mail_outbox
			WHERE sent_at IS NULL AND next_attempt_at <= now()
			ORDER BY next_attempt_at, id LIMIT $1
			FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (mail.Queued, error) {
			var q mail.Queued
			err := row.Scan(&q.ID, &q.Attempts, &q.Kind, &q.To, &q.Subject, &q.Body)
			return q, err
		})
		if err != nil || len(out) == 0 {
			return err
		}
		ids := make([]int64, len(out))
		for i, q := range out {
			ids[i] = q.ID
		}
		_, err = tx.Exec(ctx, `UPDATE mail_outbox SET next_attempt_at = now() + make_interval(secs => $2)
			WHERE id = ANY($1)`, ids, lease.Seconds())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim mail: %w", err)
	}
	return out, nil
}

// MarkSent records that message id was delivered (last_error keeps the error
// of the last failed attempt, if any).
func (o *MailOutbox) MarkSent(ctx context.Context, id int64) error {
	if _, err := o.db.Exec(ctx, `UPDATE mail_outbox SET sent_at = now()
		WHERE id = $1 AND sent_at IS NULL`, id); err != nil {
		return fmt.Errorf("postgres: mark mail %d sent: %w", id, err)
	}
	return nil
}

// maxMailError bounds the stored text of the last delivery error.
const maxMailError = 2000

// MarkFailed counts a failed attempt of message id, keeps the error text and
// makes the message due again after retryIn. A message already sent (by
// another node after a lease ran out) is left alone.
func (o *MailOutbox) MarkFailed(ctx context.Context, id int64, sendErr string, retryIn time.Duration) error {
	sendErr = strings.ReplaceAll(strings.ToValidUTF8(sendErr, "?"), "\x00", "")
	if len(sendErr) > maxMailError {
		sendErr = strings.ToValidUTF8(sendErr[:maxMailError], "")
	}
	if _, err := o.db.Exec(ctx, `UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2,
			next_attempt_at = now() + make_interval(secs => $3)
		WHERE id = $1 AND sent_at IS NULL`, id, sendErr, retryIn.Seconds()); err != nil {
		return fmt.Errorf("postgres: mark mail %d failed: %w", id, err)
	}
	return nil
}

// Release makes the claimed, unsent messages ids due now without counting an
// attempt.
func (o *MailOutbox) Release(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := o.db.Exec(ctx, `UPDATE mail_outbox SET next_attempt_at = now()
		WHERE id = ANY($1) AND sent_at IS NULL`, ids); err != nil {
		return fmt.Errorf("postgres: release mail: %w", err)
	}
	return nil
}

// PurgeSent deletes mail sent before the time and returns how many.
func (o *MailOutbox) PurgeSent(ctx context.Context, before time.Time) (int64, error) {
	tag, err := o.db.Exec(ctx, `DELETE FROM mail_outbox WHERE sent_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge sent mail: %w", err)
	}
	return tag.RowsAffected(), nil
}
