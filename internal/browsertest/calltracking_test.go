package browsertest

// Phone-number replacement in real Chromium against the real server (issue
// 11, SPEC §9): elements by id, class and name and the original number in
// the page text (any writing, split across inline elements, tel: links) show
// the static number of the source or a reserved pool number; content added
// later is replaced only with setDynamicalReplacement (and after
// reinitTrackView); __cs_onReplacePhones returning false leaves the page
// alone; the getters answer the reference's shapes.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

// ctBody has a number in each place a replacement group can point at.
const ctBody = `<div id="box">
<p>Звоните: <span id="comagic_phone">+7 (495) 000-00-01</span></p>
<p><span class="comagic_phone big">+7 (495) 000-00-01</span></p>
<p><span name="comagic_phone">+7 (495) 000-00-01</span></p>
<p id="t1">Офис: +7 (495) 999-99-99, звоните!</p>
<p id="t2">Или 8 495 9999999 и <a id="tel" href="tel:84959999999">позвонить</a></p>
<p id="t3">Без пробелов: 74959999999.</p>
<p id="t4">Раздельно: <span>+7 (495)</span> <b>999-99</b>-99 — вот.</p>
<p id="other">Другой: +7 (495) 999-99-98 и 749599999990</p>
</div>`

// ctTexts reads what the page's places show now.
const ctTexts = `(() => {
  const t = (s) => document.querySelector(s).textContent;
  return [t('#comagic_phone'), t('.comagic_phone'), t('[name=comagic_phone]'), t('#t1'), t('#t2'), t('#t3'), t('#t4'), t('#other'),
    document.querySelector('#tel').getAttribute('href')];
})()`

const (
	ctStatic  = "74951112233"
	ctDefault = "74950000000"
)

func ctWant(text, raw string) []string {
	return []string{text, text, text, "Офис: " + text + ", звоните!", "Или " + text + " и позвонить", "Без пробелов: " + text + ".",
		"Раздельно: " + text + " — вот.", "Другой: +7 (495) 999-99-98 и 749599999990", "tel:+" + raw}
}

// ctEnv is a real server whose site has one group with all four kinds of
// places, a static rule for utm_source=yandex and a dynamic pool for
// landing pages containing "dynamic".
func ctEnv(t *testing.T) (*widgetEnv, *PageServer) {
	t.Helper()
	return ctEnvWith(t, startWidgetEnv(t))
}

