package chatws

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/workstation"
)

// pendingReply is a reply held until the events of its chat are sent.
type pendingReply struct {
	chat  int64
	frame any
}

// operatorSession is what an operator's connection follows: the chats they
// hold (with the last seq sent) and the queue of their sites.
type operatorSession struct {
	s  *Server
	e  *chat.Employee
	mu sync.Mutex
	// held are the chats this operator holds (or just lost): chat → last seq sent.
	held map[int64]int64
	// changed are chats to look at on the next sync; fresh are held chats
	// with new events only.
	changed map[int64]bool
	fresh   map[int64]bool
	hello   bool
	// replies to sync commands are sent by the writer after the events
	// they asked for.
	replies []pendingReply
	poke    func()
}

func (os *operatorSession) onWake(payload []byte, send func(any), poke func()) {
	var w chat.Wake
	if json.Unmarshal(payload, &w) != nil {
		return
	}
	switch w.K {
	case "chat":
		os.mu.Lock()
		os.changed[w.Chat] = true
		os.mu.Unlock()
		poke()
	case "event":
		os.mu.Lock()
		if _, held := os.held[w.Chat]; held {
			os.fresh[w.Chat] = true
		} else {
			os.changed[w.Chat] = true
		}
		os.mu.Unlock()
		poke()
	case "typing":
		if w.From == chat.SenderVisitor {
			send(map[string]any{"type": "typing", "chat_id": w.Chat, "text": w.Text})
		}
	case "availability":
		if w.Available != nil {
			send(map[string]any{"type": "availability", "site_id": w.Site, "available": *w.Available})
		}
	case workstation.WakeCallback:
		// A call-back order was accepted on the site (package callbacks,
		// without an event) or marked (package workstation).
		var cb workstation.Wake
		if json.Unmarshal(payload, &cb) == nil && cb.ID > 0 {
			if cb.Event == "" {
				cb.Event = workstation.EventRequested
			}
			send(map[string]any{"type": "callback", "site_id": w.Site, "callback_id": cb.ID, "event": cb.Event, "processed": cb.Processed})
		}
	case workstation.WakeOfflineRequest:
		var r workstation.Wake
		if json.Unmarshal(payload, &r) == nil && r.ID > 0 && r.Event != "" {
			send(map[string]any{"type": "offline_request", "site_id": w.Site, "offline_request_id": r.ID, "event": r.Event, "processed": r.Processed})
		}
	case workstation.WakeVisitor:
		var v workstation.Wake
		if json.Unmarshal(payload, &v) == nil && v.ID > 0 {
			send(map[string]any{"type": "visitor", "site_id": w.Site, "visitor_id": v.ID, "event": workstation.EventUpdated})
		}
	}
}

func (os *operatorSession) resync() {
	os.mu.Lock()
	os.hello = true
	os.mu.Unlock()
}

