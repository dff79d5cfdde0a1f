package browsertest

// The operator workstation (/operator/, issue 9) in real Chromium against the
// real server and Postgres: operators in their own browser contexts, the
// visitor on the demo page in another, everything through the documented
// protocol. Screenshots of every screen at 1366×768 and 1920×1080 go to the
// artefact directory (ArtifactDir); the paths are logged.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/comagicd/comagicd/internal/testenv"
)

// hostileText is what a visitor types to break the page: it must show as text.
const hostileText = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>жирный</b>`

type wsEnv struct {
	srv *testenv.Server
	key string
}

// startWorkstationEnv starts the server with a site whose consultant offers
// the chat (files and rating on).
func startWorkstationEnv(t *testing.T) *wsEnv {
	t.Helper()
	srv := testenv.StartServer(t, testenv.Options{})
	key := srv.CreateSite(t, "localhost", "127.0.0.1")
	s := chatSettings(t, func(c map[string]any) {
		c["is_file_transfer"] = true
		c["is_consultant_operator_rating"] = true
	})
	srv.SetWidgetSettings(t, key, "consultant", "desktop", s)
	srv.SetWidgetSettings(t, key, "consultant", "mobile", s)
	return &wsEnv{srv: srv, key: key}
}

// cspWatch is run in every document of a workstation tab before its scripts:
// it records CSP violations (an inline listener would itself be refused).
const cspWatch = `window.__violations = []; document.addEventListener('securitypolicyviolation', function (e) { window.__violations.push(e.violatedDirective + ' ' + e.blockedURI); });`

// operatorTab opens a workstation tab at 1366×768 in a browser context of its
// own, with notifications allowed for the server's origin.
func (e *wsEnv) operatorTab(t *testing.T) *Tab {
	t.Helper()
	tab := newTab(t)
	c := chromedp.FromContext(tab.ctx)
	tab.Run(chromedp.EmulateViewport(1366, 768), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, c.Browser, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted,
			Origin: e.srv.URL, BrowserContextID: c.BrowserContextID}); err != nil {
			return fmt.Errorf("grant notifications: %w", err)
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch})
		return err
	}))
	return tab
}

// signIn signs in on the workstation's form and waits for the connection.
func signIn(t *testing.T, tab *Tab, url, name, password string) {
	t.Helper()
	tab.Go(url + "/operator/")
	Wait[bool](tab, `!!document.querySelector('.login input[name=login]')`, boot)
	tab.Run(chromedp.SendKeys(chromedp.CSS(`.login input[name=login]`), name),
		chromedp.SendKeys(chromedp.CSS(`.login input[name=password]`), password+kb.Enter))
	Wait[bool](tab, `!!document.querySelector('.conn') && document.querySelector('.conn').dataset.state === 'connected' && !!document.querySelector('.status__sel')`, boot)
}

// signedIn creates an operator of the site and signs them in on a workstation
// tab of their own, online when asked.
func (e *wsEnv) signedIn(t *testing.T, login, name string, online bool) (*testenv.Operator, *Tab) {
	t.Helper()
	o := e.srv.CreateOperator(t, login, name, []string{e.key})
	tab := e.operatorTab(t)
	signIn(t, tab, e.srv.URL, login, o.Password)
	if online {
		goOnline(t, tab)
	}
	return o, tab
}

// goOnline sets the operator's status from the offline banner.
func goOnline(t *testing.T, tab *Tab) {
	t.Helper()
	tab.Run(chromedp.Click(chromedp.CSS(`.banner .btn`)))
	Wait[bool](tab, `document.querySelector('.status__sel').value === 'online' && document.querySelector('.banner').hidden`, boot)
}

// shots saves the tab's screen at 1366×768 and 1920×1080 and leaves it at 1366×768.
func shots(t *testing.T, tab *Tab, name string) {
	t.Helper()
	dir, err := ArtifactDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int64{{1920, 1080}, {1366, 768}} {
		tab.Run(chromedp.EmulateViewport(size[0], size[1]))
		// Two animation frames: the layout of the new size is painted.
		Eval[bool](tab, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
		ctx, cancel := tab.Ctx()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("workstation-%s-%dx%d.png", name, size[0], size[1]))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// clean checks that no visitor text ran as code or became markup, and that
// the page kept its CSP without a violation.
func clean(t *testing.T, tab *Tab) {
	t.Helper()
	got := Eval[map[string]any](tab, `({pwned: window.pwned === undefined, imgs: document.querySelectorAll('#app img:not(.login__logo):not(.top__logo):not(.msg__thumb)').length,
		bold: document.querySelectorAll('#app b, #app script').length, violations: window.__violations})`)
	if got["pwned"] != true || got["imgs"] != 0.0 || got["bold"] != 0.0 {
		t.Errorf("visitor text became HTML: %v", got)
	}
	if v, _ := got["violations"].([]any); len(v) != 0 {
		t.Errorf("CSP violations: %v", v)
	}
	noExceptions(t, tab)
}

// visitorTab opens the demo page as a new visitor and opens the chat window.
func (e *wsEnv) visitorTab(t *testing.T) *Tab {
	t.Helper()
	tab := newTab(t)
	tab.Go(e.srv.URL + "/demo/?k=" + e.key)
	waitBoot(tab)
	return tab
}

// openChat opens the chat window of the demo page once an operator is online.
func openChat(vis *Tab) {
	vis.t.Helper()
	Wait[bool](vis, `!!document.querySelector('.cmgd-label__button') && Comagic.getOperatorStatus()`, boot)
	Eval[bool](vis, `Comagic.openChatWindow(); true`)
	Wait[bool](vis, `Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
}

