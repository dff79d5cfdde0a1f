package chatws

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/comagic"
)

// Hub is the fan-out of wake-ups (internal/hub.Hub).
type Hub interface {
	// Subscribe calls fn, which must not block, with each payload on topic.
	Subscribe(topic string, fn func(payload []byte)) (cancel func())
	// OnResync registers fn, called when wake-ups may have been missed.
	OnResync(fn func()) (cancel func())
}

// Server serves the chat channels.
type Server struct {
	chat     *chat.Service
	hub      Hub
	logger   *slog.Logger
	fileURL  fileURL
	upgrader websocket.Upgrader
	base     context.Context
	stop     context.CancelFunc
	// PollWait is how long a long poll waits for something new (default 25 s).
	PollWait time.Duration
	// ReauthEvery is how often an operator's socket checks that its token is
	// still valid: logout, disable or expiry close it within this time
	// (default 30 s). Set it before serving.
	ReauthEvery time.Duration

	mu    sync.Mutex
	conns int
}

// New returns the chat channels' server. fileURL makes the signed download
// address of a chat file.
func New(svc *chat.Service, hub Hub, logger *slog.Logger, fileURL func(fileID, chatID int64) string) *Server {
	base, stop := context.WithCancel(context.Background())
	return &Server{chat: svc, hub: hub, logger: logger, fileURL: fileURL, base: base, stop: stop, PollWait: 25 * time.Second, ReauthEvery: 30 * time.Second,
		upgrader: websocket.Upgrader{
			ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
			HandshakeTimeout: 10 * time.Second,
			// Origins are checked by the HTTP layer before the upgrade.
			CheckOrigin: func(*http.Request) bool { return true },
		}}
}

// Run closes every connection when ctx ends (the app's shutdown).
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	s.stop()
	return nil
}

// Connections returns how many websockets this node holds.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *Server) count(d int) {
	s.mu.Lock()
	s.conns += d
	s.mu.Unlock()
}

// visitorSession is what a visitor's connection (or long poll) has sent:
// the chat it follows and the last seq of it, and the last state.
type visitorSession struct {
	s *Server
	v chat.Visitor

	mu         sync.Mutex
	chatID     int64
	seq        int64
	adopt      bool // follow the state's chat from its current seq (a fresh page)
	stateDirty bool
	stateTag   string
	// verified is the chat this session checked is the visitor's.
	verified int64
	// seen are (chat, seq) of operator answers in frames about to be sent.
	seen  [][2]int64
	extra []any // ephemeral frames (typing, availability) for polls
}

func newVisitorSession(s *Server, v chat.Visitor, chatID, after int64, stateTag string) *visitorSession {
	vs := &visitorSession{s: s, v: v, stateDirty: true, stateTag: stateTag}
	if chatID > 0 {
		vs.chatID, vs.seq = chatID, after
	} else {
		vs.adopt = true
	}
	return vs
}

// onWake handles a hub message for the visitor; send passes ephemeral frames.
func (vs *visitorSession) onWake(payload []byte, send func(any), poke func()) {
	var w chat.Wake
	if json.Unmarshal(payload, &w) != nil {
		return
	}
	switch w.K {
	case "event":
		vs.mu.Lock()
		if w.Chat != vs.chatID {
			vs.stateDirty = true
		}
		vs.mu.Unlock()
		poke()
	case "state":
		vs.mu.Lock()
		vs.stateDirty = true
		vs.mu.Unlock()
		poke()
	case "typing":
		if w.From == chat.SenderOperator {
			send(map[string]any{"type": "typing"})
		}
	case "availability":
		if w.Available != nil {
			send(map[string]any{"type": "availability", "available": *w.Available})
			vs.mu.Lock()
			vs.stateDirty = true
			vs.mu.Unlock()
			poke()
		}
	}
}

func (vs *visitorSession) resync() {
	vs.mu.Lock()
	vs.stateDirty = true
	vs.mu.Unlock()
}

// sync returns what the visitor has not been sent: a changed state, the
// events of the followed chat after the last seq, and, when the state moved
// to another chat, that chat's events from its start.
func (vs *visitorSession) sync(ctx context.Context) ([]any, error) {
	vs.mu.Lock()
	dirty := vs.stateDirty
	vs.stateDirty = false
	vs.mu.Unlock()
	var frames []any
	var next *chat.Chat
	if dirty {
		st, err := vs.s.chat.State(ctx, vs.v)
		if err != nil {
			vs.resync()
			return nil, err
		}
		f := newStateFrame(st)
		b, _ := json.Marshal(f)
		sum := sha256.Sum256(b)
		tag := base64.RawURLEncoding.EncodeToString(sum[:12])
		vs.mu.Lock()
		if tag != vs.stateTag {
			vs.stateTag = tag
			frames = append(frames, f)
		}
		if vs.adopt {
			vs.adopt = false
			if st.Chat != nil {
				vs.chatID, vs.seq = st.Chat.ID, st.Chat.LastSeq
			}
		}
		if st.Chat != nil && st.Chat.ID != vs.chatID {
			next = st.Chat
		}
		vs.mu.Unlock()
	}
	more, err := vs.events(ctx)
	if err != nil {
		return frames, err
	}
	frames = append(frames, more...)
	if next != nil {
		vs.mu.Lock()
		vs.chatID, vs.seq = next.ID, 0
		vs.mu.Unlock()
		more, err := vs.events(ctx)
		if err != nil {
			return frames, err
		}
		frames = append(frames, more...)
	}
	return frames, nil
}

