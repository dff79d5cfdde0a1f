package browsertest

// Sitephone in real Chromium (issue 10): ComagicWidget.sitePhoneCall and its
// aliases against the real server's callback endpoint, the popup shown when
// the page gives no callback, and the default sitephone widget (label,
// panel, groups, call time, captcha, consent, the outcome) on desktop and on
// a phone.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/comagicd/comagicd/internal/captcha"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

type sitephoneEnv struct {
	*widgetEnv
	pages  *PageServer
	siteID int64
}

// startSitephoneEnv starts the server with a site whose sitephone settings
// are settings (desktop and mobile) and, with scenario, a default callback
// scenario posting to a receiver that answers 200.
func startSitephoneEnv(t *testing.T, settings map[string]any, scenario bool) *sitephoneEnv {
	t.Helper()
	env := &sitephoneEnv{widgetEnv: startWidgetEnv(t), pages: NewPageServer(t)}
	ctx := context.Background()
	if err := env.DB.QueryRow(ctx, `SELECT id FROM sites WHERE site_key = $1`, env.SiteKey).Scan(&env.siteID); err != nil {
		t.Fatal(err)
	}
	if settings != nil {
		b, err := json.Marshal(settings)
		if err != nil {
			t.Fatal(err)
		}
		env.srv.SetWidgetSettings(t, env.SiteKey, "sitephone", "desktop", string(b))
		env.srv.SetWidgetSettings(t, env.SiteKey, "sitephone", "mobile", string(b))
	}
	if scenario {
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
		t.Cleanup(rcv.Close)
		env.rows(t, `INSERT INTO callback_scenarios (site_id, url, secret) VALUES ($1, $2, 'sitephone-test-secret') RETURNING id`, env.siteID, rcv.URL)
	}
	return env
}

// sitephoneSettings is the reference sitephone settings object (captcha,
// groups, call times and consent off), changed by mod.
func sitephoneSettings(mod func(s map[string]any)) map[string]any {
	s := map[string]any{
		"group_title": "Группы", "allowed_groups": nil, "is_groups_enabled": false, "is_always_displayed": true,
		"delayed_call_times": nil, "title": "Обратный звонок", "is_captcha_enabled": nil, "is_animation_enabled": true,
		"banner_color": "43A400", "h_position": "right", "v_position": "bottom", "is_visible": true,
		"is_analytics_enabled": true, "is_button_displayed": true, "is_schedule_active": true, "is_rich_functional": true,
		"is_personal_info_enabled": false, "personal_info_text": "Согласен с обработкой персональных данных",
	}
	if mod != nil {
		mod(s)
	}
	return s
}