// activeChat is the selector of the conversation shown.
const activeChat = `.chat:not([hidden])`

// An operator hears and sees a queued chat, takes it, exchanges messages and
// files with the visitor, sees the draft, edits the card, transfers the chat
// to a second operator who answers and closes it; the visitor rates it and
// the rating shows. Visitor text is text everywhere; nothing breaks the CSP.
func TestWorkstation_Chat(t *testing.T) {
	env := startWorkstationEnv(t)
	anna := env.srv.CreateOperator(t, "anna", "Анна", []string{env.key})
	boris := env.srv.CreateOperator(t, "boris", "Борис", []string{env.key})
	// Anna works by hand: routing gives her nothing, chats wait in the queue.
	if _, err := env.srv.DB.Exec(context.Background(), `UPDATE employees SET max_chats = 0 WHERE id = $1`, anna.ID); err != nil {
		t.Fatal(err)
	}

	op := env.operatorTab(t)
	op.Go(env.srv.URL + "/operator/")
	Wait[bool](op, `!!document.querySelector('.login input[name=login]')`, boot)
	shots(t, op, "login")
	signIn(t, op, env.srv.URL, "anna", anna.Password)
	goOnline(t, op)
	shots(t, op, "chats-empty")

	// The visitor opens the chat on the demo page and writes.
	vis := env.visitorTab(t)
	openChat(vis)
	first := "Здравствуйте! " + hostileText
	vis.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), first+kb.Enter))

	// Anna sees it in the queue (as text), hears it and gets a notification.
	Wait[bool](op, `[...document.querySelectorAll('.qitem .qitem__text')].some(e => e.textContent === `+jsString(first)+`)`, boot)
	Wait[bool](op, `workstationStats.beeps >= 1 && workstationStats.notifications >= 1`, boot)
	if n := Eval[float64](op, `document.querySelector('.nav__link[data-view=chats] .badge').textContent * 1`); n < 1 {
		t.Errorf("the chats badge shows %v", n)
	}
	shots(t, op, "queue")
	clean(t, op)

	// She takes it: the conversation opens with the message.
	op.Run(chromedp.Click(chromedp.CSS(`.qitem__take`)))
	Wait[bool](op, `!!document.querySelector('`+activeChat+` .msg--visitor .msg__bubble') && document.querySelector('`+activeChat+` .msg--visitor .msg__bubble').textContent === `+jsString(first), boot)
	Wait[bool](op, `document.querySelectorAll('.qitem').length === 0`, boot)
	Wait[bool](vis, `document.querySelector('.cmgd-chat__who .cmgd-panel__title').textContent === 'Анна'`, boot)

	// Answers with Enter; the visitor gets it as text.
	answer := "Добрый день! <i>Чем помочь?</i>"
	op.Run(chromedp.SendKeys(chromedp.CSS(activeChat+` .composer__text`), answer+kb.Enter))
	waitLog(t, vis, "visitor:"+first, "operator:"+answer)
	Wait[bool](op, `[...document.querySelectorAll('`+activeChat+` .msg--operator:not(.msg--pending) .msg__bubble')].some(e => e.textContent === `+jsString(answer)+`)`, boot)

	// The visitor types: Anna sees the draft live.
	vis.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Хочу <b>заказать</b>"))
	Wait[bool](op, `!document.querySelector('`+activeChat+` .draft').hidden && document.querySelector('`+activeChat+` .draft__text').textContent === 'Хочу <b>заказать</b>'`, boot)
	shots(t, op, "chat")
	vis.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), kb.Enter))
	Wait[bool](op, `document.querySelector('`+activeChat+` .draft').hidden && [...document.querySelectorAll('`+activeChat+` .msg--visitor .msg__bubble')].some(e => e.textContent === 'Хочу <b>заказать</b>')`, boot)

	// Files both ways.
	Wait[bool](vis, `!document.querySelector('.cmgd-chat__attach').hidden`, boot)
	Eval[bool](vis, `(() => { const dt = new DataTransfer(); dt.items.add(new File(['%PDF-1.4 test'], 'счёт <1>.pdf', {type: 'application/pdf'}));
		const input = document.querySelector('.cmgd-chat__file'); input.files = dt.files; input.dispatchEvent(new Event('change')); return true; })()`)
	Wait[bool](op, `[...document.querySelectorAll('`+activeChat+` .msg--visitor a.msg__file')].some(a => a.querySelector('.msg__filename').textContent === 'счёт <1>.pdf' && a.href.startsWith(`+jsString(env.srv.URL+"/api/chat/files/")+`))`, boot)
	Eval[bool](op, `(() => { const dt = new DataTransfer(); dt.items.add(new File(['hello, price list'], 'прайс.txt', {type: 'text/plain'}));
		const input = document.querySelector('`+activeChat+` .composer__file'); input.files = dt.files; input.dispatchEvent(new Event('change')); return true; })()`)
	Wait[bool](vis, `[...document.querySelectorAll('.cmgd-msg--operator a.cmgd-msg__file')].some(a => a.textContent.includes('прайс.txt'))`, boot)
	Wait[bool](op, `[...document.querySelectorAll('`+activeChat+` .msg--operator a.msg__file .msg__filename')].some(e => e.textContent === 'прайс.txt')`, boot)

	// The visitor card: the page of the visit; contacts edited, hostile name shown as text.
	Wait[bool](op, `!!document.querySelector('.cardpane .card__pagetitle') && [...document.querySelectorAll('.cardpane .card__pages a')].some(a => a.href.includes('/demo/'))`, boot)
	op.Run(chromedp.Click(chromedp.CSS(`.cardpane .card__edit`)))
	op.Run(chromedp.SetValue(chromedp.CSS(`.cardpane input[name=name]`), hostileText),
		chromedp.SetValue(chromedp.CSS(`.cardpane input[name=emails]`), "ivan@example.com"),
		chromedp.SetValue(chromedp.CSS(`.cardpane input[name=phones]`), "+7 912 345-67-89"),
		chromedp.Click(chromedp.CSS(`.cardpane .card__form button[type=submit]`)))
	Wait[bool](op, `!!document.querySelector('.cardpane .card__name') && document.querySelector('.cardpane .card__name').textContent === `+jsString(hostileText)+` && document.querySelector('.cardpane .card__email').textContent === 'ivan@example.com' && document.querySelector('.cardpane .card__phone').textContent === '+7 (912) 345-67-89'`, boot)
	shots(t, op, "chat-card")
	clean(t, op)

	// Boris comes online in his own browser; Anna transfers the chat to him.
	op2 := env.operatorTab(t)
	signIn(t, op2, env.srv.URL, "boris", boris.Password)
	goOnline(t, op2)
	chatID := Eval[string](op, `document.querySelector('`+activeChat+`').dataset.chat`)
	op.Run(chromedp.Click(chromedp.CSS(activeChat + ` .chat__transfer`)))
	Wait[bool](op, `[...document.querySelectorAll('.dialog select[name=employee_id] option')].some(o => o.value === '`+fmt.Sprint(boris.ID)+`')`, boot)
	shots(t, op, "transfer")
	Eval[bool](op, `(() => { const s = document.querySelector('.dialog select[name=employee_id]'); s.value = '`+fmt.Sprint(boris.ID)+`'; s.dispatchEvent(new Event('change')); return true; })()`)
	op.Run(chromedp.Click(chromedp.CSS(`.dialog button[type=submit]`)))
	Wait[bool](op, `!document.querySelector('.dialog') && !document.querySelector('.chat[data-chat="`+chatID+`"]')`, boot)

	// Boris has the whole conversation and continues.
	Wait[bool](op2, `!!document.querySelector('.chat[data-chat="`+chatID+`"]:not([hidden])') && [...document.querySelectorAll('`+activeChat+` .msg--visitor .msg__bubble')].some(e => e.textContent === `+jsString(first)+`)`, boot)
	Wait[bool](op2, `workstationStats.beeps >= 1`, boot)
	op2.Run(chromedp.SendKeys(chromedp.CSS(activeChat+` .composer__text`), "Я продолжу, меня зовут Борис"),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	Wait[bool](vis, `[...document.querySelectorAll('.cmgd-msg--operator .cmgd-msg__bubble')].some(e => e.textContent === 'Я продолжу, меня зовут Борис')`, boot)
	Wait[bool](vis, `document.querySelector('.cmgd-chat__who .cmgd-panel__title').textContent === 'Борис'`, boot)

	// Anna corrects the visitor's name (through the API, as her card would):
	// Boris's tab of the chat takes the new name without a reload.
	var visitorID, siteID int64
	if err := env.srv.DB.QueryRow(context.Background(), `SELECT visitor_id, site_id FROM chats WHERE id = $1`, chatID).Scan(&visitorID, &siteID); err != nil {
		t.Fatal(err)
	}
	Wait[bool](op, fmt.Sprintf(`fetch('/api/operator/visitors/%d?site_id=%d', {method: 'PATCH', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({name: 'Иван Петров'})}).then(r => r.ok)`, visitorID, siteID), boot)
	Wait[bool](op2, `[...document.querySelectorAll('.tab__name')].some(e => e.textContent === 'Иван Петров')`, boot)

	// Boris closes; the visitor rates; the rating shows on his screen.
	op2.Run(chromedp.Click(chromedp.CSS(activeChat + ` .chat__close`)))
	Wait[bool](op2, `!document.querySelector('`+activeChat+` .chat__notice').hidden && document.querySelector('`+activeChat+` .composer').hidden`, boot)
	Wait[bool](vis, `!!document.querySelector('.cmgd-msg--bot .cmgd-star[data-mark="5"]')`, boot)
	vis.Run(chromedp.Click(chromedp.CSS(`.cmgd-msg--bot .cmgd-star[data-mark="5"]`)))
	Wait[bool](op2, `document.querySelectorAll('`+activeChat+` .chat__rating .star--on').length === 5 && document.querySelector('`+activeChat+` .chat__ratingtext').textContent.includes('5')`, boot)
	shots(t, op2, "chat-rated")

	// The card lists the chat among the visitor's chats; its transcript opens.
	Wait[bool](op2, `[...document.querySelectorAll('.cardpane .card__chat')].some(b => b.textContent.startsWith('#`+chatID+` · чат завершён'))`, boot)
	op2.Run(chromedp.Click(chromedp.CSS(`.cardpane .card__chat`)))
	Wait[bool](op2, `!!document.querySelector('.dialog .log--dialog') && [...document.querySelectorAll('.dialog .msg__bubble')].some(e => e.textContent === `+jsString(first)+`) && [...document.querySelectorAll('.dialog .msg__bubble')].some(e => e.textContent === 'Я продолжу, меня зовут Борис')`, boot)
	shots(t, op2, "transcript")
	op2.Run(chromedp.KeyEvent(kb.Escape))
	Wait[bool](op2, `!document.querySelector('.dialog')`, boot)
	clean(t, op2)
	clean(t, op)
	noExceptions(t, vis)
}

