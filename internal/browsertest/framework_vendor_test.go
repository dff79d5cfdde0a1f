package browsertest

// The semantics of Comagic.UI that the vendor's view controllers rely on
// (issue 7), in real Chromium against the real server and Postgres. Each test
// runs a small view controller of our own that makes the calls the vendor's
// controllers make, and checks what they count on; every one of them failed
// on the framework before commit 897abbd.

import (
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/chromedp/chromedp/kb"

	"github.com/comagicd/comagicd/internal/testenv"
)

// vendorHarness is put in the page's head before the embed code: R collects
// what the controllers saw, and vc registers a controller that records in
// R.ran that it ran, or in R.error why it threw (the framework would only log
// it), so that a test fails at once instead of waiting for a result.
const vendorHarness = `<script>
window.R = {ran: [], error: null, events: [], published: []};
window.vc = function (name, fn) {
  Comagic.UI.registerViewController(name, function (settings, tpls) {
    try { fn(settings, tpls); R.ran.push(name); } catch (e) { R.error = name + ': ' + String((e && e.stack) || e); }
  });
};
</script>`

// vendorPage serves a page with the harness, the synchronous embed code of
// env's site with the queue commands opts, and body, and returns its URL.
func vendorPage(env *widgetEnv, pages *PageServer, path, head, opts, body string) string {
	return pages.Page(path, embedPage(head+vendorHarness+env.syncEmbed(opts), body))
}

// waitControllers waits until the named view controllers ran and fails the
// test when one of them threw.
func waitControllers(t *testing.T, tab *Tab, names ...string) {
	t.Helper()
	err := Wait[string](tab, `window.R && (R.error || (`+jsNum(names)+`.every(n => R.ran.includes(n)) && 'ok'))`, boot)
	if err != "ok" {
		t.Fatalf("view controller failed: %s", err)
	}
}

// vendorSite starts the real server with a site whose view controller vc
// (none when "") has the reference desktop settings, and a page server.
func vendorSite(t *testing.T, vc string) (*widgetEnv, *PageServer) {
	t.Helper()
	env := startWidgetEnv(t)
	if vc != "" {
		env.settings(t, vc, "desktop")
	}
	return env, NewPageServer(t)
}

// runControllers opens a page with the embed code (queue commands opts) and
// body in a new tab and waits for the named view controllers to run.
func runControllers(t *testing.T, env *widgetEnv, pages *PageServer, path, opts, body string, names ...string) *Tab {
	t.Helper()
	tab := newTab(t)
	tab.Go(vendorPage(env, pages, path, "", opts, body))
	waitControllers(t, tab, names...)
	return tab
}

