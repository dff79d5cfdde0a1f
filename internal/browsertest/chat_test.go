package browsertest

// The consultant chat in real Chromium (issue 8): the default chat widget
// and a view controller written from the vendor's documentation only, against
// the real server, Postgres and an operator connected over the operator
// websocket by the test.

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/chromedp/chromedp/kb"

	"github.com/comagicd/comagicd/internal/testenv"
)

// chatSettings is the reference consultant settings with the chat shown;
// mod changes its chat part.
func chatSettings(t *testing.T, mod func(chat map[string]any)) string {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal([]byte(consultantSettings), &s); err != nil {
		t.Fatal(err)
	}
	c := s["chat"].(map[string]any)
	c["is_visible"] = true
	if mod != nil {
		mod(c)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type chatEnv struct {
	*widgetEnv
	pages *PageServer
	smtp  *testenv.SMTP
}

// startChatEnv starts the server, with an SMTP server for its mail, and a
// site whose consultant offers the chat.
func startChatEnv(t *testing.T, mod func(chat map[string]any)) *chatEnv {
	t.Helper()
	smtp := testenv.StartSMTP(t)
	srv := testenv.StartServer(t, testenv.Options{SMTPURL: smtp.URL()})
	key := srv.CreateSite(t, "localhost", "127.0.0.1")
	env := &widgetEnv{realEnv: &realEnv{URL: srv.URL, Host: strings.TrimPrefix(srv.URL, "http:"), SiteKey: key, DB: srv.DB}, srv: srv}
	s := chatSettings(t, mod)
	env.srv.SetWidgetSettings(t, env.SiteKey, "consultant", "desktop", s)
	env.srv.SetWidgetSettings(t, env.SiteKey, "consultant", "mobile", s)
	return &chatEnv{widgetEnv: env, pages: NewPageServer(t), smtp: smtp}
}

// operator logs an operator of the site in over the operator websocket and
// sets them online.
func (e *chatEnv) operator(t *testing.T, login, name string) *testenv.WS {
	t.Helper()
	op := e.srv.CreateOperator(t, login, name, []string{e.SiteKey})
	ws := e.srv.DialOperator(t, op.Token)
	ws.Wait(t, testenv.Type("hello"), "hello")
	ws.Call(t, map[string]any{"type": "status", "status": "online"})
	return ws
}

// visitorSaid waits for the visitor's message text at the operator and
// returns its chat id.
func visitorSaid(t *testing.T, ows *testenv.WS, text string) float64 {
	t.Helper()
	f := ows.Wait(t, func(m map[string]any) bool {
		return m["type"] == "event" && m["kind"] == "message" && m["sender"] == "visitor" && m["text"] == text
	}, "the visitor's message "+text)
	return f["chat_id"].(float64)
}

// say sends an operator message.
func say(t *testing.T, ows *testenv.WS, chatID float64, uid, text string) {
	t.Helper()
	if r := ows.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": uid, "text": text}); r["ok"] != true {
		t.Fatalf("operator message: %v", r)
	}
}

// siblingTab opens another tab in the browser context of tab: the same
// visitor (cookies, localStorage), its own sessionStorage.
func siblingTab(t *testing.T, of *Tab) *Tab {
	t.Helper()
	tab := &Tab{t: t}
	ctx, cancel := chromedp.NewContext(of.ctx, chromedp.WithListener(tab.listen))
	t.Cleanup(cancel)
	tab.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a second tab: %v", err)
	}
	return tab
}

// chatLog is what the default chat window shows: "sender:text" per message
// (bot messages left out).
const chatLog = `[...document.querySelectorAll('.cmgd-chat__log .cmgd-msg:not(.cmgd-msg--bot)')].map(e => e.className.replace(/^cmgd-msg cmgd-msg--(\w+).*$/, '$1') + ':' + e.querySelector('.cmgd-msg__bubble').textContent)`

// waitLog waits until the chat window shows exactly want.
func waitLog(t *testing.T, tab *Tab, want ...string) {
	t.Helper()
	Eventually(t, boot, func() error {
		if got := Eval[[]string](tab, chatLog); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("the chat shows %q, want %q", got, want)
		}
		return nil
	})
}

const hostile = `<img src=x onerror="window.pwned=1"> & <b>жирный</b>`

