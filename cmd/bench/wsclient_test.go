package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWSClient runs the ws-idle client against a websocket server that
// answers like the visitor channel: it holds the sockets until stdin closes.
func TestWSClient(t *testing.T) {
	var open atomic.Int64
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != benchOrigin || r.URL.Query().Get("key") != "k" {
			http.Error(w, `{"success":false}`, http.StatusUnauthorized)
			return
		}
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		open.Add(1)
		defer open.Add(-1)
		if r.URL.Query().Get("visitor_id") == "3" {
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"event"}`))
		} else {
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"state","state":"available"}`))
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	job := newWSClientJob("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/chat/site", benchOrigin, 2, []*creds{
		{VisitorID: 1, SessionID: 1, Key: "k"}, {VisitorID: 2, SessionID: 2, Key: "k"},
		{VisitorID: 3, SessionID: 3, Key: "k"}, {VisitorID: 4, SessionID: 4, Key: "wrong"},
	})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	code := make(chan int, 1)
	go func() { code <- wsClientMain(inR, outW) }()
	b, _ := json.Marshal(job)
	if _, err := inW.Write(b); err != nil {
		t.Fatal(err)
	}
	child := &wsIdleChild{stdin: inW, out: bufio.NewReader(outR), wait: func() error { return nil }}
	rep, err := child.report()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Held != 2 || rep.Failed != 2 || len(rep.Samples) != 2 || rep.P99ms <= 0 {
		t.Fatalf("report %+v", rep)
	}
	// The refused socket's server side ends when its close arrives.
	waitOpen := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for open.Load() != want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := open.Load(); n != want {
			t.Fatalf("server holds %d sockets, want %d", n, want)
		}
	}
	waitOpen(2)
	if err := child.stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit code %d", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not end after stdin closed")
	}
	waitOpen(0)
}
