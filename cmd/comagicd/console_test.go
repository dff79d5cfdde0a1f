package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/testenv"
)

// consoleChatSettings turns the consultant's chat on.
const consoleChatSettings = `{"common": {"banner_color": "43A400"},
  "chat": {"title": "Чат", "is_visible": true, "is_file_transfer": true, "is_consultant_operator_rating": true,
    "group_title": null, "allowed_groups": null, "fields": [],
    "is_animation_enabled": false, "h_position": "right", "v_position": "bottom",
    "retention": {"is_alternate_communication_way_enabled": false, "alternate_communication_way_timeout": 60,
      "messages": [], "alternate_communication_way": "offline_message"}}}`

// consoleOutput is the console's output, read by the test while it is written.
type consoleOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
	got chan struct{}
}

func newConsoleOutput() *consoleOutput { return &consoleOutput{got: make(chan struct{}, 1)} }

func (b *consoleOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	select {
	case b.got <- struct{}{}:
	default:
	}
	return n, err
}

func (b *consoleOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the output holds want n times, and returns the output.
func (b *consoleOutput) waitFor(t *testing.T, want string, n int) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		out := b.String()
		if strings.Count(out, want) >= n {
			return out
		}
		select {
		case <-b.got:
		case <-deadline:
			t.Fatalf("console output lacks %q (×%d) after 10 s:\n%s", want, n, out)
		}
	}
}

// cutProxy forwards TCP connections to a server; cut drops the open ones and
// refuses new ones until resume.
type cutProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   []net.Conn
	refused bool
}

func startProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			refused := p.refused
			p.mu.Unlock()
			if refused {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = false
}

