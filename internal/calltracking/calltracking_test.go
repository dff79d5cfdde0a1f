package calltracking_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/comagicd/comagicd/internal/calltracking"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// env is a real server with one site that has a replacement group.
type env struct {
	srv     *testenv.Server
	store   *postgres.CallTracking
	site    *comagic.Site
	group   *comagic.ReplacementGroup
	siteKey string
}

const defaultNumber = "74950000000"

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := testenv.StartServer(t, testenv.Options{})
	key := srv.CreateSite(t, "shop.example")
	ctx := context.Background()
	site, err := srv.App.Sites.SiteByKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	store := postgres.NewCallTracking(srv.DB, nil)
	t.Cleanup(store.Close)
	g, err := store.AddGroup(ctx, comagic.ReplacementGroup{SiteID: site.ID, Name: "main", DefaultNumber: defaultNumber,
		Template: "+7 (XXX) XXX-XX-XX", Selectors: []comagic.PhoneSelector{{Type: "id", Value: "comagic_phone"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, store: store, site: site, group: g, siteKey: key}
}

// pool adds a dynamic rule (any traffic) with n numbers 7499000NNNN.
func (e *env) pool(t *testing.T, n, minutes int) *comagic.PhoneRule {
	t.Helper()
	var numbers []string
	for i := range n {
		numbers = append(numbers, fmt.Sprintf("7499%07d", i))
	}
	r, err := e.store.AddRule(context.Background(), comagic.PhoneRule{GroupID: e.group.ID, SiteID: e.site.ID, Kind: comagic.RuleDynamic,
		ReserveMinutes: minutes}, numbers)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type bootAnswer struct {
	VisitorID int64                `json:"visitor_id"`
	SessionID int64                `json:"session_id"`
	Key       string               `json:"key"`
	Phones    []comagic.ShownPhone `json:"phones"`
	Heartbeat int                  `json:"phones_heartbeat_s"`
}

func (e *env) bootstrap(t testing.TB, body string) bootAnswer {
	t.Helper()
	resp, err := http.Post(e.srv.URL+"/api/track/"+e.siteKey+"/bootstrap", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return bootAnswer{}
	}
	defer resp.Body.Close()
	var a bootAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 {
		t.Errorf("bootstrap: %d %v", resp.StatusCode, err)
	}
	return a
}

func TestConcurrentSessionsShareNoNumber(t *testing.T) {
	e := newEnv(t)
	e.pool(t, 50, 30)
	const sessions = 200
	answers := make([]bootAnswer, sessions)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = e.bootstrap(t, `{"url":"https://shop.example/?utm_source=yandex"}`)
		}()
	}
	wg.Wait()
	held := map[string]int64{}
	fallbacks := 0
	for _, a := range answers {
		if len(a.Phones) != 1 {
			t.Fatalf("phones %+v", a.Phones)
		}
		p := a.Phones[0]
		if p.ID != "#comagic_phone" {
			t.Errorf("id %q", p.ID)
		}
		if !p.DT {
			if p.Raw != defaultNumber || p.Text != "+7 (495) 000-00-00" {
				t.Errorf("fallback %+v", p)
			}
			fallbacks++
			continue
		}
		if other, ok := held[p.Raw]; ok {
			t.Fatalf("number %s given to sessions %d and %d", p.Raw, other, a.SessionID)
		}
		held[p.Raw] = a.SessionID
		if a.Heartbeat <= 0 || a.Heartbeat > 120 {
			t.Errorf("heartbeat %d", a.Heartbeat)
		}
	}
	if len(held) != 50 || fallbacks != 150 {
		t.Fatalf("%d reserved, %d fallbacks; want 50 and 150", len(held), fallbacks)
	}
	var rows, distinct int
	var exhausted int64
	if err := e.srv.DB.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT number),
		(SELECT count(*) FROM ct_pool_exhaustions) FROM ct_reservations`).Scan(&rows, &distinct, &exhausted); err != nil {
		t.Fatal(err)
	}
	if rows != 50 || distinct != 50 || exhausted != 150 {
		t.Fatalf("history %d rows, %d numbers; exhausted %d", rows, distinct, exhausted)
	}
	if n := metric(t, e, "comagicd_phone_pool_exhausted_total"); n != 150 {
		t.Errorf("comagicd_phone_pool_exhausted_total %v, want 150", n)
	}
	if n := metric(t, e, "comagicd_phone_reservations_total"); n != 50 {
		t.Errorf("comagicd_phone_reservations_total %v, want 50", n)
	}
	// New visitors claim in the transaction of their page view, not apart.
	if n := metric(t, e, "comagicd_group_commit_batch_size", "claims"); n != 0 {
		t.Errorf("%v separate claim batches, want none", n)
	}
	status, err := e.store.PoolStatus(context.Background(), e.site.ID, time.Now())
	if err != nil || len(status) != 1 || status[0].Numbers != 50 || status[0].Held != 50 || status[0].Exhausted24h != 150 || status[0].LastExhaustedAt == nil {
		t.Fatalf("pool status %+v %v", status, err)
	}
}

// metric sums a counter of the server's registry over its labels (a
// histogram's count, of the samples with the label values given).
func metric(t *testing.T, e *env, name string, values ...string) float64 {
	t.Helper()
	mfs, err := e.srv.App.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
		metrics:
			for _, m := range mf.GetMetric() {
				for _, v := range values {
					if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetValue() == v }) {
						continue metrics
					}
				}
				sum += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

func TestReservationExpiresAndReturningVisitorKeepsNumber(t *testing.T) {
	e := newEnv(t)
	rule := e.pool(t, 1, 5)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	n1, err := e.store.Reserve(ctx, rule, 1001, 2001, true, t0)
	if err != nil || n1 == "" {
		t.Fatalf("first: %q %v", n1, err)
	}
	// The session's next page within a minute of the last renewal reads, it
	// does not write.
	if n, err := e.store.Reserve(ctx, rule, 1001, 2001, false, t0.Add(30*time.Second)); n != n1 || err != nil {
		t.Fatalf("same session: %q %v", n, err)
	}
	var exp time.Time
	if err := e.srv.DB.QueryRow(ctx, `SELECT expires_at FROM ct_pool_numbers WHERE number = $1`, n1).Scan(&exp); err != nil || !exp.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("expires %v (%v), want unchanged %v", exp, err, t0.Add(5*time.Minute))
	}
	// Another visitor finds the pool exhausted while the number is held.
	if n, err := e.store.Reserve(ctx, rule, 1002, 2002, true, t0.Add(4*time.Minute)); n != "" || err != nil {
		t.Fatalf("while held: %q %v", n, err)
	}
	// The first visitor comes back in a new session within the time: same
	// number, renewed, handed over to the new session.
	if n, err := e.store.Reserve(ctx, rule, 1001, 2003, false, t0.Add(4*time.Minute)); n != n1 || err != nil {
		t.Fatalf("returning visitor got %q %v, want %s", n, err, n1)
	}
	// Renewed at +4 min: still held at +8 min.
	if n, err := e.store.Reserve(ctx, rule, 1002, 2004, true, t0.Add(8*time.Minute)); n != "" || err != nil {
		t.Fatalf("after renewal: %q %v", n, err)
	}
	// A heartbeat of the new session at +8 min keeps it until +13 min.
	if k, err := e.store.Renew(ctx, e.site.ID, 2003, t0.Add(8*time.Minute)); k != 1 || err != nil {
		t.Fatalf("renew: %d %v", k, err)
	}
	if k, err := e.store.Renew(ctx, e.site.ID, 2001, t0.Add(8*time.Minute)); k != 0 || err != nil {
		t.Fatalf("the old session renewed: %d %v", k, err)
	}
	if n, err := e.store.Reserve(ctx, rule, 1002, 2004, true, t0.Add(12*time.Minute)); n != "" || err != nil {
		t.Fatalf("after heartbeat: %q %v", n, err)
	}
	// Expired at +13 min: released by time alone.
	if n, err := e.store.Reserve(ctx, rule, 1002, 2004, true, t0.Add(13*time.Minute+time.Second)); n != n1 || err != nil {
		t.Fatalf("after expiry: %q %v", n, err)
	}
	// The returning visitor after expiry does not get it back.
	if n, err := e.store.Reserve(ctx, rule, 1001, 2005, false, t0.Add(14*time.Minute)); n != "" || err != nil {
		t.Fatalf("expired visitor: %q %v", n, err)
	}
	rows, err := e.srv.DB.Query(ctx, `SELECT visitor_id, session_id, started_at, expires_at FROM ct_reservations ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var v, s int64
		var from, until time.Time
		if err := rows.Scan(&v, &s, &from, &until); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d/%d %v..%v", v, s, from.Sub(t0), until.Sub(t0)))
	}
	want := []string{"1001/2001 0s..4m0s", "1001/2003 4m0s..13m0s", "1002/2004 13m1s..18m1s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history %v\nwant %v", got, want)
	}
}

