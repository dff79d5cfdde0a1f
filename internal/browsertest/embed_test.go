package browsertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

const boot = 10 * time.Second

// waitBoot waits until getCredentials() has a numeric hit_id.
func waitBoot(tab *Tab) map[string]any {
	tab.t.Helper()
	return Wait[map[string]any](tab, `window.Comagic && typeof Comagic.getCredentials().hit_id === 'number' && Comagic.getCredentials()`, boot)
}

func noExceptions(t *testing.T, tab *Tab) {
	t.Helper()
	if ex := tab.Exceptions(); len(ex) > 0 {
		t.Fatalf("uncaught exceptions: %q", ex)
	}
}

func TestEmbedGenerations(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	host := strings.TrimPrefix(api.URL, "http:")
	gens := map[string]string{
		"classic": api.classic(),
		"legacy-setHost": `<script>var __cs = __cs || []; __cs.push(["setAccount", "` + api.SiteKey + `"]); __cs.push(["setHost", "` + host + `/comagic"]);</script>` +
			`<script async src="` + host + `/comagic/static/cs.min.js"></script>`,
		"legacy-setCsHost": `<script>var __cs = __cs || []; __cs.push(["setAccount", "` + api.SiteKey + `"]); __cs.push(["setCsHost", "` + host + `/comagic"]);</script>` +
			`<script async src="` + host + `/static/cs.min.js"></script>`,
		"single-tag": `<script async src="` + host + `/static/cs.min.js?k=` + api.SiteKey + `"></script>`,
	}
	for name, code := range gens {
		t.Run(name, func(t *testing.T) {
			tab := newTab(t)
			before := len(api.Calls("bootstrap"))
			tab.Go(pages.Page("/"+name, embedPage(code, "<p>hello</p>")))
			c := waitBoot(tab)
			for _, k := range []string{"site_key", "key", "uri", "consultant_server_url"} {
				if s, ok := c[k].(string); !ok || s == "" {
					t.Errorf("%s = %#v, want a non-empty string", k, c[k])
				}
			}
			for _, k := range []string{"visitor_id", "session_id", "hit_id"} {
				if n, ok := c[k].(float64); !ok || n <= 0 {
					t.Errorf("%s = %#v, want a positive number", k, c[k])
				}
			}
			if c["site_key"] != api.SiteKey || !strings.HasSuffix(c["uri"].(string), "/") {
				t.Errorf("credentials %v", c)
			}
			cookies := Eval[string](tab, `document.cookie`)
			// <S> is the site's cookie_suffix from the bootstrap answer.
			idRe := regexp.MustCompile(`(^|; )_comagic_id(\w+)=(\d+)\.(\d+)\.(\d+)(;|$)`)
			m := idRe.FindStringSubmatch(cookies)
			if m == nil || m[3] != jsNum(c["visitor_id"]) || m[4] != jsNum(c["session_id"]) {
				t.Errorf("no _comagic_id<S> cookie of the form v.s.ts for %v in %q", c, cookies)
			} else if !regexp.MustCompile(`(^|; )_cmg_csst` + m[2] + `=\d+(;|$)`).MatchString(cookies) {
				t.Errorf("no _cmg_csst%s cookie in %q", m[2], cookies)
			}
			calls := api.Calls("bootstrap")[before:]
			if len(calls) != 1 {
				t.Fatalf("%d bootstrap requests, want 1", len(calls))
			}
			if !strings.HasPrefix(calls[0].CType, "text/plain") || calls[0].Origin != pages.URL {
				t.Errorf("bootstrap Content-Type %q, Origin %q", calls[0].CType, calls[0].Origin)
			}
			if calls[0].Body["url"] != pages.URL+"/"+name || calls[0].Body["title"] != "Test page" {
				t.Errorf("bootstrap body %v", calls[0].Body)
			}

			// The next page view sends the stored ids and key back.
			tab.Go(pages.URL + "/" + name + "?again")
			c2 := waitBoot(tab)
			last := api.Calls("bootstrap")
			b := last[len(last)-1].Body
			if b["visitor_id"] != c["visitor_id"] || b["session_id"] != c["session_id"] || b["key"] != c["key"] {
				t.Errorf("second page view sent %v, want the ids of %v", b, c)
			}
			if c2["visitor_id"] != c["visitor_id"] {
				t.Errorf("visitor changed: %v -> %v", c["visitor_id"], c2["visitor_id"])
			}
			noExceptions(t, tab)
		})
	}
}