// The default chat widget against an operator: open, type, send, receive,
// reload mid-chat and continue, two tabs in sync, the unread counter, and
// text that is never HTML.
func TestChat_DefaultWidget(t *testing.T) {
	env := startChatEnv(t, nil)
	ows := env.operator(t, "anna", `Анна <i>Петрова</i>`)
	page := env.pages.Page("/chat", embedPage(env.classic(), "<h1>Магазин</h1>"))
	tab := newTab(t)
	tab.Go(page)

	// An operator is online: the rack offers the chat.
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && Comagic.getOperatorStatus()`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-label__button`)))
	Wait[bool](tab, `!document.querySelector('[data-channel=chat]').parentNode.hidden && document.activeElement.dataset.channel === 'offline_message'`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`[data-channel=chat]`)))
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible() && document.activeElement === document.querySelector('.cmgd-chat__text')`, boot)
	screenshot(t, tab, "chat-open")

	// Enter sends.
	first := "Здравствуйте! " + hostile
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), first+kb.Enter))
	waitLog(t, tab, "visitor:"+first)
	chatID := visitorSaid(t, ows, first)
	if Eval[string](tab, `document.querySelector('.cmgd-chat__text').value`) != "" {
		t.Error("the composer keeps the sent text")
	}

	// The visitor types: the operator sees the draft.
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Ещё"))
	ows.Wait(t, func(m map[string]any) bool {
		return m["type"] == "typing" && m["text"] == "Ещё" && m["chat_id"] == chatID
	}, "the visitor's draft")
	Eval[bool](tab, `document.querySelector('.cmgd-chat__text').value = ''; true`)

	// The operator joins, types and answers.
	Wait[bool](tab, `document.querySelector('.cmgd-chat__who .cmgd-panel__title').textContent === 'Анна <i>Петрова</i>'`, boot)
	ows.Send(t, map[string]any{"type": "typing", "chat_id": chatID})
	Wait[bool](tab, `!document.querySelector('.cmgd-chat__typing').hidden`, boot)
	say(t, ows, chatID, "o1", "Добрый день! "+hostile)
	waitLog(t, tab, "visitor:"+first, "operator:Добрый день! "+hostile)
	if Eval[bool](tab, `document.querySelector('.cmgd-chat__typing').hidden`) != true {
		t.Error("the typing indicator stays after the operator's message")
	}
	screenshot(t, tab, "chat-answered")

	// Reload mid-chat: the window opens again with the conversation, once.
	tab.Go(page)
	Wait[bool](tab, `!!Comagic.UI.getWidget('consultant_chat') && Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	waitLog(t, tab, "visitor:"+first, "operator:Добрый день! "+hostile)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Ещё вопрос"+kb.Enter))
	visitorSaid(t, ows, "Ещё вопрос")
	say(t, ows, chatID, "o2", "Слушаю")
	waitLog(t, tab, "visitor:"+first, "operator:Добрый день! "+hostile, "visitor:Ещё вопрос", "operator:Слушаю")

	// A second tab of the same visitor shows the same conversation and
	// follows what the first one sends.
	tab2 := siblingTab(t, tab)
	tab2.Go(page)
	if a, b := Eval[float64](tab, `Comagic.getVisitorId()`), Wait[float64](tab2, `Comagic.getVisitorId()`, boot); a != b {
		t.Fatalf("the second tab is another visitor: %v, %v", a, b)
	}
	all := []string{"visitor:" + first, "operator:Добрый день! " + hostile, "visitor:Ещё вопрос", "operator:Слушаю"}
	waitLog(t, tab2, all...)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Из первой вкладки"+kb.Enter))
	all = append(all, "visitor:Из первой вкладки")
	waitLog(t, tab2, all...)
	waitLog(t, tab, all...)

	// Closed window: an operator message counts as unread on the label. The
	// count is the visitor's, shared by the tabs: the second tab's window
	// closes too, or it would read the message there and clear the count.
	tab2.Run(chromedp.Click(chromedp.CSS(`.cmgd-chat [c-ref=close]`)))
	Wait[bool](tab2, `!Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-chat [c-ref=close]`)))
	Wait[bool](tab, `!Comagic.UI.getWidget('consultant_chat').isVisible() && document.activeElement.className === 'cmgd-label__button'`, boot)
	say(t, ows, chatID, "o3", "Вы здесь?")
	Wait[bool](tab, `document.querySelector('.cmgd-label__counter').textContent === '1' && !document.querySelector('.cmgd-label__counter').hidden`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-label__button`)))
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible() && document.querySelector('.cmgd-label__counter').hidden`, boot)
	all = append(all, "operator:Вы здесь?")
	waitLog(t, tab, all...)

	for _, tb := range []*Tab{tab, tab2} {
		if got := Eval[map[string]any](tab, `({pwned: window.pwned === undefined, imgs: document.querySelectorAll('.cmgd-chat img:not(.cmgd-chat__avatar):not(.cmgd-msg__avatar)').length, bold: document.querySelectorAll('.cmgd-chat b, .cmgd-chat i').length})`); !reflect.DeepEqual(got, map[string]any{"pwned": true, "imgs": 0.0, "bold": 0.0}) {
			t.Errorf("people's text became HTML: %v", got)
		}
		noExceptions(t, tb)
	}
}

