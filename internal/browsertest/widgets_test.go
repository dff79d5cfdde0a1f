package browsertest

// Acceptance tests of the widget framework Comagic.UI and the default
// consultant widget (issue 4), in real Chromium against the real server and
// Postgres.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/comagicd/comagicd/internal/testenv"
)

type widgetEnv struct {
	*realEnv
	srv *testenv.Server
}

func startWidgetEnv(t *testing.T) *widgetEnv {
	t.Helper()
	srv := testenv.StartServer(t, testenv.Options{})
	key := srv.CreateSite(t, "localhost", "127.0.0.1")
	return &widgetEnv{realEnv: &realEnv{URL: srv.URL, Host: strings.TrimPrefix(srv.URL, "http:"), SiteKey: key, DB: srv.DB}, srv: srv}
}

// Settings objects of the reference shapes (reference/widget-settings/).
var refSettings = map[string]string{
	"consultant": consultantSettings,
	"sitephone": `{"group_title": "Группы", "allowed_groups": [{"name": "Группа 1", "id": 1}], "is_groups_enabled": true,
		"title": "Обратный звонок", "banner_color": "43A400", "h_position": "right", "v_position": "bottom", "is_visible": true}`,
	"personal_form": `{"image_url": null, "allowed_groups": null, "group_title": 0, "fields": [], "banner_color": "CFCCCC",
		"available_connect_ways": ["sitephone", "chat", "offline_message"]}`,
}

const consultantSettings = `{
 "common": {
  "banner_color": "43A400"
 },
 "offline_message": {
  "group_title": "Группы",
  "allowed_groups": [
   {
    "name": "Группа 1",
    "id": 1
   },
   {
    "name": "Группа 2",
    "id": 2
   }
  ],
  "is_groups_enabled": true,
  "fields": [
   {
    "name": "phone",
    "is_required": false,
    "title": "Телефон для связи"
   },
   {
    "name": "email",
    "is_required": true,
    "title": "E-mail для ответов"
   },
   {
    "name": "message",
    "is_required": false,
    "title": "Ваш вопрос"
   }
  ],
  "title": "Отправить заявку",
  "is_animation_enabled": false,
  "h_position": "right",
  "v_position": "bottom",
  "is_visible": true
 },
 "chat": {
  "group_title": null,
  "allowed_groups": null,
  "is_file_transfer": true,
  "title": "Задать вопрос в чат",
  "fields": null,
  "is_consultant_operator_rating": true,
  "retention": {
   "is_alternate_communication_way_enabled": true,
   "alternate_communication_way_timeout": 30,
   "messages": [
    {
     "timeout": 20,
     "text": "Оператор ответит Вам через несколько секунд."
    },
    {
     "timeout": 20,
     "text": "Пожалуйста, не закрывайте чат. Операторы ответят Вам в ближайшее время."
    },
    {
     "timeout": 20,
     "text": "Все операторы заняты. Ожидайте ответа."
    }
   ],
   "alternate_communication_way": "chat"
  },
  "is_animation_enabled": false,
  "h_position": "right",
  "v_position": "bottom",
  "is_visible": false
 }
}`

func (e *widgetEnv) settings(t *testing.T, vc, dev string) {
	t.Helper()
	e.srv.SetWidgetSettings(t, e.SiteKey, vc, dev, refSettings[vc])
}

// css serves a stylesheet on the page server.
func css(ps *PageServer, path, text string) {
	ps.Handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(text))
	})
}

// syncEmbed loads the script synchronously, so page scripts after it can
// register view controllers before the bootstrap answers.
func (e *widgetEnv) syncEmbed(options string) string {
	return `<script>var __cs = __cs || []; __cs.push(["setCsAccount", "` + e.SiteKey + `"]);` + options + `</script>` +
		`<script src="` + e.Host + `/static/cs.min.js"></script>`
}

// resources lists the URLs the page fetched that contain part.
func resources(tab *Tab, part string) []string {
	return Eval[[]string](tab, `performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes(`+jsString(part)+`))`)
}

