package browsertest

// Lead generators in real Chromium (issue 10, SPEC §10): the bootstrap's
// lead rules show the default call_generator at the right time, a submit in
// one tab hides the form in another tab of the visitor (leadhide), the
// callback is ordered with source call_generator, and the lead action log
// matches what the visitor did.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
)

// callGeneratorSettings is the reference call_generator settings object
// without groups.
const callGeneratorSettings = `{"image_url": null, "allowed_groups": [], "group_title": "Группы", "fields": [],
	"delayed_call_times": false, "is_schedule_active": true, "banner_color": "FFD441", "id": 5217,
	"banner_text": "Мы ценим Ваше время и готовы помочь найти нужную Вам информацию.",
	"banner_title": "Хотите, мы перезвоним в течение минуты?", "button_color": "43A400",
	"button_text": "Жду звонка", "is_groups_enabled": false}`

// sameContextTab opens another tab in tab's browser context: the same
// cookies and localStorage, as a visitor's second tab has.
func sameContextTab(t *testing.T, tab *Tab) *Tab {
	t.Helper()
	other := &Tab{t: t}
	ctx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithListener(other.listen))
	t.Cleanup(cancel)
	other.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a second tab: %v", err)
	}
	return other
}

// leadPage records when a lead form first became visible on the page
// (performance.now(), so milliseconds since the navigation started).
const leadPage = `<script>
window.shownAt = 0;
new MutationObserver(() => {
  const el = document.querySelector('.cmgl');
  if (!window.shownAt && el && !el.classList.contains('comagic-widget--hidden')) window.shownAt = performance.now();
}).observe(document.documentElement, {childList: true, subtree: true, attributes: true, attributeFilter: ['class']});
</script>`