// knownCaptchas makes n captchas of the site whose answer is digits, with
// the server's secret, as the server would; the page hands them to the
// widget in place of the random ones.
func knownCaptchas(t *testing.T, env *sitephoneEnv, digits string, n int) []string {
	t.Helper()
	svc, err := captcha.NewService(postgres.NewCaptchas(env.DB), captcha.Options{Secret: []byte(testenv.Secret), Digits: func() string { return digits }})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, n)
	for i := range keys {
		if keys[i], err = svc.New(context.Background(), env.siteID); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// callAnswer checks a sitePhoneCall callback argument: {success, result: {status, code}}.
func callAnswer(t *testing.T, what string, v any) (bool, float64, string) {
	t.Helper()
	m, _ := v.(map[string]any)
	res, _ := m["result"].(map[string]any)
	ok, okB := m["success"].(bool)
	st, stN := res["status"].(float64)
	code, _ := res["code"].(string)
	if m == nil || res == nil || !okB || !stN || st < 0 || st > 4 || st != float64(int(st)) {
		t.Fatalf("%s: callback got %v, want {success, result: {status 0..4, code}}", what, v)
	}
	return ok, st, code
}

// sitePhoneCall with a callback gets the server's answer; the forms seen in
// the wild never throw and all get an answer; without a callback the
// visitor sees the popup.
func TestSitephone_CallFromPage(t *testing.T) {
	env := startSitephoneEnv(t, sitephoneSettings(nil), true)
	tab := newTab(t)
	tab.Go(env.pages.Page("/call", embedPage(env.classic(), "<p>Страница</p>")))
	waitBoot(tab)

	r := Eval[map[string]any](tab, `new Promise(done => ComagicWidget.sitePhoneCall({phone: '79101234567'}, done))`)
	if ok, st, _ := callAnswer(t, "sitePhoneCall", r); !ok || st != 0 {
		t.Fatalf("sitePhoneCall: %v, want success and status 0", r)
	}
	rows := env.waitRows(t, 1, `SELECT phone, source FROM callbacks WHERE site_id = $1`, env.siteID)
	if !reflect.DeepEqual(rows, [][]string{{"+79101234567", "sitephone"}}) {
		t.Fatalf("stored callbacks %v", rows)
	}

	// Every parameter form answers through the callback; none throws.
	forms := Eval[map[string]any](tab, `(async () => {
		const call = (fn, p) => new Promise(done => { const threw = (() => { try { fn(p, done); return false; } catch (e) { return String(e); } })(); if (threw) done({threw}); });
		const trap = {}; Object.defineProperty(trap, 'phone', {enumerable: true, get() { throw new Error('page getter'); }});
		const later = Date.now() + 3600e3;
		return {
			masked: await call(ComagicWidget.sitephoneCall, {phone: '+7 (495) 123-45-67', group_id: '', delayed_call_time: '0', captcha_key: '', captcha_value: ''}),
			eight: await call(Comagic.sitePhoneCall, {phone: '8 495 1234567', group_id: null, delayed_call_time: String(later)}),
			zero: await call(ComagicWidget.sitePhoneCall, {phone: '74951234568', group_id: 0, delayed_call_time: null}),
			number: await call(ComagicWidget.sitePhoneCall, {phone: 74951234569}),
			bool: await call(ComagicWidget.sitePhoneCall, {phone: true}),
			object: await call(Comagic.sitePhoneCall, {phone: {n: 1}, group_id: {}}),
			nothing: await call(ComagicWidget.sitePhoneCall, null),
			text: await call(ComagicWidget.sitePhoneCall, 'call me'),
			getter: await call(ComagicWidget.sitePhoneCall, trap),
		};
	})()`)
	for name, want := range map[string]float64{"number": 0, "masked": 0, "eight": 0, "zero": 0, "bool": 3, "object": 3, "nothing": 3, "text": 3, "getter": 3} {
		ok, st, code := callAnswer(t, name, forms[name])
		if name == "number" {
			continue // a number as phone gets an answer; which one is the server's to say
		}
		if st != want || ok != (want == 0) {
			t.Errorf("%s: %v, want status %v", name, forms[name], want)
		}
		if st == 3 && code == "" {
			t.Errorf("%s: status 3 without a code: %v", name, forms[name])
		}
	}
	if _, _, code := callAnswer(t, "bool", forms["bool"]); code != "invalid_phone" {
		t.Errorf("a boolean phone: %v, want code invalid_phone", forms["bool"])
	}
	rows = env.waitRows(t, 4, `SELECT phone FROM callbacks WHERE site_id = $1 ORDER BY id`, env.siteID)
	if got := fmt.Sprint(rows[:4]); got != "[[+79101234567] [+74951234567] [+74951234567] [+74951234568]]" {
		t.Errorf("stored phones %s", got)
	}

	// No callback (or not a function): the popup says how it went, as text.
	Eval[bool](tab, `ComagicWidget.sitePhoneCall({phone: '<b>x</b>'}, 'not a function'); true`)
	Wait[bool](tab, `(() => { const p = document.querySelector('.comagic-call-popup'); return !!p && p.textContent === 'Звонок не заказан' + Comagic.UI.C.CALL_FAILED.message + 'OK'; })()`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`.comagic-call-popup__close`)))
	Wait[bool](tab, `!document.querySelector('.comagic-call-popup')`, boot)
	Eval[bool](tab, `Comagic.sitePhoneCall({phone: '79101234570'}); true`)
	Wait[bool](tab, `(() => { const p = document.querySelector('.comagic-call-popup'); return !!p && p.querySelector('.comagic-call-popup__title').textContent === 'Звонок заказан'; })()`, boot)
	noExceptions(t, tab)
}