// The live list shows the visitor on the demo page (page, time, source);
// the operator invites them and they accept by answering in the widget.
func TestWorkstation_Invite(t *testing.T) {
	env := startWorkstationEnv(t)
	_, op := env.signedIn(t, "anna", "Анна", true)

	vis := newTab(t)
	vis.Go(env.srv.URL + "/demo/?k=" + env.key + "&utm_source=" + "newsletter")
	waitBoot(vis)
	vid := Eval[float64](vis, `Comagic.getVisitorId()`)
	// The visitor names themselves and opens a page, both with HTML in them.
	Eval[bool](vis, `new Promise(r => Comagic.addVisitorInfo({name: `+jsString(hostileText)+`}, () => r(true)))`)
	Eval[bool](vis, `document.title = `+jsString(hostileText)+`; Comagic.reinitTrackView(); true`)

	op.Run(chromedp.Click(chromedp.CSS(`.nav__link[data-view=visitors]`)))
	row := fmt.Sprintf(`tr.lrow[data-visitor="%v"]`, vid)
	Wait[bool](op, `!!document.querySelector('`+row+`')`, boot)
	// (Refreshed by hand at most twice a second until the new page view is there.)
	Wait[bool](op, `(() => { if (!(Date.now() - (window.__refreshed || 0) < 500)) { window.__refreshed = Date.now(); document.querySelector('.view--visitors .live__refresh').click(); }
		const r = document.querySelector('`+row+`'); return !!r && r.querySelector('.lrow__name').textContent === `+jsString(hostileText)+` && r.querySelector('.lrow__title').textContent === `+jsString(hostileText)+`; })()`, boot)
	if got := Eval[string](op, `document.querySelector('`+row+`').textContent`); !strings.Contains(got, "/demo/") || !strings.Contains(got, "newsletter") {
		t.Errorf("the live row shows %q", got)
	}
	shots(t, op, "visitors")
	op.Run(chromedp.Click(chromedp.CSS(row + ` .lrow__invite`)))
	op.Run(chromedp.SetValue(chromedp.CSS(`.invite__text`), "Подсказать с выбором? <b>Скидка</b>"),
		chromedp.Click(chromedp.CSS(`.invite button[type=submit]`)))
	Wait[bool](op, `!!document.querySelector('`+row+` .pill--active')`, boot)

	// The widget shows the invitation; the visitor answers and so accepts.
	Wait[bool](vis, `Comagic.UI.getWidget('consultant_chat') && Comagic.UI.getWidget('consultant_chat').getState() === 'invite' && Comagic.UI.getWidget('consultant_chat').isVisible()`, boot)
	Wait[bool](vis, `[...document.querySelectorAll('.cmgd-msg--operator .cmgd-msg__bubble')].some(e => e.textContent === 'Подсказать с выбором? <b>Скидка</b>')`, boot)
	// (Typed as key events into the focused composer: the widget redraws it
	// when the state changes.)
	Eval[bool](vis, `document.querySelector('.cmgd-chat__text').focus(), true`)
	vis.Run(chromedp.KeyEvent("Да, пожалуйста"), chromedp.KeyEvent(kb.Enter))
	Wait[bool](vis, `Comagic.UI.getWidget('consultant_chat').getState() === 'chat'`, boot)

	// The chat is the operator's, active, with the answer.
	op.Run(chromedp.Click(chromedp.CSS(`.nav__link[data-view=chats]`)))
	Wait[bool](op, `!!document.querySelector('`+activeChat+` .pill--active') && [...document.querySelectorAll('`+activeChat+` .msg--visitor .msg__bubble')].some(e => e.textContent === 'Да, пожалуйста')`, boot)
	Wait[bool](op, `[...document.querySelectorAll('`+activeChat+` .sys__text')].some(e => e.textContent.includes('Подсказать с выбором? <b>Скидка</b>'))`, boot)
	Wait[bool](op, `document.querySelector('`+activeChat+` .chat__title').textContent === `+jsString(hostileText), boot)
	shots(t, op, "invited-chat")
	clean(t, op)
	noExceptions(t, vis)
}