// Files, rating and the transcript by e-mail from the default widget's tools;
// the operator closes the chat and the widget asks for a rating.
func TestChat_DefaultWidgetTools(t *testing.T) {
	env := startChatEnv(t, nil)
	ows := env.operator(t, "boris", "Борис")
	tab := newTab(t)
	tab.Go(env.pages.Page("/tools", embedPage(env.classic(), "")))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && Comagic.getOperatorStatus()`, boot)
	Eval[bool](tab, `Comagic.openChatWindow(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Пришлю файл"+kb.Enter))
	chatID := visitorSaid(t, ows, "Пришлю файл")
	Wait[bool](tab, `!document.querySelector('.cmgd-chat__attach').hidden`, boot)

	// A file chosen in the composer goes to the chat and shows as a link.
	Eval[bool](tab, `(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(['%PDF-1.4 test'], 'счёт <1>.pdf', {type: 'application/pdf'}));
		const input = document.querySelector('.cmgd-chat__file');
		input.files = dt.files;
		input.dispatchEvent(new Event('change'));
		return true;
	})()`)
	f := ows.Wait(t, testenv.Event("file"), "the visitor's file")
	if file, _ := f["file"].(map[string]any); file == nil || file["name"] != "счёт <1>.pdf" {
		t.Fatalf("operator got file %v", f["file"])
	}
	Wait[bool](tab, `(() => { const a = document.querySelector('.cmgd-msg--visitor a.cmgd-msg__file');
		return !!a && a.href.startsWith(`+jsString(env.URL+"/api/chat/files/")+`) && a.querySelector('span').firstChild.textContent === 'счёт <1>.pdf'; })()`, boot)

	// Rating from the tools.
	say(t, ows, chatID, "b1", "Получил")
	Wait[bool](tab, `!document.querySelector('.cmgd-chat [c-ref=rate]').hidden`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-chat [c-ref=rate]`)))
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-msg--bot .cmgd-star[data-mark="4"]`)))
	ows.Wait(t, func(m map[string]any) bool {
		d, _ := m["data"].(map[string]any)
		return m["type"] == "event" && m["kind"] == "rating" && d != nil && d["rating"] == 4.0
	}, "the rating")
	Wait[bool](tab, `document.querySelector('.cmgd-chat [c-ref=rate]').hidden`, boot)

	// The transcript by e-mail.
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-chat [c-ref=email]`)))
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-msg--bot input[c-name=email]`), "ivan@example.ru"+kb.Enter))
	Wait[bool](tab, `[...document.querySelectorAll('.cmgd-msg--bot [c-ref=done]')].some(e => !e.hidden && e.textContent.includes('Копия переписки'))`, boot)
	if m := env.smtp.WaitFor(t, "ivan@example.ru"); !strings.Contains(m.Body, "Пришлю файл") || !strings.Contains(m.Body, "Получил") {
		t.Errorf("the transcript mail: %q", m.Body)
	}

	// The operator closes the chat: the widget says so; the log stays.
	if r := ows.Call(t, map[string]any{"type": "close", "chat_id": chatID}); r["ok"] != true {
		t.Fatalf("close: %v", r)
	}
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').getState() === 'available' && [...document.querySelectorAll('.cmgd-msg--bot')].some(e => e.textContent.includes('Чат завершён'))`, boot)
	noExceptions(t, tab)
}

