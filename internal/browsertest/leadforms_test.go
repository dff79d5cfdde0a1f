package browsertest

// The default lead forms beyond call_generator's first test (issue 10, SPEC
// §10): the request form and the offer, on desktop; the mobile layout; exit
// intent; and a call at a later time offered from the site's working hours.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
)

// offlineMessageGeneratorSettings is a reference offline_message_generator
// settings object: four fields, the e-mail required, no groups.
const offlineMessageGeneratorSettings = `{"message": "Оставьте вопрос, и мы ответим в течение часа.",
	"button_text": "Отправить", "banner_color": "2E7D32", "button_color": "1C2430", "is_groups_enabled": false, "allowed_groups": null,
	"fields": [{"name": "name", "title": "Имя", "is_required": false}, {"name": "phone", "title": "Телефон", "is_required": false},
	{"name": "email", "title": "E-mail", "is_required": true}, {"name": "message", "title": "Вопрос", "is_required": false}]}`

// personalFormSettings is a reference personal_form settings object.
const personalFormSettings = `{"banner_title": "Скидка 10% сегодня", "banner_text": "Только для вас: промокод на первый заказ.",
	"button_text": "Получить скидку", "button_url": "https://shop.example/sale", "banner_color": "CFCCCC", "button_color": "43A400",
	"image_url": null, "allowed_groups": null, "group_title": 0, "fields": [], "available_connect_ways": ["sitephone", "chat", "offline_message"]}`

// leadSite starts the server with a site and returns it with its id and a
// page server; rules adds lead rules to it.
func leadSite(t *testing.T) (*widgetEnv, int64, *PageServer) {
	t.Helper()
	env := startWidgetEnv(t)
	var siteID int64
	if err := env.DB.QueryRow(context.Background(), `SELECT id FROM sites WHERE site_key = $1`, env.SiteKey).Scan(&siteID); err != nil {
		t.Fatal(err)
	}
	return env, siteID, NewPageServer(t)
}

