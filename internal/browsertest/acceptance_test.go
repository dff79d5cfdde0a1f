package browsertest

// Acceptance tests of the embed script against the real server and Postgres
// (issue 3): every embed generation, the reference's snippets verbatim, the
// seed's jQuery forms with real jQuery and php -S, the queue before and after
// load, and SPA navigation.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/testenv"
)

// realEnv is the real server with one site whose domain is localhost, so the
// test pages on http://localhost:PORT may call it on http://127.0.0.1:PORT.
type realEnv struct {
	URL     string // API and script origin, http://127.0.0.1:PORT
	Host    string // URL without the scheme: //127.0.0.1:PORT
	SiteKey string
	DB      *pgxpool.Pool
}

func startReal(t *testing.T) *realEnv {
	t.Helper()
	srv := testenv.StartServer(t, testenv.Options{})
	key := srv.CreateSite(t, "localhost", "127.0.0.1")
	return &realEnv{URL: srv.URL, Host: strings.TrimPrefix(srv.URL, "http:"), SiteKey: key, DB: srv.DB}
}

// rows runs a query and returns every row as strings (NULL as "<nil>").
func (e *realEnv) rows(t *testing.T, q string, args ...any) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := e.DB.Query(ctx, q, args...)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	defer rs.Close()
	var out [][]string
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitRows polls the query until it returns at least n rows.
func (e *realEnv) waitRows(t *testing.T, n int, q string, args ...any) [][]string {
	t.Helper()
	var r [][]string
	Eventually(t, 15*time.Second, func() error {
		if r = e.rows(t, q, args...); len(r) < n {
			return fmt.Errorf("query %q: %d rows, want %d: %v", q, len(r), n, r)
		}
		return nil
	})
	return r
}

func (e *realEnv) classic() string {
	return `<script>var __cs = __cs || []; __cs.push(["setCsAccount", "` + e.SiteKey + `"]);</script>` +
		`<script async src="` + e.Host + `/static/cs.min.js"></script>`
}

const siteFilter = `site_id = (SELECT id FROM sites WHERE site_key = $1)`

func TestAcceptanceEmbedGenerations(t *testing.T) {
	env := startReal(t)
	pages := NewPageServer(t)
	gens := []struct{ name, code string }{
		{"classic", env.classic()},
		{"legacy", `<script>var __cs = __cs || []; __cs.push(["setAccount", "` + env.SiteKey + `"]); __cs.push(["setHost", "` + env.Host + `/comagic"]);</script>` +
			`<script async src="` + env.Host + `/comagic/static/cs.min.js"></script>`},
		{"legacy-cshost", `<script>var __cs = __cs || []; __cs.push(["setAccount", "` + env.SiteKey + `"]); __cs.push(["setCsHost", "` + env.Host + `/comagic"]);</script>` +
			`<script async src="` + env.Host + `/static/cs.min.js"></script>`},
		{"single-tag", `<script async src="` + env.Host + `/static/cs.min.js?k=` + env.SiteKey + `"></script>`},
	}
	for _, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			tab := newTab(t)
			page := pages.Page("/"+g.name, embedPage(g.code, ""))
			tab.Go(page)
			c := waitBoot(tab)
			for _, k := range []string{"site_key", "key", "uri", "consultant_server_url"} {
				if s, ok := c[k].(string); !ok || s == "" {
					t.Errorf("%s = %#v, want a non-empty string", k, c[k])
				}
			}
			for _, k := range []string{"visitor_id", "session_id", "hit_id"} {
				if n, ok := c[k].(float64); !ok || n <= 0 || n != float64(int64(n)) {
					t.Errorf("%s = %#v, want a positive integer number", k, c[k])
				}
			}
			if c["site_key"] != env.SiteKey || !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(fmt.Sprint(c["key"])) {
				t.Errorf("site_key/key wrong: %v", c)
			}
			if c["uri"] != env.URL+"/" || c["consultant_server_url"] != env.URL+"/" {
				t.Errorf("uri %v, consultant_server_url %v, want %s/", c["uri"], c["consultant_server_url"], env.URL)
			}
			if Eval[float64](tab, `Comagic.getVisitorId()`) != c["visitor_id"] || Eval[float64](tab, `Comagic.getSessionId()`) != c["session_id"] {
				t.Error("getVisitorId/getSessionId disagree with getCredentials")
			}
			cookies := Eval[string](tab, `document.cookie`)
			m := regexp.MustCompile(`(?:^|; )_comagic_id(\w*)=(\d+)\.(\d+)\.(\d+)(?:;|$)`).FindStringSubmatch(cookies)
			if m == nil {
				t.Fatalf("no _comagic_id<S>=<visitor>.<session>.<ts> cookie in %q", cookies)
			}
			if m[2] != fmt.Sprint(int64(c["visitor_id"].(float64))) || m[3] != fmt.Sprint(int64(c["session_id"].(float64))) {
				t.Errorf("_comagic_id%s = %s.%s.%s, credentials %v", m[1], m[2], m[3], m[4], c)
			}
			if !regexp.MustCompile(`(?:^|; )_cmg_csst` + m[1] + `=` + m[4] + `(?:;|$)`).MatchString(cookies) {
				t.Errorf("no _cmg_csst%s=%s cookie in %q", m[1], m[4], cookies)
			}
			hits := env.rows(t, `SELECT url, session_id FROM hits WHERE id = $1`, int64(c["hit_id"].(float64)))
			if len(hits) != 1 || hits[0][0] != page {
				t.Errorf("hit row %v, want url %s", hits, page)
			}
			// The next page view keeps the visitor and the session.
			tab.Go(page + "?next")
			c2 := waitBoot(tab)
			if c2["visitor_id"] != c["visitor_id"] || c2["session_id"] != c["session_id"] || c2["hit_id"] == c["hit_id"] {
				t.Errorf("second page view %v after %v", c2, c)
			}
			noExceptions(t, tab)
		})
	}
}