// expectJS evaluates js in the tab and compares its JSON value with want.
func expectJS(t *testing.T, tab *Tab, what, js string, want any) {
	t.Helper()
	if got := Eval[any](tab, js); !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// sitephoneTwoGroups is a sitephone settings object with two groups, for the
// native select test.
const sitephoneTwoGroups = `{"group_title": "Группы", "allowed_groups": [{"name": "Группа 1", "id": 1}, {"name": "Группа 2", "id": 2}],
	"is_groups_enabled": true, "title": "Обратный звонок", "banner_color": "43A400", "h_position": "right", "v_position": "bottom", "is_visible": true}`

// 1. getRenderTo() before render is document.body: a controller looks for its
// element on the page there first and attaches it, or renders a new one.
func TestVendorSemantics_GetRenderToBeforeRender(t *testing.T) {
	env, pages := vendorSite(t, "sitephone")
	tab := runControllers(t, env, pages, "/render-to", "", `
<div class="my-phone" id="existing"><b c-ref="title">на странице</b></div>
<script>
vc('sitephone', function (settings) {
  const UI = Comagic.UI;
  const found = UI.createWidget('sitephone', {settings: settings, tpl: '<div class="my-phone"><b c-ref="title"><%- title %></b></div>'});
  R.bodyBefore = found.getRenderTo() === document.body;
  const el = found.getRenderTo().querySelector('.my-phone');
  if (el) found.attachEl(el); else found.render();
  R.attached = [found.getEl() === document.getElementById('existing'), found.refs.title.textContent, document.querySelectorAll('.my-phone').length];

  const fresh = UI.createWidget('consultant_sitephone', {settings: settings, tpl: '<div class="my-other"><b c-ref="title"><%- title %></b></div>'});
  R.bodyBeforeFresh = fresh.getRenderTo() === document.body;
  const none = fresh.getRenderTo().querySelector('.my-other');
  if (none) fresh.attachEl(none); else fresh.render();
  R.rendered = [fresh.getEl().parentNode === document.body, fresh.refs.title.textContent, fresh.getRenderTo() === document.body];
});
</script>`, "sitephone")
	expectJS(t, tab, "getRenderTo before render", `({bodyBefore: R.bodyBefore, attached: R.attached, bodyBeforeFresh: R.bodyBeforeFresh, rendered: R.rendered})`, map[string]any{
		"bodyBefore":      true,
		"attached":        []any{true, "на странице", 1.0},
		"bodyBeforeFresh": true,
		"rendered":        []any{true, "Обратный звонок", true},
	})
	noExceptions(t, tab)
}

// 2. createObserver(reducer) calls reducer(action, prevState): the vendor's
// reducers read only the action.
func TestVendorSemantics_ObserverReducerTakesActionFirst(t *testing.T) {
	env, pages := vendorSite(t, "sitephone")
	tab := runControllers(t, env, pages, "/observer", "", `
<script>
vc('sitephone', function () {
  const UI = Comagic.UI;
  const visible = UI.createObserver(function (action) { return action.visible; });
  R.seen = [];
  visible.sub(v => R.seen.push(v));
  visible.pub({visible: true});
  visible.pub({visible: false});
  R.visibleState = visible.getState();

  R.calls = [];
  const counter = UI.createObserver(function (action, prev) {
    R.calls.push([action.type, prev === undefined ? 'undefined' : prev]);
    return (prev || 0) + (action.type === 'inc' ? 1 : -1);
  });
  counter.pub({type: 'inc'});
  counter.pub({type: 'inc'});
  counter.pub({type: 'dec'});
  R.counterState = counter.getState();
});
</script>`, "sitephone")
	expectJS(t, tab, "observer", `({seen: R.seen, visibleState: R.visibleState, calls: R.calls, counterState: R.counterState})`, map[string]any{
		"seen":         []any{true, false},
		"visibleState": false,
		"calls":        []any{[]any{"inc", "undefined"}, []any{"inc", 1.0}, []any{"dec", 2.0}},
		"counterState": 1.0,
	})
	noExceptions(t, tab)
}

// 3. Overridden show/hide that toggle the controller's own classes: isVisible
// follows them; show(true) whose override only publishes to an observer and
// returns false changes nothing and fires no show event; the public
// Comagic.openSiteRequestPanel() calls show(true) on the request form.
func TestVendorSemantics_OverriddenShowHide(t *testing.T) {
	env, pages := vendorSite(t, "consultant")
	tab := runControllers(t, env, pages, "/show-hide", "", `
<script>
vc('consultant', function (settings) {
  const UI = Comagic.UI;
  const visibility = UI.createObserver(function (action) { return action; });
  R.showArgs = [];
  const om = UI.createWidget('consultant_offline_message', {
    settings: settings,
    tpl: '<div class="my-om my-om--shown"><b c-ref="title"><%- offline_message.title %></b></div>',
    show: function (byApi) {
      R.showArgs.push(byApi === true);
      if (byApi === true) { visibility.pub({show: true}); return false; }
      this.getEl().classList.remove('my-om--hidden');
      this.getEl().classList.add('my-om--shown');
    },
    hide: function () {
      this.getEl().classList.remove('my-om--shown');
      this.getEl().classList.add('my-om--hidden');
    },
  });
  ['show', 'hide'].forEach(ev => om.on(ev, () => R.events.push(ev)));
  om.render();
  R.afterRender = om.isVisible();
  om.hide();
  R.afterHide = [om.isVisible(), om.getEl().className];
  om.show();
  R.afterShow = [om.isVisible(), om.getEl().className];
  om.hide();
  R.eventsBefore = R.events.slice();
  om.show(true);
  R.afterApiShow = [om.isVisible(), om.getEl().className, R.events.length - R.eventsBefore.length];
  // From now on the observer shows the form, as the vendor's controllers do.
  visibility.sub(a => { R.published.push(a); if (a.show) om.show(); });
  window.om = om;
});
</script>`, "consultant")
	expectJS(t, tab, "show/hide overrides", `({afterRender: R.afterRender, afterHide: R.afterHide, afterShow: R.afterShow, eventsBefore: R.eventsBefore, afterApiShow: R.afterApiShow, published: R.published})`, map[string]any{
		"afterRender":  true,
		"afterHide":    []any{false, "my-om comagic-widget my-om--hidden"},
		"afterShow":    []any{true, "my-om comagic-widget my-om--shown"},
		"eventsBefore": []any{"hide", "show", "hide"},
		"afterApiShow": []any{false, "my-om comagic-widget my-om--hidden", 0.0},
		"published":    []any{},
	})

	// The public API goes through show(true); the observer then shows the form.
	Eval[bool](tab, `R.showArgs = []; R.events = []; Comagic.openSiteRequestPanel(); true`)
	Wait[bool](tab, `om.isVisible()`, boot)
	expectJS(t, tab, "openSiteRequestPanel", `({showArgs: R.showArgs, published: R.published, events: R.events, cls: om.getEl().className})`, map[string]any{
		"showArgs":  []any{true, false},
		"published": []any{map[string]any{"show": true}},
		"events":    []any{"show"},
		"cls":       "my-om comagic-widget my-om--shown",
	})
	noExceptions(t, tab)
}

// 4. Overrides of render and destroy that call the base implementation
// through this.constructor.prototype (destroy after an animation, in a
// setTimeout): no recursion, the element is rendered and removed, and each
// event fires once.
func TestVendorSemantics_OverridesCallPrototype(t *testing.T) {
	env, pages := vendorSite(t, "sitephone")
	tab := runControllers(t, env, pages, "/prototype", "", `
<section id="holder"></section>
<script>
vc('sitephone', function (settings) {
  const UI = Comagic.UI;
  R.renderCalls = 0;
  R.destroyCalls = 0;
  const make = function (name) {
    const w = UI.createWidget(name, {
      settings: settings,
      tpl: '<div class="my-panel my-' + name + '"><b c-ref="title"><%- title %></b></div>',
      render: function () {
        R.renderCalls++;
        this.constructor.prototype.render.apply(this, arguments);
        this.getEl().classList.add('my-panel--ready');
      },
      destroy: function () {
        R.destroyCalls++;
        const args = arguments;
        this.getEl().classList.add('my-panel--leaving');
        setTimeout(() => {
          this.constructor.prototype.destroy.apply(this, args);
          R.destroyed.push(name);
        }, 30);
      },
    });
    ['beforerender', 'render', 'beforedestroy', 'destroy'].forEach(ev => w.on(ev, () => R.events.push(name + ':' + ev)));
    return w;
  };
  R.destroyed = [];
  const holder = document.getElementById('holder');
  // A plain widget and a named subclass (its prototype inherits the base render).
  const plain = make('my_panel');
  const sub = make('sitephone');
  plain.render(holder);
  sub.render(holder);
  R.rendered = [plain, sub].map(w => [w.getEl().parentNode === holder, w.getEl().classList.contains('my-panel--ready'), w.refs.title.textContent, w.isVisible()]);
  plain.destroy();
  sub.destroy();
  R.leaving = document.querySelectorAll('#holder .my-panel--leaving').length;
});
</script>`, "sitephone")
	Wait[bool](tab, `R.destroyed.length === 2`, boot)
	expectJS(t, tab, "overrides through the prototype", `({rendered: R.rendered, leaving: R.leaving, renderCalls: R.renderCalls, destroyCalls: R.destroyCalls,
		left: document.querySelectorAll('.my-panel').length, registry: [Comagic.UI.getWidget('my_panel'), Comagic.UI.getWidget('sitephone')], events: R.events})`, map[string]any{
		"rendered":     []any{[]any{true, true, "Обратный звонок", true}, []any{true, true, "Обратный звонок", true}},
		"leaving":      2.0,
		"renderCalls":  2.0,
		"destroyCalls": 2.0,
		"left":         0.0,
		"registry":     []any{nil, nil},
		"events": []any{"my_panel:beforerender", "my_panel:render", "sitephone:beforerender", "sitephone:render",
			"my_panel:beforedestroy", "sitephone:beforedestroy", "my_panel:destroy", "sitephone:destroy"},
	})
	noExceptions(t, tab)
}

// 5. A native <select c-select="true"> with a disabled placeholder option: it
// is required until the visitor chooses, then it has the option's value, and
// the ref <ref>CustomSelect mirrors the chosen text.
func TestVendorSemantics_NativeCSelect(t *testing.T) {
	env, pages := vendorSite(t, "")
	env.srv.SetWidgetSettings(t, env.SiteKey, "sitephone", "desktop", sitephoneTwoGroups)
	tab := runControllers(t, env, pages, "/select", "", `
<script>
vc('sitephone', function (settings) {
  const form = Comagic.UI.createWidget('sitephone', {settings: settings, tpl:
    '<div class="my-form"><select id="grp" c-name="group_id" c-ref="group" c-select="true" c-validator="required">' +
    '<option value="" disabled selected><%- group_title %> *</option>' +
    '<% allowed_groups.forEach(function (g) { %><option value="<%- g.id %>"> <%- g.name %> </option><% }); %>' +
    '</select></div>'});
  form.render();
  form.on('select', (w, name, value) => R.events.push(name + '=' + value));
  window.form = form;
});
</script>`, "sitephone")
	const state = `({errors: form.getErrors(), values: form.getValues(),
		face: form.refs.groupCustomSelect ? form.refs.groupCustomSelect.textContent : 'no ref groupCustomSelect'})`
	expectJS(t, tab, "before a choice", state, map[string]any{"errors": map[string]any{"group_id": "required"}, "values": map[string]any{"group_id": ""}, "face": ""})
	expectJS(t, tab, "select events before a choice", `R.events`, []any{})
	// The visitor chooses with the keyboard: past the placeholder to the second group.
	tab.Run(chromedp.Focus(chromedp.CSS(`#grp`)), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown))
	Wait[bool](tab, `document.getElementById('grp').value === '2'`, boot)
	expectJS(t, tab, "after choosing Группа 2", state, map[string]any{"errors": nil, "values": map[string]any{"group_id": "2"}, "face": "Группа 2"})
	// Each choice is one select event, as it is one change of the select.
	expectJS(t, tab, "select events, one per choice", `R.events`, []any{"group_id=1", "group_id=2"})
	if !Eval[bool](tab, `form.getEl().querySelectorAll('[role=radiogroup], [role=radio]').length === 0`) {
		t.Error("the native select was turned into a radio group")
	}
	noExceptions(t, tab)
}