// The queue behaves the same whether it was filled before the script loaded
// or commands were pushed after it.
func TestQueueBeforeAndAfterLoad(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	host := strings.TrimPrefix(api.URL, "http:")
	cmds := `
		__cs.push(["setDynamicalReplacement", true]);
		__cs.push(["setUIPhoneMaskFormat", "1 () __-__"]);
		__cs.push(["disableWidgets", false]);
		__cs.push(["applyWidgetsOptions", {personal_form: {desktop: {css: "//x/y.css"}}}]);
		__cs.push(["setProperty", ["roistat_id", "123"]]);
		__cs.push(["trackEvent", "Cat", "Act", "Name", "1"]);
		__cs.push(["addVisitorInfo", [{name: "Queue"}]]);`
	variants := map[string]string{
		"before": `<script>var __cs = __cs || []; __cs.push(["setCsAccount", "` + api.SiteKey + `"]);` + cmds + `</script>` +
			`<script src="` + host + `/static/cs.min.js"></script>`,
		"after": `<script src="` + host + `/static/cs.min.js"></script>` +
			`<script>var __cs = __cs || []; __cs.push(["setCsAccount", "` + api.SiteKey + `"]);` + cmds + `</script>`,
		"after-reassigned": `<script src="` + host + `/static/cs.min.js"></script>` +
			`<script>__cs = []; __cs.push(["setCsAccount", "` + api.SiteKey + `"]);` + cmds + `</script>`,
		"comagic-push": `<script src="` + host + `/static/cs.min.js"></script>` +
			`<script>Comagic.push(["setCsAccount", "` + api.SiteKey + `"]); var __cs = Comagic;` + cmds + `</script>`,
	}
	for name, code := range variants {
		t.Run(name, func(t *testing.T) {
			tab := newTab(t)
			n := len(api.Calls(""))
			tab.Go(pages.Page("/"+name, embedPage(code, "")))
			waitBoot(tab)
			Eventually(t, boot, func() error {
				if c := api.Calls("")[n:]; len(c) < 4 {
					return fmt.Errorf("%d API calls, want 4", len(c))
				}
				return nil
			})
			roundTrip(tab)
			var got []string
			for _, c := range api.Calls("")[n:] {
				got = append(got, c.Path)
			}
			if len(got) != 4 || got[0] != "bootstrap" {
				t.Fatalf("API calls %v, want bootstrap then property/set, event, visitor_info", got)
			}
			seen := map[string]map[string]any{}
			for _, c := range api.Calls("")[n+1:] {
				seen[c.Path] = c.Body
			}
			if b := seen["property/set"]; b == nil || b["name"] != "roistat_id" || b["value"] != "123" {
				t.Errorf("property/set body %v", b)
			}
			if b := seen["event"]; b == nil || b["category"] != "Cat" || b["action"] != "Act" || b["name"] != "Name" || b["value"] != "1" {
				t.Errorf("event body %v", b)
			}
			if b := seen["visitor_info"]; b == nil || b["name"] != "Queue" {
				t.Errorf("visitor_info body %v", b)
			}
			for _, w := range tab.Logged("warning") {
				t.Errorf("unexpected warning: %s", w)
			}
			noExceptions(t, tab)
		})
	}
}

func TestDoubleLoadTracksOnce(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	host := strings.TrimPrefix(api.URL, "http:")
	tab := newTab(t)
	tab.Go(pages.Page("/double", embedPage(api.classic()+
		`<script async src="`+host+`/static/cs.min.js"></script>`+
		`<script defer src="`+host+`/static/cs.min.js?k=`+api.SiteKey+`"></script>`, "")))
	waitBoot(tab)
	// Every copy of the script has run once the page has loaded.
	Wait[bool](tab, `document.readyState === 'complete'`, boot)
	roundTrip(tab)
	if n := len(api.Calls("bootstrap")); n != 1 {
		t.Fatalf("%d bootstrap requests for a page that loads the script three times, want 1", n)
	}
	noExceptions(t, tab)
}

