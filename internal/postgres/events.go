package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/groupcommit"
)

// EventWrite is one custom event to store; the session is already verified.
type EventWrite struct{ comagic.Event }

// TrackEvent stores the event once its batch has committed. A hit id that is not
// a hit of the session is stored as NULL. Returns ENOTFOUND for a purged session.
func (s *Store) TrackEvent(ctx context.Context, ev comagic.Event) error {
	if err := s.events.Do(ctx, &EventWrite{ev}); err != nil {
		return notFoundIfGone(err, "session")
	}
	return nil
}

func flushEvents(ctx context.Context, conn groupcommit.Conn, items []*EventWrite) error {
	n := len(items)
	site, visitor, session, hit := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	at := make([]time.Time, n)
	category, action, name, value := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range items {
		site[i], visitor[i], session[i], hit[i], at[i] = e.SiteID, e.VisitorID, e.SessionID, e.HitID, e.At
		category[i], action[i], name[i], value[i] = e.Category, e.Action, e.Name, e.Value
	}
	if _, err := conn.Exec(ctx, insertEventsSQL, site, visitor, session, hit, at, category, action, name, value); err != nil {
		return fmt.Errorf("postgres: insert events: %w", err)
	}
	return nil
}

// insertEventsSQL inserts a batch of events. Each event's hit is looked up by
// its primary key alone, one probe per event (a subquery, never a join that
// could hash the whole table), and kept only when it is a hit of the event's
// session. Matching on the session in the lookup as well would let the planner
// pick hits_session_idx and filter on the id, which reads every hit of a long
// session. The statement keeps its cached generic plan: made on an empty
// database, it still probes the primary key at size (plans_test.go).
const insertEventsSQL = `INSERT INTO events (site_id, visitor_id, session_id, hit_id, created_at, category, action, name, value)
SELECT v.site_id, v.visitor_id, v.session_id,
       (SELECT CASE WHEN h.session_id = v.session_id THEN h.id END FROM hits h WHERE h.id = v.hit_id),
       v.at, v.category, v.action, v.name, v.value
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[],
            $6::text[], $7::text[], $8::text[], $9::text[])
     AS v(site_id, visitor_id, session_id, hit_id, at, category, action, name, value)`