// sync returns the hello (first, or after a resync) and, for every changed
// chat, its new state and the events this operator has not been sent.
func (os *operatorSession) sync(ctx context.Context) ([]any, error) {
	os.mu.Lock()
	hello := os.hello
	os.hello = false
	changed := os.changed
	os.changed = map[int64]bool{}
	fresh := os.fresh
	os.fresh = map[int64]bool{}
	os.mu.Unlock()
	var frames []any
	// Held chats with new events only: their events, without looking the
	// chat up again.
	for id := range fresh {
		if changed[id] {
			continue
		}
		os.mu.Lock()
		seq, held := os.held[id]
		os.mu.Unlock()
		if !held {
			continue
		}
		events, err := os.s.chat.EventsOf(ctx, id, seq, 1000)
		if err != nil {
			os.mu.Lock()
			os.fresh[id] = true
			os.mu.Unlock()
			return frames, err
		}
		last := seq
		for _, ev := range events {
			frames = append(frames, eventFrame(ev, os.s.fileURL))
			last = ev.Seq
		}
		os.mu.Lock()
		if cur, ok := os.held[id]; ok && cur == seq {
			os.held[id] = last
		}
		os.mu.Unlock()
	}
	if hello {
		h, err := os.s.chat.Hello(ctx, os.e.ID)
		if err != nil {
			os.resync()
			return nil, err
		}
		os.mu.Lock()
		os.e = h.Employee
		for _, it := range h.Chats {
			if _, ok := os.held[it.Chat.ID]; !ok {
				os.held[it.Chat.ID] = it.Chat.LastSeq
			}
			changed[it.Chat.ID] = true
		}
		os.mu.Unlock()
		sites := []map[string]any{}
		for _, id := range h.Employee.SiteIDs {
			site, err := os.s.chat.Site(ctx, id)
			if err != nil {
				return nil, err
			}
			sites = append(sites, map[string]any{"id": site.ID, "site_key": site.Key, "domains": site.Domains})
		}
		frames = append(frames, map[string]any{"type": "hello", "employee": employeeInfo(h.Employee),
			"sites": sites, "chats": chatInfos(h.Chats), "queue": chatInfos(h.Queue)})
	}
	for id := range changed {
		it, err := os.s.chat.Item(ctx, os.e, id)
		if comagic.ErrorCode(err) == comagic.ENOTFOUND {
			continue
		}
		if err != nil {
			os.mu.Lock()
			os.changed[id] = true
			os.mu.Unlock()
			return frames, err
		}
		c := it.Chat
		os.mu.Lock()
		seq, held := os.held[id]
		from := seq
		mine := c.EmployeeID == os.e.ID && c.Open()
		if mine && !held {
			seq, held = 0, true
			os.held[id] = 0
		}
		os.mu.Unlock()
		if !mine && !held && c.State != chat.StateQueued && !hello {
			// Someone else's chat leaving the queue: the operator drops it from the list.
			frames = append(frames, map[string]any{"type": "chat", "chat": newChatInfo(it)})
			continue
		}
		frames = append(frames, map[string]any{"type": "chat", "chat": newChatInfo(it)})
		if held {
			events, err := os.s.chat.OperatorEvents(ctx, os.e, id, seq, 1000)
			if err != nil {
				return frames, err
			}
			for _, ev := range events {
				frames = append(frames, eventFrame(ev, os.s.fileURL))
				seq = ev.Seq
			}
			os.mu.Lock()
			// A sync command may have moved the mark meanwhile: then the next
			// round starts from there.
			if cur, ok := os.held[id]; ok && cur == from {
				if mine {
					os.held[id] = seq
				} else {
					delete(os.held, id)
				}
			}
			os.mu.Unlock()
		}
	}
	os.mu.Lock()
	kept := os.replies[:0]
	for _, r := range os.replies {
		if os.changed[r.chat] {
			kept = append(kept, r) // its events come in the next round
		} else {
			frames = append(frames, r.frame)
		}
	}
	os.replies = kept
	os.mu.Unlock()
	return frames, nil
}

func employeeInfo(e *chat.Employee) map[string]any {
	return map[string]any{"id": e.ID, "name": e.Name, "position": e.Position, "avatar": e.Avatar,
		"status": e.Status, "max_chats": e.MaxChats}
}

