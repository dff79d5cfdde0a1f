package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/groupcommit"
)

// CallTracking stores the call-tracking configuration (replacement groups,
// rules, pools), the number reservations, account API tokens and calls
// (SPEC §9). A site's configuration goes out with every bootstrap answer, so
// it is cached per node for siteCacheTTL.
type CallTracking struct {
	db    *pgxpool.Pool
	cache *siteCache[*comagic.CallTrackingConfig]

	// claims group concurrent claims of free numbers into one statement
	// (started by the first Reserve, stopped by Close).
	claimsOnce sync.Once
	claims     *groupcommit.Batcher[*claim]
	observe    func(n int)
}

// NewCallTracking returns the call-tracking store on db; observe, when not
// nil, sees the size of every committed batch of claims.
func NewCallTracking(db *pgxpool.Pool, observe func(n int)) *CallTracking {
	return &CallTracking{db: db, cache: newSiteCache[*comagic.CallTrackingConfig](), observe: observe}
}

// Close waits for the claims under way and stops their batcher.
func (s *CallTracking) Close() {
	s.claimsOnce.Do(func() {}) // no batcher after Close
	if s.claims != nil {
		s.claims.Close()
	}
}

func (s *CallTracking) claimer() *groupcommit.Batcher[*claim] {
	s.claimsOnce.Do(func() {
		s.claims = groupcommit.New("number claims", s.db, flushClaims, groupcommit.Options{Atomic: true, Workers: 2})
		if s.observe != nil {
			s.claims.OnBatch(s.observe)
		}
	})
	return s.claims
}

// Config returns the site's groups and rules (cached); nil when it has no group.
func (s *CallTracking) Config(ctx context.Context, siteID int64) (*comagic.CallTrackingConfig, error) {
	return s.cache.get(ctx, siteID, func(ctx context.Context) (*comagic.CallTrackingConfig, error) {
		groups, err := s.Groups(ctx, siteID)
		if err != nil || len(groups) == 0 {
			return nil, err
		}
		rules, err := s.Rules(ctx, siteID)
		if err != nil {
			return nil, err
		}
		c := &comagic.CallTrackingConfig{Groups: groups, Rules: map[int64][]comagic.PhoneRule{}}
		for _, kind := range []string{comagic.RuleDynamic, comagic.RuleStatic} {
			for _, r := range rules {
				if r.Kind == kind {
					c.Rules[r.GroupID] = append(c.Rules[r.GroupID], r)
				}
			}
		}
		return c, nil
	})
}

