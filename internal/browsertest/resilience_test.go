package browsertest

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Pages that patch Array.prototype and JSON (old Prototype.js, MooTools and
// home-made polyfills) must not break the script.
func TestSurvivesPagePolyfills(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	polyfills := `<script>
		Array.prototype.each = function () {};             // enumerable, breaks for..in over arrays
		Array.prototype.toJSON = function () { return 'broken'; };
		Object.prototype.injected = 1;                      // enumerable on every object
		String.prototype.toJSON = function () { return 'broken'; };
		JSON.stringify = function () { return '{"broken":true}'; };
		JSON.parse = function () { throw new Error('JSON.parse is broken'); };
	</script>`
	tab.Go(pages.Page("/poly", embedPage(polyfills+api.classic(), "")))
	c := waitBoot(tab)
	if c["site_key"] != api.SiteKey {
		t.Fatalf("credentials %v", c)
	}
	Eval[bool](tab, `Comagic.trackEvent('Poly', 'Fill', 'name'); Comagic.addOfflineRequest({name: 'Ann', items: ['a', 'b']}); true`)
	Eventually(t, boot, func() error {
		if len(api.Calls("event")) == 0 || len(api.Calls("offline_request")) == 0 {
			return errors.New("event or offline_request not sent")
		}
		return nil
	})
	if b := api.Calls("event")[0].Body; b["category"] != "Poly" || b["action"] != "Fill" {
		t.Errorf("event body %v", b)
	}
	items, _ := api.Calls("offline_request")[0].Body["items"].([]any)
	if len(items) != 2 || items[0] != "a" {
		t.Errorf("offline_request items %v", api.Calls("offline_request")[0].Body["items"])
	}
	noExceptions(t, tab)
}

// A strict CSP that allows our host (and a nonce for the inline embed code)
// is all the script needs: no eval, no inline styles, no other origins.
func TestStrictCSP(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	csp := "default-src 'none'; script-src 'nonce-t3st' " + api.URL + "; connect-src " + api.URL + "; img-src " + api.URL + "; style-src " + api.URL + "; base-uri 'none'; form-action 'self'"
	code := strings.Replace(api.classic(), "<script>", "<script nonce=t3st>", 1)
	listen := `<script nonce=t3st>window.violations = []; document.addEventListener('securitypolicyviolation', e => violations.push(e.violatedDirective + ' ' + e.blockedURI));</script>`
	tab.Go(pages.Page("/csp", embedPage(listen+code, ""), "Content-Security-Policy", csp))
	waitBoot(tab)
	Eval[bool](tab, `Comagic.trackEvent('a', 'b'); Comagic.storage.setItem('x', {y: [1]}); Comagic.getDeviceType(); true`)
	Eventually(t, boot, func() error {
		if len(api.Calls("event")) == 0 {
			return errors.New("the event did not reach the server")
		}
		return nil
	})
	roundTrip(tab)
	if v := Eval[[]string](tab, `window.violations`); len(v) > 0 {
		t.Fatalf("CSP violations: %q", v)
	}
	noExceptions(t, tab)
}

// With the server down or answering 500, the host page's own script keeps
// running and nothing uncaught reaches the console; callbacks get failures.
func TestServerDownOr500(t *testing.T) {
	pageScript := `<script>
		window.results = {};
		Comagic.hasProperty('p', r => results.has = r);
		Comagic.getProperty('p', r => results.get = r);
		Comagic.addVisitorInfo({name: 'x'}, r => results.info = r);
		Comagic.addOfflineRequest({name: 'x'}, r => results.lead = {success: r.success, status: r.status, readyState: r.readyState});
		Comagic.trackEvent('a', 'b');
		Comagic.setProperty('s', 'v');
		Comagic.deleteProperty('d');
		Comagic.reinitTrackView();
		results.creds = Comagic.getCredentials();
		results.ops = Comagic.getOperatorStatus();
		window.pageScriptRan = true;
	</script>`
	check := func(t *testing.T, tab *Tab) {
		Wait[bool](tab, `window.pageScriptRan === true`, boot)
		r := Wait[map[string]any](tab, `window.results.has && window.results.get && window.results.lead && window.results`, 15*time.Second)
		for _, k := range []string{"has", "get", "lead"} {
			if m, _ := r[k].(map[string]any); m == nil || m["success"] != false {
				t.Errorf("%s callback %v, want success false", k, r[k])
			}
		}
		if lead := r["lead"].(map[string]any); lead["readyState"] != 4.0 {
			t.Errorf("lead callback %v, want readyState 4", lead)
		}
		if c := r["creds"].(map[string]any); c["hit_id"] != "" {
			t.Errorf("credentials before bootstrap %v, want empty hit_id", c)
		}
		if r["ops"] != false {
			t.Errorf("getOperatorStatus() = %v", r["ops"])
		}
		noExceptions(t, tab)
	}

	t.Run("500", func(t *testing.T) {
		api := newFakeAPI(t)
		api.setFail(500)
		pages := NewPageServer(t)
		tab := newTab(t)
		tab.Go(pages.Page("/500", embedPage(`<script src="`+api.URL+`/static/cs.min.js?k=`+api.SiteKey+`"></script>`+pageScript, "")))
		check(t, tab)
		// The bootstrap is retried with backoff; once the server recovers, the
		// queued non-interactive calls go out.
		api.setFail(0)
		Wait[bool](tab, `typeof Comagic.getCredentials().hit_id === 'number'`, 20*time.Second)
		Eventually(t, boot, func() error {
			if len(api.Calls("event")) == 0 || len(api.Calls("property/set")) == 0 || len(api.Calls("visitor_info")) == 0 {
				return fmt.Errorf("queued calls not sent after recovery: %d events, %d sets, %d visitor infos",
					len(api.Calls("event")), len(api.Calls("property/set")), len(api.Calls("visitor_info")))
			}
			return nil
		})
		if n := len(api.Calls("bootstrap")); n < 2 {
			t.Errorf("%d bootstrap attempts, want retries", n)
		}
		noExceptions(t, tab)
	})

	t.Run("down", func(t *testing.T) {
		api := newFakeAPI(t)
		pages := NewPageServer(t)
		// Serve the script from the page origin, but point the API at a closed port.
		port := FreePort(t)
		tab := newTab(t)
		tab.Go(pages.Page("/down", embedPage(`<script>var __cs = [["setCsAccount", "`+api.SiteKey+`"], ["setHost", "//127.0.0.1:`+strconv.Itoa(port)+`"]];</script>`+
			`<script src="`+api.URL+`/static/cs.min.js"></script>`+pageScript, "")))
		check(t, tab)
	})
}

// Methods of widgets the site has not enabled say so in the console.
func TestDisabledFeaturesWarn(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	tab.Go(pages.Page("/off", embedPage(api.classic(), "")))
	waitBoot(tab)
	r := Eval[map[string]any](tab, `new Promise(done => {
		Comagic.openChatWindow(); Comagic.openSiteRequestPanel(); Comagic.openSitePhonePanel();
		ComagicWidget.openSitePhonePanel();
		const phones = Comagic.getPhones(), dt = Comagic.getDTPhones(), replaced = Comagic.getReplacedPhones();
		Comagic.UI.registerViewController("consultant", () => {});
		ComagicWidget.sitePhoneCall({phone: '79101234567'}, resp => done({resp, phones, dt, replaced}));
	})`)
	resp, _ := r["resp"].(map[string]any)
	// The site has no callback scenario: status 2.
	if res, _ := resp["result"].(map[string]any); resp == nil || resp["success"] != false || res["status"] != 2.0 {
		t.Errorf("sitePhoneCall callback %v, want success false, status 2", r["resp"])
	}
	// A site that replaces no number: the getters answer empty (calltracking_test.go covers the rest).
	if fmt.Sprint(r["phones"], r["dt"], r["replaced"]) != "[] <nil> map[]" {
		t.Errorf("phone getters without numbers: %v %v %v", r["phones"], r["dt"], r["replaced"])
	}
	warnings := strings.Join(tab.Logged("warning"), "\n")
	for _, name := range []string{"Comagic.openChatWindow", "Comagic.openSiteRequestPanel", "Comagic.openSitePhonePanel", "ComagicWidget.openSitePhonePanel"} {
		if !strings.Contains(warnings, name+"(): ") || !strings.Contains(warnings, "disabled for this site") {
			t.Errorf("no 'disabled' warning for %s in:\n%s", name, warnings)
		}
	}
	noExceptions(t, tab)
}

// The script adds no globals beyond the documented ones.
func TestGlobals(t *testing.T) {
	api := newFakeAPI(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	tab.Go(pages.Page("/globals", embedPage(`<script>window.before = Object.getOwnPropertyNames(window);</script>`+
		`<script src="`+api.URL+`/static/cs.min.js?k=`+api.SiteKey+`"></script>`, "")))
	waitBoot(tab)
	added := Eval[[]string](tab, `Object.getOwnPropertyNames(window).filter(k => !before.includes(k) && k !== 'before')`)
	sort.Strings(added)
	want := "Comagic ComagicWidget __cs __cs_onReplacePhones"
	if got := strings.Join(added, " "); got != want {
		t.Errorf("new globals %q, want %q", got, want)
	}
	if Eval[bool](tab, `__cs_onReplacePhones([]) === true && Comagic.getDeviceType() === 'desktop' && Comagic.storage.getItem('nope') === null`) != true {
		t.Error("defaults wrong")
	}
}
