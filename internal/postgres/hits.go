package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/comagic"
)

// RecordHit resolves the session of the page view (continuing the claimed one
// when the site's session rules allow, SPEC §2), creating visitor and session as
// needed, and records the hit. It returns once the transaction has committed.
func (s *Store) RecordHit(ctx context.Context, w *comagic.HitWrite) error {
	return s.hits.Do(ctx, w)
}

type sessionState struct {
	siteID, visitorID int64
	startedAt, last   time.Time
	sourceKey         string
}

// flushHits writes a batch of page views with a few statements for the batch.
func (s *Store) flushHits(ctx context.Context, tx pgx.Tx, items []*comagic.HitWrite) error {
	// 1. Load the sessions the items claim to continue.
	var claimed []int64
	for _, w := range items {
		if w.Claimed != nil {
			claimed = append(claimed, w.Claimed.SessionID)
		}
	}
	known := map[int64]sessionState{}
	if len(claimed) > 0 {
		rows, err := tx.Query(ctx, `SELECT id, site_id, visitor_id, started_at, last_hit_at, source_key
		                            FROM sessions WHERE id = ANY($1) FOR UPDATE`, claimed)
		if err != nil {
			return fmt.Errorf("postgres: load sessions: %w", err)
		}
		for rows.Next() {
			var id int64
			var st sessionState
			if err := rows.Scan(&id, &st.siteID, &st.visitorID, &st.startedAt, &st.last, &st.sourceKey); err != nil {
				rows.Close()
				return fmt.Errorf("postgres: load sessions: %w", err)
			}
			known[id] = st
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: load sessions: %w", err)
		}
	}

	// 2. Decide per item: continue the session, start one for a known visitor, or
	// start a new visitor.
	var newVisitors, newSessions int
	for _, w := range items {
		r := &w.Result
		r.SiteID, r.DeviceType, r.At = w.Site.ID, w.Device, w.At
		r.NewVisitor, r.NewSession = true, true
		if w.Claimed == nil {
			newVisitors++
			newSessions++
			continue
		}
		st, ok := known[w.Claimed.SessionID]
		if !ok || st.siteID != w.Site.ID || st.visitorID != w.Claimed.VisitorID {
			// The session is gone (purged): the browser becomes a new visitor.
			newVisitors++
			newSessions++
			continue
		}
		r.VisitorID, r.NewVisitor = st.visitorID, false
		if w.At.Sub(st.last) < w.Site.SessionTimeout && (w.Source.Key == "" || w.Source.Key == st.sourceKey) {
			r.SessionID, r.NewSession, r.SessionStartedAt = w.Claimed.SessionID, false, st.startedAt
			continue
		}
		newSessions++
	}

	// 3. Reserve ids and write visitors, sessions and hits.
	vids, err := s.visitorIDs.take(ctx, newVisitors)
	if err != nil {
		return err
	}
	sids, err := s.sessionIDs.take(ctx, newSessions)
	if err != nil {
		return err
	}
	hids, err := s.hitIDs.take(ctx, len(items))
	if err != nil {
		return err
	}
	var visitorRows, sessionRows, hitRows [][]any
	var touchIDs []int64
	var touchAt []time.Time
	for i, w := range items {
		r := &w.Result
		r.HitID = hids[i]
		ip := storedIP(w.View.IP, w.Site.AnonymizeIP)
		if r.NewVisitor {
			r.VisitorID, vids = vids[0], vids[1:]
			visitorRows = append(visitorRows, []any{r.VisitorID, w.Site.ID, w.At, w.At})
		}
		if r.NewSession {
			r.SessionID, sids = sids[0], sids[1:]
			r.SessionStartedAt = w.At
			src := w.Source
			sessionRows = append(sessionRows, []any{r.SessionID, w.Site.ID, r.VisitorID, w.At, w.At, src.Key,
				w.View.Referrer, src.ReferrerDomain, w.View.URL, src.UTMSource, src.UTMMedium, src.UTMCampaign,
				src.UTMTerm, src.UTMContent, w.Device, w.View.UserAgent, ip})
		} else {
			touchIDs = append(touchIDs, r.SessionID)
			touchAt = append(touchAt, w.At)
		}
		hitRows = append(hitRows, []any{r.HitID, w.Site.ID, r.VisitorID, r.SessionID, w.At, w.View.URL, w.View.Title,
			w.View.Referrer, w.Source.UTMSource, w.Source.UTMMedium, w.Source.UTMCampaign, w.Source.UTMTerm,
			w.Source.UTMContent, w.Device, w.View.UserAgent, ip})
	}
	if len(touchIDs) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE sessions s SET last_hit_at = GREATEST(s.last_hit_at, v.at)
		                           FROM (SELECT id, max(at) AS at FROM unnest($1::bigint[], $2::timestamptz[]) u(id, at) GROUP BY id) v
		                           WHERE s.id = v.id`, touchIDs, touchAt); err != nil {
			return fmt.Errorf("postgres: touch sessions: %w", err)
		}
	}
	if err := copyRows(ctx, tx, "visitors", []string{"id", "site_id", "created_at", "updated_at"}, visitorRows); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, "sessions", []string{"id", "site_id", "visitor_id", "started_at", "last_hit_at", "source_key",
		"referrer", "referrer_domain", "landing_url", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
		"device_type", "user_agent", "ip"}, sessionRows); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, "hits", []string{"id", "site_id", "visitor_id", "session_id", "created_at", "url", "title",
		"referrer", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "device_type", "user_agent", "ip"}, hitRows); err != nil {
		return err
	}
	return nil
}

func copyRows(ctx context.Context, tx pgx.Tx, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("postgres: copy %s: %w", table, err)
	}
	return nil
}

// storedIP parses ip and, when asked, anonymises it: the last octet of IPv4 and
// the last 80 bits of IPv6 are zeroed. Unparseable addresses are stored as NULL.
func storedIP(ip string, anonymize bool) *netip.Addr {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	a = a.Unmap()
	if anonymize {
		bits := 24
		if a.Is6() {
			bits = 48
		}
		p, _ := a.Prefix(bits)
		a = p.Addr()
	}
	return &a
}