// 6. Comagic.UI.Mobile on a phone: full-size mode switches the page to a
// device-width viewport and back, and labels are sized and placed in screen
// units.
func TestVendorSemantics_Mobile(t *testing.T) {
	env, pages := vendorSite(t, "")
	env.settings(t, "sitephone", "mobile")
	controller := `
<main><h1>Страница сайта</h1></main>
<script>
vc('sitephone', function (settings) {
  const UI = Comagic.UI;
  R.fullAtStart = UI.Mobile.isFullSizeMode();
  const label = UI.createWidget('sitephone', {settings: settings, tpl: '<div class="my-label"><button type="button" c-ref="button">☎</button></div>'});
  label.render();
  UI.Mobile.updateLabelStyles(label.getEl(), {width: 15, height: 15, fontSize: 3}, null, {top: 'bottom', left: 'right'}, {top: 7, left: 7});
  window.label = label;
});
</script>`
	// geometry answers how far the label is from where it should be, in CSS px.
	const geometry = `(() => {
		const vv = visualViewport, u = Math.min(vv.width, vv.height) / 100, r = label.getEl().getBoundingClientRect();
		return {w: r.width - 15 * u, h: r.height - 15 * u, font: parseFloat(getComputedStyle(label.getEl()).fontSize) - 3 * u,
			right: (vv.offsetLeft + vv.width - 7 * u) - r.right, bottom: (vv.offsetTop + vv.height - 7 * u) - r.bottom,
			size: r.width, position: getComputedStyle(label.getEl()).position};
	})()`
	checkGeometry := func(t *testing.T, tab *Tab, when string) {
		t.Helper()
		g := Eval[map[string]any](tab, geometry)
		if g["position"] != "fixed" || g["size"].(float64) < 10 {
			t.Errorf("%s: label %v, want position fixed and a visible size", when, g)
		}
		for _, k := range []string{"w", "h", "font", "right", "bottom"} {
			if d, _ := g[k].(float64); math.Abs(d) > 2 {
				t.Errorf("%s: label %s off by %.1f px (%v)", when, k, d, g)
			}
		}
	}
	// meta describes the viewport tags that have content (an emptied tag is as
	// good as none: Chromium keeps the last viewport when a tag is removed, so
	// unform() empties the one form() added).
	meta := `(() => { const m = Array.from(document.querySelectorAll('meta[name=viewport]')).filter(m => m.getAttribute('content'));
		return {n: m.length, content: m.length ? m[0].getAttribute('content') : null, full: Comagic.UI.Mobile.isFullSizeMode(), width: innerWidth}; })()`

	for _, own := range []string{"", "width=600"} {
		name := "no-viewport-meta"
		head := ""
		if own != "" {
			name = "own-viewport-meta"
			head = `<meta name="viewport" content="` + own + `">`
		}
		t.Run(name, func(t *testing.T) {
			tab := newTab(t)
			tab.Run(chromedp.Emulate(device.IPhone12))
			tab.Go(vendorPage(env, pages, "/mobile-"+name, head, "", controller))
			waitControllers(t, tab, "sitephone")
			if dt := Eval[string](tab, `Comagic.getDeviceType()`); dt != "mobile" {
				t.Fatalf("device type %q, want mobile", dt)
			}
			if Eval[bool](tab, `R.fullAtStart`) {
				t.Error("isFullSizeMode() is true before form()")
			}
			pageWidth := 980.0 // a page without a viewport meta is laid out for desktops
			var wantMeta any
			if own != "" {
				pageWidth = 600
				wantMeta = own
			}
			start := Eval[map[string]any](tab, meta)
			if start["full"] != false || start["content"] != wantMeta || start["width"] != pageWidth {
				t.Errorf("at start %v, want not full-size, viewport meta %v, width %v", start, wantMeta, pageWidth)
			}
			checkGeometry(t, tab, "at start")

			Eval[bool](tab, `Comagic.UI.Mobile.form(); true`)
			formed := Eval[map[string]any](tab, meta)
			if formed["full"] != true || formed["n"] != 1.0 || !strings.Contains(fmt.Sprint(formed["content"]), "width=device-width") {
				t.Errorf("after form() %v, want full-size with one width=device-width viewport meta", formed)
			}
			// The page is laid out for the phone's width, and the label placed again for it.
			Wait[bool](tab, `innerWidth === 390 && Math.abs(label.getEl().getBoundingClientRect().width - 15 * Math.min(visualViewport.width, visualViewport.height) / 100) < 2`, boot)
			checkGeometry(t, tab, "in full-size mode")

			Eval[bool](tab, `Comagic.UI.Mobile.unform(); true`)
			back := Eval[map[string]any](tab, meta)
			wantN := 0.0
			if own != "" {
				wantN = 1
			}
			if back["full"] != false || back["n"] != wantN || back["content"] != wantMeta {
				t.Errorf("after unform() %v, want not full-size and the page's own viewport meta (%v) back", back, wantMeta)
			}
			Wait[bool](tab, `innerWidth === `+fmt.Sprint(pageWidth)+` && Math.abs(label.getEl().getBoundingClientRect().width - 15 * Math.min(visualViewport.width, visualViewport.height) / 100) < 2`, boot)
			checkGeometry(t, tab, "after unform()")
			noExceptions(t, tab)
		})
	}
}

