package chatws_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/testenv"
)

// hubEngines are the hub engines two nodes can share: PostgreSQL
// LISTEN/NOTIFY on their common database, and NATS. The NATS engine publishes
// every topic under the fixed subject prefix "comagicd.", so test servers of
// other packages running at the same time on the same NATS server receive
// these nodes' wake-ups and the other way round (ids of fresh test databases
// collide); that only makes sockets re-read the database, which is harmless.
var hubEngines = []struct{ name, pubsub string }{
	{"postgres", ""},
	{"nats", "nats://127.0.0.1:4222"},
}

// TestMultiNode: the visitor on node 1 and the operator on node 2, for each
// hub engine. The retention timers fire once though both nodes run them;
// the conversation goes both ways (typing too) and the visitor rates; node 2
// dies mid-chat while the visitor keeps writing; the operator reconnects to
// node 1, finds the chat in hello, syncs from the last seq it saw and gets
// every missed event exactly once, in order, and the chat goes on.
func TestMultiNode(t *testing.T) {
	for _, eng := range hubEngines {
		t.Run(eng.name, func(t *testing.T) { multiNode(t, eng.pubsub) })
	}
}

func multiNode(t *testing.T, pubsub string) {
	node1 := testenv.StartServer(t, testenv.Options{PubSubURL: pubsub})
	node2 := testenv.StartServer(t, testenv.Options{PubSubURL: pubsub, DatabaseURL: node1.DatabaseURL})
	site := node1.CreateSite(t, "shop.example")
	for _, d := range []string{"desktop", "mobile"} {
		node1.SetWidgetSettings(t, site, "consultant", d, chatSettings)
	}
	op := node2.CreateOperator(t, "nina", "Нина", []string{site})
	ows := node2.DialOperator(t, op.Token)
	ows.Wait(t, testenv.Type("hello"), "hello on node 2")
	if r := ows.Call(t, map[string]any{"type": "status", "status": "away"}); r["ok"] != true {
		t.Fatalf("status away: %v", r)
	}

	// The visitor on node 1 starts a chat; nobody is online, so it waits in
	// the queue, which the operator on node 2 sees.
	v := node1.NewVisitor(t, site)
	vws := node1.DialVisitor(t, v, nil)
	vws.Wait(t, testenv.Type("state"), "state")
	r := vws.Call(t, map[string]any{"type": "message", "uid": "v1", "text": "Здравствуйте! Доставляете в Казань?"})
	if r["ok"] != true {
		t.Fatalf("first message: %v", r)
	}
	chatID := num(r["chat_id"])
	ows.Wait(t, func(m map[string]any) bool {
		c, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && c != nil && num(c["id"]) == chatID && c["state"] == "queued"
	}, "the queued chat at the operator on node 2")

	// Retention while it waits: the timers are due on both nodes and fire once.
	vws.Wait(t, testenv.Event("system"), "first retention message")
	vws.Wait(t, testenv.Event("system"), "second retention message")
	vws.Wait(t, testenv.Event("retention_action"), "retention action")
	poll(t, "retention timers done", func() bool {
		return count(t, node1, `SELECT count(*) FROM chat_timers WHERE chat_id = $1 AND kind IN ('retention', 'retention_action')`, chatID) == 0
	})
	if n := count(t, node1, `SELECT count(*) FROM chat_events WHERE chat_id = $1 AND kind = 'system'`, chatID); n != 2 {
		t.Fatalf("%d retention messages stored, want 2", n)
	}
	if n := count(t, node1, `SELECT count(*) FROM chat_events WHERE chat_id = $1 AND kind = 'retention_action'`, chatID); n != 1 {
		t.Fatalf("%d retention actions stored, want 1", n)
	}

	// The operator goes online on node 2 and gets the chat with its history.
	if r := ows.Call(t, map[string]any{"type": "status", "status": "online"}); r["ok"] != true {
		t.Fatalf("status online: %v", r)
	}
	join := vws.Wait(t, testenv.Event("join"), "operator joined")
	if o, _ := join["operator"].(map[string]any); o["name"] != "Нина" {
		t.Fatalf("join: %v", join)
	}
	if got := ows.Wait(t, testenv.Event("message"), "visitor message at node 2"); got["text"] != "Здравствуйте! Доставляете в Казань?" || num(got["chat_id"]) != chatID {
		t.Fatalf("operator got %v", got)
	}

	// Typing both ways across the nodes.
	vws.Send(t, map[string]any{"type": "typing", "text": "и в Самару"})
	if ty := ows.Wait(t, testenv.Type("typing"), "visitor draft at node 2"); ty["text"] != "и в Самару" || num(ty["chat_id"]) != chatID {
		t.Fatalf("typing at operator: %v", ty)
	}
	ows.Send(t, map[string]any{"type": "typing", "chat_id": chatID})
	vws.Wait(t, testenv.Type("typing"), "operator typing at node 1")

	// Messages both ways, in order.
	for i := 1; i <= 3; i++ {
		if rr := ows.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": fmt.Sprint("o", i), "text": fmt.Sprint("ответ ", i)}); rr["ok"] != true {
			t.Fatalf("operator message %d: %v", i, rr)
		}
	}
	for i := 1; i <= 3; i++ {
		ev := vws.Wait(t, senderEvent("operator"), "operator message at node 1")
		if ev["text"] != fmt.Sprint("ответ ", i) {
			t.Fatalf("operator message %d: %v", i, ev)
		}
	}
	for i := 2; i <= 3; i++ {
		if rr := vws.Call(t, map[string]any{"type": "message", "uid": fmt.Sprint("v", i), "text": fmt.Sprint("вопрос ", i)}); rr["ok"] != true {
			t.Fatalf("visitor message %d: %v", i, rr)
		}
	}
	for i := 2; i <= 3; i++ {
		ev := ows.Wait(t, func(m map[string]any) bool { return senderEvent("visitor")(m) && m["kind"] == "message" }, "visitor message at node 2")
		if ev["text"] != fmt.Sprint("вопрос ", i) {
			t.Fatalf("visitor message %d at operator: %v", i, ev)
		}
	}

	// The visitor rates; the operator on node 2 sees it.
	if rr := vws.Call(t, map[string]any{"type": "rate", "mark": 5}); rr["ok"] != true || num(rr["rating"]) != 5 {
		t.Fatalf("rate: %v", rr)
	}
	ows.Wait(t, func(m map[string]any) bool {
		c, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && c != nil && num(c["rating"]) == 5
	}, "rating at node 2")
	if ev := ows.Wait(t, testenv.Event("rating"), "rating event at node 2"); num(ev["data"].(map[string]any)["rating"]) != 5 {
		t.Fatalf("rating event: %v", ev)
	}

	// Everything so far reached the operator once, in order.
	seen := lastSeq(t, node1, chatID)
	wantSeqs(t, "operator on node 2", seqsOf(ows.All(), chatID), 1, seen)

	// Node 2 dies mid-chat: its socket drops, it takes no new connection.
	node2.Kill()
	if !ows.Closed(5 * time.Second) {
		t.Fatal("the operator's socket on the killed node stayed open")
	}
	if _, _, err := websocketDial("ws"+node2.URL[len("http"):]+"/ws/operator", nil); err == nil {
		t.Fatal("the killed node still accepts connections")
	}

	// The visitor keeps writing meanwhile.
	var missed []string
	for i := 1; i <= 5; i++ {
		text := fmt.Sprint("пока вас не было ", i)
		if rr := vws.Call(t, map[string]any{"type": "message", "uid": fmt.Sprint("k", i), "text": text}); rr["ok"] != true {
			t.Fatalf("visitor message while node 2 is down: %v", rr)
		}
		missed = append(missed, text)
	}
	last := lastSeq(t, node1, chatID)
	if last != seen+int64(len(missed)) {
		t.Fatalf("last seq %d after %d messages from seq %d", last, len(missed), seen)
	}

	// The operator reconnects to node 1: the chat is in hello, and sync
	// brings what was written meanwhile, once and in order.
	ows2 := node1.DialOperator(t, op.Token)
	hello := ows2.Wait(t, testenv.Type("hello"), "hello on node 1")
	var inHello map[string]any
	for _, c := range hello["chats"].([]any) {
		if c := c.(map[string]any); num(c["id"]) == chatID {
			inHello = c
		}
	}
	if inHello == nil || inHello["state"] != "active" || num(inHello["last_seq"]) != last {
		t.Fatalf("hello on node 1 lacks the chat at seq %d: %v", last, hello["chats"])
	}
	if rr := ows2.Call(t, map[string]any{"type": "sync", "chat_id": chatID, "after": seen}); rr["ok"] != true {
		t.Fatalf("sync: %v", rr)
	}
	got := eventsOf(ows2.All(), chatID)
	wantSeqs(t, "operator on node 1 after sync", seqsOf(ows2.All(), chatID), seen+1, last)
	for i, ev := range got {
		if ev["text"] != missed[i] || ev["sender"] != "visitor" {
			t.Fatalf("missed event %d: %v, want %q", i, ev, missed[i])
		}
	}

	// The conversation goes on, on node 1.
	vws.Send(t, map[string]any{"type": "typing", "text": "жду ответа"})
	if ty := ows2.Wait(t, testenv.Type("typing"), "visitor draft at node 1"); ty["text"] != "жду ответа" {
		t.Fatalf("typing at operator: %v", ty)
	}
	if rr := ows2.Call(t, map[string]any{"type": "message", "chat_id": chatID, "uid": "o4", "text": "Да, доставляем в обе"}); rr["ok"] != true {
		t.Fatalf("operator message after reconnect: %v", rr)
	}
	vws.Wait(t, func(m map[string]any) bool {
		return senderEvent("operator")(m) && m["text"] == "Да, доставляем в обе"
	}, "answer after reconnect")
	if rr := vws.Call(t, map[string]any{"type": "message", "uid": "v4", "text": "Спасибо!"}); rr["ok"] != true {
		t.Fatalf("visitor message after reconnect: %v", rr)
	}
	ows2.Wait(t, func(m map[string]any) bool { return m["type"] == "event" && m["text"] == "Спасибо!" }, "thanks at node 1")
	if rr := ows2.Call(t, map[string]any{"type": "close", "chat_id": chatID}); rr["ok"] != true {
		t.Fatalf("close: %v", rr)
	}
	vws.Wait(t, testenv.Event("close"), "close at the visitor")
	final := lastSeq(t, node1, chatID)
	ows2.Wait(t, func(m map[string]any) bool { return m["type"] == "event" && num(m["seq"]) == final }, "close at the operator")

	// Nothing lost or doubled on either side.
	wantSeqs(t, "operator on node 1", seqsOf(ows2.All(), chatID), seen+1, final)
	wantSeqs(t, "visitor on node 1", seqsOf(vws.All(), chatID), 1, final)
	if n := count(t, node1, `SELECT count(*) FROM chat_events WHERE chat_id = $1 AND kind = 'message'`, chatID); n != 3+3+5+2 {
		t.Fatalf("%d messages stored, want 13", n)
	}
}