// handle runs one operator command and returns its reply (nil for none).
func (os *operatorSession) handle(ctx context.Context, f *inFrame, send func(any)) any {
	svc := os.s.chat
	os.mu.Lock()
	e := os.e
	os.mu.Unlock()
	var res map[string]any
	var err error
	switch f.Type {
	case "status":
		if err = svc.SetStatus(ctx, e.ID, f.Status); err == nil {
			res = map[string]any{"status": f.Status}
			os.mu.Lock()
			os.e.Status = f.Status
			os.mu.Unlock()
		}
	case "take":
		var c *chat.Chat
		if c, err = svc.Take(ctx, e, f.ChatID); err == nil {
			var it *chat.QueueItem
			if it, err = svc.Item(ctx, e, c.ID); err == nil {
				res = map[string]any{"chat": newChatInfo(it)}
			}
		}
	case "message":
		var ev *chat.Event
		if ev, err = svc.SendOperatorMessage(ctx, e, f.ChatID, f.UID, f.text()); err == nil {
			res = map[string]any{"chat_id": ev.ChatID, "seq": ev.Seq, "message_id": ev.ID, "date": ev.CreatedAt.Unix()}
		}
	case "typing":
		if err = svc.OperatorTyping(ctx, e, f.ChatID); err == nil && len(f.ID) == 0 {
			return nil
		}
	case "close":
		err = svc.CloseByOperator(ctx, e, f.ChatID)
	case "transfer":
		var c *chat.Chat
		if c, err = svc.Transfer(ctx, e, f.ChatID, f.EmployeeID, f.GroupID); err == nil {
			var it *chat.QueueItem
			if it, err = svc.Item(ctx, e, c.ID); err == nil {
				res = map[string]any{"chat": newChatInfo(it)}
			}
		}
	case "invite":
		var c *chat.Chat
		if c, err = svc.Invite(ctx, e, f.SiteID, f.VisitorID, f.text()); err == nil {
			var it *chat.QueueItem
			if it, err = svc.Item(ctx, e, c.ID); err == nil {
				res = map[string]any{"chat": newChatInfo(it)}
			}
		}
	case "sync":
		if _, err = svc.Item(ctx, e, f.ChatID); err != nil {
			break
		}
		if f.After < 0 {
			f.After = 0
		}
		os.mu.Lock()
		if _, held := os.held[f.ChatID]; held {
			// A chat the writer follows: it sends the events after f.After,
			// then the reply, so nothing comes twice or out of order.
			os.held[f.ChatID] = f.After
			os.changed[f.ChatID] = true
			os.replies = append(os.replies, pendingReply{f.ChatID, reply(f.ID, map[string]any{}, nil)})
			os.mu.Unlock()
			os.poke()
			return nil
		}
		os.mu.Unlock()
		var events []*chat.Event
		if events, err = svc.OperatorEvents(ctx, e, f.ChatID, f.After, 1000); err == nil {
			for _, ev := range events {
				send(eventFrame(ev, os.s.fileURL))
			}
			res = map[string]any{}
		}
	case "history":
		var events []*chat.Event
		var more bool
		if events, more, err = svc.OperatorHistory(ctx, e, f.ChatID, f.Before); err == nil {
			res = map[string]any{"messages": eventFrames(events, os.s.fileURL), "more": more}
		}
	default:
		return errorFrame(&comagic.Error{Code: comagic.EINVALID, Field: "type", Message: "unknown frame type " + truncate(f.Type, 40)})
	}
	if err != nil && comagic.ErrorCode(err) == comagic.EINTERNAL {
		if ctx.Err() != nil {
			return nil // the socket is gone
		}
		os.s.logger.Error("chatws: operator command", "type", f.Type, "err", err)
		err = comagic.Errorf(comagic.EINTERNAL, "internal error")
	}
	if len(f.ID) == 0 && err == nil {
		return nil
	}
	return reply(f.ID, res, err)
}

// ServeOperator upgrades an authenticated operator's request to the operator
// channel and serves it until it ends, or until valid (the token's check,
// repeated every ReauthEvery) fails.
func (s *Server) ServeOperator(w http.ResponseWriter, r *http.Request, employeeID int64, valid func(ctx context.Context) error) {
	e, err := s.chat.Employee(r.Context(), employeeID)
	if err != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"success":false,"error":{"code":"unauthorized","message":"invalid or expired operator token"}}`))
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.count(1)
	defer s.count(-1)
	c := newConn(ws, s.logger)
	os := &operatorSession{s: s, e: e, held: map[int64]int64{}, changed: map[int64]bool{}, fresh: map[int64]bool{}, hello: true, poke: c.poke}
	ctx, cancel := context.WithCancel(s.base)
	defer cancel()
	wake := func(p []byte) { os.onWake(p, c.send, c.poke) }
	unsub := []func(){s.hub.Subscribe(chat.EmployeeTopic(e.ID), wake), s.hub.OnResync(func() { os.resync(); c.poke() })}
	for _, site := range e.SiteIDs {
		unsub = append(unsub, s.hub.Subscribe(chat.SiteTopic(site), wake))
	}
	defer func() {
		for _, u := range unsub {
			u()
		}
	}()
	c.poke()
	go c.writeLoop(ctx, os.sync)
	seen := func() {
		if err := s.chat.OperatorSeen(ctx, e.ID); err != nil && ctx.Err() == nil {
			s.logger.Warn("chatws: operator seen", "err", err)
		}
	}
	seen()
	defer func() {
		if err := s.chat.OperatorGone(context.WithoutCancel(ctx), e.ID); err != nil {
			s.logger.Warn("chatws: operator gone", "err", err)
		}
	}()
	go func() {
		t := time.NewTicker(s.ReauthEvery)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-t.C:
				if err := valid(ctx); comagic.ErrorCode(err) == comagic.EUNAUTHORIZED {
					c.closeWith(closeUnauthorized, "token no longer valid")
					return
				}
				seen()
			}
		}
	}()
	c.readLoop(func(f *inFrame) {
		if out := os.handle(ctx, f, c.send); out != nil {
			c.send(out)
		}
	})
}
