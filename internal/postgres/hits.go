package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/groupcommit"
)

// RecordHit resolves the session of the page view (continuing the claimed one
// when the site's session rules allow, SPEC §2), creating visitor and session as
// needed, and records the hit. It returns once the transaction has committed.
func (s *Store) RecordHit(ctx context.Context, w *comagic.HitWrite) error {
	return s.hits.Do(ctx, w)
}

// touchEvery is how stale a session's last_hit_at may get while hits arrive: it
// only decides timeouts measured in minutes.
const touchEvery = 10 * time.Second

type sessionState struct {
	siteID, visitorID int64
	startedAt, last   time.Time
	sourceKey         string
	source            comagic.Source // without Key
	landing           string
}

// flushHits writes a batch of page views with two round trips for the whole
// batch: one reads the sessions the items claim, one touches the continued
// sessions and writes visitors, sessions and hits (one pipelined batch, one
// implicit transaction, so it is atomic).
func (s *Store) flushHits(ctx context.Context, conn groupcommit.Conn, items []*comagic.HitWrite) error {
	// 1. Load the sessions the items claim to continue.
	var claimed []int64
	for _, w := range items {
		if w.Claimed != nil {
			claimed = append(claimed, w.Claimed.SessionID)
		}
	}
	known := map[int64]sessionState{}
	if len(claimed) > 0 {
		b := &pgx.Batch{}
		queueCustomPlanned(b, loadSessionsSQL, claimed)
		br := conn.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil { // SET
			br.Close()
			return fmt.Errorf("postgres: load sessions: %w", err)
		}
		var id int64
		var st sessionState
		rows, err := br.Query()
		if err == nil {
			_, err = pgx.ForEachRow(rows, []any{&id, &st.siteID, &st.visitorID, &st.startedAt, &st.last, &st.sourceKey,
				&st.source.ReferrerDomain, &st.landing, &st.source.UTMSource, &st.source.UTMMedium, &st.source.UTMCampaign, &st.source.UTMTerm, &st.source.UTMContent}, func() error {
				known[id] = st
				return nil
			})
		}
		if cerr := br.Close(); err == nil { // and RESET
			err = cerr
		}
		if err != nil {
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
		r.Source, r.LandingURL = w.Source, w.View.URL
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
			r.Source, r.LandingURL = st.source, st.landing
			r.Source.Key = st.sourceKey
			continue
		}
		newSessions++
	}

	// 3. Reserve ids and write everything.
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
	var v visitorCols
	var ss sessionCols
	var h hitCols
	var touchIDs []int64
	var touchAt time.Time
	for i, w := range items {
		r := &w.Result
		r.HitID = hids[i]
		ip := storedIP(w.View.IP, w.Site.AnonymizeIP)
		if r.NewVisitor {
			r.VisitorID, vids = vids[0], vids[1:]
			v.add(r.VisitorID, w.Site.ID, w.At)
		}
		if r.NewSession {
			r.SessionID, sids = sids[0], sids[1:]
			r.SessionStartedAt = w.At
			ss.add(r, w, ip)
		} else {
			touchIDs = append(touchIDs, r.SessionID)
			if w.At.After(touchAt) {
				touchAt = w.At
			}
		}
		h.add(r, w, ip)
	}
	// One pipelined batch, which PostgreSQL runs as one implicit transaction:
	// the session touch (custom-planned) and the writes.
	b := &pgx.Batch{}
	if len(touchIDs) > 0 {
		queueCustomPlanned(b, touchSessionsSQL, touchIDs, touchAt, touchEvery)
	}
	b.Queue(writeHitsSQL, v.id, v.site, v.at,
		ss.id, ss.site, ss.visitor, ss.at, ss.sourceKey, ss.referrer, ss.referrerDomain, ss.landing,
		ss.utm[0], ss.utm[1], ss.utm[2], ss.utm[3], ss.utm[4], ss.device, ss.ua, ss.ip,
		h.id, h.site, h.visitor, h.session, h.at, h.url, h.title, h.referrer,
		h.utm[0], h.utm[1], h.utm[2], h.utm[3], h.utm[4], h.device, h.ua, h.ip)
	// The pool numbers new visitors claim, in the same transaction.
	var claims []*comagic.PhoneClaim
	var cl claimCols
	for _, w := range items {
		if !w.Result.NewVisitor {
			continue
		}
		for _, c := range w.Claims {
			c.Number = ""
			cl.add(c.RuleID, c.SiteID, w.Result.VisitorID, w.Result.SessionID, w.At, w.At.Add(time.Duration(c.ReserveMinutes)*time.Minute), len(claims))
			claims = append(claims, c)
		}
	}
	if len(claims) > 0 {
		cl.queue(b)
	}
	br := conn.SendBatch(ctx, b)
	err = nil
	for i := 0; i < b.Len()-1 && err == nil; i++ {
		_, err = br.Exec()
	}
	if err == nil && len(claims) == 0 {
		_, err = br.Exec()
	}
	if err == nil && len(claims) > 0 {
		err = cl.read(br, func(i int, number string) { claims[i].Number = number })
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgres: write page views: %w", err)
	}
	for _, c := range claims {
		c.Done = true
	}
	return nil
}