// A server that cannot be reached: the callback gets status 3, code network.
func TestSitephone_CallNetworkFailure(t *testing.T) {
	env := startWidgetEnv(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	port := FreePort(t)
	tab.Go(pages.Page("/down", embedPage(`<script>var __cs = [["setCsAccount", "`+env.SiteKey+`"], ["setHost", "//127.0.0.1:`+strconv.Itoa(port)+`"]];</script>`+
		`<script src="`+env.URL+`/static/cs.min.js"></script>`, "")))
	r := Eval[map[string]any](tab, `new Promise(done => ComagicWidget.sitePhoneCall({phone: '79101234567'}, done))`)
	if !reflect.DeepEqual(r, map[string]any{"success": false, "result": map[string]any{"status": 3.0, "code": "network"}}) {
		t.Fatalf("sitePhoneCall with the server down: %v", r)
	}
	noExceptions(t, tab)
}

// The default widget orders a callback: label, panel, validation, group,
// a call at a later time, consent, a wrong captcha (status 1, a new
// picture) and then the right one (status 0).
func TestSitephone_DefaultWidget(t *testing.T) {
	env := startSitephoneEnv(t, nil, true)
	ctx := context.Background()
	var account string
	if err := env.DB.QueryRow(ctx, `SELECT a.name FROM accounts a JOIN sites s ON s.account_id = a.id WHERE s.site_key = $1`, env.SiteKey).Scan(&account); err != nil {
		t.Fatal(err)
	}
	var groups []map[string]any
	for _, name := range []string{"Продажи", "Сервис"} {
		g, err := env.srv.App.Employees.CreateGroup(ctx, account, name)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, map[string]any{"id": g.ID, "name": name})
	}
	tomorrow := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
	slots := []any{tomorrow.UnixMilli(), strconv.FormatInt(tomorrow.Add(30*time.Minute).UnixMilli(), 10)}
	s := sitephoneSettings(func(s map[string]any) {
		s["is_captcha_enabled"] = true
		s["is_groups_enabled"] = true
		s["allowed_groups"] = groups
		s["group_title"] = "Отдел"
		s["delayed_call_times"] = slots
		s["is_personal_info_enabled"] = true
	})
	b, _ := json.Marshal(s)
	env.srv.SetWidgetSettings(t, env.SiteKey, "sitephone", "desktop", string(b))
	keys := knownCaptchas(t, env, "4821", 2)
	// The page hands the widget captchas whose answer the test knows.
	hand := `<script>window.keys = ` + mustJSON(t, keys) + `; window.shown = [];
	__cs.push(function () { const real = Comagic.getCaptcha; Comagic.getCaptcha = function (cb, o) {
		const key = keys.shift(); if (!key) return real(cb, o);
		shown.push(key); cb({key: key, url: ` + jsString(env.URL) + ` + '/api/captcha/' + key + '.png'}); }; });</script>`
	tab := newTab(t)
	tab.Go(env.pages.Page("/widget", embedPage(env.classic()+hand, shopPage)))
	Wait[bool](tab, `!!document.querySelector('.cmgs-label__button') && !!Comagic.UI.getWidget('sitephone')`, boot)
	if hidden := Eval[bool](tab, `Comagic.UI.getWidget('sitephone').isVisible()`); hidden {
		t.Fatal("the panel is open before the visitor asked")
	}
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgs-label__button`)))
	Wait[bool](tab, `Comagic.UI.getWidget('sitephone').isVisible() && document.activeElement === document.querySelector('#cmgs-phone')`, boot)
	Wait[bool](tab, `document.querySelector('.cmgs-captcha__img').naturalWidth === 120`, boot)

	// Nothing filled in: every required field says so and nothing is sent.
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgs [c-ref=submit]`)))
	errs := Eval[map[string]any](tab, `Object.fromEntries([...document.querySelectorAll('.cmgs [c-error]')].filter(e => e.textContent).map(e => [e.getAttribute('c-error'), e.textContent]))`)
	for _, f := range []string{"phone", "group_id", "captcha_value", "personal_info"} {
		if errs[f] == nil {
			t.Errorf("no error shown for %s: %v", f, errs)
		}
	}
	if errs["date"] != nil || errs["delayed_call_time"] != nil {
		t.Errorf("call time required while calling now: %v", errs)
	}

	// Fill it in, choosing a call tomorrow at the second slot, a wrong code first.
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgs-phone`), "9101234567"))
	if v := Eval[string](tab, `document.querySelector('#cmgs-phone').value`); v != "+7 (910) 123-45-67" {
		t.Errorf("masked phone %q", v)
	}
	tab.Run(chromedp.SetValue(chromedp.CSS(`#cmgs-group`), fmt.Sprint(groups[1]["id"])))
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgs-chip input[value=later]`)))
	Wait[bool](tab, `!document.querySelector('.cmgs-when__pick').hidden`, boot)
	Eval[bool](tab, `(() => { const d = document.querySelector('#cmgs-date'); d.value = '0'; d.dispatchEvent(new Event('change')); return true; })()`)
	times := Eval[[]string](tab, `[...document.querySelectorAll('#cmgs-time option:not([disabled])')].map(o => o.value)`)
	if len(times) != 2 {
		t.Fatalf("times offered %v, want the two slots", times)
	}
	tab.Run(chromedp.SetValue(chromedp.CSS(`#cmgs-time`), times[1]))
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgs-consent input`)))
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgs-captcha`), "1111"))
	screenshot(t, tab, "sitephone-desktop-form")
	if left := Eval[[]string](tab, `[...document.querySelectorAll('.cmgs [c-error]')].filter(e => e.textContent).map(e => e.getAttribute('c-error'))`); len(left) != 0 {
		t.Errorf("errors still shown on filled fields: %v", left)
	}
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgs [c-ref=submit]`)))
	Wait[bool](tab, `document.querySelector('[c-error=captcha_value]').textContent === Comagic.UI.C.CALL_CAPTCHA.message && shown.length === 2`, boot)
	if n := env.rows(t, `SELECT count(*) FROM callbacks WHERE site_id = $1`, env.siteID); n[0][0] != "0" {
		t.Fatalf("a wrong captcha stored a callback: %v", n)
	}
	Wait[bool](tab, `document.querySelector('#cmgs-captcha').value === '' && document.querySelector('.cmgs-captcha__img').src.includes(shown[1])`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgs-captcha`), "4821"))
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgs [c-ref=submit]`)))
	Wait[bool](tab, `!document.querySelector('.cmgs-done').hidden`, boot)
	done := Eval[[]string](tab, `[document.querySelector('.cmgs-done__title').textContent, document.querySelector('.cmgs-done__text').textContent]`)
	if done[0] != "Звонок заказан" {
		t.Fatalf("the panel says %q", done)
	}
	rows := env.waitRows(t, 1, `SELECT phone, source, group_id, (extract(epoch from due_at) * 1000)::bigint FROM callbacks WHERE site_id = $1`, env.siteID)
	if want := []string{"+79101234567", "sitephone", fmt.Sprint(groups[1]["id"]), times[1]}; !reflect.DeepEqual(rows[0], want) {
		t.Errorf("stored callback %v, want %v", rows[0], want)
	}
	screenshot(t, tab, "sitephone-desktop")
	// Closing returns to the label; the next opening shows a fresh form.
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgs [c-ref=doneClose]`)))
	Wait[bool](tab, `!Comagic.UI.getWidget('sitephone').isVisible() && document.activeElement === document.querySelector('.cmgs-label__button')`, boot)
	Eval[bool](tab, `ComagicWidget.openSitePhonePanel(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('sitephone').isVisible() && !document.querySelector('.cmgs-form').hidden && document.querySelector('#cmgs-phone').value === ''`, boot)
	noExceptions(t, tab)
}