// AddGroup checks and stores a replacement group of g.SiteID. Returns
// EINVALID for a bad field, ECONFLICT for a name the site already has,
// ENOTFOUND for an unknown site.
func (s *CallTracking) AddGroup(ctx context.Context, g comagic.ReplacementGroup) (*comagic.ReplacementGroup, error) {
	if err := g.Normalize(); err != nil {
		return nil, err
	}
	sel, err := json.Marshal(g.Selectors)
	if err != nil {
		return nil, fmt.Errorf("postgres: add group: %w", err)
	}
	err = s.db.QueryRow(ctx, `INSERT INTO ct_groups (site_id, name, selectors, template, default_number)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, g.SiteID, g.Name, sel, g.Template, g.DefaultNumber).Scan(&g.ID)
	if err := constraintError(err, "group", "name", "the site already has a group named "+g.Name); err != nil {
		return nil, fmt.Errorf("postgres: add group: %w", err)
	}
	s.cache.forget(g.SiteID)
	return &g, nil
}

// constraintError turns a unique violation into ECONFLICT (field, msg) and
// a foreign-key violation into ENOTFOUND; other errors pass.
func constraintError(err error, what, field, msg string) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe) && pe.Code == "23505":
		return &comagic.Error{Code: comagic.ECONFLICT, Field: field, Message: msg}
	case isForeignKeyViolation(err):
		return comagic.Errorf(comagic.ENOTFOUND, "the %s's site or group does not exist", what)
	}
	return err
}

// Groups returns the site's replacement groups, oldest first.
func (s *CallTracking) Groups(ctx context.Context, siteID int64) ([]comagic.ReplacementGroup, error) {
	rows, err := s.db.Query(ctx, `SELECT id, site_id, name, selectors, template, default_number FROM ct_groups WHERE site_id = $1 ORDER BY id`, siteID)
	if err != nil {
		return nil, fmt.Errorf("postgres: groups: %w", err)
	}
	var g comagic.ReplacementGroup
	var sel []byte
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (comagic.ReplacementGroup, error) {
		g = comagic.ReplacementGroup{}
		if err := row.Scan(&g.ID, &g.SiteID, &g.Name, &sel, &g.Template, &g.DefaultNumber); err != nil {
			return g, err
		}
		return g, json.Unmarshal(sel, &g.Selectors)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: groups: %w", err)
	}
	return out, nil
}

// RemoveGroup deletes a group of the site with its rules and pools. Returns
// ENOTFOUND when the site has no such group.
func (s *CallTracking) RemoveGroup(ctx context.Context, siteID, id int64) error {
	return s.remove(ctx, siteID, `DELETE FROM ct_groups WHERE id = $1 AND site_id = $2`, id, "group")
}

// RemoveRule deletes a rule of the site with its pool. Returns ENOTFOUND when
// the site has no such rule.
func (s *CallTracking) RemoveRule(ctx context.Context, siteID, id int64) error {
	return s.remove(ctx, siteID, `DELETE FROM ct_rules WHERE id = $1 AND site_id = $2`, id, "rule")
}

func (s *CallTracking) remove(ctx context.Context, siteID int64, q string, id int64, what string) error {
	tag, err := s.db.Exec(ctx, q, id, siteID)
	if err != nil {
		return fmt.Errorf("postgres: remove %s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return comagic.Errorf(comagic.ENOTFOUND, "the site has no %s %d", what, id)
	}
	s.cache.forget(siteID)
	return nil
}

// AddRule checks and stores a rule of r.SiteID's group r.GroupID; a dynamic
// rule gets the pool numbers (digits, at least one). Returns EINVALID for a
// bad field, ENOTFOUND for a group the site does not have, ECONFLICT for a
// number already in a pool.
func (s *CallTracking) AddRule(ctx context.Context, r comagic.PhoneRule, pool []string) (*comagic.PhoneRule, error) {
	if err := r.Normalize(); err != nil {
		return nil, err
	}
	if r.Kind == comagic.RuleDynamic && len(pool) == 0 {
		return nil, comagic.Invalid("number", "a dynamic rule needs the numbers of its pool")
	}
	if r.Kind == comagic.RuleStatic && len(pool) > 0 {
		return nil, comagic.Invalid("number", "a static rule has one number and no pool")
	}
	for _, n := range pool {
		if !comagic.IsPhoneDigits(n) {
			return nil, comagic.Invalid("number", "pool number %q must be 8 to 15 digits", n)
		}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var number *string
		var minutes *int
		if r.Kind == comagic.RuleStatic {
			number = &r.Number
		} else {
			minutes = &r.ReserveMinutes
		}
		err := tx.QueryRow(ctx, `INSERT INTO ct_rules (group_id, site_id, kind, match_field, match_value, number, reserve_minutes)
			SELECT id, site_id, $3, $4, $5, $6, $7 FROM ct_groups WHERE id = $1 AND site_id = $2 RETURNING id`,
			r.GroupID, r.SiteID, r.Kind, r.MatchField, r.MatchValue, number, minutes).Scan(&r.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return comagic.Errorf(comagic.ENOTFOUND, "the site has no group %d", r.GroupID)
		}
		if err != nil {
			return err
		}
		return addNumbers(ctx, tx, r.SiteID, r.ID, pool)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: add rule: %w", err)
	}
	s.cache.forget(r.SiteID)
	return &r, nil
}

func addNumbers(ctx context.Context, tx pgx.Tx, siteID, ruleID int64, numbers []string) error {
	if len(numbers) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO ct_pool_numbers (rule_id, site_id, number) SELECT $1, $2, unnest($3::text[])`, ruleID, siteID, numbers)
	return constraintError(err, "rule", "number", "a number is already in a pool (numbers are unique)")
}

