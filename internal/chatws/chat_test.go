package chatws_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/comagicd/comagicd/internal/testenv"
)

// chatSettings turns the chat on for a site, with short retention timeouts.
const chatSettings = `{"common": {"banner_color": "43A400"},
  "chat": {"title": "Чат", "is_visible": true, "is_file_transfer": true, "is_consultant_operator_rating": true,
    "group_title": null, "allowed_groups": null, "fields": [{"name": "email", "is_required": true, "title": "E-mail"}],
    "is_animation_enabled": false, "h_position": "right", "v_position": "bottom",
    "retention": {"is_alternate_communication_way_enabled": true, "alternate_communication_way_timeout": 2,
      "messages": [{"timeout": 1, "text": "Оператор ответит через несколько секунд."}, {"timeout": 1, "text": "Пожалуйста, не закрывайте чат."}],
      "alternate_communication_way": "offline_message"}}}`

type fixture struct {
	srv  *testenv.Server
	site string
	mail *testenv.SMTP
}

func setup(t *testing.T, opts testenv.Options) *fixture {
	t.Helper()
	f := &fixture{mail: testenv.StartSMTP(t)}
	if opts.SMTPURL == "" {
		opts.SMTPURL = f.mail.URL()
	}
	f.srv = testenv.StartServer(t, opts)
	f.srv.App.ChatServer.ReauthEvery = 200 * time.Millisecond
	f.site = f.srv.CreateSite(t, "shop.example")
	for _, d := range []string{"desktop", "mobile"} {
		f.srv.SetWidgetSettings(t, f.site, "consultant", d, chatSettings)
	}
	return f
}

func online(t *testing.T, op *testenv.WS) {
	t.Helper()
	op.Wait(t, testenv.Type("hello"), "hello")
	if r := op.Call(t, map[string]any{"type": "status", "status": "online"}); r["ok"] != true {
		t.Fatalf("status: %v", r)
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// TestConversation: a visitor starts a chat, an operator gets it, messages go
// both ways in order, typing both ways, the visitor rates, mails the
// transcript, and resumes after a dropped connection with nothing lost.
func TestConversation(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "anna", "Анна", []string{f.site})
	ows := f.srv.DialOperator(t, op.Token)
	online(t, ows)

	v := f.srv.NewVisitor(t, f.site)
	vws := f.srv.DialVisitor(t, v, nil)
	st := vws.Wait(t, testenv.Type("state"), "state")
	if st["state"] != "available" || st["available"] != true || st["chat_id"] != nil {
		t.Fatalf("first state: %v", st)
	}
	if ri, _ := st["required_info"].([]any); len(ri) != 1 || ri[0] != "email" {
		t.Fatalf("required_info: %v", st["required_info"])
	}

	// The first message starts the chat; routing gives it to Anna.
	r := vws.Call(t, map[string]any{"type": "message", "uid": "u1", "text": "Здравствуйте! <b>есть</b> доставка?"})
	if r["ok"] != true || num(r["seq"]) == 0 {
		t.Fatalf("message reply: %v", r)
	}
	chatID := num(r["chat_id"])
	echo := vws.Wait(t, testenv.Event("message"), "own message echo")
	if echo["uid"] != "u1" || echo["text"] != "Здравствуйте! <b>есть</b> доставка?" || echo["sender"] != "visitor" {
		t.Fatalf("echo: %v", echo)
	}
	join := vws.Wait(t, testenv.Event("join"), "operator joined")
	if o, _ := join["operator"].(map[string]any); o["name"] != "Анна" {
		t.Fatalf("join: %v", join)
	}
	got := ows.Wait(t, testenv.Event("message"), "visitor message at the operator")
	if num(got["chat_id"]) != chatID || got["text"] != echo["text"] {
		t.Fatalf("operator got %v", got)
	}

	// A resend with the same uid is stored once.
	r2 := vws.Call(t, map[string]any{"type": "message", "uid": "u1", "text": "Здравствуйте! <b>есть</b> доставка?"})
	if num(r2["message_id"]) != num(r["message_id"]) {
		t.Fatalf("resend stored again: %v vs %v", r2, r)
	}

	// Typing both ways: the operator sees the draft, the visitor a signal.
	vws.Send(t, map[string]any{"type": "typing", "text": "а ещё вопрос"})
	if ty := ows.Wait(t, testenv.Type("typing"), "visitor draft"); ty["text"] != "а ещё вопрос" || num(ty["chat_id"]) != chatID {
		t.Fatalf("typing at operator: %v", ty)
	}
	ows.Send(t, map[string]any{"type": "typing", "chat_id": chatID})
	vws.Wait(t, testenv.Type("typing"), "operator typing")

	// Messages both ways, in order.
	for i := 1; i <= 3; i++ {
		if rr := ows.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": fmt.Sprintf("o%d", i), "text": fmt.Sprintf("ответ %d", i)}); rr["ok"] != true {
			t.Fatalf("operator message: %v", rr)
		}
	}
	var last int64
	for i := 1; i <= 3; i++ {
		ev := vws.Wait(t, func(m map[string]any) bool { return m["type"] == "event" && m["sender"] == "operator" }, "operator message")
		if ev["text"] != fmt.Sprintf("ответ %d", i) || num(ev["seq"]) <= last {
			t.Fatalf("operator message %d: %v", i, ev)
		}
		last = num(ev["seq"])
	}

	// Drop the connection; the operator writes meanwhile; resume from the last seq.
	vws.Conn.Close()
	ows.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": "o4", "text": "пока вас не было"})
	vws2 := f.srv.DialVisitor(t, v, url.Values{"chat_id": {fmt.Sprint(chatID)}, "after": {fmt.Sprint(last)}})
	missed := vws2.Wait(t, testenv.Event("message"), "missed message")
	if missed["text"] != "пока вас не было" || num(missed["seq"]) != last+1 {
		t.Fatalf("resume: %v (after %d)", missed, last)
	}

	// Rating, seen by the operator; transcript by mail.
	if rr := vws2.Call(t, map[string]any{"type": "rate", "mark": 5}); rr["ok"] != true || num(rr["rating"]) != 5 {
		t.Fatalf("rate: %v", rr)
	}
	if ch := ows.Wait(t, func(m map[string]any) bool {
		c, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && c != nil && num(c["rating"]) == 5
	}, "rating at operator"); ch == nil {
		t.Fatal("no rating")
	}
	if rr := vws2.Call(t, map[string]any{"type": "rate", "mark": 9}); rr["ok"] != false {
		t.Fatalf("rate 9 accepted: %v", rr)
	}
	if rr := vws2.Call(t, map[string]any{"type": "mail", "email": "client@shop.example"}); rr["ok"] != true {
		t.Fatalf("mail: %v", rr)
	}
	m := f.mail.WaitFor(t, "client@shop.example")
	for _, want := range []string{"Здравствуйте! <b>есть</b> доставка?", "Анна", "ответ 3", "пока вас не было"} {
		if !strings.Contains(m.Body, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, m.Body)
		}
	}

	// The operator closes; the visitor sees it and becomes available.
	ows.Call(t, map[string]any{"type": "close", "chat_id": chatID})
	cl := vws2.Wait(t, testenv.Event("close"), "close")
	if d, _ := cl["data"].(map[string]any); d["closed_by"] != "operator" {
		t.Fatalf("close: %v", cl)
	}
	vws2.Wait(t, func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "available" }, "available again")
}