// The visitor card the site requires is asked for before the first message;
// with groups, the visitor picks one first.
func TestChat_DefaultWidgetCardAndGroups(t *testing.T) {
	fields := []map[string]any{{"name": "name", "is_required": true, "title": "Ваше имя"}, {"name": "email", "is_required": false}}
	env := startChatEnv(t, nil)
	ctx := context.Background()
	var account string
	if err := env.DB.QueryRow(ctx, `SELECT a.name FROM accounts a JOIN sites s ON s.account_id = a.id WHERE s.site_key = $1`, env.SiteKey).Scan(&account); err != nil {
		t.Fatal(err)
	}
	var groups []map[string]any
	for _, name := range []string{"Продажи", "Поддержка"} {
		g, err := env.srv.App.Employees.CreateGroup(ctx, account, name)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, map[string]any{"id": g.ID, "name": name})
	}
	env.srv.SetWidgetSettings(t, env.SiteKey, "consultant", "desktop", chatSettings(t, func(c map[string]any) {
		c["fields"] = fields
		c["group_title"] = "Отдел"
		c["allowed_groups"] = groups
	}))
	op := env.srv.CreateOperator(t, "vera", "Вера", []string{env.SiteKey}, "Поддержка")
	ows := env.srv.DialOperator(t, op.Token)
	ows.Wait(t, testenv.Type("hello"), "hello")
	ows.Call(t, map[string]any{"type": "status", "status": "online"})
	tab := newTab(t)
	tab.Go(env.pages.Page("/card", embedPage(env.classic(), "")))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && Comagic.getOperatorStatus()`, boot)
	Eval[bool](tab, `Comagic.openChatWindow(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible() && !document.querySelector('.cmgd-chat__groups').hidden && document.querySelector('.cmgd-chat__composer').hidden`, boot)
	if got := Eval[[]string](tab, `[...document.querySelectorAll('.cmgd-chat__groups button')].map(b => b.textContent)`); !reflect.DeepEqual(got, []string{"Продажи", "Поддержка"}) {
		t.Errorf("groups %v", got)
	}
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-chat__groups [data-group="` + fmt.Sprint(groups[1]["id"]) + `"]`)))
	Wait[bool](tab, `document.querySelector('.cmgd-chat__groups').hidden && document.activeElement === document.querySelector('.cmgd-chat__text')`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Помогите"+kb.Enter))
	// The card is asked for; the message waits for it.
	Wait[bool](tab, `!!document.querySelector('.cmgd-msg--bot input[c-name=name]') && document.querySelector('.cmgd-chat__text').disabled`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-msg--bot [c-type=submitbutton]`)))
	Wait[bool](tab, `document.getElementById('cmgd-bot-name-error').textContent === 'Заполните это поле'`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-msg--bot input[c-name=name]`), "Иван"+kb.Enter))
	chatID := visitorSaid(t, ows, "Помогите")
	waitLog(t, tab, "visitor:Помогите")
	if Eval[bool](tab, `document.querySelector('.cmgd-chat__text').disabled`) {
		t.Error("the composer stays locked after the card")
	}
	c := ows.Wait(t, func(m map[string]any) bool {
		ch, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && ch != nil && ch["id"] == chatID
	}, "the chat")["chat"].(map[string]any)
	if v, _ := c["visitor"].(map[string]any); c["group_id"] != float64(groups[1]["id"].(int64)) || v == nil || v["name"] != "Иван" {
		t.Errorf("chat %v: want group %v and the visitor's name", c, groups[1]["id"])
	}
	noExceptions(t, tab)
}

