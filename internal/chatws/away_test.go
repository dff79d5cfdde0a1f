package chatws_test

import (
	"testing"

	"github.com/comagicd/comagicd/internal/testenv"
)

// TestAwayKeepsChats: an operator who goes away gets no new chats (the next
// one waits for an online operator) but keeps answering the chats they hold;
// a rating given after the close reaches them.
func TestAwayKeepsChats(t *testing.T) {
	f := setup(t, testenv.Options{})
	anna := f.srv.CreateOperator(t, "anna", "Анна", []string{f.site})
	boris := f.srv.CreateOperator(t, "boris", "Борис", []string{f.site})
	aws := f.srv.DialOperator(t, anna.Token)
	online(t, aws)
	bws := f.srv.DialOperator(t, boris.Token)
	bws.Wait(t, testenv.Type("hello"), "hello")

	v1 := f.srv.NewVisitor(t, f.site)
	v1ws := f.srv.DialVisitor(t, v1, nil)
	v1ws.Wait(t, testenv.Type("state"), "state")
	first := num(v1ws.Call(t, map[string]any{"type": "message", "uid": "a", "text": "первый"})["chat_id"])
	v1ws.Wait(t, testenv.Event("join"), "Anna joins the first chat")

	if r := aws.Call(t, map[string]any{"type": "status", "status": "away"}); r["ok"] != true || r["status"] != "away" {
		t.Fatalf("away: %v", r)
	}
	v2 := f.srv.NewVisitor(t, f.site)
	v2ws := f.srv.DialVisitor(t, v2, nil)
	v2ws.Wait(t, testenv.Type("state"), "state")
	second := num(v2ws.Call(t, map[string]any{"type": "message", "uid": "b", "text": "второй"})["chat_id"])
	queued := aws.Wait(t, func(m map[string]any) bool {
		c, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && c != nil && num(c["id"]) == second
	}, "the second chat in Anna's queue")
	if c := queued["chat"].(map[string]any); c["state"] != "queued" || c["employee_id"] != nil {
		t.Fatalf("the second chat went to an away operator: %v", c)
	}

	// Anna still answers her chat while away.
	if r := aws.Call(t, map[string]any{"type": "message", "chat_id": first, "uid": "o1", "text": "отвечаю"}); r["ok"] != true {
		t.Fatalf("away operator's answer: %v", r)
	}
	v1ws.Wait(t, func(m map[string]any) bool { return m["type"] == "event" && m["text"] == "отвечаю" }, "the answer")

	// Boris comes online and gets the waiting chat, not Anna.
	if r := bws.Call(t, map[string]any{"type": "status", "status": "online"}); r["ok"] != true {
		t.Fatalf("online: %v", r)
	}
	got := bws.Wait(t, func(m map[string]any) bool {
		c, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && c != nil && num(c["id"]) == second && c["state"] == "active"
	}, "the second chat routed to Boris")
	if num(got["chat"].(map[string]any)["employee_id"]) != boris.ID {
		t.Fatalf("second chat: %v", got)
	}

	// Anna closes; the visitor rates afterwards; Anna sees the rating.
	if r := aws.Call(t, map[string]any{"type": "close", "chat_id": first}); r["ok"] != true {
		t.Fatalf("close: %v", r)
	}
	v1ws.Wait(t, testenv.Event("close"), "closed")
	if r := v1ws.Call(t, map[string]any{"type": "rate", "mark": 4}); r["ok"] != true {
		t.Fatalf("rate: %v", r)
	}
	aws.Wait(t, func(m map[string]any) bool {
		c, _ := m["chat"].(map[string]any)
		return m["type"] == "chat" && c != nil && num(c["id"]) == first && num(c["rating"]) == 4
	}, "the rating at Anna")
}