// Offline requests sent on the demo page appear in the list at once (as
// text), are marked processed, and the filter follows; callbacks list too.
func TestWorkstation_Requests(t *testing.T) {
	env := startWorkstationEnv(t)
	_, op := env.signedIn(t, "anna", "Анна", false)
	op.Run(chromedp.Click(chromedp.CSS(`.nav__link[data-view=requests]`)))
	Wait[bool](op, `!!document.querySelector('.view--requests .empty')`, boot)

	vis := env.visitorTab(t)
	vis.Run(chromedp.SetValue(chromedp.CSS(`#lead [name=name]`), hostileText),
		chromedp.SetValue(chromedp.CSS(`#lead [name=message]`), "Перезвоните <script>alert(1)</script>"),
		chromedp.Click(chromedp.CSS(`button[data-call=addOfflineRequest]`)))
	Wait[bool](vis, `document.getElementById('out').textContent.includes('"success": true')`, boot)

	// Without a reload: the frame brings it.
	Wait[bool](op, `!!document.querySelector('.view--requests tr.lrow') && document.querySelector('.view--requests tr.lrow .lrow__name').textContent === `+jsString(hostileText), boot)
	if got := Eval[string](op, `document.querySelector('.view--requests tr.lrow .lrow__text').textContent`); got != "Перезвоните <script>alert(1)</script>" {
		t.Errorf("the message shows as %q", got)
	}
	shots(t, op, "requests")
	// Processed: it leaves the "not processed" filter and shows under "processed".
	op.Run(chromedp.Click(chromedp.CSS(`.view--requests .lrow__mark`)))
	Wait[bool](op, `!document.querySelector('.view--requests tr.lrow')`, boot)
	op.Run(chromedp.Click(chromedp.CSS(`.view--requests .seg__btn:nth-child(3)`)))
	Wait[bool](op, `!!document.querySelector('.view--requests tr.lrow .pill--done')`, boot)

	// English, and the callbacks screen.
	op.Run(chromedp.Click(chromedp.CSS(`.top .lang`)))
	Wait[bool](op, `document.documentElement.lang === 'en' && document.querySelector('.nav__link[data-view=requests]').textContent.includes('Requests')`, boot)
	op.Run(chromedp.Click(chromedp.CSS(`.nav__link[data-view=callbacks]`)))
	Wait[bool](op, `!!document.querySelector('.view--callbacks .empty') && document.querySelector('.view--callbacks .toolbar__title').textContent === 'Callback orders'`, boot)

	// A call back ordered on the page shows at once too, and can be marked processed.
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(rcv.Close)
	if _, err := env.srv.DB.Exec(context.Background(), `INSERT INTO callback_scenarios (site_id, url, secret)
		SELECT id, $2, 'workstation-test-secret' FROM sites WHERE site_key = $1`, env.key, rcv.URL); err != nil {
		t.Fatal(err)
	}
	r := Eval[map[string]any](vis, `new Promise(done => ComagicWidget.sitePhoneCall({phone: '8 910 123-45-67'}, done))`)
	if res, _ := r["result"].(map[string]any); r["success"] != true || res["status"] != 0.0 {
		t.Fatalf("sitePhoneCall: %v", r)
	}
	Wait[bool](op, `!!document.querySelector('.view--callbacks tr.lrow') && document.querySelector('.view--callbacks tr.lrow .lrow__name').textContent === '+7 (910) 123-45-67'`, boot)
	shots(t, op, "callbacks")
	op.Run(chromedp.Click(chromedp.CSS(`.view--callbacks .lrow__mark`)))
	Wait[bool](op, `!document.querySelector('.view--callbacks tr.lrow')`, boot)
	clean(t, op)
	noExceptions(t, vis)
}

