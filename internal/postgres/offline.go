package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/comagic"
)

// IdempotencyTTL is how long an idempotency key of an offline request is
// remembered.
const IdempotencyTTL = 24 * time.Hour

const leadColumns = `site_id, visitor_id, session_id, hit_id, name, email, phone, message,
	is_sale, sale_cost, group_id, form_name, source, extra, claimed_visitor_id, claimed_session_id, claimed_hit_id`

// leadValues are the values of leadColumns for $1..$17. The hit is kept only
// when it is a hit of the session, looked up by its primary key: a filter on
// the session as well lets a generic plan pick hits_session_idx and read every
// hit of a long session.
const leadValues = `$1, NULLIF($2, 0), NULLIF($3, 0), (SELECT CASE WHEN h.session_id = $3 THEN h.id END FROM hits h WHERE h.id = $4),
	$5, $6, $7, $8, $9, $10::text::numeric, NULLIF($11, 0), $12, $13, $14,
	NULLIF($15, 0), NULLIF($16, 0), NULLIF($17, 0)`

// announceLead queues offline_request.created for the webhooks of account
// $acct taking it, in the statement (so the transaction) that stores the lead
// (CTE ins): the data is $data with the stored id and created_at. Its rows
// are counted by the statement's last column.
func announceLead(acct, data int) string {
	return fmt.Sprintf(`wh AS (
	INSERT INTO webhook_deliveries (webhook_id, event, payload)
	SELECT w.id, 'offline_request.created', $%[2]d::jsonb || jsonb_build_object('id', ins.id,
		'created_at', to_char(ins.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
	FROM ins JOIN webhooks w ON w.account_id = $%[1]d AND w.active AND (w.events = '{}' OR 'offline_request.created' = ANY (w.events))
	WHERE $%[2]d::jsonb IS NOT NULL
	RETURNING 1
)`, acct, data)
}

// insertLead stores a lead without idempotency key, and announces it ($18,
// $19: see announceLead).
var insertLead = `WITH ins AS (
	INSERT INTO offline_requests (` + leadColumns + `) VALUES (` + leadValues + `) RETURNING id, created_at
), ` + announceLead(18, 19) + `
SELECT ins.id, ins.created_at, (SELECT count(*) FROM wh) FROM ins`

// insertLeadOnce stores a lead unless its idempotency key ($18, with the
// request hash $19) is known for the site: the key's row names the request that
// used it first. A key whose row has expired is taken over. Concurrent requests
// with one key wait for each other on the key's row, so one of them stores
// (and announces it, $21 and $22: see announceLead; a replay announces nothing).
var insertLeadOnce = `WITH rid AS (SELECT nextval('offline_requests_id_seq') AS id),
k AS (
	INSERT INTO idempotency_keys AS ik (site_id, key, request_hash, request_id, expires_at)
	SELECT $1, $18, $19, rid.id, now() + $20::interval FROM rid
	ON CONFLICT (site_id, key) DO UPDATE SET
		request_hash = CASE WHEN ik.expires_at < now() THEN EXCLUDED.request_hash ELSE ik.request_hash END,
		request_id   = CASE WHEN ik.expires_at < now() THEN EXCLUDED.request_id ELSE ik.request_id END,
		created_at   = CASE WHEN ik.expires_at < now() THEN now() ELSE ik.created_at END,
		expires_at   = CASE WHEN ik.expires_at < now() THEN EXCLUDED.expires_at ELSE ik.expires_at END
	RETURNING ik.request_id, ik.request_hash
),
ins AS (
	INSERT INTO offline_requests (id, ` + leadColumns + `)
	SELECT rid.id, ` + leadValues + ` FROM rid JOIN k ON k.request_id = rid.id
	RETURNING id, created_at
), ` + announceLead(21, 22) + `
SELECT k.request_id, k.request_hash, ins.created_at, (SELECT count(*) FROM wh) FROM k LEFT JOIN ins ON true`

// CreateOfflineRequest stores a lead whose site (and, when attributed, visitor and
// session) the caller has resolved and verified. It sets r.ID and r.CreatedAt
// once the row is committed. With an idempotency key that the site used before,
// nothing is stored: r.ID is the first request's and r.Replayed is set, or the
// answer is ECONFLICT when the key came with another request. Returns ENOTFOUND
// for a purged visitor or session.
func (s *Store) CreateOfflineRequest(ctx context.Context, r *comagic.OfflineRequest) error {
	extra, err := json.Marshal(r.Extra)
	if err != nil {
		return fmt.Errorf("postgres: create offline request: extra: %w", err)
	}
	if r.Extra == nil {
		extra = []byte("{}")
	}
	args := []any{r.SiteID, r.VisitorID, r.SessionID, r.HitID, r.Name, r.Email, r.Phone, r.Message,
		r.IsSale, r.SaleCost, r.GroupID, r.FormName, r.Source, extra,
		r.ClaimedVisitorID, r.ClaimedSessionID, r.ClaimedHitID}
	var announce any // NULL: no event
	if r.Announce != nil {
		announce = string(r.Announce)
	}
	if r.IdempotencyKey != "" {
		return s.createOfflineRequestOnce(ctx, r, args, announce)
	}
	args = append(args, r.AccountID, announce)
	o := &op{
		queue: func(b *pgx.Batch) { b.Queue(insertLead, args...) },
		read:  func(br pgx.BatchResults) error { return br.QueryRow().Scan(&r.ID, &r.CreatedAt, &r.Announced) },
	}
	if err := s.ops.Do(ctx, o); err != nil {
		return fmt.Errorf("postgres: create offline request: %w", notFoundIfGone(err, "visitor or session"))
	}
	return nil
}

// createOfflineRequestOnce is CreateOfflineRequest with an idempotency key.
func (s *Store) createOfflineRequestOnce(ctx context.Context, r *comagic.OfflineRequest, args []any, announce any) error {
	args = append(args, r.IdempotencyKey, r.RequestHash, IdempotencyTTL.String(), r.AccountID, announce)
	var hash []byte
	var created *time.Time
	o := &op{
		queue: func(b *pgx.Batch) { b.Queue(insertLeadOnce, args...) },
		read:  func(br pgx.BatchResults) error { return br.QueryRow().Scan(&r.ID, &hash, &created, &r.Announced) },
	}
	if err := s.ops.Do(ctx, o); err != nil {
		return fmt.Errorf("postgres: create offline request: %w", notFoundIfGone(err, "visitor or session"))
	}
	if created != nil {
		r.CreatedAt = *created
		return nil
	}
	if !bytes.Equal(hash, r.RequestHash) {
		return &comagic.Error{Code: comagic.ECONFLICT, Field: "idempotency_key",
			Message: "idempotency_key was used with another request of this site"}
	}
	r.Replayed = true
	return nil
}

// PurgeIdempotencyKeys deletes expired idempotency keys and returns how many.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
