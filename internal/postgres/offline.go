package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/comagic"
)

// CreateOfflineRequest stores a lead whose site (and, when attributed, visitor and
// session) the caller has resolved and verified. It sets r.ID and r.CreatedAt
// once the row is committed. Returns ENOTFOUND for a purged visitor or session.
func (s *Store) CreateOfflineRequest(ctx context.Context, r *comagic.OfflineRequest) error {
	extra, err := json.Marshal(r.Extra)
	if err != nil {
		return fmt.Errorf("postgres: create offline request: extra: %w", err)
	}
	if r.Extra == nil {
		extra = []byte("{}")
	}
	const q = `INSERT INTO offline_requests (site_id, visitor_id, session_id, hit_id, name, email, phone, message,
	                                         is_sale, sale_cost, group_id, form_name, source, extra)
	           VALUES ($1, NULLIF($2, 0), NULLIF($3, 0), (SELECT h.id FROM hits h WHERE h.id = $4 AND h.session_id = $3), $5, $6, $7, $8, $9, $10, NULLIF($11, 0), $12, $13, $14)
	           RETURNING id, created_at`
	args := []any{r.SiteID, r.VisitorID, r.SessionID, r.HitID, r.Name, r.Email, r.Phone, r.Message,
		r.IsSale, r.SaleCost, r.GroupID, r.FormName, r.Source, extra}
	o := &op{
		queue: func(b *pgx.Batch) { b.Queue(q, args...) },
		read:  func(br pgx.BatchResults) error { return br.QueryRow().Scan(&r.ID, &r.CreatedAt) },
	}
	if err := s.ops.Do(ctx, o); err != nil {
		return fmt.Errorf("postgres: create offline request: %w", notFoundIfGone(err, "visitor or session"))
	}
	return nil
}
