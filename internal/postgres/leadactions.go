package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/comagic"
)

// insertLeadActionSQL stores a lead action when the session is one of the
// visitor on the site (the credentials' check, repeated by the database for
// free: the foreign key reads the same row). The session and the hit are both
// looked up by their primary keys: the session in a materialised CTE, since a
// generic plan made on an empty table would otherwise read it through
// sessions_site_idx (every session of the site); the hit is kept only when it
// is a hit of the session (as for events).
const insertLeadActionSQL = `WITH s AS MATERIALIZED (SELECT id, site_id, visitor_id FROM sessions WHERE id = $3)
INSERT INTO lead_actions (site_id, visitor_id, session_id, hit_id, widget, action, data)
SELECT s.site_id, s.visitor_id, s.id, (SELECT CASE WHEN h.session_id = s.id THEN h.id END FROM hits h WHERE h.id = $4), $5::text, $6::text, $7::jsonb
FROM s WHERE s.site_id = $1 AND s.visitor_id = $2
RETURNING id, created_at`

// RecordLeadAction stores a lead action whose site, visitor and session the
// caller has verified, and sets a.ID and a.CreatedAt once the row is committed.
// A hit id that is not a hit of the session is stored as NULL. Returns
// ENOTFOUND when the session is not the visitor's on the site (purged).
func (s *Store) RecordLeadAction(ctx context.Context, a *comagic.LeadAction) error {
	data := []byte("{}")
	if len(a.Data) > 0 {
		var err error
		if data, err = json.Marshal(a.Data); err != nil {
			return fmt.Errorf("postgres: record lead action: data: %w", err)
		}
	}
	gone := false
	o := &op{
		queue: func(b *pgx.Batch) {
			b.Queue(insertLeadActionSQL, a.SiteID, a.VisitorID, a.SessionID, a.HitID, a.Widget, a.Action, data)
		},
		read: func(br pgx.BatchResults) error {
			err := br.QueryRow().Scan(&a.ID, &a.CreatedAt)
			if gone = errors.Is(err, pgx.ErrNoRows); gone {
				return nil
			}
			return err
		},
	}
	if err := s.ops.Do(ctx, o); err != nil {
		return fmt.Errorf("postgres: record lead action: %w", notFoundIfGone(err, "session"))
	}
	if gone {
		return comagic.Errorf(comagic.ENOTFOUND, "session no longer exists")
	}
	return nil
}