// leadFailures makes the server's offline_request and lead_action fail on
// demand: mode 0 passes them on, failAnswer answers 503, failDrop closes the
// connection (the server is unreachable for the browser).
type leadFailures struct{ mode atomic.Int32 }

const (
	failAnswer = 1
	failDrop   = 2
)

func (f *leadFailures) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, _ := apiPath(r.URL.Path)
		mode := f.mode.Load()
		if (path != "offline_request" && path != "lead_action") || r.Method != http.MethodPost || mode == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if mode == failDrop {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
		}
		http.Error(w, `{"success": false, "error": {"code": "unavailable", "message": "injected"}}`, http.StatusServiceUnavailable)
	})
}

const leadSettings = `{"id": 43042939, "banner_color": "43A400", "group_title": "Группы", "is_groups_enabled": true,
	"allowed_groups": [{"id": 15846, "name": "Группа 1"}, {"id": 15857, "name": "Группа 2"}],
	"fields": [{"is_required": false, "name": "name", "title": "Как вас зовут"}, {"is_required": false, "name": "phone", "title": "Телефон для связи"}],
	"message": "Оставьте свой вопрос здесь", "h_position": "center", "v_position": "middle"}`

// 7. Lead forms: isSubmitted() and the leadsubmit event with {success, info}
// whether the request was stored, refused or never reached the server.
func TestVendorSemantics_LeadSubmit(t *testing.T) {
	fail := &leadFailures{}
	srv := testenv.StartServer(t, testenv.Options{Wrap: fail.wrap})
	key := srv.CreateSite(t, "localhost", "127.0.0.1")
	env := &widgetEnv{realEnv: &realEnv{URL: srv.URL, Host: strings.TrimPrefix(srv.URL, "http:"), SiteKey: key, DB: srv.DB}, srv: srv}
	srv.SetWidgetSettings(t, key, "offline_message_generator", "desktop", leadSettings)
	env.settings(t, "personal_form", "desktop")
	tab := runControllers(t, env, NewPageServer(t), "/lead", "", `
<script>
R.omg = [];
R.pf = [];
vc('offline_message_generator', function (settings, tpls) {
  const w = Comagic.UI.createWidget('offline_message_generator', {settings: settings, id: settings.id, tpl: '<div class="my-lead"><p><%- message %></p></div>'});
  w.render();
  R.omgSubmittedAtStart = w.isSubmitted();
  w.on('leadsubmit', ev => R.omg.push(ev));
  window.omg = w;
});
vc('personal_form', function (settings) {
  const w = Comagic.UI.createWidget('personal_form', {settings: settings, id: settings.id, tpl: '<div class="my-pf"><b><%- banner_color %></b></div>'});
  w.render();
  w.on('leadsubmit', ev => R.pf.push(ev));
  window.pf = w;
});
</script>`, "offline_message_generator", "personal_form")
	// submit calls submit(data) on the form held in window[form] and checks the
	// leadsubmit event that answers it.
	submit := func(form, data string, want map[string]any) {
		t.Helper()
		n := Eval[int](tab, `(() => { const n = R.`+form+`.length; `+form+`.submit(`+data+`); return n; })()`)
		if ev := Wait[map[string]any](tab, `R.`+form+`.length > `+fmt.Sprint(n)+` && R.`+form+`[`+fmt.Sprint(n)+`]`, boot); !reflect.DeepEqual(ev, want) {
			t.Errorf("%s.submit(%s): leadsubmit %v, want %v", form, data, ev, want)
		}
	}
	info := func(ok bool, title, message string) map[string]any {
		return map[string]any{"success": ok, "info": map[string]any{"title": title, "message": message}}
	}
	if Eval[bool](tab, `R.omgSubmittedAtStart || omg.isSubmitted()`) {
		t.Fatal("isSubmitted() is true before submit()")
	}
	submit("omg", `{name: 'Анна', phone: '79123456789', email: 'anna@example.ru', message: 'Перезвоните', group_id: 15857}`,
		info(true, "Заявка отправлена", "Спасибо! Мы свяжемся с вами в ближайшее время."))
	if !Eval[bool](tab, `omg.isSubmitted()`) {
		t.Error("isSubmitted() is false after submit()")
	}
	c := Eval[map[string]any](tab, `Comagic.getCredentials()`)
	rows := env.waitRows(t, 1, `SELECT name, email, phone, message, group_id, form_name, visitor_id FROM offline_requests WHERE `+siteFilter, env.SiteKey)
	want := fmt.Sprint([][]string{{"Анна", "anna@example.ru", "79123456789", "Перезвоните", "15857", "offline_message_generator", fmt.Sprint(int64(c["visitor_id"].(float64)))}})
	if fmt.Sprint(rows) != want {
		t.Errorf("stored requests %v, want %s", rows, want)
	}

	// A refused submit and an unreachable server: the event still comes, with info.
	for _, f := range []struct {
		mode          int32
		code, message string
	}{{failAnswer, "unavailable", "injected"}, {failDrop, "network", "the Comagic server cannot be reached"}} {
		fail.mode.Store(f.mode)
		want := info(false, "Заявка не отправлена", "Не удалось отправить заявку. Проверьте соединение и попробуйте ещё раз.")
		want["error"] = map[string]any{"code": f.code, "message": f.message}
		submit("omg", `{name: 'Не дошло', phone: '79123456780'}`, want)
	}
	fail.mode.Store(0)
	if n := env.rows(t, `SELECT name FROM offline_requests WHERE `+siteFilter, env.SiteKey); len(n) != 1 {
		t.Errorf("failed submits stored rows: %v", n)
	}

	// personal_form: the submit is recorded as a lead action; leadsubmit has info
	// whether it was or not.
	if Eval[bool](tab, `pf.isSubmitted()`) {
		t.Error("personal_form isSubmitted() before submit()")
	}
	submit("pf", `{answer: 'yes'}`, info(true, "Спасибо!", "Мы получили ваш ответ."))
	if !Eval[bool](tab, `pf.isSubmitted()`) {
		t.Error("personal_form isSubmitted() false after submit()")
	}
	actions := env.waitRows(t, 1, `SELECT widget, action, is_lead, data->>'answer', visitor_id FROM lead_actions WHERE `+siteFilter+` AND action = 'submit' AND widget = 'personal_form'`, env.SiteKey)
	if want := fmt.Sprint([][]string{{"personal_form", "submit", "true", "yes", fmt.Sprint(int64(c["visitor_id"].(float64)))}}); fmt.Sprint(actions) != want {
		t.Errorf("lead actions %v, want %s", actions, want)
	}
	fail.mode.Store(failAnswer)
	submit("pf", `{answer: 'no'}`, info(false, "Не отправлено", "Не удалось отправить ответ. Проверьте соединение и попробуйте ещё раз."))
	fail.mode.Store(0)
	noExceptions(t, tab)
}