// TestTabsInSync: two tabs of one visitor see the same conversation.
func TestTabsInSync(t *testing.T) {
	f := setup(t, testenv.Options{})
	v := f.srv.NewVisitor(t, f.site)
	tab1 := f.srv.DialVisitor(t, v, nil)
	tab2 := f.srv.DialVisitor(t, v, nil)
	tab1.Wait(t, testenv.Type("state"), "state 1")
	tab2.Wait(t, testenv.Type("state"), "state 2")
	tab1.Call(t, map[string]any{"type": "message", "uid": "t1", "text": "из первой вкладки"})
	ev := tab2.Wait(t, testenv.Event("message"), "message in tab 2")
	if ev["text"] != "из первой вкладки" || ev["uid"] != "t1" {
		t.Fatalf("tab 2 got %v", ev)
	}
	tab2.Wait(t, func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "chat" }, "tab 2 in chat")
}

// TestHistoryPages: 45 messages come back as pages of 20, 20 and 5.
func TestHistoryPages(t *testing.T) {
	f := setup(t, testenv.Options{})
	v := f.srv.NewVisitor(t, f.site)
	ws := f.srv.DialVisitor(t, v, nil)
	ws.Wait(t, testenv.Type("state"), "state")
	for i := 1; i <= 45; i++ {
		ws.Call(t, map[string]any{"type": "message", "uid": fmt.Sprint("h", i), "text": fmt.Sprint("сообщение ", i)})
	}
	before := int64(0)
	var sizes []int
	for {
		r := ws.Call(t, map[string]any{"type": "history", "before": before})
		msgs, _ := r["messages"].([]any)
		sizes = append(sizes, len(msgs))
		if len(msgs) > 0 {
			first := msgs[0].(map[string]any)
			before = num(first["message_id"])
		}
		if r["more"] != true {
			break
		}
	}
	if fmt.Sprint(sizes) != "[20 20 5]" {
		t.Fatalf("pages %v, want [20 20 5]", sizes)
	}
}

