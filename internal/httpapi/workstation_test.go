package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/testenv"
)

// opCall sends an operator request with the token (and a JSON body when not nil).
func (c *client) opCall(method, path, token string, body any, headers ...string) (int, answer) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

func (a answer) list(k string) []map[string]any {
	raw, _ := a[k].([]any)
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i], _ = v.(map[string]any)
	}
	return out
}

func (a answer) obj(k string) answer { m, _ := a[k].(map[string]any); return m }

func fnum(v any) int64 { f, _ := v.(float64); return int64(f) }

// wsFixture is a server with two sites of two accounts: Anna and Boris work on
// site A, Vera on site B.
type wsFixture struct {
	c                  *client
	srv                *testenv.Server
	siteA, siteB       string
	idA, idB           int64
	anna, boris, vera  *testenv.Operator
	annaWS, borisWS    *testenv.WS
	veraWS             *testenv.WS
	accountA, accountB string
}

func newWSFixture(t *testing.T) *wsFixture {
	t.Helper()
	c, srv := newServer(t)
	f := &wsFixture{c: c, srv: srv}
	f.siteA = srv.CreateSite(t, "shop.example")
	f.siteB = srv.CreateSite(t, "other.example")
	ctx := context.Background()
	for _, s := range []struct {
		key     string
		id      *int64
		account *string
	}{{f.siteA, &f.idA, &f.accountA}, {f.siteB, &f.idB, &f.accountB}} {
		if err := srv.DB.QueryRow(ctx, `SELECT s.id, a.name FROM sites s JOIN accounts a ON a.id = s.account_id WHERE s.site_key = $1`,
			s.key).Scan(s.id, s.account); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.App.Employees.CreateGroup(ctx, f.accountA, "Sales"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.App.Employees.CreateGroup(ctx, f.accountB, "Other"); err != nil {
		t.Fatal(err)
	}
	f.anna = srv.CreateOperator(t, "anna", "Anna", []string{f.siteA}, "Sales")
	f.boris = srv.CreateOperator(t, "boris", "Boris <b>", []string{f.siteA})
	f.vera = srv.CreateOperator(t, "vera", "Vera", []string{f.siteB})
	f.annaWS = srv.DialOperator(t, f.anna.Token)
	f.borisWS = srv.DialOperator(t, f.boris.Token)
	f.veraWS = srv.DialOperator(t, f.vera.Token)
	for _, ws := range []*testenv.WS{f.annaWS, f.borisWS, f.veraWS} {
		ws.Wait(t, testenv.Type("hello"), "hello")
	}
	return f
}

// TestWorkstationLiveVisitorsAndCard: the live list shows a site's visitors
// with page, source and open chat; the card shows contacts, properties, the
// visit's pages and chats; contacts are edited with checks; another site's
// operator sees nothing.
func TestWorkstationLiveVisitorsAndCard(t *testing.T) {
	f := newWSFixture(t)
	c := f.c
	v := c.bootstrap(f.siteA, nil, "https://shop.example/?utm_source=yandex&utm_medium=cpc", "https://yandex.ru/search/?text=shop")
	if st, a := c.post("/api/track/"+f.siteA+"/hit", merge(v.creds(), map[string]any{"url": "https://shop.example/catalog",
		"title": "<b>Каталог</b>"}), "Origin", "https://shop.example"); st != 200 {
		t.Fatalf("hit: %d %v", st, a)
	}
	if st, a := c.post("/api/track/"+f.siteA+"/property/set", merge(v.creds(), map[string]any{"name": "plan", "value": "gold"}),
		"Origin", "https://shop.example"); st != 200 {
		t.Fatalf("property: %d %v", st, a)
	}
	other := c.bootstrap(f.siteB, nil, "https://other.example/", "")
	live := fmt.Sprintf("/api/operator/visitors/live?site_id=%d", f.idA)

	st, a := c.opCall("GET", live, f.anna.Token, nil)
	if st != 200 || len(a.list("visitors")) != 1 {
		t.Fatalf("live: %d %v", st, a)
	}
	lv := answer(a.list("visitors")[0])
	page := lv.obj("page")
	if lv.num("visitor_id") != v.visitor || lv.num("session_id") != v.session || lv.num("site_id") != f.idA ||
		page.str("url") != "https://shop.example/catalog" || page.str("title") != "<b>Каталог</b>" || lv.str("source") != "yandex" ||
		lv.obj("utm").str("medium") != "cpc" || lv.str("referrer_domain") != "yandex.ru" || lv.str("device_type") != "desktop" ||
		lv["chat_id"] != nil || lv.num("time_on_site_s") < 0 {
		t.Fatalf("live visitor: %v", lv)
	}

	// Anna invites the visitor from the list: the list and the card show the chat.
	r := f.annaWS.Call(t, map[string]any{"type": "invite", "site_id": f.idA, "visitor_id": v.visitor, "text": "Нужна помощь?"})
	if r["ok"] != true {
		t.Fatalf("invite: %v", r)
	}
	chatID := fnum(r["chat"].(map[string]any)["id"])
	if _, a := c.opCall("GET", live, f.anna.Token, nil); fnum(a.list("visitors")[0]["chat_id"]) != chatID {
		t.Fatalf("live after invite: %v", a)
	}

	card := fmt.Sprintf("/api/operator/visitors/%d?site_id=%d", v.visitor, f.idA)
	st, a = c.opCall("GET", card, f.boris.Token, nil)
	vc := a.obj("visitor")
	pages := vc.list("pages")
	if st != 200 || len(pages) != 2 || pages[0]["url"] != "https://shop.example/?utm_source=yandex&utm_medium=cpc" ||
		pages[1]["url"] != "https://shop.example/catalog" || vc.obj("current_page").str("url") != "https://shop.example/catalog" ||
		vc.obj("session").str("source") != "yandex" || vc.obj("session").str("landing_url") != pages[0]["url"] ||
		fnum(vc["open_chat_id"]) != chatID || len(vc.list("chats")) != 1 || vc.list("chats")[0]["state"] != "invite" ||
		len(vc.list("properties")) != 1 || vc.list("properties")[0]["value"] != "gold" {
		t.Fatalf("card: %d %v", st, a)
	}

	// Edits: normalised, duplicates once, HTML kept as text.
	st, a = c.opCall("PATCH", card, f.anna.Token, map[string]any{"name": " Ivan <script>alert(1)</script> ",
		"emails": []string{"Ivan@Example.com", "ivan@example.com", "second@example.org"}, "phones": []string{"8 912 345-67-89"}})
	vc = a.obj("visitor")
	if st != 200 || vc.str("name") != "Ivan <script>alert(1)</script>" || fmt.Sprint(vc["emails"]) != "[ivan@example.com second@example.org]" ||
		fmt.Sprint(vc["phones"]) != "[79123456789]" {
		t.Fatalf("edit: %d %v", st, a)
	}
	// The site's other operators hear of it.
	frameOf(t, f.borisWS, "visitor", "visitor_id", v.visitor, "updated")
	// The chat sees the same card.
	if _, a := c.opCall("GET", live, f.anna.Token, nil); a.list("visitors")[0]["name"] != "Ivan <script>alert(1)</script>" {
		t.Fatalf("live name: %v", a)
	}
	for _, bad := range []struct {
		body  any
		field string
	}{
		{map[string]any{"name": "x", "emails": []string{"ok@example.com", "not-an-address"}}, "emails[1]"},
		{map[string]any{"name": "x", "phones": []string{"12"}}, "phones[0]"},
		{map[string]any{"emails": "a@example.com"}, "emails"},
		{map[string]any{"phones": []any{1234567}}, "phones"},
		{map[string]any{"name": 5}, "name"},
		{map[string]any{"name": strings.Repeat("я", 201)}, "name"},
		{map[string]any{"name": "x", "emails": make([]string, 11)}, "emails"},
		{map[string]any{}, "body"},
		{[]byte(`{"name": "x"} trailing`), "body"},
		{[]byte(`{"name": "bad \u0000"}`), "name"},
	} {
		if st, a := c.opCall("PATCH", card, f.anna.Token, bad.body); st != 400 || a.errField() != bad.field {
			t.Errorf("PATCH %v: %d %v, want 400 field %s", bad.body, st, a, bad.field)
		}
	}
	if _, a := c.opCall("GET", card, f.anna.Token, nil); a.obj("visitor").str("name") != "Ivan <script>alert(1)</script>" ||
		len(a.obj("visitor").list("emails")) != 2 {
		t.Fatalf("a refused edit changed the card: %v", a)
	}
	// Clearing.
	if st, a := c.opCall("PATCH", card, f.anna.Token, map[string]any{"name": "", "emails": []string{}}); st != 200 ||
		a.obj("visitor").str("name") != "" || len(a.obj("visitor").list("emails")) != 0 || len(a.obj("visitor").list("phones")) != 1 {
		t.Fatalf("clear: %d %v", st, a)
	}

	// Bad parameters.
	for path, field := range map[string]string{
		"/api/operator/visitors/live":                                          "site_id",
		"/api/operator/visitors/live?site_id=abc":                              "site_id",
		fmt.Sprintf("/api/operator/visitors/live?site_id=%d&limit=0", f.idA):   "limit",
		fmt.Sprintf("/api/operator/visitors/live?site_id=%d&limit=201", f.idA): "limit",
		fmt.Sprintf("/api/operator/visitors/x?site_id=%d", f.idA):              "visitor_id",
		fmt.Sprintf("/api/operator/visitors/%d", v.visitor):                    "site_id",
	} {
		if st, a := c.opCall("GET", path, f.anna.Token, nil); st != 400 || a.errField() != field {
			t.Errorf("GET %s: %d %v, want 400 field %s", path, st, a, field)
		}
	}

	// Tenant isolation: Vera (site B) sees nothing of site A, and Anna nothing of B.
	for _, p := range []struct{ path, token string }{
		{live, f.vera.Token},
		{card, f.vera.Token},
		{fmt.Sprintf("/api/operator/visitors/%d?site_id=%d", v.visitor, f.idB), f.vera.Token},
		{fmt.Sprintf("/api/operator/visitors/live?site_id=%d", f.idB), f.anna.Token},
		{fmt.Sprintf("/api/operator/visitors/%d?site_id=%d", other.visitor, f.idB), f.anna.Token},
		{fmt.Sprintf("/api/operator/visitors/%d?site_id=%d", other.visitor, f.idA), f.anna.Token},
	} {
		if st, a := c.opCall("GET", p.path, p.token, nil); st != 404 {
			t.Errorf("GET %s: %d %v, want 404", p.path, st, a)
		}
	}
	if st, a := c.opCall("PATCH", fmt.Sprintf("/api/operator/visitors/%d?site_id=%d", v.visitor, f.idB), f.vera.Token,
		map[string]any{"name": "stolen"}); st != 404 {
		t.Fatalf("Vera edits site A's visitor: %d %v", st, a)
	}
	if _, a := c.opCall("GET", card, f.anna.Token, nil); a.obj("visitor").str("name") != "" {
		t.Fatalf("a foreign edit changed the card: %v", a)
	}
	if _, a := c.opCall("GET", fmt.Sprintf("/api/operator/visitors/live?site_id=%d", f.idB), f.vera.Token, nil); len(a.list("visitors")) != 1 ||
		fnum(a.list("visitors")[0]["visitor_id"]) != other.visitor {
		t.Fatalf("Vera's live list: %v", a)
	}

	// Without a token 401; from a foreign page 403.
	if st, _ := c.get(live); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	if st, a := c.opCall("GET", live, f.anna.Token, nil, "Origin", "https://evil.example"); st != 403 || a.errField() != "origin" {
		t.Fatalf("foreign origin: %d %v", st, a)
	}
}

// frameOf waits for the frame of the given type about id.
func frameOf(t *testing.T, ws *testenv.WS, typ, idKey string, id int64, event string) map[string]any {
	t.Helper()
	return ws.Wait(t, func(m map[string]any) bool {
		return m["type"] == typ && fnum(m[idKey]) == id && m["event"] == event
	}, fmt.Sprintf("%s %d %s", typ, id, event))
}

// TestWorkstationOfflineRequests: requests from the browser and the backend
// API reach the site's operators as frames, list newest first with paging and
// filters, and a processed mark made by one operator reaches the other.
func TestWorkstationOfflineRequests(t *testing.T) {
	f := newWSFixture(t)
	c := f.c
	v := c.bootstrap(f.siteA, nil, "https://shop.example/contacts?utm_source=google", "")
	st, a := c.post("/api/track/"+f.siteA+"/offline_request", merge(v.creds(), map[string]any{"name": "Ivan <img src=x>",
		"phone": "8 912 345-67-89", "message": "Перезвоните 100% после 18:00"}), "Origin", "https://shop.example")
	if st != 200 {
		t.Fatalf("offline request: %d %v", st, a)
	}
	var first int64
	if err := f.srv.DB.QueryRow(context.Background(), `SELECT max(id) FROM offline_requests`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	frameOf(t, f.borisWS, "offline_request", "offline_request_id", first, "created")
	frameOf(t, f.annaWS, "offline_request", "offline_request_id", first, "created")

	// The site backend's route, unattributed.
	form := url.Values{"site_key": {f.siteA}, "name": {"Backend"}, "email": {"lead@example.com"}, "text": {"from PHP"}}
	resp, err := http.PostForm(f.srv.URL+"/api/add_offline_message/", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("add_offline_message: %d", resp.StatusCode)
	}
	second := first + 1
	frameOf(t, f.borisWS, "offline_request", "offline_request_id", second, "created")

	// Site B's request reaches Vera; she never got site A's.
	if st, _ := c.post("/api/add_offline_message/", map[string]any{"site_key": f.siteB, "name": "B", "phone": "+79001112233"}); st != 200 {
		t.Fatalf("site B request: %d", st)
	}
	frameOf(t, f.veraWS, "offline_request", "offline_request_id", second+1, "created")
	for _, m := range f.veraWS.All() {
		if m["type"] == "offline_request" && fnum(m["site_id"]) == f.idA {
			t.Fatalf("Vera got site A's frame: %v", m)
		}
	}

	list := fmt.Sprintf("/api/operator/offline_requests?site_id=%d", f.idA)
	st, a = c.opCall("GET", list, f.anna.Token, nil)
	items := a.list("offline_requests")
	if st != 200 || len(items) != 2 || fnum(items[0]["id"]) != second || fnum(items[1]["id"]) != first || a["next_before"] != nil {
		t.Fatalf("list: %d %v", st, a)
	}
	it := answer(items[1])
	if it.str("name") != "Ivan <img src=x>" || it.str("phone") != "79123456789" || it.str("channel") != "browser" ||
		it.num("visitor_id") != v.visitor || it.str("source") != "google" || it.str("page_url") != "https://shop.example/contacts?utm_source=google" ||
		it["processed"] != false || it["processed_by"] != nil {
		t.Fatalf("browser request: %v", it)
	}
	if it := answer(items[0]); it["visitor_id"] != nil || it.str("channel") != "api" || it.str("email") != "lead@example.com" || it.str("message") != "from PHP" {
		t.Fatalf("backend request: %v", it)
	}

	// Paging and search.
	st, a = c.opCall("GET", list+"&limit=1", f.anna.Token, nil)
	if st != 200 || len(a.list("offline_requests")) != 1 || a.num("next_before") != second {
		t.Fatalf("page 1: %v", a)
	}
	_, a = c.opCall("GET", fmt.Sprintf("%s&limit=1&before=%d", list, a.num("next_before")), f.anna.Token, nil)
	if len(a.list("offline_requests")) != 1 || fnum(a.list("offline_requests")[0]["id"]) != first || a["next_before"] != nil {
		t.Fatalf("page 2: %v", a)
	}
	for q, want := range map[string]int{"ivan": 1, "LEAD@": 1, "100%": 1, "0%": 1, "%": 1, "_": 0, "nobody": 0, "9123": 1} {
		if _, a := c.opCall("GET", list+"&q="+url.QueryEscape(q), f.anna.Token, nil); len(a.list("offline_requests")) != want {
			t.Errorf("q=%q: %d results, want %d: %v", q, len(a.list("offline_requests")), want, a)
		}
	}

	// Anna marks the first processed; Boris's list agrees, live and on reload.
	mark := fmt.Sprintf("/api/operator/offline_requests/%d/processed", first)
	st, a = c.opCall("POST", mark, f.anna.Token, map[string]any{"processed": true})
	req := a.obj("offline_request")
	if st != 200 || req["processed"] != true || req.obj("processed_by").num("id") != f.anna.ID || req["processed_at"] == nil {
		t.Fatalf("mark: %d %v", st, a)
	}
	fr := frameOf(t, f.borisWS, "offline_request", "offline_request_id", first, "processed")
	if fr["processed"] != true || fnum(fr["site_id"]) != f.idA {
		t.Fatalf("processed frame: %v", fr)
	}
	// Boris marks it again: Anna's mark stays.
	if _, a := c.opCall("POST", mark, f.boris.Token, map[string]any{"processed": true}); a.obj("offline_request").obj("processed_by").num("id") != f.anna.ID {
		t.Fatalf("second mark: %v", a)
	}
	_, a = c.opCall("GET", list+"&processed=true", f.boris.Token, nil)
	if len(a.list("offline_requests")) != 1 || fnum(a.list("offline_requests")[0]["id"]) != first {
		t.Fatalf("processed=true: %v", a)
	}
	_, a = c.opCall("GET", list+"&processed=false", f.boris.Token, nil)
	if len(a.list("offline_requests")) != 1 || fnum(a.list("offline_requests")[0]["id"]) != second {
		t.Fatalf("processed=false: %v", a)
	}
	// The visitor card lists the request.
	if _, a := c.opCall("GET", fmt.Sprintf("/api/operator/visitors/%d?site_id=%d", v.visitor, f.idA), f.boris.Token, nil); len(a.obj("visitor").list("offline_requests")) != 1 {
		t.Fatalf("card requests: %v", a)
	}
	// Boris takes the mark back.
	if st, a := c.opCall("POST", mark, f.boris.Token, map[string]any{"processed": false}); st != 200 || a.obj("offline_request")["processed"] != false ||
		a.obj("offline_request")["processed_by"] != nil {
		t.Fatalf("unmark: %d %v", st, a)
	}
	frameOf(t, f.annaWS, "offline_request", "offline_request_id", first, "unprocessed")

	// Bad input and other tenants.
	for _, bad := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", mark, map[string]any{"processed": "yes"}, "processed"},
		{"POST", mark, map[string]any{}, "processed"},
		{"POST", mark, map[string]any{"processed": nil}, "processed"},
		{"POST", mark, []byte(`not json`), "body"},
		{"POST", "/api/operator/offline_requests/abc/processed", map[string]any{"processed": true}, "id"},
		{"GET", list + "&processed=maybe", nil, "processed"},
		{"GET", list + "&before=-1", nil, "before"},
		{"GET", list + "&limit=101", nil, "limit"},
		{"GET", list + "&q=" + strings.Repeat("x", 201), nil, "q"},
		{"GET", "/api/operator/offline_requests", nil, "site_id"},
	} {
		if st, a := c.opCall(bad.method, bad.path, f.anna.Token, bad.body); st != 400 || a.errField() != bad.field {
			t.Errorf("%s %s %v: %d %v, want 400 field %s", bad.method, bad.path, bad.body, st, a, bad.field)
		}
	}
	if st, _ := c.opCall("POST", mark, f.vera.Token, map[string]any{"processed": true}); st != 404 {
		t.Fatalf("Vera marks site A's request: %d", st)
	}
	if st, _ := c.opCall("GET", list, f.vera.Token, nil); st != 404 {
		t.Fatalf("Vera lists site A: %d", st)
	}
	if _, a := c.opCall("GET", list+"&processed=true", f.anna.Token, nil); len(a.list("offline_requests")) != 0 {
		t.Fatalf("a foreign mark was stored: %v", a)
	}
}

// TestWorkstationCallbacks: call-back orders list newest first with their
// group and status, a mark reaches the other operator as a callback frame,
// another site's operator sees nothing.
func TestWorkstationCallbacks(t *testing.T) {
	f := newWSFixture(t)
	c := f.c
	ctx := context.Background()
	v := c.bootstrap(f.siteA, nil, "https://shop.example/call", "")
	var groupID int64
	if err := f.srv.DB.QueryRow(ctx, `SELECT id FROM employee_groups WHERE name = 'Sales'`).Scan(&groupID); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, 3)
	for i, row := range []struct {
		site  int64
		group any
		phone string
	}{{f.idA, groupID, "+79123456789"}, {f.idA, nil, "+79001112233"}, {f.idB, nil, "+79005556677"}} {
		if err := f.srv.DB.QueryRow(ctx, `INSERT INTO callbacks (site_id, visitor_id, session_id, hit_id, phone, group_id, source, status, due_at, next_attempt_at)
			VALUES ($1, $2, $3, $4, $5, $6, 'sitephone', 'scheduled', now(), now()) RETURNING id`,
			row.site, v.visitor, v.session, v.hit, row.phone, row.group).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	list := fmt.Sprintf("/api/operator/callbacks?site_id=%d", f.idA)
	st, a := c.opCall("GET", list, f.anna.Token, nil)
	items := a.list("callbacks")
	if st != 200 || len(items) != 2 || fnum(items[0]["id"]) != ids[1] || fnum(items[1]["id"]) != ids[0] {
		t.Fatalf("list: %d %v", st, a)
	}
	cb := answer(items[1])
	if cb.str("phone") != "+79123456789" || cb.str("status") != "scheduled" || cb.str("channel") != "sitephone" ||
		cb.obj("group").str("name") != "Sales" || cb.str("page_url") != "https://shop.example/call" || cb["processed"] != false || cb["dispatched_at"] != nil {
		t.Fatalf("callback: %v", cb)
	}
	if _, a := c.opCall("GET", list+"&q=9123", f.anna.Token, nil); len(a.list("callbacks")) != 1 {
		t.Fatalf("q: %v", a)
	}
	if _, a := c.opCall("GET", list+"&limit=1", f.anna.Token, nil); a.num("next_before") != ids[1] {
		t.Fatalf("paging: %v", a)
	}

	mark := fmt.Sprintf("/api/operator/callbacks/%d/processed", ids[0])
	if st, a := c.opCall("POST", mark, f.boris.Token, map[string]any{"processed": true}); st != 200 ||
		a.obj("callback")["processed"] != true || a.obj("callback").obj("processed_by").str("name") != "Boris <b>" {
		t.Fatalf("mark: %d %v", st, a)
	}
	if fr := frameOf(t, f.annaWS, "callback", "callback_id", ids[0], "processed"); fr["processed"] != true {
		t.Fatalf("frame: %v", fr)
	}
	if _, a := c.opCall("GET", list+"&processed=false", f.anna.Token, nil); len(a.list("callbacks")) != 1 || fnum(a.list("callbacks")[0]["id"]) != ids[1] {
		t.Fatalf("processed=false: %v", a)
	}
	if _, a := c.opCall("GET", fmt.Sprintf("/api/operator/visitors/%d?site_id=%d", v.visitor, f.idA), f.anna.Token, nil); len(a.obj("visitor").list("callbacks")) != 2 {
		t.Fatalf("card callbacks: %v", a)
	}

	// Vera: site B's order only.
	if st, _ := c.opCall("POST", mark, f.vera.Token, map[string]any{"processed": false}); st != 404 {
		t.Fatalf("Vera marks site A's order: %d", st)
	}
	if st, _ := c.opCall("GET", list, f.vera.Token, nil); st != 404 {
		t.Fatalf("Vera lists site A: %d", st)
	}
	if _, a := c.opCall("GET", fmt.Sprintf("/api/operator/callbacks?site_id=%d", f.idB), f.vera.Token, nil); len(a.list("callbacks")) != 1 ||
		fnum(a.list("callbacks")[0]["id"]) != ids[2] {
		t.Fatalf("Vera's list: %v", a)
	}
	if st, a := c.opCall("POST", mark, f.anna.Token, map[string]any{"processed": 1}); st != 400 || a.errField() != "processed" {
		t.Fatalf("processed 1: %d %v", st, a)
	}
}

// TestWorkstationDirectory: the operators sharing a site with their status
// and the account's groups; nobody of another account.
func TestWorkstationDirectory(t *testing.T) {
	f := newWSFixture(t)
	if r := f.borisWS.Call(t, map[string]any{"type": "status", "status": "away"}); r["ok"] != true {
		t.Fatalf("status: %v", r)
	}
	st, a := f.c.opCall("GET", "/api/operator/directory", f.anna.Token, nil)
	ops := a.list("operators")
	if st != 200 || len(ops) != 2 || ops[0]["name"] != "Anna" || ops[1]["name"] != "Boris <b>" || ops[1]["status"] != "away" ||
		fmt.Sprint(ops[0]["site_ids"]) != fmt.Sprintf("[%d]", f.idA) || len(ops[0]["group_ids"].([]any)) != 1 || len(ops[1]["group_ids"].([]any)) != 0 {
		t.Fatalf("directory: %d %v", st, a)
	}
	if g := a.list("groups"); len(g) != 1 || g[0]["name"] != "Sales" {
		t.Fatalf("groups: %v", a)
	}
	if s := a.list("sites"); len(s) != 1 || fnum(s[0]["id"]) != f.idA || s[0]["site_key"] != f.siteA {
		t.Fatalf("sites: %v", a)
	}
	_, a = f.c.opCall("GET", "/api/operator/directory", f.vera.Token, nil)
	if ops := a.list("operators"); len(ops) != 1 || ops[0]["name"] != "Vera" || a.list("groups")[0]["name"] != "Other" {
		t.Fatalf("Vera's directory: %v", a)
	}
}
