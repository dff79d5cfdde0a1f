package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
	"github.com/comagicd/comagicd/internal/workstation"
)

// Sizes of the loaded data: a few million rows, generated in SQL. Every
// session has one hit, but one long session has longHits more, the latest of
// which is the one a page's trackEvent names.
const (
	loadedVisitors = 500_000
	loadedSessions = 2 * loadedVisitors
	longHits       = 100_000
	idBase         = 1_000_000_000 // loaded ids, far above what the sequences hand out
	longSession    = idBase + 1
)

// maxBuffers bounds the shared buffers (hit + read) one statement of the write
// paths may touch for a one-item batch; a scan of the loaded tables or of the
// long session's hits takes thousands.
const maxBuffers = 200

// TestPlansAtSize checks the plans of the tracking write paths on a database
// of a few million rows: every table is read by an index and each statement
// touches a bounded number of buffers. The statements whose cached generic
// plan depends on the table's size are checked with a plan made while the
// database was empty, as a long-lived connection of a new server keeps it.
func TestPlansAtSize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	url := testenv.NewDatabase(t)

	// The server's pool leaves the planner's settings alone.
	pool, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var seqscan string
	err = pool.QueryRow(ctx, `SHOW enable_seqscan`).Scan(&seqscan)
	pool.Close()
	if err != nil || seqscan != "on" {
		t.Fatalf("the server's pool has enable_seqscan=%s (%v): reports and purges need sequential scans", seqscan, err)
	}

	// No ANALYZE behind the test's back: plans see the statistics it sets up.
	admin := connect(ctx, t, url)
	exec(ctx, t, admin, `ALTER TABLE visitors SET (autovacuum_enabled = off);
		ALTER TABLE sessions SET (autovacuum_enabled = off);
		ALTER TABLE hits SET (autovacuum_enabled = off);
		ALTER TABLE events SET (autovacuum_enabled = off)`)

	// A generic plan of the event write made on the empty database, as the
	// statement cache of a new server's connection keeps it.
	early := connect(ctx, t, url)
	exec(ctx, t, early, `SET plan_cache_mode = force_generic_plan`)
	exec(ctx, t, early, `PREPARE insert_events AS `+postgres.InsertEventsSQL)
	exec(ctx, t, early, `EXPLAIN EXECUTE insert_events('{1}', '{1}', '{1}', '{1}', '{2026-01-01T00:00:00Z}', '{c}', '{a}', '{n}', '{v}')`)

	var siteID int64
	if err := admin.QueryRow(ctx, `WITH a AS (INSERT INTO accounts (name) VALUES ('plans') RETURNING id)
		INSERT INTO sites (account_id, site_key, domains) SELECT id, repeat('p', 32), '{shop.example}' FROM a RETURNING id`).Scan(&siteID); err != nil {
		t.Fatal(err)
	}
	site := &comagic.Site{ID: siteID, Key: strings.Repeat("p", 32), Domains: []string{"shop.example"}, SessionTimeout: 30 * time.Minute, Region: "RU"}

	// The store's write paths, through a pool configured as the server's whose
	// connections report every statement's plan (auto_explain), warmed up on
	// the empty database: its connections' statement caches hold generic plans
	// made while the tables were empty.
	plans := &explained{}
	store := explainingStore(ctx, t, url, plans)
	warmUp(ctx, t, store, site)

	start := time.Now()
	load := fmt.Sprintf(`
		INSERT INTO visitors (id, site_id, created_at, updated_at)
		    SELECT %[1]d + g, %[2]d, now(), now() FROM generate_series(1, %[3]d) g;
		INSERT INTO sessions (id, site_id, visitor_id, started_at, last_hit_at, device_type)
		    SELECT %[1]d + g, %[2]d, %[1]d + (g + 1) / 2, now() - interval '1 hour', now() - interval '1 minute', 'desktop'
		    FROM generate_series(1, %[4]d) g;
		INSERT INTO hits (id, site_id, visitor_id, session_id, created_at, url, device_type)
		    SELECT %[1]d + g, %[2]d, %[1]d + (g + 1) / 2, %[1]d + g, now(), 'https://shop.example/', 'desktop'
		    FROM generate_series(1, %[4]d) g;`, idBase, siteID, loadedVisitors, loadedSessions)
	exec(ctx, t, admin, load)
	exec(ctx, t, admin, fmt.Sprintf(`INSERT INTO hits (id, site_id, visitor_id, session_id, created_at, url, device_type)
		SELECT %[1]d + %[2]d + g, %[3]d, %[1]d + 1, %[4]d, now(), 'https://shop.example/', 'desktop'
		FROM generate_series(1, %[5]d) g`, idBase, loadedSessions, siteID, longSession, longHits))
	latestHit := int64(idBase + loadedSessions + longHits)
	t.Logf("loaded %d visitors, %d sessions, %d hits in %v", loadedVisitors, loadedSessions, loadedSessions+longHits, time.Since(start).Round(time.Millisecond))

	// The early generic plan of the event write, run at size.
	var out []byte
	if err := early.QueryRow(ctx, fmt.Sprintf(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE insert_events(
		'{%d}', '{%d}', '{%d}', '{%d}', '{2026-01-01T00:00:00Z}', '{early}', '{a}', '{n}', '{v}')`,
		siteID, idBase+1, longSession, latestHit)).Scan(&out); err != nil {
		t.Fatal(err)
	}
	checkPlan(t, "event write, generic plan made on the empty database", planOf(t, out), "hits_pkey")

	// The store's write paths at size: first with the plans its connections
	// made on the empty database (no ANALYZE since, as between two runs of
	// autovacuum), then after ANALYZE.
	for round, analyze := range []bool{false, true} {
		if analyze {
			exec(ctx, t, admin, `ANALYZE visitors, sessions, hits`)
		}
		plans.reset()
		g := int64(199 + round*2) // a loaded session, of visitor (g+1)/2
		visitor, session := idBase+(g+1)/2, idBase+g
		w := &comagic.HitWrite{Site: site, Claimed: &comagic.Credentials{VisitorID: visitor, SessionID: session},
			View: comagic.PageView{URL: "https://shop.example/next", UserAgent: "test"}, Device: "desktop", At: time.Now()}
		if err := store.RecordHit(ctx, w); err != nil {
			t.Fatal(err)
		}
		if w.Result.NewSession || w.Result.SessionID != session {
			t.Fatalf("round %d: the page view did not continue session %d: %+v", round, session, w.Result)
		}
		for _, ev := range []comagic.Event{
			{SiteID: siteID, VisitorID: idBase + 1, SessionID: longSession, HitID: latestHit, Category: "long", At: time.Now()},
			{SiteID: siteID, VisitorID: visitor, SessionID: session, HitID: latestHit, Category: "foreign", At: time.Now()},
		} {
			if err := store.TrackEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		var long, foreign *int64
		if err := admin.QueryRow(ctx, `SELECT (SELECT hit_id FROM events WHERE category = 'long' ORDER BY id DESC LIMIT 1),
			(SELECT hit_id FROM events WHERE category = 'foreign' ORDER BY id DESC LIMIT 1)`).Scan(&long, &foreign); err != nil {
			t.Fatal(err)
		}
		if long == nil || *long != latestHit || foreign != nil {
			t.Fatalf("round %d: events' hit ids %v, %v; want %d and NULL (a hit of another session)", round, long, foreign, latestHit)
		}
		// A lead and a lead action naming the long session's latest hit.
		lead := &comagic.OfflineRequest{SiteID: siteID, VisitorID: idBase + 1, SessionID: longSession, HitID: latestHit,
			Name: "long", Phone: "+74950000000", Source: "browser"}
		if err := store.CreateOfflineRequest(ctx, lead); err != nil {
			t.Fatal(err)
		}
		action := &comagic.LeadAction{SiteID: siteID, VisitorID: idBase + 1, SessionID: longSession, HitID: latestHit,
			Widget: "personal_form", Action: "show"}
		if err := store.RecordLeadAction(ctx, action); err != nil {
			t.Fatal(err)
		}
		var leadHit, actionHit *int64
		if err := admin.QueryRow(ctx, `SELECT (SELECT hit_id FROM offline_requests WHERE id = $1),
			(SELECT hit_id FROM lead_actions WHERE id = $2)`, lead.ID, action.ID).Scan(&leadHit, &actionHit); err != nil {
			t.Fatal(err)
		}
		if leadHit == nil || *leadHit != latestHit || actionHit == nil || *actionHit != latestHit {
			t.Fatalf("round %d: hit ids of the lead %v and the lead action %v; want %d", round, leadHit, actionHit, latestHit)
		}
		got := plans.all()
		var touched, loaded, events, leads, actions bool
		for _, p := range got {
			what := fmt.Sprintf("round %d (%s): %s", round, map[bool]string{false: "plans made on the empty database", true: "after ANALYZE"}[analyze], short(p.query))
			switch {
			case strings.Contains(p.query, "INSERT INTO events"):
				events = true
				checkPlan(t, what, p.plan, "hits_pkey")
			case strings.Contains(p.query, "INSERT INTO offline_requests"):
				leads = true
				checkPlan(t, what, p.plan, "hits_pkey")
			case strings.Contains(p.query, "INSERT INTO lead_actions"):
				actions = true
				checkPlan(t, what, p.plan, "hits_pkey")
			case strings.Contains(p.query, "UPDATE sessions SET last_hit_at"):
				touched = true
				checkPlan(t, what, p.plan, "sessions_pkey")
			case strings.Contains(p.query, "FROM sessions WHERE id = ANY"):
				loaded = true
				checkPlan(t, what, p.plan, "sessions_pkey")
			default:
				checkPlan(t, what, p.plan, "")
			}
		}
		if !touched || !loaded || !events || !leads || !actions {
			t.Fatalf("round %d: plans of the session load %v, the page-view write %v, the event write %v, the lead write %v, the lead action write %v: not all reported (%d plans)",
				round, loaded, touched, events, leads, actions, len(got))
		}
	}
	checkLiveVisitors(ctx, t, admin, siteID)
}

// liveBuffersPerRow bounds the buffers the live-visitor list may touch per
// visitor it answers: a few index probes (the visitor, the latest hit, a
// newer session, the open chat), never a scan.
const liveBuffersPerRow = 40

// checkLiveVisitors checks the workstation's live-visitor list on the loaded
// database, where every loaded session had a page view a minute ago: the
// list walks sessions_site_last_hit_idx from the newest and stops at the
// limit, with custom and generic plans.
func checkLiveVisitors(ctx context.Context, t *testing.T, c *pgx.Conn, siteID int64) {
	t.Helper()
	const limit = workstation.MaxLive
	since := time.Now().Add(-workstation.LiveWindow)
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		exec(ctx, t, c, `SET plan_cache_mode = `+mode)
		name := "live_" + mode
		exec(ctx, t, c, `PREPARE `+name+` AS `+postgres.LiveVisitorsSQL)
		var out []byte
		if err := c.QueryRow(ctx, fmt.Sprintf(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE %s(%d, '%s', %d)`,
			name, siteID, since.UTC().Format(time.RFC3339Nano), limit)).Scan(&out); err != nil {
			t.Fatal(err)
		}
		plan := planOf(t, out)
		checkPlanWithin(t, "live visitors, "+mode, plan, "sessions_site_last_hit_idx", limit*liveBuffersPerRow)
		if rows := num(plan["Actual Rows"]); rows != limit {
			t.Errorf("live visitors, %s: %v rows, want %d", mode, rows, limit)
		}
	}
	exec(ctx, t, c, `RESET plan_cache_mode`)
}