// On a phone the chat takes the whole screen.
func TestChat_DefaultWidgetMobile(t *testing.T) {
	env := startChatEnv(t, nil)
	ows := env.operator(t, "gleb", "Глеб")
	tab := newTab(t)
	tab.Run(chromedp.Emulate(device.IPhone12))
	tab.Go(env.pages.Page("/phone", embedPage(env.classic(), "<p>Страница</p>")))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && Comagic.getOperatorStatus() && Comagic.getDeviceType() === 'mobile'`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-label__button`)))
	Wait[bool](tab, `!document.querySelector('[data-channel=chat]').parentNode.hidden`, boot)
	tab.Run(chromedp.Click(chromedp.CSS(`[data-channel=chat]`)))
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	full := Eval[map[string]any](tab, `(() => { const r = document.querySelector('.cmgd-chat').getBoundingClientRect();
		return {full: Comagic.UI.Mobile.isFullSizeMode(), w: r.width === innerWidth, h: r.height === innerHeight}; })()`)
	if !reflect.DeepEqual(full, map[string]any{"full": true, "w": true, "h": true}) {
		t.Errorf("the chat is not full-size: %v", full)
	}
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "С телефона"+kb.Enter))
	chatID := visitorSaid(t, ows, "С телефона")
	say(t, ows, chatID, "g1", "Вижу")
	waitLog(t, tab, "visitor:С телефона", "operator:Вижу")
	screenshot(t, tab, "chat-mobile")
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-chat [c-ref=close]`)))
	Wait[bool](tab, `!Comagic.UI.Mobile.isFullSizeMode() && !document.documentElement.classList.contains('comagic-mobile-locked')`, boot)
	noExceptions(t, tab)
}

// When websockets cannot connect (a proxy strips the upgrade), the chat
// falls back to long polling and works the same.
func TestChat_LongPollingFallback(t *testing.T) {
	env := startChatEnv(t, nil)
	ows := env.operator(t, "dina", "Дина")
	// Every websocket of the page goes to an address that refuses the upgrade.
	broken := `<script>window.tries = 0; window.WebSocket = class extends WebSocket { constructor(u) { tries++; super(u.replace('/ws/chat/', '/ws/stripped/')); } };</script>`
	tab := newTab(t)
	tab.Go(env.pages.Page("/poll", embedPage(broken+env.classic(), "")))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && Comagic.getOperatorStatus()`, boot)
	Eval[bool](tab, `Comagic.openChatWindow(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Через опрос"+kb.Enter))
	chatID := visitorSaid(t, ows, "Через опрос")
	say(t, ows, chatID, "d1", "Получено")
	waitLog(t, tab, "visitor:Через опрос", "operator:Получено")
	// Typing is ephemeral: a poll that is not waiting at that moment misses it,
	// so the operator's side repeats it while typing (as the workstation does).
	Eventually(t, boot, func() error {
		ows.Send(t, map[string]any{"type": "typing", "chat_id": chatID})
		if Eval[bool](tab, `new Promise(r => { const t0 = Date.now(); (function f() {
			if (!document.querySelector('.cmgd-chat__typing').hidden) r(true); else if (Date.now() - t0 > 700) r(false); else setTimeout(f, 50); })(); })`) {
			return nil
		}
		return fmt.Errorf("no typing indicator")
	})
	if n := Eval[float64](tab, `tries`); n != 2 {
		t.Errorf("%v websocket attempts before polling, want 2", n)
	}
	if len(resources(tab, "/api/chat/"+env.SiteKey+"/poll")) == 0 {
		t.Error("no long polls")
	}
	noExceptions(t, tab)
}

// A view controller written from the vendor's documentation of
// consultant_chat only: methods, events and their payloads.
func TestChat_DocumentedController(t *testing.T) {
	env := startChatEnv(t, nil)
	ows := env.operator(t, "egor", "Егор <b>")
	tab := newTab(t)
	page := vendorPage(env.widgetEnv, env.pages, "/documented", "", "", `
<script>
vc('consultant', function (settings, tpls) {
  var chat = Comagic.UI.createWidget('consultant_chat', {
    settings: settings,
    template: '<div class="doc-chat"><div c-ref="log"></div></div>'
  });
  chat.render();
  ['operatorjoined', 'operatorleave', 'sendmessage', 'statechange', 'chattyping', 'ratingchange', 'startchat', 'closechat',
   'setrating', 'sendchatbymail', 'chatavailabilitychange', 'showhistory', 'messageviewed'].forEach(function (name) {
    chat.on(name, function (arg) { R.events.push([name, arg === undefined ? null : arg]); });
  });
  window.chat = chat;
});
</script>`)
	tab.Go(page)
	waitControllers(t, tab, "consultant")
	events := func(name string) []any {
		return Eval[[]any](tab, `R.events.filter(e => e[0] === `+jsString(name)+`).map(e => e[1])`)
	}
	Wait[bool](tab, `chat.isChatAvailable() && chat.getState() === 'available'`, boot)

	Eval[bool](tab, `chat.startChat(); true`)
	Wait[bool](tab, `chat.getState() === 'chat'`, boot)
	Wait[bool](tab, `R.events.some(e => e[0] === 'operatorjoined')`, boot)
	if got := events("operatorjoined")[0]; !reflect.DeepEqual(got, map[string]any{"name": "Егор &lt;b&gt;", "position": "Консультант", "avatar": ""}) {
		t.Errorf("operatorjoined %v", got)
	}
	if got := Eval[map[string]any](tab, `chat.getOperatorVcard()`); got["name"] != "Егор &lt;b&gt;" {
		t.Errorf("getOperatorVcard %v", got)
	}
	if got := events("startchat"); len(got) != 1 {
		t.Errorf("startchat events %v", got)
	}

	// sendChatMessage returns the message to render at once; its echo is not
	// fired again.
	m := Eval[map[string]any](tab, `(() => { window.sent = chat.sendChatMessage('Вопрос <b>1</b>'); return Object.assign({}, sent); })()`)
	if m["text"] != "Вопрос &lt;b&gt;1&lt;/b&gt;" || m["source"] != "Посетитель" || m["from"] != "Посетитель" || m["sender"] != "visitor" || m["uid"] == nil || m["date"] == nil {
		t.Errorf("sendChatMessage returned %v", m)
	}
	chatID := visitorSaid(t, ows, "Вопрос <b>1</b>")
	Wait[bool](tab, `sent.message_id > 0 && sent.chat_id === `+jsNum(chatID), boot)

	// Typing both ways.
	Eval[bool](tab, `chat.chatTyping('черновик'); true`)
	ows.Wait(t, func(f map[string]any) bool { return f["type"] == "typing" && f["text"] == "черновик" }, "the draft")
	ows.Send(t, map[string]any{"type": "typing", "chat_id": chatID})
	Wait[bool](tab, `R.events.some(e => e[0] === 'chattyping')`, boot)

	say(t, ows, chatID, "e1", "Ответ & <i>курсив</i>")
	got := Wait[map[string]any](tab, `(R.events.find(e => e[0] === 'sendmessage') || [])[1]`, boot)
	for k, want := range map[string]any{"text": "Ответ &amp; &lt;i&gt;курсив&lt;/i&gt;", "source": "Оператор", "from": "Егор &lt;b&gt;", "sender": "operator", "chat_id": chatID, "uid": "e1"} {
		if got[k] != want {
			t.Errorf("sendmessage %s = %v, want %v", k, got[k], want)
		}
	}
	if got["message_id"] == nil || got["date"] == nil {
		t.Errorf("sendmessage %v: no message_id or date", got)
	}
	if n := len(events("sendmessage")); n != 1 {
		t.Errorf("%d sendmessage events, want 1 (the visitor's own echo is not fired)", n)
	}
	if Eval[float64](tab, `chat.getUnreadCounter()`) != 1 {
		t.Error("the operator's message is not unread")
	}
	Eval[bool](tab, `chat.clearUnreadCounter(); true`)
	if Eval[float64](tab, `chat.getUnreadCounter()`) != 0 || len(events("messageviewed")) != 1 {
		t.Error("clearUnreadCounter")
	}

	// Visitor card, rating, transcript.
	card := Eval[map[string]any](tab, `new Promise(done => chat.setVisitorCard({name: 'Иван', email: 'ivan@example.ru', phone: '79161234567'}, () => done(chat.getVisitorCard())))`)
	if !reflect.DeepEqual(card, map[string]any{"name": "Иван", "email": []any{"ivan@example.ru"}, "phone": []any{"79161234567"}}) {
		t.Errorf("getVisitorCard %v", card)
	}
	if got := Eval[[]any](tab, `Comagic.visitorCard.getItem('emails')`); !reflect.DeepEqual(got, []any{"ivan@example.ru"}) {
		t.Errorf("Comagic.visitorCard.getItem('emails') %v", got)
	}
	Eval[bool](tab, `chat.setOperatorRating(5); true`)
	Wait[bool](tab, `R.events.some(e => e[0] === 'ratingchange' && e[1] === 5) && R.events.some(e => e[0] === 'setrating')`, boot)
	mail := Eval[map[string]any](tab, `new Promise(done => Comagic.sendChatByMail({email: 'ivan@example.ru'}, done))`)
	if !reflect.DeepEqual(mail, map[string]any{"success": true}) {
		t.Errorf("sendChatByMail callback %v", mail)
	}
	if n := len(events("sendchatbymail")); n != 1 {
		t.Errorf("%d sendchatbymail events", n)
	}
	if m := env.smtp.WaitFor(t, "ivan@example.ru"); !strings.Contains(m.Body, "Ответ & <i>курсив</i>") || !strings.Contains(m.Body, "Вопрос <b>1</b>") {
		t.Errorf("the transcript mail: %q", m.Body)
	}
	bad := Eval[map[string]any](tab, `new Promise(done => chat.sendChatByMail('not an address', done))`)
	if bad["success"] != false {
		t.Errorf("sendChatByMail to a bad address: %v", bad)
	}

	// printCurrentChat prints the chat's messages, as text, from a frame.
	printed := Eval[string](tab, `(() => {
		const seen = [];
		const append = Node.prototype.appendChild;
		Node.prototype.appendChild = function (c) {
			const r = append.call(this, c);
			if (c.tagName === 'IFRAME') c.contentWindow.print = () => seen.push(c.contentDocument.body.innerText);
			return r;
		};
		const ok = chat.printCurrentChat();
		Node.prototype.appendChild = append;
		return ok === true ? seen.join('|') : 'not printed';
	})()`)
	if !strings.Contains(printed, "Вопрос <b>1</b>") || !strings.Contains(printed, "Ответ & <i>курсив</i>") || !strings.Contains(printed, "Егор <b>") {
		t.Errorf("printed %q", printed)
	}

	// A reloaded page gets the conversation as showhistory.
	tab.Go(page)
	waitControllers(t, tab, "consultant")
	hist := Wait[[]any](tab, `(R.events.find(e => e[0] === 'showhistory') || [])[1]`, boot)
	var texts []string
	for _, h := range hist {
		texts = append(texts, fmt.Sprint(h.(map[string]any)["sender"], ":", h.(map[string]any)["text"]))
	}
	if want := []string{"visitor:Вопрос &lt;b&gt;1&lt;/b&gt;", "operator:Ответ &amp; &lt;i&gt;курсив&lt;/i&gt;"}; !reflect.DeepEqual(texts, want) {
		t.Errorf("showhistory %q, want %q", texts, want)
	}

	// Closing: callback, closechat, the operator leaves, state available.
	res := Eval[map[string]any](tab, `new Promise(done => chat.closeChat(done))`)
	if res["success"] != true {
		t.Errorf("closeChat callback %v", res)
	}
	Wait[bool](tab, `chat.getState() === 'available' && R.events.some(e => e[0] === 'closechat') && R.events.some(e => e[0] === 'statechange' && e[1] === 'available')`, boot)
	Wait[bool](tab, `R.events.some(e => e[0] === 'operatorleave' && e[1].name === null)`, boot)
	noExceptions(t, tab)
}

// history pages through getHistory: earlier chats' messages, 20 at a time,
// newest first, then false.
func TestChat_GetHistory(t *testing.T) {
	env := startChatEnv(t, nil)
	ows := env.operator(t, "fedor", "Фёдор")
	page := vendorPage(env.widgetEnv, env.pages, "/history", "", "", `
<script>
vc('consultant', function (settings) {
  window.chat = Comagic.UI.createWidget('consultant_chat', {settings: settings, template: '<div></div>'});
  chat.render();
  chat.on('showhistory', function (l) { R.shown = l.map(function (m) { return m.text; }); });
});
</script>`)
	tab := newTab(t)
	tab.Go(page)
	waitControllers(t, tab, "consultant")
	Wait[bool](tab, `chat.isChatAvailable()`, boot)
	// 45 messages in a first chat, closed; then a second chat with one.
	Eval[bool](tab, `(() => { for (let i = 1; i <= 45; i++) chat.sendChatMessage('m' + i); return true; })()`)
	chatID := visitorSaid(t, ows, "m45")
	if r := ows.Call(t, map[string]any{"type": "close", "chat_id": chatID}); r["ok"] != true {
		t.Fatalf("close: %v", r)
	}
	Wait[bool](tab, `chat.getState() === 'available'`, boot)
	Eval[bool](tab, `chat.sendChatMessage('новый'); true`)
	visitorSaid(t, ows, "новый")

	tab.Go(page)
	waitControllers(t, tab, "consultant")
	Wait[bool](tab, `R.shown && R.shown.join() === 'новый' && chat.hasHistory()`, boot)
	// Pages hold at most 20 messages, newest first; the next page is fetched
	// in the background, so a call may find fewer buffered, or none yet
	// (hasHistory() stays true until the last one was handed out).
	var got []string
	for calls := 0; ; calls++ {
		p := Wait[any](tab, `(() => { const h = chat.getHistory(); return h === false ? (chat.hasHistory() ? null : 'false') : h.map(m => m.text); })()`, boot)
		if p == "false" {
			break
		}
		page := p.([]any)
		if len(page) == 0 || len(page) > 20 || calls > 45 {
			t.Fatalf("getHistory page of %d messages", len(page))
		}
		for _, x := range page {
			got = append(got, x.(string))
		}
	}
	var want []string
	for i := 45; i >= 1; i-- {
		want = append(want, fmt.Sprint("m", i))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("getHistory gave %v", got)
	}
	if strings.Contains(strings.Join(tab.Logged("warning"), "\n"), "chat") {
		t.Errorf("warnings: %v", tab.Logged("warning"))
	}
	noExceptions(t, tab)
}

// While the chat waits for an operator (none is online; the window is
// opened by the page), the retention messages come, then the retention
// action: its button closes the chat and opens the request form.
func TestChat_DefaultWidgetRetention(t *testing.T) {
	env := startChatEnv(t, func(c map[string]any) {
		c["retention"] = map[string]any{
			"is_alternate_communication_way_enabled": true, "alternate_communication_way_timeout": 2, "alternate_communication_way": "offline_message",
			"messages": []map[string]any{{"timeout": 1, "text": "Оператор <скоро> ответит"}},
		}
	})
	tab := newTab(t)
	tab.Go(env.pages.Page("/retention", embedPage(env.classic(), "")))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && !!Comagic.UI.getWidget('consultant_chat')`, boot)
	if Eval[bool](tab, `Comagic.getOperatorStatus() || Comagic.UI.getWidget('consultant_chat').isChatAvailable()`) {
		t.Fatal("an operator is online")
	}
	Eval[bool](tab, `Comagic.UI.getWidget('consultant_chat').show(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Есть кто?"+kb.Enter))
	waitLog(t, tab, "visitor:Есть кто?", "system:Оператор <скоро> ответит")
	Wait[bool](tab, `!!document.querySelector('.cmgd-msg--bot [c-ref=action]')`, boot)
	if got := Eval[string](tab, `document.querySelector('.cmgd-msg--bot [c-ref=action]').textContent`); got != "Оставить заявку" {
		t.Errorf("retention button %q", got)
	}
	tab.Run(chromedp.Click(chromedp.CSS(`.cmgd-msg--bot [c-ref=action]`)))
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_offline_message').isVisible() && !Comagic.UI.getWidget('consultant_chat').isVisible() && Comagic.UI.getWidget('consultant_chat').getState() === 'available'`, boot)
	noExceptions(t, tab)
}