// events returns the followed chat's events after the last seq sent, and
// records that the visitor's page received them.
func (vs *visitorSession) events(ctx context.Context) ([]any, error) {
	vs.mu.Lock()
	chatID, seq := vs.chatID, vs.seq
	vs.mu.Unlock()
	if chatID == 0 {
		return nil, nil
	}
	var frames []any
	operatorSeen := false
	for {
		var events []*chat.Event
		var err error
		if chatID == vs.verified {
			events, err = vs.s.chat.EventsOf(ctx, chatID, seq, 200)
		} else if events, err = vs.s.chat.VisitorEvents(ctx, vs.v, chatID, seq, 200); err == nil {
			vs.verified = chatID
		}
		if comagic.ErrorCode(err) == comagic.ENOTFOUND {
			vs.mu.Lock()
			vs.chatID, vs.seq = 0, 0
			vs.mu.Unlock()
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		for _, ev := range events {
			frames = append(frames, eventFrame(ev, vs.s.fileURL))
			seq = ev.Seq
			if ev.Sender == chat.SenderOperator {
				operatorSeen = true
			}
		}
		if len(events) < 200 {
			break
		}
	}
	vs.mu.Lock()
	if vs.chatID == chatID && seq > vs.seq {
		vs.seq = seq
	}
	vs.mu.Unlock()
	if operatorSeen {
		// Recorded once the frames are out (flushSeen): an answer written to
		// a socket that died meanwhile still goes out by mail.
		vs.mu.Lock()
		vs.seen = append(vs.seen, [2]int64{chatID, seq})
		vs.mu.Unlock()
	}
	return frames, nil
}

// flushSeen records that the visitor's page received the operator answers
// of the frames just sent.
func (vs *visitorSession) flushSeen(ctx context.Context) {
	vs.mu.Lock()
	seen := vs.seen
	vs.seen = nil
	vs.mu.Unlock()
	for _, cs := range seen {
		if err := vs.s.chat.MarkSeen(ctx, cs[0], cs[1]); err != nil && ctx.Err() == nil {
			vs.s.logger.Warn("chatws: mark seen", "chat", cs[0], "err", err)
		}
	}
}

// handle runs one visitor command and returns its reply (nil for none).
func (vs *visitorSession) handle(ctx context.Context, f *inFrame) any {
	svc, v := vs.s.chat, vs.v
	var res map[string]any
	var err error
	switch f.Type {
	case "start":
		var c *chat.Chat
		if c, err = svc.Start(ctx, v, f.GroupID); err == nil {
			res = map[string]any{"chat_id": c.ID}
		}
	case "message":
		var ev *chat.Event
		if ev, err = svc.SendVisitorMessage(ctx, v, f.UID, f.text(), f.GroupID); err == nil {
			res = map[string]any{"chat_id": ev.ChatID, "seq": ev.Seq, "message_id": ev.ID, "date": ev.CreatedAt.Unix()}
		}
	case "typing":
		if err = svc.VisitorTyping(ctx, v, f.text()); err == nil && len(f.ID) == 0 {
			return nil
		}
	case "close":
		err = svc.CloseByVisitor(ctx, v)
	case "rate":
		var r int
		if r, err = svc.Rate(ctx, v, f.Mark); err == nil {
			res = map[string]any{"rating": r}
		}
	case "invite_accept":
		err = svc.AcceptInvite(ctx, v)
	case "invite_reject":
		err = svc.RejectInvite(ctx, v)
	case "visitor_card":
		var card chat.VisitorCard
		if card, err = svc.SetVisitorCard(ctx, v, f.Name, f.Email, f.Phone); err == nil {
			res = map[string]any{"visitor_card": card}
		}
	case "history":
		var events []*chat.Event
		var more bool
		if events, more, err = svc.VisitorHistory(ctx, v, f.Before); err == nil {
			res = map[string]any{"messages": eventFrames(events, vs.s.fileURL), "more": more}
		}
	case "mail":
		err = svc.MailTranscript(ctx, v, f.Email)
	default:
		return errorFrame(&comagic.Error{Code: comagic.EINVALID, Field: "type", Message: "unknown frame type " + truncate(f.Type, 40)})
	}
	if err != nil && comagic.ErrorCode(err) == comagic.EINTERNAL {
		if ctx.Err() != nil {
			return nil // the socket is gone
		}
		vs.s.logger.Error("chatws: visitor command", "type", f.Type, "err", err)
		err = comagic.Errorf(comagic.EINTERNAL, "internal error")
	}
	if len(f.ID) == 0 && err == nil {
		return nil
	}
	return reply(f.ID, res, err)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ServeVisitor upgrades an authenticated visitor's request to the visitor
// channel and serves it until it ends. chatID/after resume a chat.
func (s *Server) ServeVisitor(w http.ResponseWriter, r *http.Request, v chat.Visitor, chatID, after int64) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	s.count(1)
	c := newConn(ws, s.logger)
	vs := newVisitorSession(s, v, chatID, after, "")
	ctx, cancel := context.WithCancel(s.base)
	unsub := []func(){
		s.hub.Subscribe(chat.VisitorTopic(v.VisitorID), func(p []byte) { vs.onWake(p, c.send, c.poke) }),
		s.hub.Subscribe(chat.AvailabilityTopic(v.SiteID), func(p []byte) { vs.onWake(p, c.send, c.poke) }),
		s.hub.OnResync(func() { vs.resync(); c.poke() }),
	}
	c.poke()
	go func() {
		if err := s.chat.VisitorArrived(ctx, v); err != nil && ctx.Err() == nil {
			s.logger.Warn("chatws: auto-invite check", "err", err)
		}
	}()
	c.afterSync = vs.flushSeen
	go c.writeLoop(ctx, vs.sync)
	// The reader runs on a goroutine of its own and the handler returns: the
	// HTTP server then lets go of the request's buffers and deep stack, which
	// an idle socket would otherwise keep for hours.
	go func() {
		defer s.count(-1)
		defer cancel()
		defer func() {
			for _, u := range unsub {
				u()
			}
		}()
		c.readLoop(func(f *inFrame) {
			if out := vs.handle(ctx, f); out != nil {
				c.send(out)
			}
		})
	}()
}

// PollRequest is a long-polling round of the visitor channel.
type PollRequest struct {
	ChatID   int64             `json:"chat_id"`
	After    int64             `json:"after"`
	StateTag string            `json:"state_tag"`
	Frames   []json.RawMessage `json:"frames"`
}

// PollResponse carries the server frames and where to resume.
type PollResponse struct {
	Frames   []any  `json:"frames"`
	ChatID   int64  `json:"chat_id"`
	After    int64  `json:"after"`
	StateTag string `json:"state_tag"`
}

// Poll runs one long-polling round: the client's frames in order (their
// replies come back), then what is new; with nothing new it waits up to
// PollWait for a wake-up.
func (s *Server) Poll(ctx context.Context, v chat.Visitor, req *PollRequest) (*PollResponse, error) {
	if len(req.Frames) > frameBurst {
		return nil, &comagic.Error{Code: comagic.EINVALID, Field: "frames", Message: "at most 40 frames per poll"}
	}
	vs := newVisitorSession(s, v, req.ChatID, req.After, req.StateTag)
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	send := func(f any) {
		vs.mu.Lock()
		vs.extra = append(vs.extra, f)
		vs.mu.Unlock()
		poke()
	}
	unsub := []func(){
		s.hub.Subscribe(chat.VisitorTopic(v.VisitorID), func(p []byte) { vs.onWake(p, send, poke) }),
		s.hub.Subscribe(chat.AvailabilityTopic(v.SiteID), func(p []byte) { vs.onWake(p, send, poke) }),
	}
	defer func() {
		for _, u := range unsub {
			u()
		}
	}()
	out := &PollResponse{Frames: []any{}}
	for _, raw := range req.Frames {
		var f inFrame
		if err := json.Unmarshal(raw, &f); err != nil || f.Type == "" {
			out.Frames = append(out.Frames, errorFrame(&comagic.Error{Code: comagic.EINVALID, Field: "frames", Message: "a frame is a JSON object with a type"}))
			continue
		}
		if r := vs.handle(ctx, &f); r != nil {
			out.Frames = append(out.Frames, r)
		}
	}
	timer := time.NewTimer(s.PollWait)
	defer timer.Stop()
	for {
		frames, err := vs.sync(ctx)
		if err != nil {
			return nil, err
		}
		out.Frames = append(out.Frames, frames...)
		vs.mu.Lock()
		out.Frames = append(out.Frames, vs.extra...)
		vs.extra = nil
		vs.mu.Unlock()
		if len(out.Frames) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.base.Done():
		case <-timer.C:
		case <-wake:
			continue
		}
		break
	}
	vs.mu.Lock()
	out.ChatID, out.After, out.StateTag = vs.chatID, vs.seq, vs.stateTag
	vs.mu.Unlock()
	vs.flushSeen(ctx)
	return out, nil
}