// warmUp runs the write paths on the empty database as pages do, in batches:
// 32 visitors come back 5 times with a page view, an event, a lead and a lead
// action each.
func warmUp(ctx context.Context, t *testing.T, store *postgres.Store, site *comagic.Site) {
	t.Helper()
	const pages = 32
	first := make([]*comagic.HitWrite, pages)
	run := func(f func(i int) error) {
		errs := make(chan error, pages)
		for i := range pages {
			go func() { errs <- f(i) }()
		}
		for range pages {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	run(func(i int) error {
		first[i] = &comagic.HitWrite{Site: site, View: comagic.PageView{URL: "https://shop.example/"}, Device: "desktop", At: time.Now()}
		return store.RecordHit(ctx, first[i])
	})
	for round := range 5 {
		run(func(i int) error {
			w := &comagic.HitWrite{Site: site, Claimed: &comagic.Credentials{VisitorID: first[i].Result.VisitorID, SessionID: first[i].Result.SessionID},
				View: comagic.PageView{URL: "https://shop.example/"}, Device: "desktop", At: time.Now().Add(time.Duration(round+1) * time.Minute)}
			if err := store.RecordHit(ctx, w); err != nil {
				return err
			}
			if err := store.TrackEvent(ctx, comagic.Event{SiteID: site.ID, VisitorID: w.Result.VisitorID, SessionID: w.Result.SessionID,
				HitID: w.Result.HitID, Category: "warm-up", At: time.Now()}); err != nil {
				return err
			}
			if err := store.CreateOfflineRequest(ctx, &comagic.OfflineRequest{SiteID: site.ID, VisitorID: w.Result.VisitorID,
				SessionID: w.Result.SessionID, HitID: w.Result.HitID, Name: "warm-up", Phone: "+74950000000", Source: "browser"}); err != nil {
				return err
			}
			return store.RecordLeadAction(ctx, &comagic.LeadAction{SiteID: site.ID, VisitorID: w.Result.VisitorID,
				SessionID: w.Result.SessionID, HitID: w.Result.HitID, Widget: "personal_form", Action: "show"})
		})
	}
}

// explained collects the plans auto_explain reports.
type explained struct {
	mu    sync.Mutex
	plans []reported
}

type reported struct {
	query string
	plan  map[string]any
}

func (e *explained) add(n *pgconn.Notice) {
	text, ok := strings.CutPrefix(n.Message, "duration: ")
	if !ok {
		return
	}
	_, js, ok := strings.Cut(text, "plan:\n")
	if !ok {
		return
	}
	var r struct {
		Query string         `json:"Query Text"`
		Plan  map[string]any `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		return
	}
	e.mu.Lock()
	e.plans = append(e.plans, reported{r.Query, r.Plan})
	e.mu.Unlock()
}

func (e *explained) reset() {
	e.mu.Lock()
	e.plans = nil
	e.mu.Unlock()
}

func (e *explained) all() []reported {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]reported(nil), e.plans...)
}

// explainingStore returns a store on a pool configured as the server's, whose
// connections report the plan of every statement they run to plans and keep
// the generic plan of every cached statement. Both close when the test ends.
func explainingStore(ctx context.Context, t *testing.T, url string, plans *explained) *postgres.Store {
	t.Helper()
	pool := explainingPool(ctx, t, url, plans)
	store := postgres.NewStore(pool, nil)
	t.Cleanup(store.Close) // runs before the pool's close: cleanups run last-in first-out
	return store
}

// explainingPool returns a pool configured as the server's whose connections
// report the plan of every statement they run to plans and keep the generic
// plan of every cached statement. It closes when the test ends.
func explainingPool(ctx context.Context, t *testing.T, url string, plans *explained) *pgxpool.Pool {
	t.Helper()
	cfg, err := postgres.PoolConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		// The worst case for a cached statement: its generic plan, made at
		// its first execution, from then on.
		"plan_cache_mode":           "force_generic_plan",
		"session_preload_libraries": "auto_explain", "auto_explain.log_min_duration": "0",
		"auto_explain.log_analyze": "on", "auto_explain.log_buffers": "on", "auto_explain.log_format": "json",
		"auto_explain.log_level": "notice",
	} {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { plans.add(n) }
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// checkPlan fails the test when plan scans a table sequentially, touches more
// than maxBuffers buffers, or (index != "") does not use index.
func checkPlan(t *testing.T, what string, plan map[string]any, index string) {
	t.Helper()
	checkPlanWithin(t, what, plan, index, maxBuffers)
}

// checkPlanAllowing is checkPlan that allows sequential scans of the small
// tables named in small (sites, say).
func checkPlanAllowing(t *testing.T, what string, plan map[string]any, index string, small ...string) {
	t.Helper()
	checkPlanWithin(t, what, plan, index, maxBuffers, small...)
}

// checkPlanWithin is checkPlanAllowing with another bound of the buffers.
func checkPlanWithin(t *testing.T, what string, plan map[string]any, index string, maxBuffers float64, small ...string) {
	t.Helper()
	if plan == nil {
		t.Errorf("%s: no plan", what)
		return
	}
	var seq []string
	usesIndex := false
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if n["Node Type"] == "Seq Scan" && !slices.Contains(small, fmt.Sprint(n["Relation Name"])) {
			seq = append(seq, fmt.Sprint(n["Relation Name"]))
		}
		if n["Index Name"] == index {
			usesIndex = true
		}
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				walk(m)
			}
		}
	}
	walk(plan)
	buffers := num(plan["Shared Hit Blocks"]) + num(plan["Shared Read Blocks"])
	pretty, _ := json.MarshalIndent(plan, "", " ")
	switch {
	case len(seq) > 0:
		t.Errorf("%s: sequential scan of %v:\n%s", what, seq, pretty)
	case buffers > maxBuffers:
		t.Errorf("%s: %v buffers, want at most %v:\n%s", what, buffers, maxBuffers, pretty)
	case index != "" && !usesIndex:
		t.Errorf("%s: does not use %s:\n%s", what, index, pretty)
	}
}

func planOf(t *testing.T, explainJSON []byte) map[string]any {
	t.Helper()
	var r []struct {
		Plan map[string]any `json:"Plan"`
	}
	if err := json.Unmarshal(explainJSON, &r); err != nil || len(r) != 1 {
		t.Fatalf("EXPLAIN output %s: %v", explainJSON, err)
	}
	return r[0].Plan
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func short(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 80 {
		return q[:80] + "…"
	}
	return q
}

func connect(ctx context.Context, t *testing.T, url string) *pgx.Conn {
	t.Helper()
	cfg, err := postgres.PoolConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec(ctx context.Context, t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", short(sql), err)
	}
}