// AddNumbers adds numbers to the pool of a dynamic rule of the site. Returns
// ENOTFOUND, EINVALID, ECONFLICT.
func (s *CallTracking) AddNumbers(ctx context.Context, siteID, ruleID int64, numbers []string) error {
	for _, n := range numbers {
		if !comagic.IsPhoneDigits(n) {
			return comagic.Invalid("number", "pool number %q must be 8 to 15 digits", n)
		}
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ct_rules WHERE id = $1 AND site_id = $2 AND kind = 'dynamic')`, ruleID, siteID).Scan(&ok); err != nil {
			return fmt.Errorf("postgres: add numbers: %w", err)
		}
		if !ok {
			return comagic.Errorf(comagic.ENOTFOUND, "the site has no dynamic rule %d", ruleID)
		}
		return addNumbers(ctx, tx, siteID, ruleID, numbers)
	})
}

// Rules returns the site's rules, oldest first.
func (s *CallTracking) Rules(ctx context.Context, siteID int64) ([]comagic.PhoneRule, error) {
	rows, err := s.db.Query(ctx, `SELECT id, group_id, site_id, kind, match_field, match_value, coalesce(number, ''),
		coalesce(reserve_minutes, 0) FROM ct_rules WHERE site_id = $1 ORDER BY id`, siteID)
	if err != nil {
		return nil, fmt.Errorf("postgres: rules: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (comagic.PhoneRule, error) {
		var r comagic.PhoneRule
		err := row.Scan(&r.ID, &r.GroupID, &r.SiteID, &r.Kind, &r.MatchField, &r.MatchValue, &r.Number, &r.ReserveMinutes)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: rules: %w", err)
	}
	return out, nil
}

// PoolStatus is the state of a dynamic rule's pool now.
type PoolStatus struct {
	RuleID         int64
	GroupID        int64
	Numbers, Held  int
	ReserveMinutes int
	// Exhausted24h counts the page views of the last 24 hours that found
	// the pool exhausted; LastExhaustedAt is the latest (kept 30 days).
	Exhausted24h    int64
	LastExhaustedAt *time.Time
}

// PoolStatus returns the site's dynamic rules with their pool's size, the
// numbers held at now and how often the pool was found exhausted.
func (s *CallTracking) PoolStatus(ctx context.Context, siteID int64, now time.Time) ([]PoolStatus, error) {
	rows, err := s.db.Query(ctx, `SELECT r.id, r.group_id, r.reserve_minutes,
		(SELECT count(*) FROM ct_pool_exhaustions e WHERE e.rule_id = r.id AND e.at > $2::timestamptz - interval '24 hours'),
		(SELECT max(at) FROM ct_pool_exhaustions e WHERE e.rule_id = r.id),
		(SELECT count(*) FROM ct_pool_numbers n WHERE n.rule_id = r.id),
		(SELECT count(*) FROM ct_pool_numbers n WHERE n.rule_id = r.id AND n.expires_at > $2)
		FROM ct_rules r WHERE r.site_id = $1 AND r.kind = 'dynamic' ORDER BY r.id`, siteID, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: pool status: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PoolStatus, error) {
		var p PoolStatus
		err := row.Scan(&p.RuleID, &p.GroupID, &p.ReserveMinutes, &p.Exhausted24h, &p.LastExhaustedAt, &p.Numbers, &p.Held)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: pool status: %w", err)
	}
	return out, nil
}

// keepSQL renews the number the visitor ($2) holds from the rule ($1) until
// $5 when it is still held at $3, and its reservation when it is the same
// session's ($4). It returns the number, its reservation and holding session.
const keepSQL = `WITH n AS (
	UPDATE ct_pool_numbers SET expires_at = greatest(expires_at, $5)
	WHERE rule_id = $1 AND visitor_id = $2 AND expires_at > $3
	RETURNING id, number, reservation_id, session_id, expires_at
), r AS (
	UPDATE ct_reservations c SET expires_at = n.expires_at FROM n WHERE c.id = n.reservation_id AND n.session_id = $4
)
SELECT id, number, reservation_id, session_id FROM n`

// handOverSQL gives the number $1, held by reservation $2, to the visitor's
// new session $4 (same visitor $3): the old reservation ends at $6, a new one
// starts then and lasts until $7.
const handOverSQL = `WITH old AS (
	UPDATE ct_reservations SET expires_at = $6 WHERE id = $2
), res AS (
	INSERT INTO ct_reservations (number_id, rule_id, site_id, number, visitor_id, session_id, started_at, expires_at)
	SELECT id, rule_id, site_id, number, $3, $4, $6, $7 FROM ct_pool_numbers WHERE id = $1 AND site_id = $5
	RETURNING id, number_id
)
UPDATE ct_pool_numbers n SET reservation_id = res.id, session_id = $4 FROM res WHERE n.id = res.number_id`

// claim is one session's claim of a free number of a rule's pool; Number
// is set by the flush ("" when the pool was exhausted).
type claim struct {
	ruleID, siteID, visitorID, sessionID int64
	at, until                            time.Time
	Number                               string
}

// claimSQL reserves free numbers for a batch of sessions, per rule ($1) as
// many as the batch asks of it: the free rows that expired first are locked,
// rows other claims are taking are skipped, so two sessions never get one
// number. The n-th claim of a rule (in batch order, $7) gets its n-th
// number; a claim left without one is recorded as an exhausted pool. One
// statement: one round trip and one commit for the batch.
const claimSQL = `WITH req AS (
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::timestamptz[], $7::int[])
	       AS r(rule_id, site_id, visitor_id, session_id, at, until, ord)
), ranked AS (
	SELECT req.*, row_number() OVER (PARTITION BY rule_id ORDER BY ord) AS rn FROM req
), need AS (
	SELECT rule_id, count(*) AS n, min(at) AS at FROM req GROUP BY rule_id
), pick AS (
	SELECT p.id, p.number, p.rule_id, row_number() OVER (PARTITION BY p.rule_id ORDER BY p.expires_at, p.id) AS rn
	FROM need, LATERAL (
		SELECT id, number, rule_id, expires_at FROM ct_pool_numbers
		WHERE rule_id = need.rule_id AND expires_at <= need.at
		ORDER BY expires_at, id LIMIT need.n FOR UPDATE SKIP LOCKED
	) p
), got AS (
	SELECT r.*, pick.id AS number_id, pick.number FROM ranked r JOIN pick ON pick.rule_id = r.rule_id AND pick.rn = r.rn
), res AS (
	INSERT INTO ct_reservations (number_id, rule_id, site_id, number, visitor_id, session_id, started_at, expires_at)
	SELECT number_id, rule_id, site_id, number, visitor_id, session_id, at, until FROM got
	RETURNING id, number_id, visitor_id, session_id, expires_at
), taken AS (
	UPDATE ct_pool_numbers n SET reservation_id = res.id, visitor_id = res.visitor_id, session_id = res.session_id, expires_at = res.expires_at
	FROM res WHERE n.id = res.number_id
), exhausted AS (
	INSERT INTO ct_pool_exhaustions (rule_id, at)
	SELECT rule_id, at FROM ranked r WHERE NOT EXISTS (SELECT 1 FROM got WHERE got.ord = r.ord)
)
SELECT ord, number FROM got`

// claimCols hold a batch's claims column by column, as claimSQL wants them.
type claimCols struct {
	rules, sites, visitors, sessions []int64
	at, until                        []time.Time
	ord                              []int32
}

func (c *claimCols) add(rule, site, visitor, session int64, at, until time.Time, ord int) {
	c.rules, c.sites, c.visitors, c.sessions = append(c.rules, rule), append(c.sites, site), append(c.visitors, visitor), append(c.sessions, session)
	c.at, c.until, c.ord = append(c.at, at), append(c.until, until), append(c.ord, int32(ord))
}

func (c *claimCols) queue(b *pgx.Batch) {
	b.Queue(claimSQL, c.rules, c.sites, c.visitors, c.sessions, c.at, c.until, c.ord)
}

// read takes claimSQL's rows from br: set(ord, number) for every claim that
// got a number.
func (c *claimCols) read(br pgx.BatchResults, set func(i int, number string)) error {
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("postgres: claim numbers: %w", err)
	}
	var i int32
	var number string
	_, err = pgx.ForEachRow(rows, []any{&i, &number}, func() error {
		if i < 0 || int(i) >= len(c.ord) {
			return fmt.Errorf("claim %d of %d", i, len(c.ord))
		}
		set(int(i), number)
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: claim numbers: %w", err)
	}
	return nil
}

// flushClaims claims numbers for a batch of sessions with claimSQL.
func flushClaims(ctx context.Context, conn groupcommit.Conn, items []*claim) error {
	var cl claimCols
	for i, c := range items {
		c.Number = ""
		cl.add(c.ruleID, c.siteID, c.visitorID, c.sessionID, c.at, c.until, i)
	}
	b := &pgx.Batch{}
	cl.queue(b)
	br := conn.SendBatch(ctx, b)
	err := cl.read(br, func(i int, number string) { items[i].Number = number })
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// heldSQL reads the number the visitor ($2) holds from the rule ($1) at $3,
// without writing: most page views of a returning visitor need no renewal.
const heldSQL = `SELECT number, session_id, expires_at FROM ct_pool_numbers
WHERE rule_id = $1 AND visitor_id = $2 AND expires_at > $3`

// renewEvery is how fresh a reservation may stay without a write: a page
// view of the same session within it renews nothing (the reservation time
// is at least 5 minutes, and the page's heartbeat renews it too).
const renewEvery = time.Minute

// Reserve returns the number of the dynamic rule's pool that the session
// holds: the visitor's number when they still hold one (renewed, and handed
// over to this session when it is a new one), else a free number of the
// pool. It returns "" when the pool is exhausted.
func (s *CallTracking) Reserve(ctx context.Context, rule *comagic.PhoneRule, visitorID, sessionID int64, newVisitor bool, now time.Time) (string, error) {
	until := now.Add(time.Duration(rule.ReserveMinutes) * time.Minute)
	if !newVisitor {
		var number string
		var holder int64
		var expires time.Time
		err := s.db.QueryRow(ctx, heldSQL, rule.ID, visitorID, now).Scan(&number, &holder, &expires)
		if err == nil && holder == sessionID && expires.After(until.Add(-renewEvery)) {
			return number, nil
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("postgres: held number: %w", err)
		}
		if err == nil {
			var numberID, resID int64
			err = s.db.QueryRow(ctx, keepSQL, rule.ID, visitorID, now, sessionID, until).Scan(&numberID, &number, &resID, &holder)
			if err == nil {
				if holder != sessionID {
					if _, err := s.db.Exec(ctx, handOverSQL, numberID, resID, visitorID, sessionID, rule.SiteID, now, until); err != nil {
						return "", fmt.Errorf("postgres: hand over number: %w", err)
					}
				}
				return number, nil
			}
			if !errors.Is(err, pgx.ErrNoRows) { // expired in between: claim another
				return "", fmt.Errorf("postgres: keep number: %w", err)
			}
		}
	}
	c := &claim{ruleID: rule.ID, siteID: rule.SiteID, visitorID: visitorID, sessionID: sessionID, at: now, until: until}
	b := s.claimer()
	if b == nil {
		return "", groupcommit.ErrClosed
	}
	if err := b.Do(ctx, c); err != nil {
		return "", err
	}
	return c.Number, nil
}

// renewSQL is the heartbeat of an open page: every number the session ($2 of
// site $1) still holds at $3 is kept for its rule's reservation time from
// then, reservation history included. One statement, by the session index.
const renewSQL = `WITH n AS (
	UPDATE ct_pool_numbers n SET expires_at = $3::timestamptz + r.reserve_minutes * interval '1 minute'
	FROM ct_rules r
	WHERE n.session_id = $2 AND n.site_id = $1 AND n.expires_at > $3 AND r.id = n.rule_id
	RETURNING n.reservation_id, n.expires_at
)
UPDATE ct_reservations c SET expires_at = n.expires_at FROM n WHERE c.id = n.reservation_id`

// Renew keeps the numbers the session holds (the heartbeat); it returns how
// many it kept.
func (s *CallTracking) Renew(ctx context.Context, siteID, sessionID int64, now time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, renewSQL, siteID, sessionID, now)
	if err != nil {
		return 0, fmt.Errorf("postgres: renew numbers: %w", err)
	}
	return tag.RowsAffected(), nil
}

// exhaustionsKept is how long records of exhausted pools stay.
const exhaustionsKept = 30 * 24 * time.Hour

// PurgeReservations deletes reservation history that ended before before,
// and forgets the holders of numbers free since then, and records of
// exhausted pools older than 30 days. It returns how many reservations it
// deleted.
func (s *CallTracking) PurgeReservations(ctx context.Context, before time.Time) (int64, error) {
	if _, err := s.db.Exec(ctx, `DELETE FROM ct_pool_exhaustions WHERE at < $1`, time.Now().Add(-exhaustionsKept)); err != nil {
		return 0, fmt.Errorf("postgres: purge pool exhaustions: %w", err)
	}
	if _, err := s.db.Exec(ctx, `UPDATE ct_pool_numbers SET reservation_id = NULL, visitor_id = NULL, session_id = NULL
		WHERE expires_at < $1 AND visitor_id IS NOT NULL`, before); err != nil {
		return 0, fmt.Errorf("postgres: purge reservations: %w", err)
	}
	tag, err := s.db.Exec(ctx, `DELETE FROM ct_reservations WHERE id IN (SELECT id FROM ct_reservations WHERE expires_at < $1 LIMIT 10000)`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge reservations: %w", err)
	}
	return tag.RowsAffected(), nil
}

// APIToken is an account API token as stored (its hash only).
type APIToken struct {
	ID        int64
	AccountID int64
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// CreateAPIToken stores the hash of a new token of the account.
func (s *CallTracking) CreateAPIToken(ctx context.Context, accountID int64, name string, hash []byte) (*APIToken, error) {
	t := &APIToken{AccountID: accountID, Name: name}
	err := s.db.QueryRow(ctx, `INSERT INTO api_tokens (account_id, name, token_hash) VALUES ($1, $2, $3) RETURNING id, created_at`,
		accountID, name, hash).Scan(&t.ID, &t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("postgres: create api token: %w", notFoundIfGone(err, "the account"))
	}
	return t, nil
}

// APITokens lists the account's tokens (0: every account's), oldest first.
func (s *CallTracking) APITokens(ctx context.Context, accountID int64) ([]APIToken, error) {
	rows, err := s.db.Query(ctx, `SELECT id, account_id, name, created_at, revoked_at FROM api_tokens
		WHERE $1 = 0 OR account_id = $1 ORDER BY id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: api tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIToken, error) {
		var t APIToken
		err := row.Scan(&t.ID, &t.AccountID, &t.Name, &t.CreatedAt, &t.RevokedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken revokes a token. Returns ENOTFOUND for an unknown or
// already revoked token.
func (s *CallTracking) RevokeAPIToken(ctx context.Context, id int64) error {
	tag, err := s.db.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return fmt.Errorf("postgres: revoke api token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return comagic.Errorf(comagic.ENOTFOUND, "no active api token %d", id)
	}
	return nil
}

// AccountByAPIToken returns the account of an active token by its hash.
// Returns ENOTFOUND.
func (s *CallTracking) AccountByAPIToken(ctx context.Context, hash []byte) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT account_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, hash).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, comagic.Errorf(comagic.ENOTFOUND, "no such api token")
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: api token: %w", err)
	}
	return id, nil
}