// TestRetentionAndIdleClose: retention messages and the retention action at
// the configured timeouts while nobody answers.
func TestRetention(t *testing.T) {
	f := setup(t, testenv.Options{})
	v := f.srv.NewVisitor(t, f.site)
	ws := f.srv.DialVisitor(t, v, nil)
	ws.Wait(t, testenv.Type("state"), "state")
	ws.Call(t, map[string]any{"type": "start"})
	m1 := ws.Wait(t, testenv.Event("system"), "first retention message")
	m2 := ws.Wait(t, testenv.Event("system"), "second retention message")
	if m1["text"] != "Оператор ответит через несколько секунд." || m2["text"] != "Пожалуйста, не закрывайте чат." {
		t.Fatalf("retention: %v, %v", m1, m2)
	}
	act := ws.Wait(t, testenv.Event("retention_action"), "retention action")
	if d, _ := act["data"].(map[string]any); d["alternate_communication_way"] != "offline_message" {
		t.Fatalf("retention action: %v", act)
	}
}

// TestIdleClose: a chat without activity closes itself.
func TestIdleClose(t *testing.T) {
	f := setup(t, testenv.Options{})
	if _, err := f.srv.DB.Exec(t.Context(), `UPDATE sites SET chat_idle_timeout_s = 10 WHERE site_key = $1`, f.site); err != nil {
		t.Fatal(err)
	}
	v := f.srv.NewVisitor(t, f.site)
	ws := f.srv.DialVisitor(t, v, nil)
	ws.Wait(t, testenv.Type("state"), "state")
	r := ws.Call(t, map[string]any{"type": "start"})
	// Pretend the chat has been idle: move its activity and timer into the past.
	if _, err := f.srv.DB.Exec(t.Context(), `UPDATE chats SET last_activity_at = now() - interval '1 hour' WHERE id = $1;`, num(r["chat_id"])); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.DB.Exec(t.Context(), `UPDATE chat_timers SET due_at = now() WHERE chat_id = $1 AND kind = 'idle_close'`, num(r["chat_id"])); err != nil {
		t.Fatal(err)
	}
	cl := ws.Wait(t, testenv.Event("close"), "idle close")
	if d, _ := cl["data"].(map[string]any); d["closed_by"] != "idle" {
		t.Fatalf("close: %v", cl)
	}
}

// TestInvites: an operator invites; the visitor accepts (chat with them) or
// rejects (available).
func TestInvites(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "boris", "Борис", []string{f.site})
	ows := f.srv.DialOperator(t, op.Token)
	online(t, ows)
	siteID := siteIDOf(t, f)

	for _, accept := range []bool{true, false} {
		v := f.srv.NewVisitor(t, f.site)
		vws := f.srv.DialVisitor(t, v, nil)
		vws.Wait(t, testenv.Type("state"), "state")
		r := ows.Call(t, map[string]any{"type": "invite", "site_id": siteID, "visitor_id": v.VisitorID, "text": "Чем помочь?"})
		if r["ok"] != true {
			t.Fatalf("invite: %v", r)
		}
		inv := vws.Wait(t, testenv.Event("invite"), "invite")
		if inv["text"] != "Чем помочь?" || inv["sender"] != "operator" {
			t.Fatalf("invite event: %v", inv)
		}
		vws.Wait(t, func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "invite" }, "state invite")
		if accept {
			vws.Call(t, map[string]any{"type": "invite_accept"})
			vws.Wait(t, testenv.Event("join"), "join after accept")
			vws.Wait(t, func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "chat" }, "state chat")
		} else {
			vws.Call(t, map[string]any{"type": "invite_reject"})
			cl := vws.Wait(t, testenv.Event("close"), "close after reject")
			if d, _ := cl["data"].(map[string]any); d["closed_by"] != "invite_rejected" {
				t.Fatalf("reject: %v", cl)
			}
			vws.Wait(t, func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "available" }, "state available")
		}
	}
}

