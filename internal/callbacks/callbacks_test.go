package callbacks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/callbacks"
	"github.com/comagicd/comagicd/internal/captcha"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// delivery is a POST a receiver got.
type delivery struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a real HTTP endpoint of a PBX: it records every POST and
// refuses the first `refuse` ones with 500.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	refuse int
}

func newReceiver(t *testing.T, refuse int) *receiver {
	t.Helper()
	r := &receiver{refuse: refuse}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: b, at: time.Now()})
		n := len(r.got)
		r.mu.Unlock()
		if n <= r.refuse {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %s: %s", within, what)
		}
	}
}

// checkSigned verifies a delivery's signature with secret and returns its
// payload.
func checkSigned(t *testing.T, d delivery, secret string) callbacks.Payload {
	t.Helper()
	if err := webhooks.Verify(secret, d.header.Get(webhooks.HeaderTimestamp), d.body, d.header.Get(webhooks.HeaderSignature)); err != nil {
		t.Fatalf("signature: %v (%s)", err, d.body)
	}
	if d.header.Get(webhooks.HeaderEvent) != callbacks.EventHeader || d.header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers: %v", d.header)
	}
	var p callbacks.Payload
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	if d.header.Get(webhooks.HeaderDelivery) != strconv.FormatInt(p.CallbackID, 10) {
		t.Fatalf("delivery header %q for %d", d.header.Get(webhooks.HeaderDelivery), p.CallbackID)
	}
	return p
}

// order posts a call-back order of v with params, as the embed script does
// (text/plain JSON); extra headers come in pairs.
func order(t *testing.T, srv *testenv.Server, v *testenv.Visitor, params map[string]any, headers ...string) (int, map[string]any) {
	t.Helper()
	body := map[string]any{"visitor_id": v.VisitorID, "session_id": v.SessionID, "key": v.Key, "hit_id": v.HitID}
	for k, x := range params {
		body[k] = x
	}
	b, _ := json.Marshal(body)
	return postRaw(t, srv, v.SiteKey, b, headers...)
}

func postRaw(t *testing.T, srv *testenv.Server, site string, b []byte, headers ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/track/"+site+"/callback", bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, a
}

// status returns result.status and result.code of an answer, checking the
// shape: success true exactly for status 0, which has a callback_id.
func status(t *testing.T, code int, a map[string]any) (int, string) {
	t.Helper()
	res, ok := a["result"].(map[string]any)
	if code != 200 || !ok {
		t.Fatalf("answer %d %v", code, a)
	}
	st, _ := res["status"].(float64)
	c, _ := res["code"].(string)
	id, _ := res["callback_id"].(float64)
	if (st == 0) != (a["success"] == true) || (st == 0) != (id > 0) || c == "" {
		t.Fatalf("answer shape %v", a)
	}
	return int(st), c
}

func expect(t *testing.T, code int, a map[string]any, wantStatus int, wantCode string) int64 {
	t.Helper()
	st, c := status(t, code, a)
	if st != wantStatus || (wantCode != "" && c != wantCode) {
		t.Fatalf("want status %d %s, got %v", wantStatus, wantCode, a)
	}
	id, _ := a["result"].(map[string]any)["callback_id"].(float64)
	return int64(id)
}