// attributeSQL finds the reservation of the number $1 among the account's
// ($2) sites that held it at $3, with its session's traffic and the
// visitor's properties.
const attributeSQL = `SELECT r.id, r.site_id, s.site_key, r.visitor_id, r.session_id,
	coalesce(se.utm_source, ''), coalesce(se.utm_medium, ''), coalesce(se.utm_campaign, ''), coalesce(se.utm_term, ''),
	coalesce(se.utm_content, ''), coalesce(se.referrer, ''), coalesce(se.referrer_domain, ''), coalesce(se.landing_url, ''),
	coalesce(se.started_at, r.started_at),
	coalesce((SELECT jsonb_object_agg(p.name, coalesce(to_jsonb(p.value), 'true'::jsonb))
	          FROM visitor_properties p WHERE p.visitor_id = r.visitor_id AND p.site_id = r.site_id), '{}'::jsonb)
FROM ct_reservations r
JOIN sites s ON s.id = r.site_id
LEFT JOIN sessions se ON se.id = r.session_id
WHERE r.number = $1 AND s.account_id = $2 AND r.started_at <= $3 AND r.expires_at > $3
ORDER BY r.started_at DESC LIMIT 1`

// numberSiteSQL finds the account's site that shows the number $1 (a pool,
// static rule or default number), for calls nobody's session explains.
const numberSiteSQL = `SELECT site_id FROM (
	SELECT n.site_id FROM ct_pool_numbers n WHERE n.number = $1
	UNION ALL SELECT r.site_id FROM ct_rules r WHERE r.number = $1
	UNION ALL SELECT g.site_id FROM ct_groups g WHERE g.default_number = $1
) x JOIN sites s ON s.id = x.site_id WHERE s.account_id = $2 LIMIT 1`