// touchSessionsSQL sets the last hit time of the sessions $1 that continue
// (custom-planned: a list of rows). The batch's hits are milliseconds apart:
// its latest time ($2) stands for all. A session touched less than touchEvery
// ($3) ago is left alone, which spares busy sessions a row update (and its
// lock) on every page view.
const touchSessionsSQL = `UPDATE sessions SET last_hit_at = $2::timestamptz
                          WHERE id = ANY($1::bigint[]) AND last_hit_at < $2::timestamptz - $3::interval`

// loadSessionsSQL reads the sessions a batch of page views claims ($1, ids),
// custom-planned (queueCustomPlanned): the list's rows by the primary key.
const loadSessionsSQL = `SELECT id, site_id, visitor_id, started_at, last_hit_at, source_key,
                                referrer_domain, landing_url, utm_source, utm_medium, utm_campaign, utm_term, utm_content
                         FROM sessions WHERE id = ANY($1::bigint[])`

// writeHitsSQL writes a batch's new visitors, new sessions and hits in one
// statement. It reads no table, so its cached generic plan is right at any size.
const writeHitsSQL = `WITH new_visitors AS (
	    INSERT INTO visitors (id, site_id, created_at, updated_at)
	    SELECT id, site_id, at, at FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS t(id, site_id, at)
	), new_sessions AS (
	    INSERT INTO sessions (id, site_id, visitor_id, started_at, last_hit_at, source_key, referrer, referrer_domain,
	                          landing_url, utm_source, utm_medium, utm_campaign, utm_term, utm_content, device_type, user_agent, ip)
	    SELECT id, site_id, visitor_id, at, at, source_key, referrer, referrer_domain, landing_url,
	           utm_source, utm_medium, utm_campaign, utm_term, utm_content, device_type, user_agent, NULLIF(ip, '')::inet
	    FROM unnest($4::bigint[], $5::bigint[], $6::bigint[], $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[],
	                $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[])
	         AS t(id, site_id, visitor_id, at, source_key, referrer, referrer_domain, landing_url,
	              utm_source, utm_medium, utm_campaign, utm_term, utm_content, device_type, user_agent, ip)
	)
	INSERT INTO hits (id, site_id, visitor_id, session_id, created_at, url, title, referrer,
	                  utm_source, utm_medium, utm_campaign, utm_term, utm_content, device_type, user_agent, ip)
	SELECT id, site_id, visitor_id, session_id, at, url, title, referrer,
	       utm_source, utm_medium, utm_campaign, utm_term, utm_content, device_type, user_agent, NULLIF(ip, '')::inet
	FROM unnest($20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[], $24::timestamptz[], $25::text[], $26::text[], $27::text[],
	            $28::text[], $29::text[], $30::text[], $31::text[], $32::text[], $33::text[], $34::text[], $35::text[])
	     AS t(id, site_id, visitor_id, session_id, at, url, title, referrer,
	          utm_source, utm_medium, utm_campaign, utm_term, utm_content, device_type, user_agent, ip)`

// visitorCols, sessionCols and hitCols hold a batch's new rows column by column,
// as unnest wants them.
type visitorCols struct {
	id, site []int64
	at       []time.Time
}

func (c *visitorCols) add(id, site int64, at time.Time) {
	c.id, c.site, c.at = append(c.id, id), append(c.site, site), append(c.at, at)
}

type sessionCols struct {
	id, site, visitor                                            []int64
	at                                                           []time.Time
	sourceKey, referrer, referrerDomain, landing, device, ua, ip []string
	utm                                                          [5][]string
}

func (c *sessionCols) add(r *comagic.Hit, w *comagic.HitWrite, ip string) {
	src := w.Source
	c.id, c.site, c.visitor, c.at = append(c.id, r.SessionID), append(c.site, w.Site.ID), append(c.visitor, r.VisitorID), append(c.at, w.At)
	c.sourceKey, c.referrer, c.referrerDomain = append(c.sourceKey, src.Key), append(c.referrer, w.View.Referrer), append(c.referrerDomain, src.ReferrerDomain)
	c.landing, c.device, c.ua, c.ip = append(c.landing, w.View.URL), append(c.device, w.Device), append(c.ua, w.View.UserAgent), append(c.ip, ip)
	c.utm = appendUTM(c.utm, src)
}

type hitCols struct {
	id, site, visitor, session           []int64
	at                                   []time.Time
	url, title, referrer, device, ua, ip []string
	utm                                  [5][]string
}

func (c *hitCols) add(r *comagic.Hit, w *comagic.HitWrite, ip string) {
	c.id, c.site, c.visitor, c.session, c.at = append(c.id, r.HitID), append(c.site, w.Site.ID), append(c.visitor, r.VisitorID), append(c.session, r.SessionID), append(c.at, w.At)
	c.url, c.title, c.referrer = append(c.url, w.View.URL), append(c.title, w.View.Title), append(c.referrer, w.View.Referrer)
	c.device, c.ua, c.ip = append(c.device, w.Device), append(c.ua, w.View.UserAgent), append(c.ip, ip)
	c.utm = appendUTM(c.utm, w.Source)
}

func appendUTM(u [5][]string, s comagic.Source) [5][]string {
	for i, v := range [5]string{s.UTMSource, s.UTMMedium, s.UTMCampaign, s.UTMTerm, s.UTMContent} {
		u[i] = append(u[i], v)
	}
	return u
}

// storedIP parses ip and, when asked, anonymises it: the last octet of IPv4 and
// the last 80 bits of IPv6 are zeroed. Unparseable addresses give "" (NULL).
func storedIP(ip string, anonymize bool) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
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
	return a.String()
}