func TestPropertiesCachedAndShapes(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	tab.Go(pages.Page("/props", embedPage(api.classic(), "")))
	waitBoot(tab)
	// The widely pasted loop: set and check every 100 ms, forever.
	res := Eval[[]map[string]any](tab, `new Promise(done => {
		const out = [];
		let n = 0;
		const iv = setInterval(() => {
			Comagic.setProperty('roistat', 'abc');
			Comagic.hasProperty('roistat', r => { out.push(r); if (++n === 15) { clearInterval(iv); done(out); } });
		}, 100);
	})`)
	for _, r := range res {
		if r["success"] != true || r["result"] != true {
			t.Fatalf("hasProperty callback %v, want {success: true, result: true}", r)
		}
	}
	if n := len(api.Calls("property/set")); n != 1 {
		t.Errorf("%d property/set requests for 15 identical setProperty calls, want 1", n)
	}
	if n := len(api.Calls("property/has")); n != 0 {
		t.Errorf("%d property/has requests after setProperty, want 0", n)
	}

	got := Eval[map[string]any](tab, `new Promise(done => {
		const r = {};
		Comagic.setProperty('flag');
		Comagic.getProperty('flag', a => { r.flag = a;
		Comagic.getProperty('roistat', b => { r.value = b;
		Comagic.getProperty('absent', c => { r.absent = c;
		Comagic.hasProperty('absent', d => { r.hasAbsent = d;
		Comagic.deleteProperty('roistat');
		Comagic.hasProperty('roistat', e => { r.deleted = e; done(r); }); }); }); }); });
	})`)
	want := `{"absent":{"result":false,"success":true},"deleted":{"result":false,"success":true},"flag":{"result":true,"success":true},"hasAbsent":{"result":false,"success":true},"value":{"result":"abc","success":true}}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("callbacks\n got %s\nwant %s", b, want)
	}
	if n := len(api.Calls("property/get")); n != 1 {
		t.Errorf("%d property/get requests, want 1 (only 'absent' is unknown)", n)
	}
	Eventually(t, boot, func() error {
		if n := len(api.Calls("property/delete")); n == 0 {
			return errors.New("no property/delete request")
		}
		return nil
	})
	roundTrip(tab)
	if n := len(api.Calls("property/delete")); n != 1 {
		t.Errorf("%d property/delete requests, want 1", n)
	}
	noExceptions(t, tab)
}

func TestOfflineRequestCallbackIsObjectAndXHR(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	tab.Go(pages.Page("/lead", embedPage(api.classic(), "")))
	waitBoot(tab)
	ok := Eval[map[string]any](tab, `new Promise(done => Comagic.addOfflineRequest({name: 'My Name Is', city: 'Omsk'}, o => done({
		success: o.success, result: o.result, parsed: JSON.parse(o.response).success, text: JSON.parse(o.responseText).success,
		status: o.status, statusText: o.statusText, readyState: o.readyState})))`)
	want := map[string]any{"success": true, "result": nil, "parsed": true, "text": true, "status": 200.0, "statusText": "OK", "readyState": 4.0}
	for k, v := range want {
		if ok[k] != v {
			t.Errorf("%s = %#v, want %#v", k, ok[k], v)
		}
	}
	calls := api.Calls("offline_request")
	if len(calls) != 1 || calls[0].Body["city"] != "Omsk" || calls[0].Body["hit_id"] == nil {
		t.Fatalf("offline_request calls %v", calls)
	}
	bad := Eval[map[string]any](tab, `new Promise(done => Comagic.addOfflineRequest({city: 'no contact, no text'}, o => done({
		success: o.success, code: o.error && o.error.code, status: o.status, readyState: o.readyState, parsed: JSON.parse(o.response).success})))`)
	if bad["success"] != false || bad["code"] != "invalid" || bad["status"] != 400.0 || bad["readyState"] != 4.0 || bad["parsed"] != false {
		t.Errorf("error callback %v", bad)
	}
	noExceptions(t, tab)
}

func TestReinitTrackViewAndEvents(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	tab.Go(pages.Page("/spa", embedPage(api.classic(), "")))
	c1 := waitBoot(tab)
	Eval[bool](tab, `history.pushState(null, '', '/spa/page2'); Comagic.reinitTrackView(); true`)
	c2 := Wait[map[string]any](tab, `Comagic.getCredentials().hit_id !== `+jsNum(c1["hit_id"])+` && Comagic.getCredentials()`, boot)
	if c2["session_id"] != c1["session_id"] || c2["visitor_id"] != c1["visitor_id"] {
		t.Errorf("reinitTrackView changed the session: %v -> %v", c1, c2)
	}
	hits := api.Calls("hit")
	if len(hits) != 1 || hits[0].Body["url"] != pages.URL+"/spa/page2" || hits[0].Body["referrer"] != pages.URL+"/spa" {
		t.Fatalf("hit calls %v", hits)
	}
	Eval[bool](tab, `Comagic.trackEvent('Offer', 'DownloadBook', 'CallTrackingBook', 'value'); Comagic.trackEvent('only-category'); true`)
	Eventually(t, boot, func() error {
		if len(api.Calls("event")) == 0 {
			return errors.New("no event call")
		}
		return nil
	})
	roundTrip(tab) // a second event would have arrived by now
	events := api.Calls("event")
	if len(events) != 1 || events[0].Body["hit_id"] != c2["hit_id"] || events[0].Body["category"] != "Offer" {
		t.Fatalf("event calls %v (want one, for the new hit)", events)
	}
	if w := strings.Join(tab.Logged("warning"), "\n"); !strings.Contains(w, "category and action are required") {
		t.Errorf("no warning for trackEvent without action; warnings: %s", w)
	}
	noExceptions(t, tab)
}

func jsNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