// TestAutoInvite: a rule invites a visitor of the site when an operator is online.
func TestAutoInvite(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "vera", "Вера", []string{f.site})
	ows := f.srv.DialOperator(t, op.Token)
	online(t, ows)
	if _, err := f.srv.DB.Exec(t.Context(), `INSERT INTO auto_invite_rules (site_id, message, min_time_on_site_s, min_page_views)
		VALUES ($1, 'Нужна помощь с выбором?', 1, 1)`, siteIDOf(t, f)); err != nil {
		t.Fatal(err)
	}
	v := f.srv.NewVisitor(t, f.site)
	vws := f.srv.DialVisitor(t, v, nil)
	inv := vws.Wait(t, testenv.Event("invite"), "auto invite")
	if inv["text"] != "Нужна помощь с выбором?" {
		t.Fatalf("auto invite: %v", inv)
	}
	if o, _ := inv["operator"].(map[string]any); o["name"] != "Вера" {
		t.Fatalf("auto invite from %v", inv["operator"])
	}
}

// TestLateAnswerMailed: an operator answer that no page received is emailed
// to the visitor's address.
func TestLateAnswerMailed(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "gleb", "Глеб", []string{f.site})
	ows := f.srv.DialOperator(t, op.Token)
	online(t, ows)
	v := f.srv.NewVisitor(t, f.site)
	vws := f.srv.DialVisitor(t, v, nil)
	vws.Wait(t, testenv.Type("state"), "state")
	vws.Call(t, map[string]any{"type": "visitor_card", "email": "late@shop.example", "name": "Ира"})
	r := vws.Call(t, map[string]any{"type": "message", "uid": "l1", "text": "Есть размер M?"})
	vws.Wait(t, testenv.Event("join"), "join")
	vws.Conn.Close()
	vws.Closed(time.Second)
	waitSockets(t, f, 1) // the server noticed the page left; the operator's remains
	ows.Call(t, map[string]any{"type": "message", "chat_id": num(r["chat_id"]), "uid": "a1", "text": "Да, есть размер M."})
	m := f.mail.WaitFor(t, "late@shop.example")
	if !strings.Contains(m.Body, "Да, есть размер M.") {
		t.Fatalf("late answer mail: %q", m.Body)
	}
}

// TestFiles: a visitor sends a file; the operator receives its signed
// address and downloads it as an attachment; a wrong signature is refused.
func TestFiles(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "dina", "Дина", []string{f.site})
	ows := f.srv.DialOperator(t, op.Token)
	online(t, ows)
	v := f.srv.NewVisitor(t, f.site)
	vws := f.srv.DialVisitor(t, v, nil)
	vws.Wait(t, testenv.Type("state"), "state")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, val := range map[string]string{"visitor_id": fmt.Sprint(v.VisitorID), "session_id": fmt.Sprint(v.SessionID), "key": v.Key} {
		_ = mw.WriteField(k, val)
	}
	fw, _ := mw.CreateFormFile("file", "заказ.txt")
	_, _ = fw.Write([]byte("Список: 3 шт.\n"))
	_ = mw.Close()
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/chat/"+f.site+"/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", "https://shop.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	ev := ows.Wait(t, testenv.Event("file"), "file at operator")
	file, _ := ev["file"].(map[string]any)
	if file["name"] != "заказ.txt" || num(file["size"]) != int64(len("Список: 3 шт.\n")) {
		t.Fatalf("file event: %v", ev)
	}
	link, _ := file["url"].(string)
	dl, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	if dl.StatusCode != 200 || string(got) != "Список: 3 шт.\n" || !strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment") ||
		dl.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %d %q %v", dl.StatusCode, got, dl.Header)
	}
	bad, err := http.Get(strings.Replace(link, "sig=", "sig=x", 1))
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != 404 {
		t.Fatalf("forged signature: %d", bad.StatusCode)
	}
}