// On a phone-sized screen the queue, the chat and the card each get the
// whole width; the shortcuts switch chats; signing out revokes the token.
func TestWorkstation_PhoneAndShortcuts(t *testing.T) {
	env := startWorkstationEnv(t)
	anna, op := env.signedIn(t, "anna", "Анна", true)

	// Two visitors chat; routing gives both chats to Anna.
	for _, text := range []string{"Первый посетитель", "Второй посетитель"} {
		vis := env.visitorTab(t)
		openChat(vis)
		vis.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), text+kb.Enter))
		Wait[bool](op, `[...document.querySelectorAll('.mitem__text')].some(e => e.textContent === `+jsString(text)+`)`, boot)
	}
	Wait[bool](op, `document.querySelectorAll('.tab[data-chat]').length === 2`, boot)
	firstTab := Eval[string](op, `document.querySelector('`+activeChat+`').dataset.chat`)
	op.Run(chromedp.KeyEvent(kb.ArrowDown, chromedp.KeyModifiers(chromedp.ModifierAlt)))
	second := Wait[string](op, `document.querySelector('`+activeChat+`').dataset.chat !== '`+firstTab+`' && document.querySelector('`+activeChat+`').dataset.chat`, boot)
	op.Run(chromedp.KeyEvent("[", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	Wait[bool](op, `document.querySelector('`+activeChat+`').dataset.chat === '`+firstTab+`'`, boot)
	if second == firstTab {
		t.Fatal("Alt+Down did not switch")
	}

	// A phone: the conversation fills the screen; the queue and the card open over it.
	op.Run(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	Wait[bool](op, `document.querySelector('.side').offsetParent === null && document.querySelector('`+activeChat+` .composer__text').getBoundingClientRect().right <= 390`, boot)
	if w := Eval[float64](op, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %v px wide on a 390 px screen", w)
	}
	dir, err := ArtifactDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ name, js string }{
		{"phone-chat", `true`},
		{"phone-card", `document.querySelector('` + activeChat + ` .chat__cardbtn').click(), true`},
		{"phone-queue", `document.querySelector('.card__close').click(), document.querySelector('.tab--queue').click(), true`},
	} {
		Eval[bool](op, s.js)
		Eval[bool](op, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
		ctx, cancel := op.Ctx()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "workstation-"+s.name+"-390x844.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	Wait[bool](op, `document.querySelector('.side').offsetParent !== null`, boot)
	clean(t, op)

	// Sign out: the token is revoked on the server, not only forgotten.
	op.Run(chromedp.EmulateViewport(1366, 768))
	tokenOK := func() int {
		var n int
		if err := env.srv.DB.QueryRow(context.Background(), `SELECT count(*) FROM operator_tokens WHERE employee_id = $1 AND revoked_at IS NULL`, anna.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := tokenOK()
	op.Run(chromedp.Click(chromedp.CSS(`.logout`)))
	Wait[bool](op, `!!document.querySelector('.login input[name=login]')`, boot)
	Eventually(t, boot, func() error {
		if n := tokenOK(); n != before-1 {
			return fmt.Errorf("%d live tokens, want %d", n, before-1)
		}
		return nil
	})
	op.Go(env.srv.URL + "/operator/")
	Wait[bool](op, `!!document.querySelector('.login input[name=login]')`, boot)
}

// gate sits in front of the server: it can drop the operator websockets and
// refuse new ones, as a network outage would.
type gate struct {
	mu      sync.Mutex
	blocked bool
	conns   []net.Conn
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws/operator" {
			g.mu.Lock()
			blocked := g.blocked
			g.mu.Unlock()
			if blocked {
				http.Error(w, "outage", http.StatusServiceUnavailable)
				return
			}
			w = &hijackRecorder{ResponseWriter: w, g: g}
		}
		next.ServeHTTP(w, r)
	})
}

// cut drops the open operator sockets and refuses new ones until mend.
func (g *gate) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocked = true
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
}

func (g *gate) mend() {
	g.mu.Lock()
	g.blocked = false
	g.mu.Unlock()
}

type hijackRecorder struct {
	http.ResponseWriter
	g *gate
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.g.mu.Lock()
		h.g.conns = append(h.g.conns, c)
		h.g.mu.Unlock()
	}
	return c, rw, err
}

