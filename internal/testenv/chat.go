package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
)

// Operator is an employee created for a test, logged in.
type Operator struct {
	ID       int64
	Login    string
	Password string
	Token    string
}

// CreateOperator creates an employee of the site's account working on the
// sites (and groups), and logs them in over HTTP.
func (s *Server) CreateOperator(t testing.TB, login, name string, siteKeys []string, groups ...string) *Operator {
	t.Helper()
	ctx := context.Background()
	site, err := s.App.Sites.SiteByKey(ctx, siteKeys[0])
	if err != nil {
		t.Fatal(err)
	}
	var account string
	if err := s.DB.QueryRow(ctx, `SELECT name FROM accounts WHERE id = $1`, site.AccountID).Scan(&account); err != nil {
		t.Fatal(err)
	}
	password := "password-" + randomSuffix()
	hash, err := operators.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.App.Employees.CreateEmployee(ctx, postgres.EmployeeInput{Account: account, Login: login, Name: name,
		Position: "Консультант", PasswordHash: hash, Sites: siteKeys, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	op := &Operator{ID: e.ID, Login: login, Password: password}
	op.Token = s.Login(t, login, password)
	return op
}

// Login logs an operator in over HTTP and returns the token.
func (s *Server) Login(t testing.TB, login, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"login": login, "password": password})
	resp, err := http.Post(s.URL+"/api/operator/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 || ans.Token == "" {
		t.Fatalf("login %s: status %d, %v", login, resp.StatusCode, err)
	}
	return ans.Token
}

// Visitor are the credentials of a page view (Comagic.getCredentials()).
type Visitor struct {
	SiteKey   string
	VisitorID int64  `json:"visitor_id"`
	SessionID int64  `json:"session_id"`
	HitID     int64  `json:"hit_id"`
	Key       string `json:"key"`
}

// NewVisitor bootstraps a page view of the site as a new visitor.
func (s *Server) NewVisitor(t testing.TB, siteKey string) *Visitor {
	t.Helper()
	body := `{"url":"https://shop.example/","title":"Shop"}`
	resp, err := http.Post(s.URL+"/api/track/"+siteKey+"/bootstrap", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	v := &Visitor{SiteKey: siteKey}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("bootstrap: status %d, %v", resp.StatusCode, err)
	}
	return v
}

// WS is a websocket client of a test that keeps every frame it receives.
type WS struct {
	Conn   *websocket.Conn
	mu     sync.Mutex
	frames []map[string]any
	used   []bool
	got    chan struct{}
	closed chan struct{}
	nextID int
}

// DialVisitor opens the visitor channel for v; extra adds query parameters
// (chat_id, after).
func (s *Server) DialVisitor(t testing.TB, v *Visitor, extra url.Values) *WS {
	t.Helper()
	q := url.Values{"visitor_id": {fmt.Sprint(v.VisitorID)}, "session_id": {fmt.Sprint(v.SessionID)}, "key": {v.Key}}
	for k, vs := range extra {
		q[k] = vs
	}
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/ws/chat/" + v.SiteKey + "?" + q.Encode()
	return Dial(t, u, http.Header{"Origin": {"https://shop.example"}})
}

// DialOperator opens the operator channel with the token.
func (s *Server) DialOperator(t testing.TB, token string) *WS {
	t.Helper()
	return Dial(t, "ws"+strings.TrimPrefix(s.URL, "http")+"/ws/operator", http.Header{"Authorization": {"Bearer " + token}})
}

// Dial connects a websocket client; it is closed when the test ends.
func Dial(t testing.TB, u string, h http.Header) *WS {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		status := 0
		var body []byte
		if resp != nil {
			status = resp.StatusCode
			body, _ = io.ReadAll(resp.Body)
		}
		t.Fatalf("dial %s: %v (status %d %s)", u, err, status, body)
	}
	ws := &WS{Conn: conn, got: make(chan struct{}, 1), closed: make(chan struct{})}
	go func() {
		defer close(ws.closed)
		for {
			var f map[string]any
			if err := conn.ReadJSON(&f); err != nil {
				return
			}
			ws.mu.Lock()
			ws.frames = append(ws.frames, f)
			ws.used = append(ws.used, false)
			ws.mu.Unlock()
			select {
			case ws.got <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return ws
}

// Send sends a frame.
func (ws *WS) Send(t testing.TB, f map[string]any) {
	t.Helper()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if err := ws.Conn.WriteJSON(f); err != nil {
		t.Fatalf("send %v: %v", f, err)
	}
}

// Call sends a command with a fresh id and returns its reply. A command
// refused for its rate is sent again a little later, as clients do.
func (ws *WS) Call(t testing.TB, f map[string]any) map[string]any {
	t.Helper()
	for attempt := 0; ; attempt++ {
		ws.mu.Lock()
		ws.nextID++
		id := fmt.Sprintf("c%d", ws.nextID)
		ws.mu.Unlock()
		f["id"] = id
		ws.Send(t, f)
		r := ws.Wait(t, func(m map[string]any) bool { return m["type"] == "reply" && m["id"] == id }, fmt.Sprintf("reply to %v", f))
		if e, _ := r["error"].(map[string]any); e != nil && e["code"] == "rate_limited" && attempt < 50 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		return r
	}
}

// Wait returns the earliest frame not returned before that matches (frames
// may arrive in any order: an event may come before the reply to the command
// that caused it). It fails after 10 s.
func (ws *WS) Wait(t testing.TB, match func(map[string]any) bool, what string) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ws.mu.Lock()
		for i, f := range ws.frames {
			if !ws.used[i] && match(f) {
				ws.used[i] = true
				ws.mu.Unlock()
				return f
			}
		}
		n := len(ws.frames)
		ws.mu.Unlock()
		select {
		case <-ws.got:
		case <-ws.closed:
			ws.mu.Lock()
			grew := len(ws.frames) > n
			ws.mu.Unlock()
			if !grew {
				t.Fatalf("waiting for %s: connection closed; frames: %v", what, ws.All())
			}
		case <-deadline:
			t.Fatalf("waiting for %s: nothing in 10 s; frames: %v", what, ws.All())
		}
	}
}

// Type matches frames of a type.
func Type(typ string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["type"] == typ }
}

// Event matches event frames of a kind (any kind for "").
func Event(kind string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["type"] == "event" && (kind == "" || m["kind"] == kind) }
}

// All returns every frame received so far.
func (ws *WS) All() []map[string]any {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]map[string]any(nil), ws.frames...)
}

// Closed reports whether the server closed the connection (within d).
func (ws *WS) Closed(d time.Duration) bool {
	select {
	case <-ws.closed:
		return true
	case <-time.After(d):
		return false
	}
}