// TestSecurity: forged or foreign credentials, other sites' chats, foreign
// origins and bad tokens are refused.
func TestSecurity(t *testing.T) {
	f := setup(t, testenv.Options{})
	other := f.srv.CreateSite(t, "other.example")
	f.srv.SetWidgetSettings(t, other, "consultant", "desktop", chatSettings)
	op := f.srv.CreateOperator(t, "egor", "Егор", []string{other})

	v := f.srv.NewVisitor(t, f.site)
	ws := f.srv.DialVisitor(t, v, nil)
	ws.Wait(t, testenv.Type("state"), "state")
	r := ws.Call(t, map[string]any{"type": "message", "uid": "s1", "text": "секрет"})
	chatID := num(r["chat_id"])

	base := "ws" + strings.TrimPrefix(f.srv.URL, "http")
	refused := func(u string, h http.Header, status int) {
		t.Helper()
		_, resp, err := websocketDial(u, h)
		if err == nil || resp == nil || resp.StatusCode != status {
			code := 0
			if resp != nil {
				code = resp.StatusCode
			}
			t.Fatalf("%s: got %d (%v), want %d", u, code, err, status)
		}
	}
	q := func(vid, sid int64, key string) string {
		return fmt.Sprintf("visitor_id=%d&session_id=%d&key=%s", vid, sid, key)
	}
	origin := http.Header{"Origin": {"https://shop.example"}}
	refused(base+"/ws/chat/"+f.site+"?"+q(v.VisitorID, v.SessionID, strings.Repeat("a", 32)), origin, 401)
	refused(base+"/ws/chat/"+f.site+"?"+q(v.VisitorID+1, v.SessionID, v.Key), origin, 401)
	refused(base+"/ws/chat/"+other+"?"+q(v.VisitorID, v.SessionID, v.Key), http.Header{"Origin": {"https://other.example"}}, 401)
	refused(base+"/ws/chat/"+f.site+"?"+q(v.VisitorID, v.SessionID, v.Key), http.Header{"Origin": {"https://evil.example"}}, 403)
	refused(base+"/ws/operator", http.Header{"Authorization": {"Bearer nope"}}, 401)
	refused(base+"/ws/operator", nil, 401)

	// Another visitor cannot resume this visitor's chat.
	w := f.srv.NewVisitor(t, f.site)
	wws := f.srv.DialVisitor(t, w, url.Values{"chat_id": {fmt.Sprint(chatID)}, "after": {"0"}})
	wws.Wait(t, testenv.Type("state"), "state")
	h := wws.Call(t, map[string]any{"type": "history"})
	if msgs, _ := h["messages"].([]any); len(msgs) != 0 {
		t.Fatalf("foreign history: %v", msgs)
	}
	for _, fr := range wws.All() {
		if fr["type"] == "event" {
			t.Fatalf("foreign visitor got an event: %v", fr)
		}
	}

	// An operator of another site sees neither the chat nor its events.
	ows := f.srv.DialOperator(t, op.Token)
	hello := ows.Wait(t, testenv.Type("hello"), "hello")
	if q, _ := hello["queue"].([]any); len(q) != 0 {
		t.Fatalf("foreign queue: %v", q)
	}
	for _, cmd := range []map[string]any{
		{"type": "take", "chat_id": chatID},
		{"type": "sync", "chat_id": chatID, "after": 0},
		{"type": "message", "chat_id": chatID, "uid": "x", "text": "hi"},
	} {
		if rr := ows.Call(t, cmd); rr["ok"] != false {
			t.Fatalf("%v on a foreign chat: %v", cmd, rr)
		}
	}
	// Logout revokes the token for the websocket too: a new one is refused,
	// the open one is closed.
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/operator/logout", nil)
	req.Header.Set("Authorization", "Bearer "+op.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	refused(base+"/ws/operator", http.Header{"Authorization": {"Bearer " + op.Token}}, 401)
	if !ows.Closed(5 * time.Second) {
		t.Fatal("the revoked operator's socket stayed open")
	}
}

// TestLongPolling: the fallback carries the same frames.
func TestLongPolling(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "zoya", "Зоя", []string{f.site})
	ows := f.srv.DialOperator(t, op.Token)
	online(t, ows)
	v := f.srv.NewVisitor(t, f.site)
	poll := func(body map[string]any) map[string]any {
		t.Helper()
		body["visitor_id"], body["session_id"], body["key"] = v.VisitorID, v.SessionID, v.Key
		out := postJSON(t, f.srv.URL+"/api/chat/"+f.site+"/poll", body)
		return out
	}
	first := poll(map[string]any{})
	frames, _ := first["frames"].([]any)
	if len(frames) == 0 || frames[0].(map[string]any)["type"] != "state" {
		t.Fatalf("first poll: %v", first)
	}
	second := poll(map[string]any{"state_tag": first["state_tag"], "frames": []any{map[string]any{"type": "message", "id": 1, "uid": "p1", "text": "через поллинг"}}})
	chatID := num(second["chat_id"])
	if chatID == 0 {
		t.Fatalf("second poll: %v", second)
	}
	ows.Wait(t, func(m map[string]any) bool { return m["type"] == "event" && m["text"] == "через поллинг" }, "message at operator")
	ows.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": "pa", "text": "ответ в поллинг"})
	deadline := time.Now().Add(10 * time.Second)
	after, tag := num(second["after"]), second["state_tag"]
	for time.Now().Before(deadline) {
		p := poll(map[string]any{"chat_id": chatID, "after": after, "state_tag": tag})
		after, tag = num(p["after"]), p["state_tag"]
		for _, fr := range p["frames"].([]any) {
			if m := fr.(map[string]any); m["type"] == "event" && m["text"] == "ответ в поллинг" {
				return
			}
		}
	}
	t.Fatal("the operator's answer never came by long polling")
}