func addScenario(t *testing.T, srv *testenv.Server, site, group, url string, sync bool) *callbacks.Scenario {
	t.Helper()
	sc, err := callbacks.NewScenarios(srv.DB).Add(context.Background(), site, group, url, sync)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func siteID(t *testing.T, srv *testenv.Server, key string) (id, account int64) {
	t.Helper()
	if err := srv.DB.QueryRow(context.Background(), `SELECT id, account_id FROM sites WHERE site_key = $1`, key).Scan(&id, &account); err != nil {
		t.Fatal(err)
	}
	return id, account
}

func count(t *testing.T, srv *testenv.Server, q string, args ...any) int {
	t.Helper()
	var n int
	if err := srv.DB.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// deadURL is an address where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String() + "/pbx"
	ln.Close()
	return u
}

var proxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func TestStatuses(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{TrustedProxies: proxies})
	ctx := context.Background()
	site := srv.CreateSite(t, "shop.example")
	sid, account := siteID(t, srv, site)
	v := srv.NewVisitor(t, site)
	phone := map[string]any{"phone": "+7 (495) 123-45-67"}

	// 2: no scenario.
	code, a := order(t, srv, v, phone)
	expect(t, code, a, callbacks.StatusNoScenario, callbacks.CodeNoScenario)

	// 0: accepted and dispatched to the asynchronous scenario, signed;
	// the account's webhook gets callback.requested and .dispatched.
	if _, err := webhooks.NewStore(srv.DB).Add(ctx, account, "http://127.0.0.1:9/unused", nil); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, 0)
	sc := addScenario(t, srv, site, "", rcv.URL+"/pbx", false)
	code, a = order(t, srv, v, merge(phone, map[string]any{"values": map[string]any{"name": "Анна"}}), "Origin", "https://shop.example")
	id := expect(t, code, a, callbacks.StatusAccepted, callbacks.CodeAccepted)
	waitFor(t, 10*time.Second, "the order is dispatched", func() bool {
		return count(t, srv, `SELECT count(*) FROM callbacks WHERE id = $1 AND status = 'dispatched'`, id) == 1
	})
	got := rcv.deliveries()
	if len(got) != 1 {
		t.Fatalf("deliveries %d", len(got))
	}
	p := checkSigned(t, got[0], sc.Secret)
	if p.CallbackID != id || p.SiteKey != site || p.Phone != "+74951234567" || p.GroupID != nil || p.VisitorID != v.VisitorID ||
		p.SessionID != v.SessionID || p.Source != callbacks.SourceSitephone || p.Values["name"] != "Анна" || p.DueAt.Before(p.RequestedAt.Add(-time.Second)) {
		t.Fatalf("payload %+v", p)
	}
	waitFor(t, 5*time.Second, "webhook events", func() bool {
		return count(t, srv, `SELECT count(*) FROM webhook_deliveries WHERE event IN ('callback.requested', 'callback.dispatched')
			AND (payload->>'callback_id')::bigint = $1`, id) == 2
	})

	// 1: a captcha is required by the sitephone settings: missing, empty
	// and wrong answers are refused; a right answer is accepted once.
	srv.SetWidgetSettings(t, site, "sitephone", "desktop", `{"title":"Обратный звонок","is_captcha_enabled":true}`)
	cs, err := captcha.NewService(postgres.NewCaptchas(srv.DB), captcha.Options{Secret: []byte(testenv.Secret), Digits: func() string { return "4821" }})
	if err != nil {
		t.Fatal(err)
	}
	newKey := func() string {
		k, err := cs.New(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	code, a = order(t, srv, v, phone)
	expect(t, code, a, callbacks.StatusWrongCaptcha, callbacks.CodeWrongCaptcha)
	code, a = order(t, srv, v, merge(phone, map[string]any{"captcha_key": "", "captcha_value": ""}))
	expect(t, code, a, callbacks.StatusWrongCaptcha, "")
	k := newKey()
	code, a = order(t, srv, v, merge(phone, map[string]any{"captcha_key": k, "captcha_value": "1111"}))
	expect(t, code, a, callbacks.StatusWrongCaptcha, "")
	code, a = order(t, srv, v, merge(phone, map[string]any{"captcha_key": k, "captcha_value": "4821"}))
	expect(t, code, a, callbacks.StatusWrongCaptcha, "") // used up by the wrong answer
	k = newKey()
	code, a = order(t, srv, v, merge(phone, map[string]any{"captcha_key": k, "captcha_value": " 4821 "}))
	expect(t, code, a, callbacks.StatusAccepted, "")
	code, a = order(t, srv, v, merge(phone, map[string]any{"captcha_key": k, "captcha_value": "4821"}))
	expect(t, code, a, callbacks.StatusWrongCaptcha, "") // the same captcha a second time
	// Mobile settings without a captcha: a phone's order needs none.
	mobile := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
	code, a = order(t, srv, v, phone, "User-Agent", mobile)
	expect(t, code, a, callbacks.StatusAccepted, "")
	srv.SetWidgetSettings(t, site, "sitephone", "desktop", `{"title":"Обратный звонок","is_captcha_enabled":false}`)

	// 3: not a phone.
	for _, bad := range []any{true, false, "", "abc", "12", map[string]any{"n": "74951234567"}, []any{"74951234567"}} {
		code, a = order(t, srv, v, map[string]any{"phone": bad})
		expect(t, code, a, callbacks.StatusError, callbacks.CodeInvalidPhone)
	}
	code, a = order(t, srv, v, nil)
	expect(t, code, a, callbacks.StatusError, callbacks.CodeInvalidPhone)

	// 3: a synchronous scenario that cannot be reached (the group's); its
	// order is stored failed. A reachable one answers at accept time.
	if _, err := srv.DB.Exec(ctx, `INSERT INTO employee_groups (account_id, name) VALUES ($1, 'Sales'), ($1, 'Support')`, account); err != nil {
		t.Fatal(err)
	}
	var sales, support int64
	if err := srv.DB.QueryRow(ctx, `SELECT (SELECT id FROM employee_groups WHERE account_id = $1 AND name = 'Sales'),
		(SELECT id FROM employee_groups WHERE account_id = $1 AND name = 'Support')`, account).Scan(&sales, &support); err != nil {
		t.Fatal(err)
	}
	addScenario(t, srv, site, "Sales", deadURL(t), true)
	code, a = order(t, srv, v, merge(phone, map[string]any{"group_id": strconv.FormatInt(sales, 10)}))
	expect(t, code, a, callbacks.StatusError, callbacks.CodeScenarioUnreachable)
	if n := count(t, srv, `SELECT count(*) FROM callbacks WHERE group_id = $1 AND status = 'failed' AND attempts = 1 AND last_error <> ''`, sales); n != 1 {
		t.Fatalf("failed synchronous orders %d", n)
	}
	syncRcv := newReceiver(t, 0)
	syncSc := addScenario(t, srv, site, "Support", syncRcv.URL, true)
	code, a = order(t, srv, v, merge(phone, map[string]any{"group_id": support, "source": "consultant_sitephone"}))
	id = expect(t, code, a, callbacks.StatusAccepted, "")
	got = syncRcv.deliveries() // already there: the PBX answered at accept time
	if len(got) != 1 {
		t.Fatalf("synchronous deliveries %d", len(got))
	}
	if p := checkSigned(t, got[0], syncSc.Secret); p.CallbackID != id || p.GroupID == nil || *p.GroupID != support || p.Source != "consultant_sitephone" {
		t.Fatalf("synchronous payload %+v", p)
	}
	if n := count(t, srv, `SELECT count(*) FROM callbacks WHERE id = $1 AND status = 'dispatched' AND dispatched_at IS NOT NULL`, id); n != 1 {
		t.Fatal("synchronous order not recorded dispatched")
	}

	// Bad credentials and malformed bodies get 4xx in the API's error shape.
	code, a = order(t, srv, &testenv.Visitor{SiteKey: site, VisitorID: v.VisitorID, SessionID: v.SessionID, Key: "x"}, phone)
	if code != 401 || a["success"] != false {
		t.Fatalf("forged: %d %v", code, a)
	}
	for _, body := range []string{``, `[]`, `{"phone":`, `null`, `{"visitor_id":"abc"}`} {
		if code, a := postRaw(t, srv, site, []byte(body)); code != 400 || a["success"] != false {
			t.Fatalf("%q: %d %v", body, code, a)
		}
	}
	code, a = order(t, srv, v, merge(phone, map[string]any{"source": "fax"}))
	if code != 400 {
		t.Fatalf("source: %d %v", code, a)
	}
}

func TestTooManyCalls(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{TrustedProxies: proxies})
	site := srv.CreateSite(t, "shop.example")
	rcv := newReceiver(t, 0)
	addScenario(t, srv, site, "", rcv.URL, false)
	phone := map[string]any{"phone": "8 495 1234567"}

	// Per visitor: ten from ten addresses, the eleventh refused.
	v := srv.NewVisitor(t, site)
	for i := range callbacks.MaxPerMinute {
		code, a := order(t, srv, v, phone, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		expect(t, code, a, callbacks.StatusAccepted, "")
	}
	code, a := order(t, srv, v, phone, "X-Forwarded-For", "198.51.100.99")
	expect(t, code, a, callbacks.StatusTooMany, callbacks.CodeTooMany)

	// Per address: ten visitors from one address, the eleventh refused.
	var last *testenv.Visitor
	for range callbacks.MaxPerMinute {
		last = srv.NewVisitor(t, site)
		code, a := order(t, srv, last, phone, "X-Forwarded-For", "203.0.113.7")
		expect(t, code, a, callbacks.StatusAccepted, "")
	}
	code, a = order(t, srv, srv.NewVisitor(t, site), phone, "X-Forwarded-For", "203.0.113.7")
	expect(t, code, a, callbacks.StatusTooMany, "")

	// Concurrent orders of one visitor: exactly ten pass.
	v = srv.NewVisitor(t, site)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, a := order(t, srv, v, phone, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1))
			if st, _ := status(t, code, a); st == 0 {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != callbacks.MaxPerMinute {
		t.Fatalf("accepted %d of 16 concurrent orders", accepted)
	}
}

func TestParameterFormsInTheWild(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{TrustedProxies: proxies})
	ctx := context.Background()
	site := srv.CreateSite(t, "shop.example")
	_, account := siteID(t, srv, site)
	var group int64
	if err := srv.DB.QueryRow(ctx, `INSERT INTO employee_groups (account_id, name) VALUES ($1, 'Sales') RETURNING id`, account).Scan(&group); err != nil {
		t.Fatal(err)
	}
	def, grp := newReceiver(t, 0), newReceiver(t, 0)
	addScenario(t, srv, site, "", def.URL, false)
	addScenario(t, srv, site, "Sales", grp.URL, false)
	soon := time.Now().Add(time.Hour).UnixMilli()
	g := strconv.FormatInt(group, 10)
	cases := []struct {
		params    map[string]any
		status    int
		group     int64 // of the stored order
		delayed   bool  // due in an hour
		wantPhone string
	}{
		{map[string]any{"phone": "+7 (495) 123-45-67", "group_id": g}, 0, group, false, "+74951234567"},
		{map[string]any{"phone": "8 495 1234567", "group_id": json.Number(g)}, 0, group, false, "+74951234567"},
		{map[string]any{"phone": "84951234567", "group_id": 0}, 0, 0, false, "+74951234567"},
		{map[string]any{"phone": "74951234567", "group_id": nil}, 0, 0, false, "+74951234567"},
		{map[string]any{"phone": json.Number("74951234567"), "group_id": ""}, 0, 0, false, "+74951234567"},
		{map[string]any{"phone": "+1 212 555 0100", "group_id": "abc"}, 0, 0, false, "+12125550100"},
		{map[string]any{"phone": "+74951234567", "group_id": 987654321}, 0, 0, false, "+74951234567"},
		{map[string]any{"phone": "+74951234567", "delayed_call_time": strconv.FormatInt(soon, 10)}, 0, 0, true, "+74951234567"},
		{map[string]any{"phone": "+74951234567", "delayed_call_time": soon}, 0, 0, true, "+74951234567"},
		{map[string]any{"phone": "+74951234567", "delayed_call_time": 0, "captcha_key": "", "captcha_value": ""}, 0, 0, false, "+74951234567"},
		{map[string]any{"phone": "+74951234567", "delayed_call_time": nil, "captcha_key": nil, "captcha_value": nil}, 0, 0, false, "+74951234567"},
		{map[string]any{"phone": "+74951234567", "delayed_call_time": "", "group_id": "0"}, 0, 0, false, "+74951234567"},
		{map[string]any{"phone": "+74951234567", "delayed_call_time": "1000"}, 0, 0, false, "+74951234567"}, // 1970: now
		{map[string]any{"phone": "+74951234567", "delayed_call_time": "tomorrow"}, 3, 0, false, ""},
		{map[string]any{"phone": "+74951234567", "delayed_call_time": 1e18}, 3, 0, false, ""},
		{map[string]any{"phone": true}, 3, 0, false, ""},
		{map[string]any{"phone": "<script>alert(1)</script>"}, 3, 0, false, ""},
	}
	for i, c := range cases {
		v := srv.NewVisitor(t, site)
		code, a := order(t, srv, v, c.params, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		st, _ := status(t, code, a)
		if st != c.status {
			t.Fatalf("case %d %v: %v", i, c.params, a)
		}
		if st != 0 {
			continue
		}
		id := int64(a["result"].(map[string]any)["callback_id"].(float64))
		var gotGroup *int64
		var gotPhone string
		var secs float64
		if err := srv.DB.QueryRow(ctx, `SELECT group_id, phone, EXTRACT(epoch FROM due_at - created_at)::float8 FROM callbacks WHERE id = $1`, id).
			Scan(&gotGroup, &gotPhone, &secs); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(secs * float64(time.Second))
		if (c.group == 0) != (gotGroup == nil) || (gotGroup != nil && *gotGroup != c.group) || gotPhone != c.wantPhone ||
			c.delayed != (delay > 59*time.Minute) || delay > time.Hour+time.Minute {
			t.Fatalf("case %d %v: stored group %v phone %s delay %s", i, c.params, gotGroup, gotPhone, delay)
		}
	}
	// The group's orders went to the group's scenario, the others to the
	// default; the delayed ones are not sent yet.
	waitFor(t, 10*time.Second, "the due orders are sent", func() bool { return len(def.deliveries()) == 9 && len(grp.deliveries()) == 2 })
}

func TestParsers(t *testing.T) {
	for raw, want := range map[string]int64{"": 0, "0": 0, "null": 0, "undefined": 0, "12": 12, " 12 ": 12, "12.0": 12, "12.5": 0, "-3": 0, "x": 0, "1e3": 1000} {
		if got := callbacks.ParseGroupID(raw); got != want {
			t.Errorf("ParseGroupID(%q) = %d, want %d", raw, got, want)
		}
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	later := now.Add(90 * time.Minute)
	for raw, want := range map[string]time.Time{"": now, "0": now, "null": now, "5": now,
		strconv.FormatInt(later.UnixMilli(), 10): later, strconv.FormatInt(later.UnixMilli(), 10) + ".0": later,
		later.Format(time.RFC3339): later} {
		if got, err := callbacks.ParseDelayedCallTime(raw, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseDelayedCallTime(%q) = %v %v, want %v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"soon", "NaN1", "Inf", strconv.FormatInt(now.Add(40*24*time.Hour).UnixMilli(), 10), "1e300"} {
		if _, err := callbacks.ParseDelayedCallTime(raw, now); err == nil {
			t.Errorf("ParseDelayedCallTime(%q) accepted", raw)
		}
	}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