// senderEvent matches event frames of a sender.
func senderEvent(sender string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["type"] == "event" && m["sender"] == sender }
}

// eventsOf returns the event frames of the chat, in arrival order.
func eventsOf(frames []map[string]any, chatID int64) []map[string]any {
	var out []map[string]any
	for _, f := range frames {
		if f["type"] == "event" && num(f["chat_id"]) == chatID {
			out = append(out, f)
		}
	}
	return out
}

// seqsOf returns the seqs of the chat's event frames, in arrival order.
func seqsOf(frames []map[string]any, chatID int64) []int64 {
	var out []int64
	for _, f := range eventsOf(frames, chatID) {
		out = append(out, num(f["seq"]))
	}
	return out
}

// wantSeqs fails unless got is exactly from, from+1, …, to.
func wantSeqs(t *testing.T, who string, got []int64, from, to int64) {
	t.Helper()
	var want []int64
	for s := from; s <= to; s++ {
		want = append(want, s)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s received seqs %v, want %v", who, got, want)
	}
}

func lastSeq(t *testing.T, srv *testenv.Server, chatID int64) int64 {
	t.Helper()
	return count(t, srv, `SELECT last_seq FROM chats WHERE id = $1`, chatID)
}

func count(t *testing.T, srv *testenv.Server, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := srv.DB.QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// poll waits up to 10 s for cond.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}