func siteIDOf(t *testing.T, f *fixture) int64 {
	t.Helper()
	var id int64
	if err := f.srv.DB.QueryRow(t.Context(), `SELECT id FROM sites WHERE site_key = $1`, f.site).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func websocketDial(u string, h http.Header) (*websocket.Conn, *http.Response, error) {
	c, resp, err := websocket.DefaultDialer.Dial(u, h)
	if c != nil {
		c.Close()
	}
	return c, resp, err
}

func postJSON(t *testing.T, u string, body map[string]any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "https://shop.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %v %v", u, resp.StatusCode, out, err)
	}
	return out
}

// TestAvailability: visitors learn when the site's last operator goes
// offline, also when the operator just closes the workstation.
func TestAvailability(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "kira", "Кира", []string{f.site})
	v := f.srv.NewVisitor(t, f.site)
	vws := f.srv.DialVisitor(t, v, nil)
	if st := vws.Wait(t, testenv.Type("state"), "state"); st["available"] != false {
		t.Fatalf("available before anyone is online: %v", st)
	}
	ows := f.srv.DialOperator(t, op.Token)
	online(t, ows)
	if a := vws.Wait(t, testenv.Type("availability"), "availability"); a["available"] != true {
		t.Fatalf("availability: %v", a)
	}
	ows.Call(t, map[string]any{"type": "status", "status": "away"})
	if a := vws.Wait(t, testenv.Type("availability"), "availability"); a["available"] != false {
		t.Fatalf("availability after away: %v", a)
	}
	ows.Call(t, map[string]any{"type": "status", "status": "online"})
	vws.Wait(t, testenv.Type("availability"), "availability again")

	// The workstation closes without a word: after the presence timeout the
	// operator is offline.
	ows.Conn.Close()
	ows.Closed(time.Second)
	// Wait until the server has noticed: the socket is no longer counted
	// (its goodbye is recorded before that).
	waitSockets(t, f, 1)
	// Within the grace time nothing changes.
	if err := f.srv.App.Chat.ExpirePresence(t.Context()); err != nil {
		t.Fatal(err)
	}
	var status string
	if err := f.srv.DB.QueryRow(t.Context(), `SELECT status FROM employees WHERE id = $1`, op.ID).Scan(&status); err != nil || status != "online" {
		t.Fatalf("status right after the socket closed: %s %v", status, err)
	}
	if _, err := f.srv.DB.Exec(t.Context(), `UPDATE employees SET seen_at = now() - interval '10 minutes' WHERE id = $1`, op.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.App.Chat.ExpirePresence(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a := vws.Wait(t, testenv.Type("availability"), "availability after the workstation closed"); a["available"] != false {
		t.Fatalf("availability: %v", a)
	}
}

// TestTakeAndTransfer: a chat waits while its operator is away, is taken by
// hand from the queue, then transferred to a colleague who continues it.
func TestTakeAndTransfer(t *testing.T) {
	f := setup(t, testenv.Options{})
	anna := f.srv.CreateOperator(t, "anna2", "Анна", []string{f.site})
	boris := f.srv.CreateOperator(t, "boris2", "Борис", []string{f.site})
	a := f.srv.DialOperator(t, anna.Token)
	a.Wait(t, testenv.Type("hello"), "hello")
	a.Call(t, map[string]any{"type": "status", "status": "away"})
	b := f.srv.DialOperator(t, boris.Token)
	online(t, b)
	b.Call(t, map[string]any{"type": "status", "status": "away"})

	v := f.srv.NewVisitor(t, f.site)
	vws := f.srv.DialVisitor(t, v, nil)
	vws.Wait(t, testenv.Type("state"), "state")
	r := vws.Call(t, map[string]any{"type": "message", "uid": "q1", "text": "Есть кто-нибудь?"})
	chatID := num(r["chat_id"])
	// Nobody is online: the chat waits in the queue, which both operators see.
	queued := a.Wait(t, func(m map[string]any) bool {
		c, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && c != nil && num(c["id"]) == chatID && c["state"] == "queued" && c["last_text"] == "Есть кто-нибудь?"
	}, "queued chat with its message at Anna")
	if c := queued["chat"].(map[string]any); num(c["last_seq"]) == 0 {
		t.Fatalf("queue item: %v", c)
	}
	// Anna takes it by hand; Boris cannot take it any more.
	if tr := a.Call(t, map[string]any{"type": "take", "chat_id": chatID}); tr["ok"] != true {
		t.Fatalf("take: %v", tr)
	}
	if tr := b.Call(t, map[string]any{"type": "take", "chat_id": chatID}); tr["ok"] != false {
		t.Fatalf("second take: %v", tr)
	}
	a.Wait(t, func(m map[string]any) bool {
		return m["type"] == "event" && m["text"] == "Есть кто-нибудь?"
	}, "history of the taken chat")
	a.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": "a1", "text": "Здравствуйте, я Анна"})

	// Transfer to Boris: the visitor sees Anna leave and Boris join; Boris gets
	// the whole conversation and continues; Anna can no longer write.
	if tr := a.Call(t, map[string]any{"type": "transfer", "chat_id": chatID, "employee_id": boris.ID}); tr["ok"] != true {
		t.Fatalf("transfer: %v", tr)
	}
	vws.Wait(t, testenv.Event("leave"), "Anna leaves")
	vws.Wait(t, func(m map[string]any) bool {
		o, _ := m["operator"].(map[string]any)
		return m["type"] == "event" && m["kind"] == "join" && o != nil && o["name"] == "Борис"
	}, "Boris joins")
	b.Wait(t, func(m map[string]any) bool {
		return m["type"] == "event" && m["text"] == "Здравствуйте, я Анна"
	}, "earlier messages at Boris")
	if rr := b.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": "b1", "text": "Теперь с вами Борис"}); rr["ok"] != true {
		t.Fatalf("Boris writes: %v", rr)
	}
	vws.Wait(t, func(m map[string]any) bool {
		return m["type"] == "event" && m["text"] == "Теперь с вами Борис"
	}, "Boris's message")
	if rr := a.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": "a2", "text": "ещё я"}); rr["ok"] != false {
		t.Fatalf("Anna still writes after the transfer: %v", rr)
	}
	vws.Wait(t, func(m map[string]any) bool {
		o, _ := m["operator"].(map[string]any)
		return m["type"] == "state" && o != nil && o["name"] == "Борис"
	}, "state shows Boris")
}