// 8. A site's own phone mask from setUIPhoneMaskFormat, used by a c-mask
// field with the phone validator: a complete short number is valid.
func TestVendorSemantics_SitePhoneMask(t *testing.T) {
	env, pages := vendorSite(t, "sitephone")
	tab := runControllers(t, env, pages, "/mask", `__cs.push(['setUIPhoneMaskFormat', '1 () __-__']);`, `
<script>
vc('sitephone', function (settings) {
  const call = Comagic.UI.createWidget('sitephone', {settings: settings, tpl:
    '<div class="my-call"><input id="ph" c-name="phone" c-mask="<%- Comagic.UI.C.PHONE_MASK_FORMAT %>" c-validator="phone"></div>'});
  call.render();
  window.call = call;
});
</script>`, "sitephone")
	if m := Eval[string](tab, `Comagic.UI.C.PHONE_MASK_FORMAT + '|' + document.getElementById('ph').getAttribute('c-mask')`); m != "1 () __-__|1 () __-__" {
		t.Fatalf("mask %q, want the site's 1 () __-__", m)
	}
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#ph`), "12"))
	const field = `({value: document.getElementById('ph').value, errors: call.getErrors(), values: call.getValues()})`
	expectJS(t, tab, "typed 12", field, map[string]any{"value": "1 () 12", "errors": map[string]any{"phone": "phone"}, "values": map[string]any{"phone": "1 () 12"}})
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#ph`), "34"))
	expectJS(t, tab, "typed 1234", field, map[string]any{"value": "1 () 12-34", "errors": nil, "values": map[string]any{"phone": "1 () 12-34"}})
	noExceptions(t, tab)
}