func addLeadRules(t *testing.T, env *widgetEnv, rules ...comagic.LeadRule) {
	t.Helper()
	store := postgres.NewLeadRules(env.DB)
	for _, r := range rules {
		if _, err := store.Add(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// waitForm waits until the lead form of vc is on screen.
func waitForm(tab *Tab, vc string) {
	Wait[bool](tab, `(() => { const w = Comagic.UI && Comagic.UI.getWidget && Comagic.UI._env.started && Comagic.UI.getWidget('`+vc+`');
		return !!(w && w.el && w.isVisible() && w.el.getBoundingClientRect().height > 0); })()`, 15*time.Second)
}

func TestLeadForms_RequestAndOffer(t *testing.T) {
	env, siteID, pages := leadSite(t)
	env.srv.SetWidgetSettings(t, env.SiteKey, "offline_message_generator", "desktop", offlineMessageGeneratorSettings)
	env.srv.SetWidgetSettings(t, env.SiteKey, "personal_form", "desktop", personalFormSettings)
	addLeadRules(t, env,
		comagic.LeadRule{SiteID: siteID, Widget: "offline_message_generator", URLPattern: "/question"},
		comagic.LeadRule{SiteID: siteID, Widget: "personal_form", URLPattern: "/offer"})

	// The request form: the required e-mail is asked for, then the request
	// is stored with the visitor's texts as typed.
	tab := newTab(t)
	tab.Go(pages.Page("/question", embedPage(env.classic(), "<h1>Вопрос</h1>")))
	c := waitBoot(tab)
	waitForm(tab, "offline_message_generator")
	if got := Eval[string](tab, `document.querySelector('.cmgl-request').textContent`); !strings.Contains(got, "Оставьте вопрос, и мы ответим в течение часа.") {
		t.Errorf("the form does not show the settings' message: %q", got)
	}
	screenshot(t, tab, "lead-offline-message-generator")
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgl-om-name`), `Ольга <img src=x onerror="window.pwned=1">`),
		chromedp.Click(chromedp.CSS(`.cmgl [c-ref=submit]`)))
	Wait[bool](tab, `document.querySelector('#cmgl-om-email').getAttribute('aria-invalid') === 'true' && document.activeElement.id === 'cmgl-om-email'`, 5*time.Second)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgl-om-email`), "olga@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#cmgl-om-message`), "Есть ли доставка в Тулу?"),
		chromedp.Click(chromedp.CSS(`.cmgl [c-ref=submit]`)))
	Wait[bool](tab, `!document.querySelector('.cmgl [c-ref=done]').hidden`, 10*time.Second)
	got := env.waitRows(t, 1, `SELECT name, email, message, form_name, session_id FROM offline_requests WHERE `+siteFilter, env.SiteKey)
	want := fmt.Sprint([][]string{{`Ольга <img src=x onerror="window.pwned=1">`, "olga@example.com", "Есть ли доставка в Тулу?", "offline_message_generator", fmt.Sprint(int64(c["session_id"].(float64)))}})
	if fmt.Sprint(got) != want {
		t.Errorf("offline request %v, want %s", got, want)
	}
	if Eval[bool](tab, `!!window.pwned || !!document.querySelector('.cmgl img')`) {
		t.Error("the visitor's text became HTML")
	}
	noExceptions(t, tab)

	// The offer: its button is the link (opened by the click itself, in a new
	// tab) and records a submit (a lead); closing a second one records a cancel.
	offer := newTab(t)
	keep := `<script>window.opened = []; document.addEventListener('click', (e) => { const a = e.target.closest('a[target=_blank]');
		if (a) { opened.push(a.href); e.preventDefault(); } });</script>`
	offer.Go(pages.Page("/offer", embedPage(keep+env.classic(), "<h1>Акция</h1>")))
	oc := waitBoot(offer)
	waitForm(offer, "personal_form")
	screenshot(t, offer, "lead-personal-form")
	if got := Eval[string](offer, `document.querySelector('.cmgl [c-ref=submit]').textContent.trim()`); got != "Получить скидку" {
		t.Errorf("offer button %q", got)
	}
	offer.Run(chromedp.Click(chromedp.CSS(`.cmgl [c-ref=submit]`)))
	Wait[bool](offer, `opened.length === 1 && opened[0] === 'https://shop.example/sale' && Comagic.UI.getWidget('personal_form').isSubmitted()`, 10*time.Second)
	sid := fmt.Sprint(int64(oc["session_id"].(float64)))
	actions := env.waitRows(t, 2, `SELECT action, is_lead, session_id FROM lead_actions WHERE widget = 'personal_form' AND `+siteFilter+` ORDER BY id`, env.SiteKey)
	if want := fmt.Sprint([][]string{{"show", "false", sid}, {"submit", "true", sid}}); fmt.Sprint(actions) != want {
		t.Errorf("offer actions %v, want %s", actions, want)
	}
	noExceptions(t, offer)

	closer := newTab(t)
	closer.Go(pages.Page("/offer/2", embedPage(env.classic(), "<h1>Акция</h1>")))
	cc := waitBoot(closer)
	waitForm(closer, "personal_form")
	closer.Run(chromedp.Click(chromedp.CSS(`.cmgl [c-ref=close]`)))
	Wait[bool](closer, `!Comagic.UI.getWidget('personal_form').isVisible()`, 5*time.Second)
	csid := fmt.Sprint(int64(cc["session_id"].(float64)))
	actions = env.waitRows(t, 2, `SELECT action, session_id FROM lead_actions WHERE session_id = $2 AND `+siteFilter+` ORDER BY id`, env.SiteKey, csid)
	if want := fmt.Sprint([][]string{{"show", csid}, {"cancel", csid}}); fmt.Sprint(actions) != want {
		t.Errorf("closed offer actions %v, want %s", actions, want)
	}
}

// On a phone the lead form is a sheet at the bottom of the screen, as wide
// as the screen, with inputs large enough that the browser does not zoom.
func TestLeadForms_MobileLayout(t *testing.T) {
	env, siteID, pages := leadSite(t)
	env.srv.SetWidgetSettings(t, env.SiteKey, "offline_message_generator", "mobile", offlineMessageGeneratorSettings)
	addLeadRules(t, env, comagic.LeadRule{SiteID: siteID, Widget: "offline_message_generator"})
	tab := newTab(t)
	tab.Run(chromedp.Emulate(device.IPhone12))
	tab.Go(pages.Page("/m", embedPage(env.classic(), "<h1>Магазин</h1>")))
	waitBoot(tab)
	waitForm(tab, "offline_message_generator")
	// The sheet slides up; wait until it is in place.
	layout := Wait[map[string]any](tab, `(() => { const r = document.querySelector('.cmgl-card').getBoundingClientRect();
		const f = parseFloat(getComputedStyle(document.querySelector('#cmgl-om-email')).fontSize);
		return Math.abs(r.bottom - innerHeight) < 1 && {mobile: Comagic.getDeviceType(), wide: Math.round(r.width) === innerWidth, font: f >= 16, tall: r.height < innerHeight}; })()`, 5*time.Second)
	if fmt.Sprint(layout) != "map[font:true mobile:mobile tall:true wide:true]" {
		t.Errorf("mobile layout %v", layout)
	}
	screenshot(t, tab, "lead-offline-message-generator-mobile")
	noExceptions(t, tab)
}

// A rule with exit intent waits, after its time on the page, until the
// pointer leaves the window through the top.
func TestLeadForms_ExitIntent(t *testing.T) {
	env, siteID, pages := leadSite(t)
	env.srv.SetWidgetSettings(t, env.SiteKey, "call_generator", "desktop", callGeneratorSettings)
	addLeadRules(t, env, comagic.LeadRule{SiteID: siteID, Widget: "call_generator", MinTimeOnPage: 1, OnExit: true})
	tab := newTab(t)
	tab.Go(pages.Page("/exit", embedPage(leadPage+env.classic(), "<h1>Каталог</h1>")))
	waitBoot(tab)
	// The rule's second has passed and the pointer moves on the page: nothing.
	Wait[bool](tab, `!!(Comagic.UI._env && Comagic.UI._env.started) && performance.now() > 1500`, 15*time.Second)
	tab.Run(chromedp.MouseEvent(chromedp.MouseMoved, 300, 200), chromedp.MouseEvent(chromedp.MouseMoved, 300, 5))
	if Eval[float64](tab, `window.shownAt`) != 0 {
		t.Fatal("the form showed before the visitor made to leave")
	}
	// The pointer leaves through the top edge (as on the way to the tab bar).
	tab.Run(chromedp.MouseEvent(chromedp.MouseMoved, 300, -2))
	if Eval[float64](tab, `window.shownAt`) == 0 {
		// Headless Chromium may not report a pointer outside the viewport:
		// the browser's own event for it, as a real window sends it.
		Eval[bool](tab, `document.documentElement.dispatchEvent(new MouseEvent('mouseout', {bubbles: true, clientX: 300, clientY: -2, relatedTarget: null})), true`)
	}
	Wait[float64](tab, `window.shownAt`, 5*time.Second)
	if n := env.rows(t, `SELECT count(*) FROM lead_actions WHERE action = 'show' AND `+siteFilter, env.SiteKey); fmt.Sprint(n) != "[[1]]" {
		t.Errorf("shows logged %v, want 1", n)
	}
	noExceptions(t, tab)
}

// With working hours closed now, the default call_generator asks when to
// call, offering the next working day's times, and the callback is due then.
func TestLeadForms_CallLaterFromWorkingHours(t *testing.T) {
	env, siteID, pages := leadSite(t)
	ctx := context.Background()
	tomorrow := time.Now().AddDate(0, 0, 1)
	tz, hours := "UTC", strings.ToLower(tomorrow.UTC().Weekday().String()[:3])+" 09:00-12:00"
	if _, err := env.srv.App.Sites.UpdateSite(ctx, env.SiteKey, postgres.SiteOptions{TimeZone: &tz, CallSchedule: &hours}); err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(callGeneratorSettings, `"delayed_call_times": false`, `"delayed_call_times": false, "is_delayed_call_enabled": true,
		"inactive_schedule_banner_title": "Сейчас мы не работаем"`, 1)
	env.srv.SetWidgetSettings(t, env.SiteKey, "call_generator", "desktop", s)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(rcv.Close)
	env.rows(t, `INSERT INTO callback_scenarios (site_id, url, secret) VALUES ($1, $2, 'later-secret') RETURNING id`, siteID, rcv.URL)
	addLeadRules(t, env, comagic.LeadRule{SiteID: siteID, Widget: "call_generator"})

	tab := newTab(t)
	tab.Go(pages.Page("/later", embedPage(env.classic(), "<h1>Ночь</h1>")))
	waitBoot(tab)
	waitForm(tab, "call_generator")
	state := Eval[map[string]any](tab, `({title: document.querySelector('.cmgl-title').textContent,
		choice: document.querySelector('.cmgl-when__choice').hidden, pick: document.querySelector('.cmgl-when__pick').hidden,
		days: document.querySelectorAll('#cmgl-cg-date option:not([disabled])').length})`)
	if fmt.Sprint(state) != "map[choice:true days:1 pick:false title:Сейчас мы не работаем]" {
		t.Errorf("closed form %v", state)
	}
	screenshot(t, tab, "lead-call-generator-later")
	// Without a time the form says what is missing.
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgl-cg-phone`), "9101234567"), chromedp.Click(chromedp.CSS(`.cmgl-call .cmgl-button`)))
	Wait[bool](tab, `document.querySelector('#cmgl-cg-date').getAttribute('aria-invalid') === 'true'`, 5*time.Second)
	tab.Run(chromedp.SetValue(chromedp.CSS(`#cmgl-cg-date`), "0"))
	Eval[bool](tab, `document.querySelector('#cmgl-cg-date').dispatchEvent(new Event('change', {bubbles: true}))`)
	// 09:00 to 11:30 every half hour: the second offer is 09:30.
	times := Eval[[]string](tab, `Array.from(document.querySelectorAll('#cmgl-cg-time option:not([disabled])'), o => o.textContent.trim())`)
	if strings.Join(times, " ") != "09:00 09:30 10:00 10:30 11:00 11:30" && time.Now().Location() == time.UTC {
		t.Errorf("offered times %v", times)
	}
	if len(times) != 6 {
		t.Fatalf("offered times %v, want 6", times)
	}
	chosen := Eval[string](tab, `document.querySelectorAll('#cmgl-cg-time option')[2].value`)
	tab.Run(chromedp.SetValue(chromedp.CSS(`#cmgl-cg-time`), chosen))
	Eval[bool](tab, `document.querySelector('#cmgl-cg-time').dispatchEvent(new Event('change', {bubbles: true}))`)
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgl-call .cmgl-button`)))
	Wait[bool](tab, `!document.querySelector('.cmgl-done').hidden`, 10*time.Second)
	due := env.waitRows(t, 1, `SELECT (EXTRACT(epoch FROM due_at) * 1000)::bigint, source FROM callbacks WHERE `+siteFilter, env.SiteKey)
	if fmt.Sprint(due) != fmt.Sprint([][]string{{chosen, "call_generator"}}) {
		t.Errorf("callback %v, want due at %s", due, chosen)
	}
	noExceptions(t, tab)
}