// RecordCall attributes and stores a call of the account once per dedupe
// key; onInsert runs in the transaction of a new call (to queue its
// webhooks). It reports whether the call is new; a repeated one answers as
// stored first.
func (s *CallTracking) RecordCall(ctx context.Context, accountID int64, c *comagic.Call, dedupe string, onInsert func(ctx context.Context, tx pgx.Tx) error) (bool, error) {
	created := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		a := &comagic.CallAttribution{}
		var props []byte
		err := tx.QueryRow(ctx, attributeSQL, c.CalledNumber, accountID, c.StartedAt).Scan(&a.ReservationID, &a.SiteID, &a.SiteKey,
			&a.VisitorID, &a.SessionID, &a.UTMSource, &a.UTMMedium, &a.UTMCampaign, &a.UTMTerm, &a.UTMContent, &a.Referrer,
			&a.ReferrerDomain, &a.LandingURL, &a.SessionStarted, &props)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			a = nil
			if err := tx.QueryRow(ctx, numberSiteSQL, c.CalledNumber, accountID).Scan(&c.SiteID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(props, &a.Properties); err != nil {
				return err
			}
			c.SiteID = a.SiteID
		}
		c.Attribution = a
		var site, res, visitor, session *int64
		var attr []byte
		if c.SiteID != 0 {
			site = &c.SiteID
		}
		if a != nil {
			res, visitor, session = &a.ReservationID, &a.VisitorID, &a.SessionID
			if attr, err = json.Marshal(a); err != nil {
				return err
			}
		}
		err = tx.QueryRow(ctx, `INSERT INTO calls (account_id, dedupe_key, called_number, caller_number, started_at, duration_s,
			record_url, pbx_call_id, site_id, reservation_id, visitor_id, session_id, attribution)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (account_id, dedupe_key) DO NOTHING RETURNING id, created_at`,
			accountID, dedupe, c.CalledNumber, c.CallerNumber, c.StartedAt, c.Duration, c.RecordURL, c.PBXCallID,
			site, res, visitor, session, attr).Scan(&c.ID, &c.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			stored, err := queryCalls(ctx, tx, `WHERE account_id = $1 AND dedupe_key = $2`, accountID, dedupe)
			if err != nil {
				return err
			}
			if len(stored) != 1 {
				return fmt.Errorf("the call of key %q is gone", dedupe)
			}
			*c = stored[0]
			return nil
		}
		if err != nil {
			return err
		}
		created = true
		if onInsert != nil {
			return onInsert(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("postgres: record call: %w", err)
	}
	return created, nil
}

// CallFilter selects calls of an account: started in [From, To) when set,
// with ids below Before when set, newest first, at most Limit.
type CallFilter struct {
	From, To time.Time
	Before   int64
	Limit    int
}

// Calls returns the account's calls by the filter.
func (s *CallTracking) Calls(ctx context.Context, accountID int64, f CallFilter) ([]comagic.Call, error) {
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	out, err := queryCalls(ctx, s.db, `WHERE account_id = $1 AND ($2::timestamptz IS NULL OR started_at >= $2)
		AND ($3::timestamptz IS NULL OR started_at < $3) AND ($4 = 0 OR id < $4) ORDER BY id DESC LIMIT $5`,
		accountID, from, to, f.Before, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: calls: %w", err)
	}
	return out, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func queryCalls(ctx context.Context, q querier, where string, args ...any) ([]comagic.Call, error) {
	rows, err := q.Query(ctx, `SELECT id, called_number, caller_number, started_at, duration_s, record_url, pbx_call_id,
		coalesce(site_id, 0), attribution, created_at FROM calls `+where, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (comagic.Call, error) {
		var c comagic.Call
		var attr []byte
		if err := row.Scan(&c.ID, &c.CalledNumber, &c.CallerNumber, &c.StartedAt, &c.Duration, &c.RecordURL, &c.PBXCallID,
			&c.SiteID, &attr, &c.CreatedAt); err != nil {
			return c, err
		}
		if attr != nil {
			c.Attribution = &comagic.CallAttribution{}
			return c, json.Unmarshal(attr, c.Attribution)
		}
		return c, nil
	})
}