// 9. Comagic.openChatWindow() on a site whose consultant has only the request
// form (no chat) opens the request form.
func TestVendorSemantics_OpenChatWindowOpensRequestForm(t *testing.T) {
	env, pages := vendorSite(t, "consultant")
	tab := runControllers(t, env, pages, "/chat", "", `
<script>
vc('consultant', function (settings) {
  const om = Comagic.UI.createWidget('consultant_offline_message', {settings: settings, tpl: '<div class="my-om"><b c-ref="title"><%- offline_message.title %></b></div>'});
  om.render();
  om.hide();
  om.on('show', () => R.events.push('show'));
  window.om = om;
});
</script>`, "consultant")
	if Eval[bool](tab, `om.isVisible()`) {
		t.Fatal("the request form is visible before openChatWindow()")
	}
	Eval[bool](tab, `Comagic.openChatWindow(); true`)
	Wait[bool](tab, `om.isVisible()`, boot)
	expectJS(t, tab, "events of openChatWindow()", `R.events`, []any{"show"})
	for _, w := range tab.Logged("warning") {
		if strings.Contains(w, "openChatWindow") {
			t.Errorf("openChatWindow warned: %s", w)
		}
	}
	noExceptions(t, tab)
}

// 10. A tablet on a site with desktop and mobile settings only gets the
// desktop widgets and the desktop applyWidgetsOptions.
func TestVendorSemantics_TabletGetsDesktop(t *testing.T) {
	env, pages := vendorSite(t, "")
	env.srv.SetWidgetSettings(t, env.SiteKey, "sitephone", "desktop", `{"title": "desktop settings", "h_position": "right", "v_position": "bottom", "is_visible": true}`)
	env.srv.SetWidgetSettings(t, env.SiteKey, "sitephone", "mobile", `{"title": "mobile settings", "h_position": "right", "v_position": "bottom", "is_visible": true}`)
	for _, dev := range []string{"desktop", "mobile"} {
		pages.Page("/vc/"+dev+".js", `vc('sitephone', function (settings) {
			const w = Comagic.UI.createWidget('sitephone', {settings: settings, tpl: '<div class="my-phone"><%- title %></div>'});
			w.render();
			R.script = '`+dev+`';
			R.title = settings.title;
			R.text = w.getEl().textContent;
		});`)
	}
	opts := `__cs.push(['applyWidgetsOptions', {sitephone: {
		desktop: {js: '/vc/desktop.js', beforeViewControllerRun: function () { R.options = 'desktop'; }},
		mobile: {js: '/vc/mobile.js', beforeViewControllerRun: function () { R.options = 'mobile'; }}
	}}]);`
	tab := newTab(t)
	tab.Run(chromedp.Emulate(device.IPad))
	tab.Go(vendorPage(env, pages, "/tablet", "", opts, ""))
	waitControllers(t, tab, "sitephone")
	if dt := Eval[string](tab, `Comagic.getDeviceType()`); dt != "tablet" {
		t.Fatalf("device type %q, want tablet", dt)
	}
	expectJS(t, tab, "the tablet's controller", `({script: R.script, title: R.title, text: R.text, options: R.options})`,
		map[string]any{"script": "desktop", "title": "desktop settings", "text": "desktop settings", "options": "desktop"})
	if r := resources(tab, "/vc/mobile.js"); len(r) != 0 {
		t.Errorf("the mobile controller was fetched on a tablet: %v", r)
	}
	noExceptions(t, tab)
}