// Under a strict CSP that allows the server's origin for connect-src in
// both schemes, the chat runs without violations.
func TestChat_StrictCSP(t *testing.T) {
	env := startChatEnv(t, nil)
	ows := env.operator(t, "ilya", "Илья")
	ws := "ws" + strings.TrimPrefix(env.URL, "http")
	csp := "default-src 'none'; script-src 'nonce-t3st' " + env.URL + "; connect-src " + env.URL + " " + ws + "; img-src " + env.URL + "; style-src " + env.URL + "; base-uri 'none'"
	listen := `<script nonce=t3st>window.violations = []; document.addEventListener('securitypolicyviolation', e => violations.push(e.violatedDirective + ' ' + e.blockedURI));</script>`
	code := strings.Replace(env.classic(), "<script>", "<script nonce=t3st>", 1)
	tab := newTab(t)
	tab.Go(env.pages.Page("/csp", embedPage(listen+code, ""), "Content-Security-Policy", csp))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && Comagic.getOperatorStatus()`, boot)
	Eval[bool](tab, `Comagic.openChatWindow(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "CSP"+kb.Enter))
	chatID := visitorSaid(t, ows, "CSP")
	say(t, ows, chatID, "i1", "Всё работает")
	waitLog(t, tab, "visitor:CSP", "operator:Всё работает")
	if v := Eval[[]string](tab, `window.violations`); len(v) > 0 {
		t.Fatalf("CSP violations: %q", v)
	}
	noExceptions(t, tab)
}