// The connection drops: the header says so and counts down to the next try;
// what the visitor wrote meanwhile arrives after the reconnect, and what the
// operator wrote meanwhile is sent then, once.
func TestWorkstation_Reconnect(t *testing.T) {
	g := &gate{}
	srv := testenv.StartServer(t, testenv.Options{Wrap: g.wrap})
	env := &wsEnv{srv: srv, key: srv.CreateSite(t, "localhost", "127.0.0.1")}
	srv.SetWidgetSettings(t, env.key, "consultant", "desktop", chatSettings(t, nil))
	_, op := env.signedIn(t, "anna", "Анна", true)
	vis := env.visitorTab(t)
	openChat(vis)
	vis.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Вопрос"+kb.Enter))
	Wait[bool](op, `[...document.querySelectorAll('`+activeChat+` .msg--visitor .msg__bubble')].some(e => e.textContent === 'Вопрос')`, boot)

	g.cut()
	Wait[bool](op, `document.querySelector('.conn').dataset.state === 'reconnecting' && /\d/.test(document.querySelector('.conn__text').textContent) && !document.querySelector('.conn .btn').hidden`, boot)
	shots(t, op, "reconnecting")
	vis.Run(chromedp.SendKeys(chromedp.CSS(`.cmgd-chat__text`), "Пока вас не было"+kb.Enter))
	waitLog(t, vis, "visitor:Вопрос", "visitor:Пока вас не было")
	op.Run(chromedp.SendKeys(chromedp.CSS(activeChat+` .composer__text`), "Ответ без связи"+kb.Enter))
	Wait[bool](op, `!!document.querySelector('`+activeChat+` .msg--pending')`, boot)

	g.mend()
	Wait[bool](op, `document.querySelector('.conn').dataset.state === 'connected'`, 40*time.Second)
	Wait[bool](op, `[...document.querySelectorAll('`+activeChat+` .msg--visitor .msg__bubble')].some(e => e.textContent === 'Пока вас не было') && !document.querySelector('`+activeChat+` .msg--pending')`, boot)
	waitLog(t, vis, "visitor:Вопрос", "visitor:Пока вас не было", "operator:Ответ без связи")
	if n := Eval[float64](op, `document.querySelectorAll('`+activeChat+` .msg--operator').length`); n != 1 {
		t.Errorf("%v operator messages shown, want 1", n)
	}
	var stored int
	if err := srv.DB.QueryRow(context.Background(), `SELECT count(*) FROM chat_events WHERE kind = 'message' AND sender = 'operator'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 1 {
		t.Errorf("%d operator messages stored, want 1", stored)
	}
	clean(t, op)

	// A reload keeps the session (the cookie) and shows the chat's history.
	op.Go(srv.URL + "/operator/")
	Wait[bool](op, `!!document.querySelector('`+activeChat+`') && [...document.querySelectorAll('`+activeChat+` .msg__bubble')].map(e => e.textContent).join('|') === 'Вопрос|Пока вас не было|Ответ без связи'`, boot)
	clean(t, op)
}
