// Package chatws serves the chat's two websocket channels (api/asyncapi.yaml):
// the visitor channel, with its HTTP long-polling fallback, and the operator
// channel. Connections subscribe to the hub's topics of their visitor,
// employee and sites; a wake-up makes a connection read what is new from the
// database and send it, so nothing depends on which node wrote it.
package chatws

import (
	"encoding/json"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/comagic"
)

// inFrame is any client frame; each command reads its own fields.
type inFrame struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`

	UID        string  `json:"uid"`
	Text       *string `json:"text"`
	GroupID    int64   `json:"group_id"`
	Mark       int     `json:"mark"`
	Name       string  `json:"name"`
	Email      string  `json:"email"`
	Phone      string  `json:"phone"`
	Before     int64   `json:"before"`
	After      int64   `json:"after"`
	ChatID     int64   `json:"chat_id"`
	Status     string  `json:"status"`
	EmployeeID int64   `json:"employee_id"`
	SiteID     int64   `json:"site_id"`
	VisitorID  int64   `json:"visitor_id"`
}

func (f *inFrame) text() string {
	if f.Text == nil {
		return ""
	}
	return *f.Text
}

// EventFrame is an event as both channels send it.
type EventFrame struct {
	Type      string         `json:"type"`
	ChatID    int64          `json:"chat_id"`
	Seq       int64          `json:"seq"`
	MessageID int64          `json:"message_id"`
	Kind      string         `json:"kind"`
	Sender    string         `json:"sender"`
	Text      string         `json:"text"`
	Date      int64          `json:"date"`
	UID       *string        `json:"uid"`
	Operator  *chat.Vcard    `json:"operator"`
	File      *chat.File     `json:"file"`
	Data      map[string]any `json:"data"`
}

// fileURL makes the signed download address of a chat file.
type fileURL func(fileID, chatID int64) string

func eventFrame(ev *chat.Event, url fileURL) *EventFrame {
	f := &EventFrame{Type: "event", ChatID: ev.ChatID, Seq: ev.Seq, MessageID: ev.ID, Kind: ev.Kind, Sender: ev.Sender,
		Text: ev.Text, Date: ev.CreatedAt.Unix(), Operator: ev.Operator, Data: ev.Data}
	if ev.UID != "" {
		uid := ev.UID
		f.UID = &uid
	}
	if f.Data == nil {
		f.Data = map[string]any{}
	}
	if ev.File != nil {
		file := *ev.File
		file.URL = url(file.ID, ev.ChatID)
		f.File = &file
	}
	return f
}

// EventOf returns the frame of an event, with url signing its file's address.
func EventOf(ev *chat.Event, url func(fileID, chatID int64) string) *EventFrame {
	return eventFrame(ev, url)
}

func eventFrames(events []*chat.Event, url fileURL) []*EventFrame {
	out := make([]*EventFrame, len(events))
	for i, ev := range events {
		out[i] = eventFrame(ev, url)
	}
	return out
}

// stateFrame is the visitor's state.
type stateFrame struct {
	Type         string           `json:"type"`
	State        string           `json:"state"`
	ChatID       *int64           `json:"chat_id"`
	Seq          int64            `json:"seq"`
	Operator     *chat.Vcard      `json:"operator"`
	Rating       *int             `json:"rating"`
	Available    bool             `json:"available"`
	VisitorCard  chat.VisitorCard `json:"visitor_card"`
	RequiredInfo []string         `json:"required_info"`
	FileTransfer bool             `json:"file_transfer"`
	MaxFileBytes int64            `json:"max_file_bytes"`
	HasHistory   bool             `json:"has_history"`
}

func newStateFrame(st *chat.VisitorState) *stateFrame {
	f := &stateFrame{Type: "state", State: st.State, Operator: st.Operator, Available: st.Available, VisitorCard: st.Card,
		RequiredInfo: st.RequiredInfo, FileTransfer: st.FileTransfer, MaxFileBytes: st.MaxFileBytes, HasHistory: st.HasHistory}
	if st.Chat != nil {
		id := st.Chat.ID
		f.ChatID, f.Seq = &id, st.Chat.LastSeq
	}
	if st.Rating != 0 {
		r := st.Rating
		f.Rating = &r
	}
	return f
}

// chatInfo is a chat as operators see it.
type chatInfo struct {
	ID         int64            `json:"id"`
	SiteID     int64            `json:"site_id"`
	VisitorID  int64            `json:"visitor_id"`
	State      string           `json:"state"`
	EmployeeID *int64           `json:"employee_id"`
	GroupID    *int64           `json:"group_id"`
	CreatedAt  int64            `json:"created_at"`
	LastSeq    int64            `json:"last_seq"`
	Rating     *int             `json:"rating"`
	Visitor    chat.VisitorCard `json:"visitor"`
	LastText   string           `json:"last_text"`
}

func newChatInfo(it *chat.QueueItem) *chatInfo {
	c := it.Chat
	out := &chatInfo{ID: c.ID, SiteID: c.SiteID, VisitorID: c.VisitorID, State: c.State, CreatedAt: c.CreatedAt.Unix(),
		LastSeq: c.LastSeq, Visitor: it.Card, LastText: it.LastText}
	if c.EmployeeID != 0 {
		out.EmployeeID = &c.EmployeeID
	}
	if c.GroupID != 0 {
		out.GroupID = &c.GroupID
	}
	if c.Rating != 0 {
		out.Rating = &c.Rating
	}
	if out.Visitor.Email == nil {
		out.Visitor.Email = []string{}
	}
	if out.Visitor.Phone == nil {
		out.Visitor.Phone = []string{}
	}
	return out
}

func chatInfos(items []*chat.QueueItem) []*chatInfo {
	out := make([]*chatInfo, len(items))
	for i, it := range items {
		out[i] = newChatInfo(it)
	}
	return out
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func detailOf(err error) errorDetail {
	return errorDetail{Code: comagic.ErrorCode(err), Message: comagic.ErrorMessage(err), Field: comagic.ErrorField(err)}
}

// reply builds the reply to a command: ok with the result's fields, or the error.
func reply(id json.RawMessage, result map[string]any, err error) map[string]any {
	out := map[string]any{"type": "reply"}
	if len(id) > 0 {
		out["id"] = id
	}
	if err != nil {
		out["ok"] = false
		out["error"] = detailOf(err)
		return out
	}
	for k, v := range result {
		out[k] = v
	}
	out["ok"] = true
	return out
}

func errorFrame(err error) map[string]any {
	return map[string]any{"type": "error", "error": detailOf(err)}
}