func TestLeadgen_RuleShowsFormAndTabsAgree(t *testing.T) {
	env := startWidgetEnv(t)
	pages := NewPageServer(t)
	ctx := context.Background()
	var siteID int64
	if err := env.DB.QueryRow(ctx, `SELECT id FROM sites WHERE site_key = $1`, env.SiteKey).Scan(&siteID); err != nil {
		t.Fatal(err)
	}
	env.srv.SetWidgetSettings(t, env.SiteKey, "call_generator", "desktop", callGeneratorSettings)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(rcv.Close)
	env.rows(t, `INSERT INTO callback_scenarios (site_id, url, secret) VALUES ($1, $2, 'leadgen-test-secret') RETURNING id`, siteID, rcv.URL)
	rules := postgres.NewLeadRules(env.DB)
	for _, page := range []string{"/lead/a", "/lead/b"} {
		if _, err := rules.Add(ctx, comagic.LeadRule{SiteID: siteID, Widget: "call_generator", MinTimeOnPage: 1, URLPattern: page}); err != nil {
			t.Fatal(err)
		}
	}
	// A rule of another page and a rule of a form without settings show nothing.
	if _, err := rules.Add(ctx, comagic.LeadRule{SiteID: siteID, Widget: "call_generator", URLPattern: "/elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Add(ctx, comagic.LeadRule{SiteID: siteID, Widget: "personal_form"}); err != nil {
		t.Fatal(err)
	}

	a := newTab(t)
	a.Go(pages.Page("/lead/a", embedPage(leadPage+env.classic(), "<h1>A</h1>")))
	c := waitBoot(a)
	// The form shows, and not before a second on the page.
	shownAt := Wait[float64](a, `window.shownAt`, 15*time.Second)
	if shownAt < 1000 {
		t.Fatalf("the form showed %.0f ms after the navigation, before the rule's 1 s", shownAt)
	}
	if got := Eval[string](a, `document.querySelector('.cmgl-title').textContent`); got != "Хотите, мы перезвоним в течение минуты?" {
		t.Errorf("title %q", got)
	}
	if n := Eval[int](a, `document.querySelectorAll('.cmgl').length`); n != 1 {
		t.Errorf("%d lead forms on the page, want 1", n)
	}

	b := sameContextTab(t, a)
	b.Go(pages.Page("/lead/b", embedPage(leadPage+env.classic(), "<h1>B</h1>")))
	cb := waitBoot(b)
	if cb["session_id"] != c["session_id"] {
		t.Fatalf("the second tab is in session %v, want %v", cb["session_id"], c["session_id"])
	}
	if at := Wait[float64](b, `window.shownAt`, 15*time.Second); at < 1000 {
		t.Fatalf("tab B: the form showed after %.0f ms", at)
	}
	Eval[bool](b, `(() => { const w = Comagic.UI.getWidget('call_generator'); window.hid = 0; w.on('leadhide', () => window.hid++); return true; })()`)

	// The visitor orders the call in tab A through the form.
	a.Run(chromedp.SendKeys(chromedp.CSS(`#cmgl-cg-phone`), "9101234567"), chromedp.Click(chromedp.CSS(`.cmgl-call .cmgl-button`)))
	done := Wait[string](a, `(() => { const d = document.querySelector('.cmgl-done'); return d && !d.hidden && d.textContent.trim(); })()`, 15*time.Second)
	t.Logf("tab A after submit: %q", done)
	// Tab B gets leadhide and hides its form; A's form stays until closed.
	Wait[bool](b, `window.hid === 1 && !Comagic.UI.getWidget('call_generator').isVisible() && document.querySelector('.cmgl').classList.contains('comagic-widget--hidden')`, 15*time.Second)
	if !Eval[bool](a, `Comagic.UI.getWidget('call_generator').isVisible() && Comagic.UI.getWidget('call_generator').isSubmitted()`) {
		t.Error("tab A: the submitted form is not visible or not submitted")
	}

	calls := env.waitRows(t, 1, `SELECT phone, source, session_id FROM callbacks WHERE `+siteFilter, env.SiteKey)
	if want := fmt.Sprint([][]string{{"+79101234567", "call_generator", fmt.Sprint(int64(c["session_id"].(float64)))}}); fmt.Sprint(calls) != want {
		t.Errorf("callbacks %v, want %s", calls, want)
	}
	actions := env.waitRows(t, 3, `SELECT widget, action, session_id FROM lead_actions WHERE `+siteFilter+` ORDER BY action, id`, env.SiteKey)
	sid := fmt.Sprint(int64(c["session_id"].(float64)))
	want := fmt.Sprint([][]string{{"call_generator", "show", sid}, {"call_generator", "show", sid}, {"call_generator", "submit", sid}})
	if fmt.Sprint(actions) != want {
		t.Errorf("lead actions %v, want %s", actions, want)
	}

	// Closing the handled form records no cancel. A new page of the session
	// shows no form: the handled session blocks the rules.
	a.Run(chromedp.Click(chromedp.CSS(`.cmgl-done .cmgl-button`)))
	Wait[bool](a, `!Comagic.UI.getWidget('call_generator').isVisible()`, 5*time.Second)
	a.Go(pages.Page("/lead/a2", embedPage(leadPage+env.classic(), "<h1>A again</h1>"))) // the rule of /lead/a matches
	waitBoot(a)
	// Positive signal first: the framework ran and the rule's second passed.
	Wait[bool](a, `!!(Comagic.UI.getWidget && Comagic.UI._env.leadHandled) && performance.now() > 2500`, 15*time.Second)
	if at := Eval[float64](a, `window.shownAt`); at != 0 {
		t.Errorf("a form showed again in the handled session after %.0f ms", at)
	}
	if got := env.rows(t, `SELECT count(*) FROM lead_actions WHERE `+siteFilter, env.SiteKey); fmt.Sprint(got) != "[[3]]" {
		t.Errorf("lead actions after the new page: %v, want 3", got)
	}
	noExceptions(t, a)
	noExceptions(t, b)
}