// TestOperatorConsole: the console logs in, goes online, gets the visitor's
// chat and messages (control characters escaped), answers from its input,
// resumes after the connection drops without losing or doubling anything,
// closes the chat and logs out on /quit.
func TestOperatorConsole(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	site := srv.CreateSite(t, "shop.example")
	for _, d := range []string{"desktop", "mobile"} {
		srv.SetWidgetSettings(t, site, "consultant", d, consoleChatSettings)
	}
	op := srv.CreateOperator(t, "anna", "Анна", []string{site})
	proxy := startProxy(t, strings.TrimPrefix(srv.URL, "http://"))

	stdin, typed := io.Pipe()
	defer typed.Close()
	out := newConsoleOutput()
	var errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runConsole(ctx, []string{"-url", "http://" + proxy.ln.Addr().String(), "-login", "anna", "-password-stdin"},
			consoleEnv{Stdin: stdin, Stdout: out, Stderr: &errOut, Retry: 20 * time.Millisecond})
	}()
	typeLine := func(s string) {
		t.Helper()
		if _, err := io.WriteString(typed, s+"\n"); err != nil {
			t.Fatalf("type %q: %v", s, err)
		}
	}
	typeLine(op.Password)
	out.waitFor(t, "logged in as Анна (anna); sites: "+site, 1)
	out.waitFor(t, "status: online", 1)

	// The visitor writes; the chat is assigned to Anna and shown, with the
	// escape sequence and the bidi override shown, not interpreted.
	v := srv.NewVisitor(t, site)
	vws := srv.DialVisitor(t, v, nil)
	vws.Wait(t, func(m map[string]any) bool { return m["type"] == "state" && m["available"] == true }, "available")
	r := vws.Call(t, map[string]any{"type": "message", "uid": "u1", "text": "Здравствуйте!\x1b[2J\u202eесть доставка?\nвторая строка"})
	if r["ok"] != true {
		t.Fatalf("visitor message: %v", r)
	}
	chatID := int64(r["chat_id"].(float64))
	out.waitFor(t, fmt.Sprintf(">> assigned to you: chat %d, site %s, visitor %d", chatID, site, v.VisitorID), 1)
	o := out.waitFor(t, fmt.Sprintf("[chat %d] visitor %d: Здравствуйте!\\x1b[2J\\u202eесть доставка?\n    вторая строка", chatID, v.VisitorID), 1)
	if strings.ContainsAny(o, "\x1b\u202e") {
		t.Fatalf("control characters reached the output:\n%q", o)
	}
	out.waitFor(t, fmt.Sprintf("[chat %d] * Анна joined", chatID), 1)

	// The visitor's draft, then Anna's answer typed into the console.
	vws.Send(t, map[string]any{"type": "typing", "text": "а ещё"})
	out.waitFor(t, fmt.Sprintf("[chat %d] visitor %d is typing: а ещё", chatID, v.VisitorID), 1)
	typeLine("Добрый день! Доставка есть.")
	ans := vws.Wait(t, func(m map[string]any) bool {
		return m["type"] == "event" && m["sender"] == "operator" && m["kind"] == "message"
	}, "answer")
	if ans["text"] != "Добрый день! Доставка есть." {
		t.Fatalf("answer: %v", ans)
	}
	out.waitFor(t, fmt.Sprintf("[chat %d] Анна: Добрый день! Доставка есть.", chatID), 1)

	// The connection drops; the visitor writes meanwhile, and Anna types an
	// answer before the console is back. After the reconnection the missed
	// message is shown once and the answer reaches the visitor once.
	proxy.cut()
	out.waitFor(t, "(connection lost; reconnecting)", 1)
	vws.Call(t, map[string]any{"type": "message", "uid": "u2", "text": "пока вас не было"})
	typeLine("ответ без связи")
	out.waitFor(t, "(not connected: the message goes out after reconnecting)", 1)
	proxy.resume()
	out.waitFor(t, "(reconnected)", 1)
	out.waitFor(t, fmt.Sprintf("[chat %d] visitor %d: пока вас не было", chatID, v.VisitorID), 1)
	late := vws.Wait(t, func(m map[string]any) bool {
		return m["type"] == "event" && m["text"] == "ответ без связи"
	}, "answer typed offline")
	out.waitFor(t, fmt.Sprintf("[chat %d] Анна: ответ без связи", chatID), 1)
	vws.Call(t, map[string]any{"type": "message", "uid": "u3", "text": "спасибо"})
	o = out.waitFor(t, fmt.Sprintf("[chat %d] visitor %d: спасибо", chatID, v.VisitorID), 1)
	vname := fmt.Sprintf("] visitor %d: ", v.VisitorID)
	for _, once := range []string{vname + "пока вас не было", "] Анна: ответ без связи", "] Анна: Добрый день!", vname + "Здравствуйте!", vname + "спасибо"} {
		if n := strings.Count(o, once); n != 1 {
			t.Fatalf("%q shown %d times:\n%s", once, n, o)
		}
	}
	var stored int
	if err := srv.DB.QueryRow(ctx, `SELECT count(*) FROM chat_events WHERE chat_id = $1 AND text = 'ответ без связи'`, chatID).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("the offline answer stored %d times (%v); event %v", stored, err, late)
	}

	// /chats lists the chat as current; /close closes it for the visitor.
	typeLine("/chats")
	out.waitFor(t, fmt.Sprintf("* chat %d, site %s", chatID, site), 1)
	typeLine("/use 999999")
	out.waitFor(t, `! chat "999999" is not one of yours`, 1)
	typeLine("/close")
	cl := vws.Wait(t, testenv.Event("close"), "close")
	if d, _ := cl["data"].(map[string]any); d["closed_by"] != "operator" {
		t.Fatalf("close: %v", cl)
	}
	out.waitFor(t, fmt.Sprintf("chat %d closed", chatID), 1)
	out.waitFor(t, fmt.Sprintf("[chat %d] * chat closed by operator", chatID), 1)
	typeLine("ничего")
	out.waitFor(t, "! no current chat", 1)

	// Away, a new chat waits in the queue; /take takes it and the answer goes there.
	typeLine("/status away")
	out.waitFor(t, "status: away", 1)
	v2 := srv.NewVisitor(t, site)
	v2ws := srv.DialVisitor(t, v2, nil)
	r2 := v2ws.Call(t, map[string]any{"type": "message", "uid": "w1", "text": "есть кто?"})
	chat2 := int64(r2["chat_id"].(float64))
	out.waitFor(t, fmt.Sprintf("waiting: chat %d, site %s, visitor %d", chat2, site, v2.VisitorID), 1)
	typeLine(fmt.Sprintf("/take %d", chat2))
	out.waitFor(t, fmt.Sprintf(">> assigned to you: chat %d", chat2), 1)
	out.waitFor(t, fmt.Sprintf("[chat %d] visitor %d: есть кто?", chat2, v2.VisitorID), 1)
	typeLine("да, слушаю")
	v2ws.Wait(t, func(m map[string]any) bool { return m["type"] == "event" && m["text"] == "да, слушаю" }, "answer to the taken chat")
	typeLine(fmt.Sprintf("/take %d", chatID)) // closed: refused, and said so
	out.waitFor(t, fmt.Sprintf("! take chat %d: the chat is not waiting (conflict)", chatID), 1)

	// /invite by site key: a third visitor gets the invitation.
	v3 := srv.NewVisitor(t, site)
	v3ws := srv.DialVisitor(t, v3, nil)
	v3ws.Wait(t, testenv.Type("state"), "state")
	typeLine(fmt.Sprintf("/invite %s %d Чем помочь?", site, v3.VisitorID))
	inv := v3ws.Wait(t, testenv.Event("invite"), "invitation")
	if inv["text"] != "Чем помочь?" {
		t.Fatalf("invitation: %v", inv)
	}
	out.waitFor(t, "invitation sent: chat", 1)

	// /quit logs out: the console's token is revoked; only the test's login stays.
	typeLine("/quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("console: %v (%s)", err, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the console did not stop on /quit")
	}
	var live, revoked int
	if err := srv.DB.QueryRow(ctx, `SELECT count(*) FILTER (WHERE revoked_at IS NULL), count(*) FILTER (WHERE revoked_at IS NOT NULL)
		FROM operator_tokens WHERE employee_id = $1`, op.ID).Scan(&live, &revoked); err != nil || live != 1 || revoked != 1 {
		t.Fatalf("tokens after /quit: %d live, %d revoked (%v)", live, revoked, err)
	}
}