// token creates an API token of the account.
func token(t *testing.T, store *postgres.CallTracking, accountID int64) (string, int64) {
	t.Helper()
	tok := operators.NewToken()
	rec, err := store.CreateAPIToken(context.Background(), accountID, "pbx", operators.HashToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	return tok, rec.ID
}

func call(t *testing.T, url, tok, method, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

func TestCallAttribution(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rule := e.pool(t, 2, 30)
	// A webhook receiver of the account.
	got := make(chan []byte, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	t.Cleanup(rcv.Close)
	if _, err := webhooks.NewStore(e.srv.DB).Add(ctx, e.site.AccountID, rcv.URL, []string{webhooks.EventCallCreated}); err != nil {
		t.Fatal(err)
	}

	// Two visitors with UTM tags and a property; each holds a pool number.
	a := e.bootstrap(t, `{"url":"https://shop.example/landing?utm_source=yandex&utm_medium=cpc&utm_campaign=spring","referrer":"https://ya.ru/"}`)
	b := e.bootstrap(t, `{"url":"https://shop.example/?utm_source=google"}`)
	if len(a.Phones) != 1 || len(b.Phones) != 1 || !a.Phones[0].DT || !b.Phones[0].DT {
		t.Fatalf("phones %+v %+v", a.Phones, b.Phones)
	}
	resp, err := http.Post(e.srv.URL+"/api/track/"+e.siteKey+"/property/set", "text/plain", strings.NewReader(
		fmt.Sprintf(`{"visitor_id":%d,"session_id":%d,"key":%q,"name":"roistat_id","value":"123"}`, a.VisitorID, a.SessionID, a.Key)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("property: %v %v", resp, err)
	}
	resp.Body.Close()
	// A's heartbeat answers that it kept one number; a wrong key is refused.
	hb := func(key string) int {
		resp, err := http.Post(e.srv.URL+"/api/track/"+e.siteKey+"/phones/heartbeat", "text/plain", strings.NewReader(
			fmt.Sprintf(`{"visitor_id":%d,"session_id":%d,"key":%q}`, a.VisitorID, a.SessionID, key)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := hb(a.Key); s != 200 {
		t.Fatalf("heartbeat %d", s)
	}
	if s := hb(strings.Repeat("x", 32)); s != 401 {
		t.Fatalf("heartbeat with a wrong key %d", s)
	}

	// A later holder of A's number must not take A's call: A's reservation
	// is made to end, and another session holds the number after.
	at := time.Now().UTC()
	tok, tokID := token(t, e.store, e.site.AccountID)
	url := e.srv.URL + "/api/v1/calls"
	body := fmt.Sprintf(`{"called_number":"+%s","caller_number":"8 (916) 123-45-67","started_at":%q,"duration":42,
		"record_url":"https://pbx.example/rec/1.mp3","pbx_call_id":"call-1"}`, a.Phones[0].Raw, at.Format(time.RFC3339Nano))
	status, ans := call(t, url, tok, "POST", body)
	if status != 201 || ans["created"] != true {
		t.Fatalf("post: %d %v", status, ans)
	}
	c := ans["call"].(map[string]any)
	attr, _ := c["attribution"].(map[string]any)
	if attr == nil || attr["session_id"] != float64(a.SessionID) || attr["visitor_id"] != float64(a.VisitorID) ||
		attr["utm_source"] != "yandex" || attr["utm_campaign"] != "spring" || attr["referrer_domain"] != "ya.ru" ||
		attr["site_key"] != e.siteKey || fmt.Sprint(attr["properties"]) != "map[roistat_id:123]" ||
		c["caller_number"] != "79161234567" || c["called_number"] != a.Phones[0].Raw || c["duration"] != float64(42) {
		t.Fatalf("call %v", c)
	}
	// The same call again: stored once, answered as stored.
	status, ans2 := call(t, url, tok, "POST", body)
	if status != 200 || ans2["created"] != false || ans2["call"].(map[string]any)["id"] != c["id"] {
		t.Fatalf("repeat: %d %v", status, ans2)
	}
	// Without a PBX id, the same number, caller and time are the same call.
	noID := fmt.Sprintf(`{"called_number":%q,"caller_number":"79161234567","started_at":"%d"}`, b.Phones[0].Raw, at.Unix()+1)
	if s, m := call(t, url, tok, "POST", noID); s != 201 || m["call"].(map[string]any)["attribution"].(map[string]any)["session_id"] != float64(b.SessionID) {
		t.Fatalf("no id: %d %v", s, m)
	}
	if s, m := call(t, url, tok, "POST", noID); s != 200 || m["created"] != false {
		t.Fatalf("no id again: %d %v", s, m)
	}

	// The number is held by a later session after A's reservation ended: a
	// call at T goes to A, a call after the hand-over to the new holder.
	handover := time.Now().Add(time.Minute)
	if _, err := e.srv.DB.Exec(ctx, `UPDATE ct_pool_numbers SET expires_at = $1 WHERE number = $2`, handover, a.Phones[0].Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.DB.Exec(ctx, `UPDATE ct_reservations SET expires_at = $1 WHERE number = $2`, handover, a.Phones[0].Raw); err != nil {
		t.Fatal(err)
	}
	n, err := e.store.Reserve(ctx, rule, 5555, 6666, true, handover.Add(time.Second))
	if err != nil || n != a.Phones[0].Raw {
		t.Fatalf("later holder got %q %v", n, err)
	}
	later := fmt.Sprintf(`{"called_number":%q,"caller_number":"79160000000","started_at":%q,"pbx_call_id":"call-2"}`,
		a.Phones[0].Raw, handover.Add(2*time.Second).Format(time.RFC3339))
	if s, m := call(t, url, tok, "POST", later); s != 201 || m["call"].(map[string]any)["attribution"].(map[string]any)["session_id"] != float64(6666) {
		t.Fatalf("later call: %d %v", s, m)
	}
	// A call to the default number is stored unattributed, with its site.
	s, m := call(t, url, tok, "POST", `{"called_number":"`+defaultNumber+`","caller_number":"79160000001","started_at":"`+at.Format(time.RFC3339)+`"}`)
	if s != 201 || m["call"].(map[string]any)["attribution"] != nil || m["call"].(map[string]any)["site_id"] != float64(e.site.ID) {
		t.Fatalf("unattributed: %d %v", s, m)
	}
	var stored int
	if err := e.srv.DB.QueryRow(ctx, `SELECT count(*) FROM calls`).Scan(&stored); err != nil || stored != 4 {
		t.Fatalf("%d calls stored (%v), want 4", stored, err)
	}

	// The report lists them newest first, pages with before.
	s, m = call(t, url+"?limit=3", tok, "GET", "")
	if s != 200 || len(m["calls"].([]any)) != 3 || m["next_before"] == float64(0) {
		t.Fatalf("report: %d %v", s, m)
	}
	s, m = call(t, fmt.Sprintf("%s?limit=3&before=%v", url, m["next_before"]), tok, "GET", "")
	if s != 200 || len(m["calls"].([]any)) != 1 || m["calls"].([]any)[0].(map[string]any)["pbx_call_id"] != "call-1" {
		t.Fatalf("report page 2: %d %v", s, m)
	}
	s, m = call(t, url+"?from="+handover.UTC().Format(time.RFC3339), tok, "GET", "")
	if s != 200 || len(m["calls"].([]any)) != 1 {
		t.Fatalf("report from: %d %v", s, m)
	}

	// The webhook got call.created for the first call.
	select {
	case b := <-got:
		var d struct {
			Event string         `json:"event"`
			Data  map[string]any `json:"data"`
		}
		if err := json.Unmarshal(b, &d); err != nil || d.Event != "call.created" || d.Data["pbx_call_id"] == nil || d.Data["attribution"] == nil {
			t.Fatalf("webhook %s", b)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook delivery")
	}
	var deliveries int
	if err := e.srv.DB.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE event = 'call.created'`).Scan(&deliveries); err != nil || deliveries != 4 {
		t.Fatalf("%d deliveries (%v), want one per stored call", deliveries, err)
	}

	// Bad input: 400 naming the field, nothing stored.
	for field, body := range map[string]string{
		"called_number": `{"called_number":"abc","caller_number":"79160000000","started_at":"2026-01-01T00:00:00Z"}`,
		"caller_number": `{"called_number":"74951234567","caller_number":"<script>","started_at":"` + at.Format(time.RFC3339) + `"}`,
		"started_at":    `{"called_number":"74951234567","caller_number":"79160000000","started_at":"yesterday"}`,
		"duration":      `{"called_number":"74951234567","caller_number":"79160000000","started_at":"` + at.Format(time.RFC3339) + `","duration":-1}`,
		"record_url":    `{"called_number":"74951234567","caller_number":"79160000000","started_at":"` + at.Format(time.RFC3339) + `","record_url":"javascript:alert(1)"}`,
		"body":          `[1,2]`,
	} {
		s, m := call(t, url, tok, "POST", body)
		if s != 400 || m["error"].(map[string]any)["field"] != field {
			t.Errorf("%s: %d %v", field, s, m)
		}
	}
	if s, m := call(t, url+"?limit=5000", tok, "GET", ""); s != 400 || m["error"].(map[string]any)["field"] != "limit" {
		t.Errorf("limit: %d %v", s, m)
	}
	if err := e.srv.DB.QueryRow(ctx, `SELECT count(*) FROM calls`).Scan(&stored); err != nil || stored != 4 {
		t.Fatalf("%d calls after bad input", stored)
	}

	// Tokens: none, wrong, revoked → 401; another account's sees nothing
	// and its call to our number is not attributed to our visitor.
	for _, bad := range []string{"", "garbage", operators.NewToken()} {
		if s, _ := call(t, url, bad, "GET", ""); s != 401 {
			t.Errorf("token %q: %d", bad, s)
		}
	}
	if err := e.store.RevokeAPIToken(ctx, tokID); err != nil {
		t.Fatal(err)
	}
	if s, _ := call(t, url, tok, "GET", ""); s != 401 {
		t.Errorf("revoked token: %d", s)
	}
	other, err := e.srv.App.Sites.EnsureAccount(ctx, "other-account")
	if err != nil {
		t.Fatal(err)
	}
	otherTok, _ := token(t, e.store, other.ID)
	if s, m := call(t, url, otherTok, "GET", ""); s != 200 || len(m["calls"].([]any)) != 0 {
		t.Fatalf("other account sees %v", m)
	}
	s, m = call(t, url, otherTok, "POST", strings.Replace(body, "call-1", "other-1", 1))
	if s != 201 || m["call"].(map[string]any)["attribution"] != nil || m["call"].(map[string]any)["site_id"] != nil {
		t.Fatalf("other account's call: %d %v", s, m)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ raw, tpl, want string }{
		{"74959999999", "+7 (XXX) XXX-XX-XX", "+7 (495) 999-99-99"},
		{"74959999999", "8 XXX XXX XX XX", "8 495 999 99 99"},
		{"74959999999", "", "+7 (495) 999-99-99"},
		{"4930123456", "", "+4930123456"},
		{"74959999999", strings.Repeat("X", 20), "+7 (495) 999-99-99"},
	} {
		if got := calltracking.Format(c.raw, c.tpl); got != c.want {
			t.Errorf("Format(%s, %q) = %q, want %q", c.raw, c.tpl, got, c.want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for field, g := range map[string]comagic.ReplacementGroup{
		"name":           {Selectors: []comagic.PhoneSelector{{Type: "id", Value: "x"}}},
		"selector":       {Name: "a", Selectors: []comagic.PhoneSelector{{Type: "xpath", Value: "//a"}}},
		"template":       {Name: "b", Template: "+7 (495)", Selectors: []comagic.PhoneSelector{{Type: "id", Value: "x"}}},
		"default_number": {Name: "c", DefaultNumber: "12", Selectors: []comagic.PhoneSelector{{Type: "id", Value: "x"}}},
	} {
		g.SiteID = e.site.ID
		if _, err := e.store.AddGroup(ctx, g); comagic.ErrorField(err) != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	for field, r := range map[string]comagic.PhoneRule{
		"reserve_phone_numbers_time": {Kind: "dynamic", ReserveMinutes: 4},
		"number":                     {Kind: "static", Number: "x"},
		"match":                      {Kind: "static", Number: "74951112233", MatchField: "city", MatchValue: "x"},
		"kind":                       {Kind: "random"},
	} {
		r.GroupID, r.SiteID = e.group.ID, e.site.ID
		if _, err := e.store.AddRule(ctx, r, []string{"74951112233"}); comagic.ErrorField(err) != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if _, err := e.store.AddRule(ctx, comagic.PhoneRule{GroupID: e.group.ID, SiteID: e.site.ID, Kind: "dynamic", ReserveMinutes: 10081}, []string{"74951112233"}); comagic.ErrorCode(err) != comagic.EINVALID {
		t.Errorf("10081 minutes: %v", err)
	}
	e.pool(t, 1, 5)
	if _, err := e.store.AddRule(ctx, comagic.PhoneRule{GroupID: e.group.ID, SiteID: e.site.ID, Kind: "dynamic", ReserveMinutes: 10080}, []string{"74990000000"}); comagic.ErrorCode(err) != comagic.ECONFLICT {
		t.Errorf("a number in two pools: %v", err)
	}
}

func TestStaticRuleFollowsTheSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.store.AddRule(ctx, comagic.PhoneRule{GroupID: e.group.ID, SiteID: e.site.ID, Kind: "static", MatchField: "utm_source",
		MatchValue: "Yandex", Number: "74951112233"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AddRule(ctx, comagic.PhoneRule{GroupID: e.group.ID, SiteID: e.site.ID, Kind: "static", MatchField: "referrer",
		MatchValue: "google.com", Number: "74954445566"}, nil); err != nil {
		t.Fatal(err)
	}
	a := e.bootstrap(t, `{"url":"https://shop.example/?utm_source=yandex"}`)
	if len(a.Phones) != 1 || a.Phones[0].Raw != "74951112233" || a.Phones[0].DT || a.Heartbeat != 0 {
		t.Fatalf("yandex: %+v", a)
	}
	// The next page of the session has no tags: the session's source counts.
	next := e.bootstrap(t, fmt.Sprintf(`{"url":"https://shop.example/catalog","referrer":"https://shop.example/","visitor_id":%d,"session_id":%d,"key":%q}`,
		a.VisitorID, a.SessionID, a.Key))
	if next.SessionID != a.SessionID || len(next.Phones) != 1 || next.Phones[0].Raw != "74951112233" {
		t.Fatalf("next page: %+v", next)
	}
	if g := e.bootstrap(t, `{"url":"https://shop.example/","referrer":"https://www.google.com/search"}`); len(g.Phones) != 1 || g.Phones[0].Raw != "74954445566" {
		t.Fatalf("google: %+v", g)
	}
	if d := e.bootstrap(t, `{"url":"https://shop.example/"}`); len(d.Phones) != 1 || d.Phones[0].Raw != defaultNumber {
		t.Fatalf("direct: %+v", d)
	}
}
