package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

// Sizes of the call-tracking load: a large pool, half of it held, and a long
// reservation history.
const (
	loadedPoolNumbers  = 100_000
	loadedReservations = 500_000
)

// TestCallTrackingPlansAtSize checks the plans of the statements a bootstrap
// and a heartbeat run on a site with a dynamic pool (claim, keep, hand over,
// renew) and of the call attribution, on a loaded database, with the generic
// plans the server's connections made while the tables were empty.
func TestCallTrackingPlansAtSize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	url := testenv.NewDatabase(t)
	admin := connect(ctx, t, url)
	exec(ctx, t, admin, `ALTER TABLE ct_pool_numbers SET (autovacuum_enabled = off);
		ALTER TABLE ct_reservations SET (autovacuum_enabled = off)`)

	plans := &explained{}
	store := postgres.NewCallTracking(explainingPool(ctx, t, url, plans), nil)
	t.Cleanup(store.Close)
	var accountID, siteID int64
	if err := admin.QueryRow(ctx, `WITH a AS (INSERT INTO accounts (name) VALUES ('ct-plans') RETURNING id)
		INSERT INTO sites (account_id, site_key, domains) SELECT id, repeat('c', 32), '{shop.example}' FROM a RETURNING account_id, id`).Scan(&accountID, &siteID); err != nil {
		t.Fatal(err)
	}
	g, err := store.AddGroup(ctx, comagic.ReplacementGroup{SiteID: siteID, Name: "main", Selectors: []comagic.PhoneSelector{{Type: "id", Value: "p"}}})
	if err != nil {
		t.Fatal(err)
	}
	var warm []string
	for i := range 40 {
		warm = append(warm, fmt.Sprintf("7498%07d", i))
	}
	rule, err := store.AddRule(ctx, comagic.PhoneRule{GroupID: g.ID, SiteID: siteID, Kind: comagic.RuleDynamic, ReserveMinutes: 30}, warm)
	if err != nil {
		t.Fatal(err)
	}

	// The hot path on the empty tables: claims, keeps, hand-overs, renewals
	// and calls, so that the pool's connections cache generic plans.
	now := time.Now()
	exercise := func(round int, visitor, session int64, at time.Time) {
		t.Helper()
		n, err := store.Reserve(ctx, rule, visitor, session, true, at)
		if err != nil || n == "" {
			t.Fatalf("round %d: claim %q %v", round, n, err)
		}
		if m, err := store.Reserve(ctx, rule, visitor, session, false, at.Add(2*time.Minute)); err != nil || m != n { // keep (renews)
			t.Fatalf("round %d: keep %q %v", round, m, err)
		}
		if m, err := store.Reserve(ctx, rule, visitor, session, false, at.Add(2*time.Minute)); err != nil || m != n { // held (reads)
			t.Fatalf("round %d: held %q %v", round, m, err)
		}
		if m, err := store.Reserve(ctx, rule, visitor, session+1, false, at.Add(3*time.Minute)); err != nil || m != n { // hand-over
			t.Fatalf("round %d: hand-over %q %v", round, m, err)
		}
		if k, err := store.Renew(ctx, siteID, session+1, at.Add(4*time.Minute)); err != nil || k != 1 {
			t.Fatalf("round %d: renew %d %v", round, k, err)
		}
		c := &comagic.Call{CalledNumber: n, CallerNumber: "79160000000", StartedAt: at.Add(5 * time.Minute)}
		if _, err := store.RecordCall(ctx, accountID, c, fmt.Sprintf("plans-%d-%d", round, session), nil); err != nil || c.Attribution == nil ||
			c.Attribution.SessionID != session+1 {
			t.Fatalf("round %d: call %+v %v", round, c.Attribution, err)
		}
	}
	for i := range 8 {
		exercise(0, int64(100+i), int64(1000+10*i), now)
	}

	start := time.Now()
	exec(ctx, t, admin, fmt.Sprintf(`
		INSERT INTO ct_pool_numbers (rule_id, site_id, number, visitor_id, session_id, expires_at)
		    SELECT %[1]d, %[2]d, (74970000000 + g)::text,
		           CASE WHEN g %% 2 = 0 THEN %[3]d + g END, CASE WHEN g %% 2 = 0 THEN %[3]d + g END,
		           CASE WHEN g %% 2 = 0 THEN now() + interval '20 minutes' ELSE now() - interval '1 hour' END
		    FROM generate_series(1, %[4]d) g;
		INSERT INTO ct_reservations (number_id, rule_id, site_id, number, visitor_id, session_id, started_at, expires_at)
		    SELECT g %% %[4]d, %[1]d, %[2]d, (74970000000 + g %% %[4]d)::text, %[3]d + g, %[3]d + g,
		           now() - (g || ' seconds')::interval - interval '1 hour', now() - (g || ' seconds')::interval - interval '30 minutes'
		    FROM generate_series(1, %[5]d) g;`, rule.ID, siteID, idBase, loadedPoolNumbers, loadedReservations))
	t.Logf("loaded %d pool numbers, %d reservations in %v", loadedPoolNumbers, loadedReservations, time.Since(start).Round(time.Millisecond))

	for round, analyze := range []bool{false, true} {
		if analyze {
			exec(ctx, t, admin, `ANALYZE ct_pool_numbers, ct_reservations`)
		}
		plans.reset()
		exercise(round+1, int64(200+round), int64(2000+10*round), time.Now())
		seen := map[string]bool{}
		for _, p := range plans.all() {
			what := fmt.Sprintf("round %d (%s): %s", round, map[bool]string{false: "plans made on the empty database", true: "after ANALYZE"}[analyze], short(p.query))
			switch q := p.query; {
			case strings.Contains(q, "FOR UPDATE SKIP LOCKED"):
				seen["claim"] = true
				checkPlan(t, what, p.plan, "ct_pool_numbers_free_idx")
			case strings.Contains(q, "SELECT number, session_id, expires_at FROM ct_pool_numbers"):
				seen["held"] = true
				checkPlan(t, what, p.plan, "ct_pool_numbers_visitor_idx")
			case strings.Contains(q, "greatest(expires_at"):
				seen["keep"] = true
				checkPlan(t, what, p.plan, "ct_pool_numbers_visitor_idx")
			case strings.Contains(q, "WITH old AS"):
				seen["hand-over"] = true
				checkPlan(t, what, p.plan, "ct_pool_numbers_pkey")
			case strings.Contains(q, "FROM ct_rules r") && strings.Contains(q, "n.session_id = $2"):
				seen["renew"] = true
				checkPlanAllowing(t, what, p.plan, "ct_pool_numbers_session_idx", "ct_rules")
			case strings.Contains(q, "FROM ct_reservations r"):
				seen["attribution"] = true
				checkPlanAllowing(t, what, p.plan, "ct_reservations_number_idx", "sites", "sessions", "visitor_properties")
			case strings.Contains(q, "INSERT INTO calls"):
				seen["call"] = true
				checkPlan(t, what, p.plan, "")
			}
		}
		for _, s := range []string{"claim", "held", "keep", "hand-over", "renew", "attribution", "call"} {
			if !seen[s] {
				t.Errorf("round %d: no plan of the %s statement reported", round, s)
			}
		}
	}
}