func TestAcceptanceReferenceSnippets(t *testing.T) {
	env := startReal(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	tab.Go(pages.Page("/snippets", embedPage(env.classic(), "")))
	c := waitBoot(tab)
	vid := int64(c["visitor_id"].(float64))

	got := Eval[map[string]any](tab, `new Promise(done => {
		const r = {};
		Comagic.trackEvent('Offer', 'DownloadBook', 'CallTrackingBook', 'value');
		Comagic.addOfflineRequest({
		  name: 'Дмитрий',
		  email: 'dmitry@comagic.ru',
		  phone: '79123456789',
		  message: 'Текст заявки...',
		  group_id: 1234
		});
		Comagic.addOfflineRequest({
		  name: 'Дмитрий',
		  email: 'dmitry@comagic.ru',
		  phone: '79123456789',
		  message: 'Онлайн заказ...',
		  is_sale: true,
		  sale_cost: '9999'
		});
		Comagic.addOfflineRequest({name: 'Дмитрий', email: 'dmitry@comagic.ru', phone: '79123456789', form_name: 'Название заявки', message: 'Текст заявки...'});
		Comagic.setProperty('Тип посетителя', 'Потенциальный');
		Comagic.setProperty('Действующий клиент');
		Comagic.addOfflineRequest({"name": "My Name Is"}, function(o) {console.log(o); r.lead = {success: o.success, result: o.result, response: JSON.parse(o.response), status: o.status, statusText: o.statusText, readyState: o.readyState};
		Comagic.addVisitorInfo({name:'Test', phone:'79000000000', email:'myemail@axample.com'},function(resp){console.log(resp); r.info = resp;
		Comagic.hasProperty('Действующий клиент', function(resp){console.log(resp); r.has = resp;
		Comagic.getProperty('Тип посетителя', function(resp){console.log(resp); r.get = resp;
		Comagic.getProperty('Действующий клиент', function(resp){console.log(resp); r.getFlag = resp;
		Comagic.deleteProperty('Тип посетителя');
		done(r); }); }); }); }); });
	})`)
	lead, _ := got["lead"].(map[string]any)
	if lead == nil || lead["success"] != true || lead["status"] != 200.0 || lead["statusText"] != "OK" || lead["readyState"] != 4.0 {
		t.Errorf("addOfflineRequest callback %v", got["lead"])
	}
	if resp, _ := lead["response"].(map[string]any); resp == nil || resp["success"] != true {
		t.Errorf("JSON.parse(o.response) = %v", lead["response"])
	}
	if _, ok := lead["result"]; !ok {
		t.Errorf("callback has no result field: %v", lead)
	}
	if info, _ := got["info"].(map[string]any); info == nil || info["success"] != true {
		t.Errorf("addVisitorInfo callback %v", got["info"])
	}
	if has, _ := got["has"].(map[string]any); has == nil || has["success"] != true || has["result"] != true {
		t.Errorf("hasProperty callback %v", got["has"])
	}
	if get, _ := got["get"].(map[string]any); get == nil || get["success"] != true || get["result"] != "Потенциальный" {
		t.Errorf("getProperty callback %v", got["get"])
	}
	if gf, _ := got["getFlag"].(map[string]any); gf == nil || gf["success"] != true || gf["result"] == false {
		t.Errorf("getProperty of a flag %v", got["getFlag"])
	}

	ev := env.waitRows(t, 1, `SELECT category, action, name, value, visitor_id, hit_id FROM events WHERE `+siteFilter, env.SiteKey)
	if want := fmt.Sprint([]string{"Offer", "DownloadBook", "CallTrackingBook", "value", fmt.Sprint(vid), fmt.Sprint(int64(c["hit_id"].(float64)))}); fmt.Sprint(ev[0]) != want {
		t.Errorf("event row %v, want %s", ev[0], want)
	}
	leads := env.waitRows(t, 4, `SELECT name, email, phone, message, is_sale, coalesce(sale_cost::text, ''), coalesce(group_id::text, ''), form_name, visitor_id
		FROM offline_requests WHERE `+siteFilter+` ORDER BY name = 'My Name Is', message, form_name`, env.SiteKey)
	want := []string{
		fmt.Sprint([]string{"Дмитрий", "dmitry@comagic.ru", "79123456789", "Онлайн заказ...", "true", "9999.00", "", "", fmt.Sprint(vid)}),
		fmt.Sprint([]string{"Дмитрий", "dmitry@comagic.ru", "79123456789", "Текст заявки...", "false", "", "1234", "", fmt.Sprint(vid)}),
		fmt.Sprint([]string{"Дмитрий", "dmitry@comagic.ru", "79123456789", "Текст заявки...", "false", "", "", "Название заявки", fmt.Sprint(vid)}),
		fmt.Sprint([]string{"My Name Is", "", "", "", "false", "", "", "", fmt.Sprint(vid)}),
	}
	for i, w := range want {
		if i >= len(leads) || fmt.Sprint(leads[i]) != w {
			t.Errorf("offline request %d:\n got %v\nwant %s", i, leads, w)
			break
		}
	}
	if v := env.rows(t, `SELECT name FROM visitors WHERE id = $1`, vid); len(v) != 1 || v[0][0] != "Test" {
		t.Errorf("visitor name %v", v)
	}
	if ct := env.rows(t, `SELECT kind, value FROM visitor_contacts WHERE visitor_id = $1 ORDER BY kind`, vid); fmt.Sprint(ct) != "[[email myemail@axample.com] [phone 79000000000]]" {
		t.Errorf("visitor contacts %v", ct)
	}
	Eventually(t, 10*time.Second, func() error {
		props := env.rows(t, `SELECT name, coalesce(value, '<flag>') FROM visitor_properties WHERE visitor_id = $1 ORDER BY name`, vid)
		if fmt.Sprint(props) != "[[Действующий клиент <flag>]]" {
			return fmt.Errorf("visitor properties %v, want only the flag after deleteProperty", props)
		}
		return nil
	})
	noExceptions(t, tab)
}

// The seed's jQuery forms: formSubmit() fills hidden fields from
// getCredentials() and posts to send.php, which forwards the lead to
// /api/add_offline_message/; the AJAX variant adds the credentials in beforeSend.
func TestAcceptanceJQueryForms(t *testing.T) {
	for _, ex := range testenv.PHPExamples(t) {
		t.Run(ex.Name, func(t *testing.T) { testAcceptanceJQueryForms(t, ex) })
	}
}

func testAcceptanceJQueryForms(t *testing.T, ex testenv.PHPExample) {
	env := startReal(t)
	site := formsSite(t, env.classic(), ex)
	tab := newTab(t)
	alerted := submitForms(t, tab, site)
	if !strings.Contains(alerted, "Заявка успешно сохранена.") {
		t.Errorf("alert(response.responseText) = %q", alerted)
	}
	c := Eval[map[string]any](tab, `Comagic.getCredentials()`)
	ids := fmt.Sprint(int64(c["visitor_id"].(float64))) + " " + fmt.Sprint(int64(c["session_id"].(float64)))
	rows := env.waitRows(t, 2, `SELECT name, email, phone, message, is_sale, sale_cost::text, visitor_id::text || ' ' || session_id::text, hit_id IS NOT NULL, source
		FROM offline_requests WHERE `+siteFilter+` ORDER BY id`, env.SiteKey)
	want := []string{
		fmt.Sprint([]string{"John Smith", "no@email.adr", "79251234567", "Hello, world!", "true", "10000.00", ids, "true", "api"}),
		fmt.Sprint([]string{"Ajax Person", "ajax@example.com", "79123456789", "Call me", "true", "10000.00", ids, "true", "api"}),
	}
	for i, w := range want {
		if fmt.Sprint(rows[i]) != w {
			t.Errorf("lead %d\n got %v\nwant %s", i, rows[i], w)
		}
	}
	noExceptions(t, tab)
}

// A page whose script loads before the queue is filled and one that pushes
// commands after load behave the same; reinitTrackView records a new hit in
// the same session.
func TestAcceptanceQueueAndSPA(t *testing.T) {
	env := startReal(t)
	pages := NewPageServer(t)
	cmds := func(tag string) string {
		return `__cs.push(["setProperty", ["roistat_id", "` + tag + `"]]); __cs.push(["trackEvent", "Queue", "` + tag + `"]);`
	}
	variants := map[string]string{
		"before": `<script>var __cs = __cs || []; __cs.push(["setCsAccount", "` + env.SiteKey + `"]);` + cmds("before") + `</script>` +
			`<script async src="` + env.Host + `/static/cs.min.js"></script>`,
		"after": `<script src="` + env.Host + `/static/cs.min.js"></script>` +
			`<script>var __cs = __cs || []; __cs.push(["setCsAccount", "` + env.SiteKey + `"]);` + cmds("after") + `</script>`,
	}
	for name, code := range variants {
		t.Run(name, func(t *testing.T) {
			tab := newTab(t)
			tab.Go(pages.Page("/q-"+name, embedPage(code, "")))
			c := waitBoot(tab)
			vid := int64(c["visitor_id"].(float64))
			env.waitRows(t, 1, `SELECT 1 FROM events WHERE visitor_id = $1 AND category = 'Queue' AND action = $2`, vid, name)
			env.waitRows(t, 1, `SELECT 1 FROM visitor_properties WHERE visitor_id = $1 AND name = 'roistat_id' AND value = $2`, vid, name)

			Eval[bool](tab, `history.pushState(null, '', '/q-`+name+`/step2'); Comagic.reinitTrackView(); true`)
			c2 := Wait[map[string]any](tab, `Comagic.getCredentials().hit_id !== `+jsNum(c["hit_id"])+` && Comagic.getCredentials()`, boot)
			if c2["session_id"] != c["session_id"] {
				t.Errorf("SPA navigation changed the session: %v -> %v", c["session_id"], c2["session_id"])
			}
			hits := env.rows(t, `SELECT url FROM hits WHERE session_id = $1 ORDER BY id`, int64(c["session_id"].(float64)))
			if len(hits) != 2 || hits[1][0] != pages.URL+"/q-"+name+"/step2" {
				t.Errorf("hits of the session %v", hits)
			}
			noExceptions(t, tab)
		})
	}
}

// The demo page, served by the server itself, works against it.
func TestAcceptanceDemoPage(t *testing.T) {
	env := startReal(t)
	tab := newTab(t)
	tab.Go(env.URL + "/demo/?k=" + env.SiteKey)
	c := waitBoot(tab)
	for _, call := range []string{"getCredentials", "trackEvent", "addOfflineRequest"} {
		tab.Run(chromedp.Click(chromedp.CSS(`button[data-call=` + call + `]`)))
	}
	out := Wait[string](tab, `(t => t.includes('addOfflineRequest →') && t)(document.getElementById('out').textContent)`, boot)
	if !strings.Contains(out, `"statusText": "OK"`) || !strings.Contains(out, `"site_key": "`+env.SiteKey+`"`) {
		t.Errorf("demo output:\n%s", out)
	}
	env.waitRows(t, 1, `SELECT 1 FROM events WHERE visitor_id = $1 AND category = 'Offer'`, int64(c["visitor_id"].(float64)))
	env.waitRows(t, 1, `SELECT 1 FROM offline_requests WHERE visitor_id = $1 AND form_name = 'Demo shop'`, int64(c["visitor_id"].(float64)))
	noExceptions(t, tab)
}