// TestOperatorSyncWhileWriting: an operator resyncing a chat while the
// visitor keeps writing gets every event once, in order.
func TestOperatorSyncWhileWriting(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "lena", "Лена", []string{f.site})
	ows := f.srv.DialOperator(t, op.Token)
	online(t, ows)
	v := f.srv.NewVisitor(t, f.site)
	vws := f.srv.DialVisitor(t, v, nil)
	vws.Wait(t, testenv.Type("state"), "state")
	r := vws.Call(t, map[string]any{"type": "message", "uid": "w0", "text": "m0"})
	chatID := num(r["chat_id"])
	ows.Wait(t, func(m map[string]any) bool { return m["type"] == "event" && m["text"] == "m0" }, "m0")
	ows.Conn.Close()

	ows2 := f.srv.DialOperator(t, op.Token)
	ows2.Wait(t, testenv.Type("hello"), "hello")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 15; i++ {
			vws.Call(t, map[string]any{"type": "message", "uid": fmt.Sprint("w", i), "text": fmt.Sprint("m", i)})
		}
	}()
	ows2.Call(t, map[string]any{"type": "sync", "chat_id": chatID, "after": 0})
	<-done
	ows2.Wait(t, func(m map[string]any) bool { return m["type"] == "event" && m["text"] == "m15" }, "m15")
	// The client's rule (api/asyncapi.yaml): apply the next seq, drop what is
	// not greater, ignore a gap (a sync is under way). A live event may come
	// before the sync's reply; after the reply nothing comes twice or out of order.
	held, replied := int64(0), false
	var after []int64
	for _, fr := range ows2.All() {
		if fr["type"] == "reply" && fr["ok"] == true {
			replied = true // the sync's: the only command on this socket
		}
		if fr["type"] != "event" || num(fr["chat_id"]) != chatID {
			continue
		}
		seq := num(fr["seq"])
		if seq == held+1 {
			held = seq
		}
		if replied {
			after = append(after, seq)
		}
	}
	var last int64
	if len(after) > 0 {
		last = after[0] - 1
	}
	for _, seq := range after {
		if seq != last+1 {
			t.Fatalf("events after the sync's reply: %v (want consecutive, once each)", after)
		}
		last = seq
	}
	var total int64
	if err := f.srv.DB.QueryRow(t.Context(), `SELECT last_seq FROM chats WHERE id = $1`, chatID).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if held != total {
		t.Fatalf("the operator applied events up to %d of %d", held, total)
	}
}