// 11. getContrastColor answers six hex digits without '#' (templates write
// '#<%= … %>'), and isIE is a boolean, not a function.
func TestVendorSemantics_ContrastColorAndIsIE(t *testing.T) {
	env, pages := vendorSite(t, "sitephone")
	tab := runControllers(t, env, pages, "/contrast", "", `
<script>
vc('sitephone', function (settings) {
  const UI = Comagic.UI;
  const w = UI.createWidget('sitephone', {settings: settings, tpl:
    '<div class="my-banner" style="background: #<%- banner_color %>; color: #<%- Comagic.UI.getContrastColor(banner_color) %>">Позвоните нам</div>'});
  w.render();
  R.contrast = [UI.getContrastColor('43A400'), UI.getContrastColor('#FFEE58'), UI.getContrastColor('fff')];
  R.color = getComputedStyle(w.getEl()).color;
  R.isIE = typeof UI.isIE;
});
</script>`, "sitephone")
	expectJS(t, tab, "getContrastColor and isIE", `({contrast: R.contrast, color: R.color, isIE: R.isIE, ie: Comagic.UI.isIE})`,
		map[string]any{"contrast": []any{"FFFFFF", "000000", "000000"}, "color": "rgb(255, 255, 255)", "isIE": "boolean", "ie": false})
	noExceptions(t, tab)
}