func ctEnvWith(t *testing.T, env *widgetEnv) (*widgetEnv, *PageServer) {
	t.Helper()
	ctx := context.Background()
	var siteID int64
	if err := env.DB.QueryRow(ctx, `SELECT id FROM sites WHERE site_key = $1`, env.SiteKey).Scan(&siteID); err != nil {
		t.Fatal(err)
	}
	store := postgres.NewCallTracking(env.DB, nil)
	g, err := store.AddGroup(ctx, comagic.ReplacementGroup{SiteID: siteID, Name: "main", Template: "+7 (XXX) XXX-XX-XX", DefaultNumber: ctDefault,
		Selectors: []comagic.PhoneSelector{{Type: "id", Value: "comagic_phone"}, {Type: "class", Value: "comagic_phone"},
			{Type: "name", Value: "comagic_phone"}, {Type: "phone_number", Value: "74959999999"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddRule(ctx, comagic.PhoneRule{GroupID: g.ID, SiteID: siteID, Kind: "static", MatchField: "utm_source", MatchValue: "yandex",
		Number: ctStatic}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddRule(ctx, comagic.PhoneRule{GroupID: g.ID, SiteID: siteID, Kind: "dynamic", MatchField: "landing", MatchValue: "dynamic",
		ReserveMinutes: 15}, []string{"74997770001", "74997770002"}); err != nil {
		t.Fatal(err)
	}
	return env, NewPageServer(t)
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

var ctIDs = []any{"#comagic_phone", ".comagic_phone", "[name=comagic_phone]", "number=74959999999"}

func TestCallTracking_StaticSource(t *testing.T) {
	env, pages := ctEnv(t)
	tab := newTab(t)
	tab.Go(pages.Page("/ct/static", embedPage(env.classic(), ctBody)) + "?utm_source=yandex")
	waitBoot(tab)
	text := "+7 (495) 111-22-33"
	got := Wait[[]string](tab, `(() => { const r = `+ctTexts+`; return r[0] === `+jsString(text)+` && r[8] === 'tel:+`+ctStatic+`' && r; })()`, boot)
	eq(t, "static page", got, ctWant(text, ctStatic))

	var phones []any
	for _, id := range ctIDs {
		phones = append(phones, map[string]any{"id": id, "img": nil, "text": text, "raw": ctStatic})
	}
	eq(t, "getPhones", Eval[any](tab, `Comagic.getPhones()`), phones)
	eq(t, "getDTPhones", Eval[any](tab, `Comagic.getDTPhones()`), nil)
	replaced := map[string]any{}
	for _, id := range ctIDs {
		replaced[id.(string)] = ctStatic
	}
	eq(t, "getReplacedPhones()", Eval[any](tab, `Comagic.getReplacedPhones()`), replaced)
	eq(t, "getReplacedPhones(static)", Eval[any](tab, `Comagic.getReplacedPhones("static")`), map[string]any{ctStatic: ctIDs})
	eq(t, "getReplacedPhones(dynamic)", Eval[any](tab, `Comagic.getReplacedPhones("dynamic")`), map[string]any{})

	// Without setDynamicalReplacement a block added later keeps its number
	// (the observer would have run before the next task)...
	late := Eval[[]string](tab, `new Promise(done => {
		const d = document.createElement('div');
		d.id = 'late';
		d.innerHTML = '<span class="comagic_phone">+7 (495) 000-00-01</span> <i>8 (495) 999-99-99</i>';
		document.body.appendChild(d);
		setTimeout(() => setTimeout(() => done([d.textContent])), 0);
	})`)
	eq(t, "late block without setDynamicalReplacement", late, []string{"+7 (495) 000-00-01 8 (495) 999-99-99"})
	// ...until reinitTrackView replaces again.
	Eval[bool](tab, `(history.pushState({}, '', '/ct/static/next'), Comagic.reinitTrackView(), true)`)
	Wait[bool](tab, `document.querySelector('#late').textContent === `+jsString(text+" "+text), boot)
	noExceptions(t, tab)
}

func TestCallTracking_DynamicPoolAndLateContent(t *testing.T) {
	env, pages := ctEnv(t)
	a := newTab(t)
	a.Go(pages.Page("/ct/dynamic", embedPage(env.syncEmbed(`__cs.push(["setDynamicalReplacement", true]);`), ctBody)))
	waitBoot(a)
	raw := Wait[string](a, `(() => { const p = Comagic.getDTPhones(); return p && p[0].raw; })()`, boot)
	if raw != "74997770001" && raw != "74997770002" {
		t.Fatalf("reserved %q", raw)
	}
	text := fmt.Sprintf("+7 (%s) %s-%s-%s", raw[1:4], raw[4:7], raw[7:9], raw[9:])
	got := Wait[[]string](a, `(() => { const r = `+ctTexts+`; return r[8] === 'tel:+`+raw+`' && r; })()`, boot)
	eq(t, "dynamic page", got, ctWant(text, raw))
	var phones []any
	for _, id := range ctIDs {
		phones = append(phones, map[string]any{"id": id, "img": nil, "text": text, "raw": raw, "dt": true})
	}
	eq(t, "getPhones", Eval[any](a, `Comagic.getPhones()`), phones)
	eq(t, "getDTPhones", Eval[any](a, `Comagic.getDTPhones()`), phones)
	eq(t, "getReplacedPhones(dynamic)", Eval[any](a, `Comagic.getReplacedPhones("dynamic")`), map[string]any{raw: ctIDs})
	eq(t, "getReplacedPhones(static)", Eval[any](a, `Comagic.getReplacedPhones("static")`), map[string]any{})

	// A block inserted by script later is replaced (setDynamicalReplacement).
	Eval[bool](a, `(() => {
		const d = document.createElement('div');
		d.id = 'late';
		d.innerHTML = '<p><span class="comagic_phone">+7 (495) 000-00-01</span></p><p>Звоните <a href="tel:+74959999999">8 (495) 999-99-99</a></p>';
		document.body.appendChild(d);
		return true;
	})()`)
	Wait[bool](a, `document.querySelector('#late').textContent === `+jsString(text+"Звоните "+text)+
		` && document.querySelector('#late a').getAttribute('href') === 'tel:+`+raw+`'`, boot)

	// Another visitor gets the pool's other number; the page renews its own.
	b := newTab(t)
	b.Go(pages.Page("/ct/dynamic/b", embedPage(env.classic(), ctBody)))
	waitBoot(b)
	other := Wait[string](b, `(() => { const p = Comagic.getDTPhones(); return p && p[0].raw; })()`, boot)
	if other == raw {
		t.Fatalf("two visitors hold %s", raw)
	}
	if hb := Eval[float64](a, `performance.getEntriesByType('resource').filter(e => e.name.includes('/bootstrap')).length`); hb != 1 {
		t.Errorf("%v bootstrap requests", hb)
	}
	noExceptions(t, a)
	noExceptions(t, b)
}

func TestCallTracking_OnReplacePhonesFalse(t *testing.T) {
	env, pages := ctEnv(t)
	tab := newTab(t)
	gate := `<script>window.__cs_onReplacePhones = function (phones) { window.gotPhones = phones; return false; };</script>`
	tab.Go(pages.Page("/ct/gate", embedPage(gate+env.classic(), ctBody)) + "?utm_source=yandex")
	waitBoot(tab)
	got := Wait[[]any](tab, `window.gotPhones`, boot)
	if len(got) != 4 || got[0].(map[string]any)["raw"] != ctStatic {
		t.Fatalf("__cs_onReplacePhones got %v", got)
	}
	orig := "+7 (495) 000-00-01"
	want := []string{orig, orig, orig, "Офис: +7 (495) 999-99-99, звоните!", "Или 8 495 9999999 и позвонить", "Без пробелов: 74959999999.",
		"Раздельно: +7 (495) 999-99-99 — вот.", "Другой: +7 (495) 999-99-98 и 749599999990", "tel:84959999999"}
	eq(t, "page after false", Eval[[]string](tab, ctTexts), want)
	eq(t, "getReplacedPhones", Eval[any](tab, `Comagic.getReplacedPhones()`), map[string]any{})
	if n := len(Eval[[]any](tab, `Comagic.getPhones()`)); n != 4 {
		t.Errorf("getPhones has %d entries, want the 4 numbers given", n)
	}
	// A throwing hook does not stop the page's script.
	if strings.Contains(strings.Join(tab.Exceptions(), ""), "Comagic") {
		t.Errorf("exceptions %v", tab.Exceptions())
	}
	noExceptions(t, tab)
}

// fastHeartbeat rewrites the bootstrap answers' phones_heartbeat_s to 1 s (the
// server's is at least 100 s: a third of the shortest reservation time).
func fastHeartbeat(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/bootstrap") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var m map[string]any
		if json.Unmarshal(body, &m) == nil && m["phones_heartbeat_s"] != nil {
			m["phones_heartbeat_s"] = 1
			body, _ = json.Marshal(m)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

func TestCallTracking_HeartbeatKeepsTheNumber(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{Wrap: fastHeartbeat})
	key := srv.CreateSite(t, "localhost", "127.0.0.1")
	env, pages := ctEnvWith(t, &widgetEnv{realEnv: &realEnv{URL: srv.URL, Host: strings.TrimPrefix(srv.URL, "http:"), SiteKey: key, DB: srv.DB}, srv: srv})
	tab := newTab(t)
	tab.Go(pages.Page("/ct/dynamic", embedPage(env.classic(), ctBody)))
	waitBoot(tab)
	raw := Wait[string](tab, `(() => { const p = Comagic.getDTPhones(); return p && p[0].raw; })()`, boot)
	var first time.Time
	if err := env.DB.QueryRow(context.Background(), `SELECT expires_at FROM ct_pool_numbers WHERE number = $1`, raw).Scan(&first); err != nil {
		t.Fatal(err)
	}
	// The open page renews its number: expires_at moves forward, in the
	// number and in its reservation.
	Eventually(t, 15*time.Second, func() error {
		var n, r time.Time
		if err := env.DB.QueryRow(context.Background(), `SELECT n.expires_at, r.expires_at FROM ct_pool_numbers n
			JOIN ct_reservations r ON r.id = n.reservation_id WHERE n.number = $1`, raw).Scan(&n, &r); err != nil {
			return err
		}
		if !n.After(first) || !r.Equal(n) {
			return fmt.Errorf("number expires %v, reservation %v; first %v", n, r, first)
		}
		return nil
	})
	noExceptions(t, tab)
}