// widgetFiles returns the widget files the page fetched or started to fetch
// (script and link elements pointing there).
func widgetFiles(tab *Tab) []string {
	return Eval[[]string](tab, `performance.getEntriesByType('resource').map(e => e.name)
		.concat(Array.from(document.querySelectorAll('script[src], link[href]'), e => e.src || e.href))
		.filter(n => n.includes('/static/widgets/'))`)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

const frameworkPage = `
<div id="ready" class="ready-box"><span c-ref="part">one</span><span c-ref="part">two</span></div>
<div id="probe" class="probe"></div>
<script>
window.R = {runs: 0, leadRuns: 0, log: [], order: []};
Comagic.on('ui:actionstart', e => R.order.push('actionstart'));
Comagic.UI.registerViewController('personal_form', function (settings) {
  R.leadRuns++;
});
Comagic.UI.registerViewController('sitephone', function (settings, tpls) {
  const UI = Comagic.UI;
  R.runs++;
  R.order.push('run');
  R.cssBeforeRun = getComputedStyle(document.getElementById('probe')).color;
  R.settingsTitle = settings.title;
  R.patched = settings.patched;
  R.customTpl = tpls.custom;

  // Base class, named subclasses, config overrides bound as methods.
  const box = UI.createWidget('my_box', {
    settings: {title: '<img src=x onerror="window.pwned=1">', items: ['a', '<b>b</b>']},
    tpl: tpls.custom,
    greet: function () { return this.name + ':' + this.settings.items.length; },
    answer: 42,
  });
  const greet = box.greet;
  R.bound = greet();
  R.answer = box.answer;
  R.subclass = {
    base: typeof box.sendRequest,
    offline: typeof UI.createWidget('consultant_offline_message', {tpl: '<div></div>'}).sendRequest,
    chat: typeof UI.createWidget('consultant_chat', {tpl: '<div></div>'}).startChat,
    sitephone: typeof UI.createWidget('sitephone', {tpl: '<div></div>'}).sitephoneCall,
    lead: typeof UI.createWidget('offline_message_generator', {tpl: '<div></div>', id: 7}).submit,
  };
  R.byId = UI.getWidget(7) === UI.getWidget('offline_message_generator');

  // Events: order, arguments, before* cancellation, un.
  const events = ['beforerender', 'render', 'beforeshow', 'show', 'beforehide', 'hide', 'beforedestroy', 'destroy'];
  events.forEach(ev => box.on(ev, function (w) { R.log.push(ev + (w === box && this === box ? '' : '!')); }));
  const holder = document.createElement('section');
  holder.id = 'holder';
  holder.innerHTML = '<i id="after"></i>';
  document.body.appendChild(holder);
  box.render(holder, document.getElementById('after'));
  R.renderTo = box.getRenderTo() === holder && holder.firstElementChild === box.getEl();
  R.title = box.refs.title.textContent;
  R.imgs = box.getEl().querySelectorAll('img').length;
  R.bold = box.getEl('p').innerHTML;
  R.items = Array.isArray(box.refs.item) ? box.refs.item.map(e => e.textContent) : 'not an array';
  R.single = box.refs.one.tagName;
  R.getEl = box.getEl('.inner') === box.refs.one;
  box.hide();
  R.hidden = [box.isVisible(), box.getEl().classList.contains('comagic-widget--hidden')];
  const no = () => false;
  box.on('beforeshow', no);
  box.show();
  R.cancelled = box.isVisible();
  box.un('beforeshow', no);
  box.show();
  R.shown = box.isVisible();
  box.on('beforedestroy', no);
  box.destroy();
  R.destroyCancelled = !!box.getEl() && UI.getWidget('my_box') === box;
  box.un('beforedestroy', no);

  // Overridden show/hide still fire the events.
  const custom = UI.createWidget('custom_show', {tpl: '<div class="cs"></div>', show: function () { this.getEl().dataset.shown = 'yes'; }});
  custom.render();
  custom.on('show', () => R.customShowEvent = true);
  custom.show();
  R.customShow = custom.getEl().dataset.shown;

  // A ready element taken from the page.
  const ready = UI.createWidget('ready', {tpl: document.getElementById('ready')});
  R.ready = ready.getEl().id + ':' + ready.refs.part.length;

  // Observer, createEl, helpers, constants.
  const obs = UI.createObserver((action, state) => (state || 0) + action.n);
  const seen = [];
  const off = obs.sub(v => seen.push('a' + v));
  obs.sub(v => seen.push('b' + v));
  obs.pub({n: 2});
  off();
  obs.pub({n: 3});
  R.observer = seen.join(',');
  const el = UI.createEl('<ul><% list.forEach(function (x) { %><li><%- x %></li><% }); %></ul>', {list: ['<i>', 'y']});
  R.createEl = el.outerHTML;
  R.time = UI.toTimeString(new Date(2024, 0, 2, 3, 4)) + ' ' + UI.toDateString(new Date(2024, 0, 2, 3, 4));
  R.contrast = UI.getContrastColor('43A400') + UI.getContrastColor('#FFEE58');
  R.isIE = UI.isIE;
  R.mobile = UI.Mobile.isFullSizeMode();
  UI.Mobile.form(ready);
  R.formed = document.documentElement.classList.contains('comagic-mobile-locked') && ready.getEl().classList.contains('comagic-mobile-form');
  UI.Mobile.unform(ready);
  R.unformed = !document.documentElement.classList.contains('comagic-mobile-locked');
  R.labelUnit = UI.Mobile.updateLabelStyles(ready) > 0;
  R.C = [UI.C.PHONE_MASK_FORMAT, UI.C.START_CHAT_TEXT, UI.C.SEND_OFFLINE_MESSAGE_TEXT, typeof UI.C.PLACEHOLDERS, UI.C.IMAGES.OPERATOR.slice(-12),
    typeof UI.C.MESSAGES_SETTINGS, typeof UI.C.RETENTION_BUTTONS_SETTINGS, Array.isArray(UI.C.SUPPORTED_FILE_TYPES),
    UI.C.WELCOME_CHAT_TEXT && UI.C.VCARD_TEXT && UI.C.RATING_TEXT && UI.C.RATING_FEEDBACK_TEXT && UI.C.OPERATOR_TYPING_TEXT &&
    UI.C.EDITOR_FIELD_TEXT && UI.C.CALL_SITEPHONE_TEXT && UI.C.DATE_NOW_TITLE_TEXT && UI.C.DATE_CHANGE_TITLE_TEXT ? 'all' : 'missing'];

  // The form plugin.
  window.form = UI.createWidget('my_form', {tpl:
    '<div class="f">' +
    '<input id="phone" c-name="phone" c-type="numberfield" c-mask="+7 (___) ___-__-__" c-validator="required phone">' +
    '<input id="email" c-name="email" c-validator="email">' +
    '<div id="note" contenteditable="true" c-name="note" c-max="5"></div>' +
    '<select id="city" c-name="city"><option value="">-</option><option value="msk">Москва</option></select>' +
    '<div c-name="color" c-select><span id="red" c-value="red">R</span><span id="blue" c-value="blue">B</span></div>' +
    '<input id="code" c-name="code" c-type="numberfield" c-length="4">' +
    '<input id="off" c-name="off" c-disabled="true" c-validator="required">' +
    '<button id="go" c-type="submitbutton">Go</button></div>'});
  form.render();
  form.on('submit', (w, values) => { R.submitted = values; });

  // Plugins: center, draggable, resizable, slim scroll.
  window.drag = UI.createWidget('drag', {tpl:
    '<div class="drag" c-draggable="xy" c-draggable-hpadding="10" c-draggable-vpadding="10"><div id="handle" c-dragger="true">drag</div>' +
    '<div id="resizer" c-resizer="true" c-resizer-vpadding="20"></div><div id="slim" c-slim-scroll="true"></div></div>'});
  drag.render();
  drag.on('dragend', (w, pos) => { R.dragend = [w === drag, pos]; });
  drag.on('resizeend', (w, h) => { R.resizeend = [w === drag, h]; });
  window.centered = UI.createWidget('centered', {tpl: '<div class="centered" c-center="xy"></div>'});
  centered.render();
  R.slim = getComputedStyle(document.getElementById('slim')).overflowY;
  R.order.push('end');
});
</script>`

const frameworkCSS = `.probe { color: rgb(1, 2, 3); }
.drag { position: fixed; left: 100px; top: 100px; width: 200px; height: 100px; }
.centered { width: 100px; height: 50px; }
#slim { height: 20px; }`

const frameworkTpl = `<div class="box"><h1 c-ref="title"><%- title %></h1><p><%= '<b>bold</b>' %></p>` +
	`<% items.forEach(function (i) { %><span c-ref="item"><%- i %></span><% }); %><em class="inner" c-ref="one">x</em></div>`

func TestWidgetFramework(t *testing.T) {
	env := startWidgetEnv(t)
	env.settings(t, "sitephone", "desktop")
	env.settings(t, "personal_form", "desktop")
	pages := NewPageServer(t)
	css(pages, "/fw.css", frameworkCSS)
	pages.Page("/fw.html", frameworkTpl)
	opts := `__cs.push(['applyWidgetsOptions', {sitephone: {
		desktop: {
			css: '/fw.css',
			tpls: {custom: '/fw.html'},
			beforeViewControllerRun: function (settings, tpls) { settings.patched = 'yes'; R.order.push('before'); return {settings: settings, tpls: tpls}; },
			afterViewControllerRun: function () { R.order.push('after'); }
		},
		mobile: {css: '/nope.css'}
	}}]);`
	tab := newTab(t)
	tab.Go(pages.Page("/fw", embedPage(env.syncEmbed(opts), frameworkPage)))
	waitBoot(tab)
	// The personal_form controller runs once its default templates arrived,
	// independently of the sitephone one.
	r := Wait[map[string]any](tab, `window.R && R.order.includes('after') && R.leadRuns > 0 && R`, boot)

	want := map[string]any{
		"runs":             1.0,
		"leadRuns":         1.0,
		"cssBeforeRun":     "rgb(1, 2, 3)",
		"settingsTitle":    "Обратный звонок",
		"patched":          "yes",
		"customTpl":        frameworkTpl,
		"bound":            "my_box:2",
		"answer":           42.0,
		"subclass":         map[string]any{"base": "undefined", "offline": "function", "chat": "function", "sitephone": "function", "lead": "function"},
		"byId":             true,
		"renderTo":         true,
		"title":            `<img src=x onerror="window.pwned=1">`,
		"imgs":             0.0,
		"bold":             "<b>bold</b>",
		"items":            []any{"a", "<b>b</b>"},
		"single":           "EM",
		"getEl":            true,
		"hidden":           []any{false, true},
		"cancelled":        false,
		"shown":            true,
		"destroyCancelled": true,
		"customShowEvent":  true,
		"customShow":       "yes",
		"ready":            "ready:2",
		"observer":         "a2,b2,b5",
		"createEl":         "<ul><li>&lt;i&gt;</li><li>y</li></ul>",
		"time":             "03:04 02.01.2024",
		"contrast":         "FFFFFF000000",
		"isIE":             false,
		"mobile":           false,
		"formed":           true,
		"unformed":         true,
		"labelUnit":        true,
		"C":                []any{"+7 (___) ___-__-__", "Начать чат", "Оставить заявку", "object", "operator.svg", "object", "object", true, "all"},
		"slim":             "auto",
		"order":            []any{"before", "run", "end", "after"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(r[k], v) {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
	wantLog := []any{"beforerender", "render", "beforehide", "hide", "beforeshow", "beforeshow", "show", "beforedestroy"}
	if !reflect.DeepEqual(r["log"], wantLog) {
		t.Errorf("event log %v, want %v", r["log"], wantLog)
	}

	// destroy after the cancelling handler is gone removes the widget.
	got := Eval[[]any](tab, `(() => { const w = Comagic.UI.getWidget('my_box'); w.destroy(); return [w.getEl(), Comagic.UI.getWidget('my_box'), R.log.slice(-2)]; })()`)
	if got[0] != nil || got[1] != nil || !reflect.DeepEqual(got[2], []any{"beforedestroy", "destroy"}) {
		t.Errorf("destroy: %v", got)
	}

	// The form plugin: exact getValues/getErrors.
	type vals = map[string]any
	values := func() vals { return Eval[vals](tab, `form.getValues()`) }
	errors := func() any { return Eval[any](tab, `form.getErrors()`) }
	if v := values(); !reflect.DeepEqual(v, vals{"phone": "", "email": "", "note": "", "city": "", "color": "", "code": "", "off": ""}) {
		t.Errorf("empty getValues() = %v", v)
	}
	if e := errors(); !reflect.DeepEqual(e, map[string]any{"phone": "required"}) {
		t.Errorf("empty getErrors() = %v, want {phone: 'required'}", e)
	}
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#phone`), "800000"))
	if e := errors(); !reflect.DeepEqual(e, map[string]any{"phone": "phone"}) {
		t.Errorf("short phone getErrors() = %v", e)
	}
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#phone`), "0000"),
		chromedp.SendKeys(chromedp.CSS(`#note`), "abcdefg"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "bad"),
		chromedp.SendKeys(chromedp.CSS(`#code`), "1a2"),
		chromedp.SetValue(chromedp.CSS(`#city`), "msk"),
		chromedp.Click(chromedp.CSS(`#blue`)))
	if got := Eval[string](tab, `document.getElementById('phone').value`); got != "+7 (800) 000-00-00" {
		t.Errorf("masked phone %q", got)
	}
	if v := values(); !reflect.DeepEqual(v, vals{"phone": "78000000000", "email": "bad", "note": "abcde", "city": "msk", "color": "blue", "code": "12", "off": ""}) {
		t.Errorf("getValues() = %v", v)
	}
	if e := errors(); !reflect.DeepEqual(e, map[string]any{"email": "email", "code": "length"}) {
		t.Errorf("getErrors() = %v", e)
	}
	Eval[bool](tab, `document.getElementById("email").value = ""; true`)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#email`), "a@b.ru"),
		chromedp.SendKeys(chromedp.CSS(`#code`), "34"))
	if e := errors(); e != nil {
		t.Errorf("getErrors() = %v, want null", e)
	}
	tab.Run(chromedp.Click(chromedp.CSS(`#go`)))
	sub := Wait[vals](tab, `R.submitted`, boot)
	if sub["phone"] != "78000000000" || sub["code"] != "1234" {
		t.Errorf("submit event values %v", sub)
	}
	if Eval[bool](tab, `document.getElementById('off').disabled`) != true {
		t.Error("c-disabled field is not disabled")
	}

	// Drag, resize, center.
	pos := Eval[map[string]any](tab, `(() => {
		const fire = (el, type, x, y) => el.dispatchEvent(new PointerEvent(type, {clientX: x, clientY: y, bubbles: true, button: 0, pointerId: 1, isPrimary: true}));
		const h = document.getElementById('handle');
		fire(h, 'pointerdown', 110, 110);
		fire(document, 'pointermove', 150, 130);
		fire(document, 'pointermove', -500, 140);
		fire(document, 'pointerup', -500, 140);
		const r = document.getElementById('resizer');
		const top = drag.getEl().getBoundingClientRect().top;
		fire(r, 'pointerdown', 20, top);
		fire(document, 'pointermove', 20, top - 30);
		fire(document, 'pointerup', 20, top - 30);
		const c = centered.getEl().getBoundingClientRect();
		return {drag: R.dragend, resize: R.resizeend, center: [Math.abs(c.left - (innerWidth - 100) / 2) <= 1, Math.abs(c.top - (innerHeight - 50) / 2) <= 1]};
	})()`)
	drag, _ := pos["drag"].([]any)
	if len(drag) != 2 || drag[0] != true {
		t.Fatalf("dragend %v", pos["drag"])
	}
	if p := drag[1].(map[string]any); p["left"] != 10.0 || p["top"] != 130.0 {
		t.Errorf("dragend position %v, want left 10 (clamped to the padding), top 130", p)
	}
	if !reflect.DeepEqual(pos["resize"], []any{true, 130.0}) {
		t.Errorf("resizeend %v, want [true, 130]", pos["resize"])
	}
	if !reflect.DeepEqual(pos["center"], []any{true, true}) {
		t.Errorf("centered element off by %v", pos["center"])
	}

	// Lead controllers run on every display; once-per-page ones do not run again.
	n := Eval[[]any](tab, `(() => { Comagic.UI._env.display('personal_form'); Comagic.UI.registerViewController('sitephone', () => R.runs++); return [R.leadRuns, R.runs]; })()`)
	if !reflect.DeepEqual(n, []any{2.0, 1.0}) {
		t.Errorf("[lead runs, sitephone runs] = %v, want [2, 1]", n)
	}
	if Eval[bool](tab, `window.pwned === undefined`) != true {
		t.Error("template text was interpreted as HTML")
	}
	if len(resources(tab, "/static/widgets/consultant")) != 0 || len(resources(tab, "/nope.css")) != 0 {
		t.Errorf("fetched widget files not enabled here: %v", resources(tab, "/static/widgets/"))
	}
	noExceptions(t, tab)
}

// Widget code is fetched only when a widget is enabled, and disableWidgets
// turns all widgets off.
func TestWidgetsLoadOnlyWhenEnabled(t *testing.T) {
	env := startWidgetEnv(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	tab.Go(pages.Page("/none", embedPage(env.classic(), "")))
	waitBoot(tab)
	roundTrip(tab) // the bootstrap's answer has been acted on
	if got := widgetFiles(tab); len(got) != 0 {
		t.Errorf("no widget enabled, yet fetched %v", got)
	}
	env.settings(t, "consultant", "desktop")
	tab.Go(pages.Page("/off", embedPage(env.syncEmbed(`__cs.push(['disableWidgets', true]);`), "")))
	waitBoot(tab)
	roundTrip(tab)
	if got := widgetFiles(tab); len(got) != 0 {
		t.Errorf("disableWidgets, yet fetched %v", got)
	}
	tab.Go(pages.Page("/on", embedPage(env.classic(), "")))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label')`, boot)
	for _, f := range []string{"ui.js", "ui.css", "consultant.js", "consultant.css", "consultant.tpls.json"} {
		if len(resources(tab, "/static/widgets/"+f)) != 1 {
			t.Errorf("%s fetched %d times, want once", f, len(resources(tab, "/static/widgets/"+f)))
		}
	}
	noExceptions(t, tab)
}

// screenshot saves a PNG of the viewport under $BROWSERTEST_SCREENSHOTS (when
// set) and checks that one was taken.
func screenshot(t *testing.T, tab *Tab, name string) {
	t.Helper()
	ctx, cancel := tab.Ctx()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if dir := os.Getenv("BROWSERTEST_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const shopPage = `<main style="font: 16px/1.5 Georgia, serif; max-width: 760px; margin: 40px auto; padding: 0 20px; color: #333">
<h1>Цветочная лавка</h1><p>Букеты с доставкой по городу. Соберём букет за час, привезём в удобное время.</p>
<p>Розы, пионы, тюльпаны и сезонные цветы. Открытки и упаковка в подарок.</p></main>`

const xss = `<img src=x onerror="window.pwned=1">`

// The default consultant widget: keyboard from the label to the request
// form, field errors that store nothing, a server-side field error mapped
// onto its field, and a stored request with the visitor's session.
func TestConsultantOfflineForm(t *testing.T) {
	env := startWidgetEnv(t)
	env.settings(t, "consultant", "desktop")
	pages := NewPageServer(t)
	tab := newTab(t)
	tab.Run(chromedp.EmulateViewport(1280, 800))
	events := `<script>window.E = []; Comagic.on('ui:actionstart', e => E.push('start:' + e.action)); Comagic.on('ui:actionend', e => E.push('end:' + e.success));</script>`
	tab.Go(pages.Page("/shop", embedPage(env.syncEmbed("")+events, shopPage)))
	c := waitBoot(tab)
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button')`, boot)
	screenshot(t, tab, "desktop-label")

	// Keyboard: the label is reachable with Tab, Enter opens the rack, Enter on
	// the channel opens the form with focus in its first field.
	tab.Run(chromedp.KeyEvent("\t"))
	if got := Eval[string](tab, `document.activeElement.className + '|' + document.activeElement.getAttribute('aria-label')`); got != "cmgd-label__button|Отправить заявку" {
		t.Fatalf("Tab focused %q, want the label button", got)
	}
	tab.Run(chromedp.KeyEvent("\r"))
	Wait[bool](tab, `document.activeElement && document.activeElement.dataset.channel === 'offline_message'`, boot)
	screenshot(t, tab, "desktop-rack")
	tab.Run(chromedp.KeyEvent("\r"))
	Wait[bool](tab, `document.activeElement && document.activeElement.id === 'cmgd-om-group_id'`, boot)
	if got := Eval[string](tab, `document.querySelector('.cmgd-label__button').getAttribute('aria-expanded')`); got != "true" {
		t.Errorf("label aria-expanded %q while the form is open", got)
	}
	// Escape closes it and gives focus back to the label.
	tab.Run(chromedp.KeyEvent("\x1b"))
	Wait[bool](tab, `document.activeElement.className === 'cmgd-label__button' && !Comagic.UI.getWidget('consultant_offline_message').isVisible()`, boot)

	// openSiteRequestPanel() from page code.
	Eval[bool](tab, `Comagic.openSiteRequestPanel(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_offline_message').isVisible()`, boot)

	// Empty form: required fields (email and the group, from the settings) get errors; nothing is stored.
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-panel [c-type=submitbutton]`)))
	errs := Wait[map[string]string](tab, `(() => { const r = {}; document.querySelectorAll('.cmgd-panel [c-error]').forEach(e => { if (e.textContent) r[e.getAttribute('c-error')] = e.textContent; }); return Object.keys(r).length && r; })()`, boot)
	if errs["email"] != "Заполните это поле" || errs["group_id"] != "Заполните это поле" || len(errs) != 2 {
		t.Errorf("field errors %v, want email and group_id required", errs)
	}
	if got := Eval[string](tab, `document.activeElement.id + ' ' + document.activeElement.getAttribute('aria-invalid')`); got != "cmgd-om-group_id true" {
		t.Errorf("focus after a failed submit on %q, want the first invalid field", got)
	}
	// A bad e-mail and a short phone are refused in the browser.
	tab.Run(chromedp.SetValue(chromedp.CSS(`#cmgd-om-group_id`), "2"),
		chromedp.SendKeys(chromedp.CSS(`#cmgd-om-phone`), "912345"),
		chromedp.SendKeys(chromedp.CSS(`#cmgd-om-email`), "not-an-email"),
		chromedp.Click(chromedp.CSS(`.cmgd-panel [c-type=submitbutton]`)))
	Wait[bool](tab, `document.getElementById('cmgd-om-email-error').textContent === 'Проверьте адрес e-mail' && document.getElementById('cmgd-om-phone-error').textContent !== ''`, boot)
	screenshot(t, tab, "desktop-errors")
	// An address the browser accepts but the server refuses: the server's field error lands on the field.
	Eval[bool](tab, `document.getElementById('cmgd-om-email').value = ''; true`)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgd-om-email`), "ivan@example..ru"),
		chromedp.SendKeys(chromedp.CSS(`#cmgd-om-phone`), "6789"),
		chromedp.Click(chromedp.CSS(`.cmgd-panel [c-type=submitbutton]`)))
	// The server's answer is in: whatever it stored is visible now.
	Wait[bool](tab, `document.getElementById('cmgd-om-email').getAttribute('aria-invalid') === 'true' && document.getElementById('cmgd-om-email-error').textContent === 'Проверьте адрес e-mail' && document.getElementById('cmgd-om-phone-error').textContent === ''`, boot)
	if n := env.rows(t, `SELECT 1 FROM offline_requests WHERE `+siteFilter, env.SiteKey); len(n) != 0 {
		t.Fatalf("invalid input stored %d requests", len(n))
	}

	// A valid request, with visitor text that looks like HTML.
	Eval[bool](tab, `document.getElementById('cmgd-om-email').value = ''; true`)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgd-om-email`), "ivan@example.ru"),
		chromedp.SendKeys(chromedp.CSS(`#cmgd-om-message`), "Нужен букет "+xss),
		chromedp.Click(chromedp.CSS(`.cmgd-panel [c-type=submitbutton]`)))
	Wait[bool](tab, `!document.querySelector('.cmgd-done').hidden`, boot)
	done := Eval[string](tab, `document.querySelector('.cmgd-done__title').textContent + ' / ' + document.querySelector('.cmgd-done__text').textContent`)
	if done != "Заявка отправлена / Спасибо! Мы свяжемся с вами в ближайшее время." {
		t.Errorf("success message %q", done)
	}
	screenshot(t, tab, "desktop-sent")
	rows := env.waitRows(t, 1, `SELECT name, email, phone, message, coalesce(group_id::text, ''), form_name, visitor_id::text || ' ' || session_id::text, hit_id IS NOT NULL
		FROM offline_requests WHERE `+siteFilter, env.SiteKey)
	ids := fmt.Sprint(int64(c["visitor_id"].(float64))) + " " + fmt.Sprint(int64(c["session_id"].(float64)))
	want := fmt.Sprint([]string{"", "ivan@example.ru", "79123456789", "Нужен букет " + xss, "2", "Отправить заявку", ids, "true"})
	if len(rows) != 1 || fmt.Sprint(rows[0]) != want {
		t.Errorf("stored requests %v\nwant [%s]", rows, want)
	}
	if got := Eval[[]string](tab, `E`); strings.Join(got, ",") != "start:sendofflinerequest,end:false,start:sendofflinerequest,end:true" {
		t.Errorf("Comagic.on ui:action events %v", got)
	}
	if got := Eval[string](tab, `Comagic.visitorCard.getItem('email') + ' ' + Comagic.visitorCard.getItem('phone')`); got != "ivan@example.ru 79123456789" {
		t.Errorf("visitorCard %q", got)
	}
	// Closing the success view resets the form for the next request.
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-done .cmgd-button`)))
	Wait[bool](tab, `!Comagic.UI.getWidget('consultant_offline_message').isVisible() && document.getElementById('cmgd-om-email').value === ''`, boot)
	if Eval[bool](tab, `window.pwned === undefined && !document.querySelector('img[src=x]')`) != true {
		t.Error("visitor text was interpreted as HTML")
	}
	noExceptions(t, tab)
}

// sendRequest and the sendofflinerequest event, called by a site's own
// controller: the event carries {success, info{title, message}}.
func TestConsultantSendRequestAPI(t *testing.T) {
	env := startWidgetEnv(t)
	env.settings(t, "consultant", "desktop")
	pages := NewPageServer(t)
	tab := newTab(t)
	page := `<script>
	window.got = [];
	Comagic.UI.registerViewController('consultant', function (settings, tpls) {
	  const w = Comagic.UI.createWidget('consultant_offline_message', {settings: settings, template: '<div><p c-ref="name"><%- offline_message.title %></p></div>'});
	  w.on('sendofflinerequest', ev => { got.push(ev); if (got.length === 1) w.sendRequest({name: '` + xss + `', message: 'Второй', group_id: '1'}); });
	  w.sendRequest({email: 'broken@'});
	});
	</script>`
	tab.Go(pages.Page("/api", embedPage(env.syncEmbed(""), page)))
	got := Wait[[]map[string]any](tab, `window.got.length === 2 && got`, boot)
	if got[0]["success"] != false || got[0]["field"] != "email" {
		t.Errorf("first event %v, want a failure naming email", got[0])
	}
	if info, _ := got[1]["info"].(map[string]any); got[1]["success"] != true || info["title"] != "Заявка отправлена" || info["message"] == "" {
		t.Errorf("second event %v", got[1])
	}
	rows := env.waitRows(t, 1, `SELECT name, message, group_id FROM offline_requests WHERE `+siteFilter, env.SiteKey)
	if fmt.Sprint(rows) != fmt.Sprint([][]string{{xss, "Второй", "1"}}) {
		t.Errorf("stored %v", rows)
	}
	if len(resources(tab, "/static/widgets/consultant.js")) != 0 {
		t.Error("the default consultant controller was fetched although the page registered its own")
	}
	noExceptions(t, tab)
}

// applyWidgetsOptions replaces the consultant's js, css and templates for
// desktop only: a mobile browser on the same page gets the default widget,
// full-size on the phone.
func TestConsultantOptionsPerDevice(t *testing.T) {
	env := startWidgetEnv(t)
	env.settings(t, "consultant", "desktop")
	env.settings(t, "consultant", "mobile")
	pages := NewPageServer(t)
	css(pages, "/my/consultant.css", `.my-form { color: rgb(9, 8, 7); }`)
	pages.Page("/my/form.html", `<div class="my-form"><b c-ref="t"><%- offline_message.title %></b></div>`)
	pages.Page("/my/consultant.js", `Comagic.UI.registerViewController('consultant', function (settings, tpls) {
		const w = Comagic.UI.createWidget('consultant_offline_message', {settings: settings, template: tpls.consultant_offline_message});
		w.render();
		window.custom = {color: getComputedStyle(w.getEl()).color, title: w.refs.t.textContent, label: typeof tpls.consultant_label};
	});`)
	opts := `__cs.push(['applyWidgetsOptions', {consultant: {desktop: {js: '/my/consultant.js', css: '/my/consultant.css', tpls: {consultant_offline_message: '/my/form.html'}}}}]);`
	page := pages.Page("/dev", embedPage(`<meta name="viewport" content="width=device-width, initial-scale=1">`+
		`<script>var __cs = __cs || []; __cs.push(["setCsAccount", "`+env.SiteKey+`"]);`+opts+`</script>`+
		`<script async src="`+env.Host+`/static/cs.min.js"></script>`, shopPage))

	t.Run("desktop", func(t *testing.T) {
		tab := newTab(t)
		tab.Go(page)
		got := Wait[map[string]any](tab, `window.custom`, boot)
		want := map[string]any{"color": "rgb(9, 8, 7)", "title": "Отправить заявку", "label": "string"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("custom controller saw %v, want %v", got, want)
		}
		if n := len(resources(tab, "/static/widgets/consultant.js")) + len(resources(tab, "/static/widgets/consultant.css")); n != 0 {
			t.Errorf("default consultant js/css fetched on desktop: %v", resources(tab, "/static/widgets/"))
		}
		if Eval[string](tab, `Comagic.getDeviceType()`) != "desktop" {
			t.Error("device type is not desktop")
		}
		noExceptions(t, tab)
	})

	t.Run("mobile", func(t *testing.T) {
		tab := newTab(t)
		tab.Run(chromedp.Emulate(device.IPhone12))
		tab.Go(page)
		Wait[bool](tab, `!!document.querySelector('.cmgd-label__button')`, boot)
		if Eval[string](tab, `Comagic.getDeviceType()`) != "mobile" {
			t.Fatal("the server did not see a mobile device")
		}
		if len(resources(tab, "/my/")) != 0 || Eval[bool](tab, `window.custom === undefined`) != true {
			t.Errorf("desktop customisation applied on mobile: %v", resources(tab, "/my/"))
		}
		screenshot(t, tab, "mobile-label")
		tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-label__button`)))
		Wait[bool](tab, `Comagic.UI.getWidget('consultant_rack').isVisible()`, boot)
		screenshot(t, tab, "mobile-rack")
		tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-channel`)))
		Wait[bool](tab, `Comagic.UI.getWidget('consultant_offline_message').isVisible()`, boot)
		full := Eval[map[string]any](tab, `(() => { const r = document.querySelector('.cmgd-panel').getBoundingClientRect();
			return {full: Comagic.UI.Mobile.isFullSizeMode(), w: r.width === innerWidth, h: r.height === innerHeight, locked: document.documentElement.classList.contains('comagic-mobile-locked')}; })()`)
		if !reflect.DeepEqual(full, map[string]any{"full": true, "w": true, "h": true, "locked": true}) {
			t.Errorf("mobile form is not full-size: %v", full)
		}
		tab.Run(chromedp.SendKeys(chromedp.CSS(`#cmgd-om-message`), xss))
		tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-panel [c-type=submitbutton]`)))
		Wait[bool](tab, `document.getElementById('cmgd-om-email-error').textContent !== ''`, boot)
		screenshot(t, tab, "mobile-form")
		tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-panel [c-ref=close]`)))
		Wait[bool](tab, `!document.documentElement.classList.contains('comagic-mobile-locked')`, boot)
		if Eval[bool](tab, `window.pwned === undefined`) != true {
			t.Error("visitor text was interpreted as HTML")
		}
		noExceptions(t, tab)
	})
}