// TestGroups: a chat for a group goes to that group's operator; groups the
// site does not offer, or that do not exist, are refused naming group_id.
func TestGroups(t *testing.T) {
	f := setup(t, testenv.Options{})
	var account string
	if err := f.srv.DB.QueryRow(t.Context(), `SELECT a.name FROM accounts a JOIN sites s ON s.account_id = a.id WHERE s.site_key = $1`, f.site).Scan(&account); err != nil {
		t.Fatal(err)
	}
	sales, err := f.srv.App.Employees.CreateGroup(t.Context(), account, "Продажи")
	if err != nil {
		t.Fatal(err)
	}
	settings := strings.Replace(chatSettings, `"allowed_groups": null`, fmt.Sprintf(`"allowed_groups": [{"id": %d, "name": "Продажи"}, {"id": 999999, "name": "Нет такой"}]`, sales.ID), 1)
	f.srv.SetWidgetSettings(t, f.site, "consultant", "desktop", settings)
	other := f.srv.CreateOperator(t, "pavel", "Павел", []string{f.site})
	seller := f.srv.CreateOperator(t, "sveta", "Света", []string{f.site}, "Продажи")
	for _, op := range []*testenv.Operator{other, seller} {
		online(t, f.srv.DialOperator(t, op.Token))
	}
	v := f.srv.NewVisitor(t, f.site)
	ws := f.srv.DialVisitor(t, v, nil)
	ws.Wait(t, testenv.Type("state"), "state")
	for _, bad := range []int64{12345, 999999} {
		r := ws.Call(t, map[string]any{"type": "message", "uid": fmt.Sprint("g", bad), "text": "вопрос", "group_id": bad})
		if e, _ := r["error"].(map[string]any); r["ok"] != false || e["field"] != "group_id" || e["code"] != "invalid" {
			t.Fatalf("group %d: %v", bad, r)
		}
	}
	ws.Call(t, map[string]any{"type": "message", "uid": "g1", "text": "вопрос о цене", "group_id": sales.ID})
	j := ws.Wait(t, testenv.Event("join"), "join")
	if o, _ := j["operator"].(map[string]any); o["name"] != "Света" {
		t.Fatalf("the group's chat went to %v", j["operator"])
	}
}

// TestFilesOff: a site whose chat settings turn file transfer off refuses
// visitor files with 403.
func TestFilesOff(t *testing.T) {
	f := setup(t, testenv.Options{})
	f.srv.SetWidgetSettings(t, f.site, "consultant", "desktop", strings.Replace(chatSettings, `"is_file_transfer": true`, `"is_file_transfer": false`, 1))
	v := f.srv.NewVisitor(t, f.site)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, val := range map[string]string{"visitor_id": fmt.Sprint(v.VisitorID), "session_id": fmt.Sprint(v.SessionID), "key": v.Key} {
		_ = mw.WriteField(k, val)
	}
	fw, _ := mw.CreateFormFile("file", "a.txt")
	_, _ = fw.Write([]byte("text"))
	_ = mw.Close()
	resp, err := http.Post(f.srv.URL+"/api/chat/"+f.site+"/files", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("upload with files off: %d", resp.StatusCode)
	}
}

// TestSocketsOutliveRequestTimeouts: the server's read and write timeouts of
// ordinary requests do not end a websocket.
func TestSocketsOutliveRequestTimeouts(t *testing.T) {
	f := setup(t, testenv.Options{})
	op := f.srv.CreateOperator(t, "tima", "Тимофей", []string{f.site})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The same handler behind a server with short timeouts, as serve has 30 s ones.
	hs := &http.Server{Handler: f.srv.App.Handler, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	ws := testenv.Dial(t, "ws://"+ln.Addr().String()+"/ws/operator", http.Header{"Authorization": {"Bearer " + op.Token}})
	ws.Wait(t, testenv.Type("hello"), "hello")
	v := f.srv.NewVisitor(t, f.site)
	q := url.Values{"visitor_id": {fmt.Sprint(v.VisitorID)}, "session_id": {fmt.Sprint(v.SessionID)}, "key": {v.Key}}
	vws := testenv.Dial(t, "ws://"+ln.Addr().String()+"/ws/chat/"+f.site+"?"+q.Encode(), nil)
	vws.Wait(t, testenv.Type("state"), "state")
	time.Sleep(1500 * time.Millisecond) // three times the timeouts
	if r := ws.Call(t, map[string]any{"type": "status", "status": "online"}); r["ok"] != true {
		t.Fatalf("operator after the timeouts: %v", r)
	}
	if r := vws.Call(t, map[string]any{"type": "message", "uid": "late", "text": "я ещё здесь"}); r["ok"] != true {
		t.Fatalf("visitor after the timeouts: %v", r)
	}
}

// waitSockets waits until the server holds at most n websockets.
func waitSockets(t *testing.T, f *fixture, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.srv.App.ChatServer.Connections() > n {
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds %d sockets, want at most %d", f.srv.App.ChatServer.Connections(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