// 12. The default consultant's root is a full-height flex column, so a site
// moves it with .comagic-widget { justify-content: … } as the vendor's
// manual shows (a <style> in the page's head).
func TestVendorSemantics_DefaultConsultantSiteCSS(t *testing.T) {
	env, pages := vendorSite(t, "consultant")
	for _, tc := range []struct {
		name, css string
		top       bool
	}{{"site-css", `<style>.comagic-widget { justify-content: flex-start; }</style>`, true}, {"no-site-css", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTab(t)
			tab.Run(chromedp.EmulateViewport(1280, 800))
			tab.Go(pages.Page("/"+tc.name, embedPage(tc.css+env.syncEmbed(""), shopPage)))
			Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && document.querySelector('.cmgd-label__button').getBoundingClientRect().height > 0`, boot)
			r := Eval[map[string]float64](tab, `(() => { const r = document.querySelector('.cmgd-label__button').getBoundingClientRect(); return {top: r.top, bottom: r.bottom, h: innerHeight}; })()`)
			if tc.top && r["top"] >= 100 {
				t.Errorf("with the site's justify-content: flex-start the label is at %v, want its top < 100", r)
			}
			if !tc.top && r["bottom"] < r["h"]-100 {
				t.Errorf("the label is at %v, want it at the bottom of the screen", r)
			}
			noExceptions(t, tab)
		})
	}
}