// On a phone the label is sized in screen units and the panel takes the
// whole screen; Comagic.openSitePhonePanel opens it too.
func TestSitephone_DefaultWidgetMobile(t *testing.T) {
	env := startSitephoneEnv(t, sitephoneSettings(nil), false)
	tab := newTab(t)
	tab.Run(chromedp.Emulate(device.IPhone12))
	tab.Go(env.pages.Page("/phone", embedPage(env.classic(), "<p>Страница</p>")))
	Wait[bool](tab, `!!document.querySelector('.cmgs-label__button') && Comagic.getDeviceType() === 'mobile' && !!Comagic.UI.getWidget('sitephone')`, boot)
	size := Eval[float64](tab, `document.querySelector('.cmgs-label__button').getBoundingClientRect().width / Math.min(innerWidth, innerHeight)`)
	if size < 0.12 || size > 0.18 {
		t.Errorf("the label is %.3f of the screen, want about 0.15", size)
	}
	Eval[bool](tab, `Comagic.openSitePhonePanel(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('sitephone').isVisible()`, boot)
	full := Eval[map[string]any](tab, `(() => { const r = document.querySelector('.cmgs-panel').getBoundingClientRect();
		return {full: Comagic.UI.Mobile.isFullSizeMode(), w: Math.round(r.width) === innerWidth, h: Math.round(r.height) === innerHeight}; })()`)
	if !reflect.DeepEqual(full, map[string]any{"full": true, "w": true, "h": true}) {
		t.Errorf("the panel is not full-size: %v", full)
	}
	screenshot(t, tab, "sitephone-mobile")
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgs [c-ref=close]`)))
	Wait[bool](tab, `!Comagic.UI.Mobile.isFullSizeMode() && !Comagic.UI.getWidget('sitephone').isVisible()`, boot)
	noExceptions(t, tab)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "</", `<\/`)
}