// The default consultant works under a strict CSP without 'unsafe-eval' or
// 'unsafe-inline' styles: templates are interpreted, colours set via CSSOM.
func TestConsultantStrictCSP(t *testing.T) {
	env := startWidgetEnv(t)
	env.settings(t, "consultant", "desktop")
	pages := NewPageServer(t)
	tab := newTab(t)
	csp := "default-src 'none'; script-src 'nonce-t3st' " + env.URL + "; connect-src " + env.URL + "; img-src " + env.URL + "; style-src " + env.URL + "; base-uri 'none'"
	listen := `<script nonce=t3st>window.violations = []; document.addEventListener('securitypolicyviolation', e => violations.push(e.violatedDirective + ' ' + e.blockedURI));</script>`
	code := strings.Replace(env.classic(), "<script>", "<script nonce=t3st>", 1)
	tab.Go(pages.Page("/csp", embedPage(listen+code, ""), "Content-Security-Policy", csp))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button')`, boot)
	Eval[bool](tab, `Comagic.openSiteRequestPanel(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_offline_message').isVisible() && getComputedStyle(document.querySelector('.cmgd-panel__head')).backgroundColor === 'rgb(67, 164, 0)'`, boot)
	roundTrip(tab)
	if v := Eval[[]string](tab, `window.violations`); len(v) > 0 {
		t.Fatalf("CSP violations: %q", v)
	}
	noExceptions(t, tab)
}