// A dropped websocket reconnects and resumes after the last event it saw:
// what the operator said meanwhile shows once.
func TestChat_ResumeAfterDrop(t *testing.T) {
	env := startChatEnv(t, nil)
	ows := env.operator(t, "kira", "Кира")
	// The page's sockets are kept; while block is set, a connect fails.
	wrap := `<script>window.sockets = []; window.urls = []; window.block = false;
window.WebSocket = class extends WebSocket { constructor(u) { urls.push(u); super(block ? u.replace('/ws/chat/', '/ws/blocked/') : u); sockets.push(this); } };</script>`
	tab := newTab(t)
	tab.Go(env.pages.Page("/resume", embedPage(wrap+env.classic(), "")))
	Wait[bool](tab, `!!document.querySelector('.cmgd-label__button') && Comagic.getOperatorStatus()`, boot)
	Eval[bool](tab, `Comagic.openChatWindow(); true`)
	Wait[bool](tab, `Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "До обрыва"+kb.Enter))
	chatID := visitorSaid(t, ows, "До обрыва")
	say(t, ows, chatID, "k1", "Первый ответ")
	waitLog(t, tab, "visitor:До обрыва", "operator:Первый ответ")

	Eval[bool](tab, `block = true; sockets[sockets.length - 1].close(); true`)
	Wait[bool](tab, `urls.length >= 2 && sockets[sockets.length - 1].readyState === WebSocket.CLOSED`, boot)
	say(t, ows, chatID, "k2", "Пока вас не было")
	Eval[bool](tab, `block = false; true`)
	waitLog(t, tab, "visitor:До обрыва", "operator:Первый ответ", "operator:Пока вас не было")
	last := Wait[string](tab, `sockets[sockets.length - 1].readyState === WebSocket.OPEN && urls[urls.length - 1]`, boot)
	if !strings.Contains(last, fmt.Sprintf("chat_id=%v&after=", chatID)) {
		t.Errorf("reconnected to %s, want a resume of chat %v", last, chatID)
	}
	if len(resources(tab, "/poll")) != 0 {
		t.Error("one failed reconnect switched to long polling")
	}
	noExceptions(t, tab)
}