// TestOperatorConsoleLogin: the password comes from the environment; a wrong
// one or none is refused before anything else.
func TestOperatorConsoleLogin(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	site := srv.CreateSite(t, "shop.example")
	op := srv.CreateOperator(t, "boris", "Борис", []string{site})
	env := func(password string, out io.Writer) consoleEnv {
		return consoleEnv{Stdin: strings.NewReader(""), Stdout: out, Stderr: io.Discard, Retry: 20 * time.Millisecond,
			Getenv: func(k string) string {
				if k == "COMAGICD_OPERATOR_PASSWORD" {
					return password
				}
				return ""
			}}
	}
	ctx := context.Background()
	if err := runConsole(ctx, []string{"-url", srv.URL, "-login", "boris"}, env("", io.Discard)); err == nil || !strings.Contains(err.Error(), "-password-stdin") {
		t.Fatalf("no password: %v", err)
	}
	if err := runConsole(ctx, []string{"-url", srv.URL, "-login", "boris"}, env("wrong password", io.Discard)); !errors.Is(err, errUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := runConsole(ctx, []string{"-url", srv.URL}, env(op.Password, io.Discard)); err == nil {
		t.Fatal("no -login accepted")
	}
	// With the right password it connects, goes online and keeps showing
	// chats after its input ends, until cancelled (which logs out).
	out := newConsoleOutput()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runConsole(cctx, []string{"-url", srv.URL + "/", "-login", "boris"}, env(op.Password, out))
	}()
	out.waitFor(t, "status: online", 1)
	out.waitFor(t, "standard input ended", 1)
	var status string
	if err := srv.DB.QueryRow(ctx, `SELECT status FROM employees WHERE id = $1`, op.ID).Scan(&status); err != nil || status != "online" {
		t.Fatalf("status %q (%v)", status, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("console: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the console did not stop when cancelled")
	}
	var live int
	if err := srv.DB.QueryRow(ctx, `SELECT count(*) FROM operator_tokens WHERE employee_id = $1 AND revoked_at IS NULL`, op.ID).Scan(&live); err != nil || live != 1 {
		t.Fatalf("live tokens after stop: %d (%v)", live, err)
	}
}
