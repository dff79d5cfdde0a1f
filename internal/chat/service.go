package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Store is the durable side of the chat (internal/postgres.Chats).
type Store interface {
	OpenChat(ctx context.Context, siteID, visitorID int64) (*Chat, error)
	LastChat(ctx context.Context, siteID, visitorID int64) (*Chat, error)
	// Chat returns ENOTFOUND.
	Chat(ctx context.Context, id int64) (*Chat, error)
	Start(ctx context.Context, c *Chat, ch *Change) (*Chat, []*Event, bool, error)
	// Apply returns ENOTFOUND, or what decide returns.
	Apply(ctx context.Context, chatID int64, decide func(c *Chat) (*Change, error)) (*Chat, []*Event, error)
	Events(ctx context.Context, chatID, after int64, limit int) ([]*Event, error)
	VisitorHistory(ctx context.Context, siteID, visitorID, before int64, limit int) ([]*Event, bool, error)
	ChatHistory(ctx context.Context, chatID, before int64, limit int) ([]*Event, bool, error)
	HasHistory(ctx context.Context, siteID, visitorID int64) (bool, error)
	VisitorCard(ctx context.Context, siteID, visitorID int64) (VisitorCard, error)
	SetVisitorCard(ctx context.Context, siteID, visitorID int64, name, email, phone string) error
	SiteAvailable(ctx context.Context, siteID int64) (bool, error)
	// Employee returns ENOTFOUND (also for a disabled employee).
	Employee(ctx context.Context, id int64) (*Employee, error)
	SetEmployeeStatus(ctx context.Context, id int64, status string) (map[int64]bool, error)
	Route(ctx context.Context, siteID int64, join func(c *Chat, e *Employee) *Change) ([]Routed, error)
	SitesWithQueue(ctx context.Context, employeeID int64) ([]int64, error)
	OperatorChats(ctx context.Context, employeeID int64) ([]*QueueItem, error)
	Queue(ctx context.Context, siteIDs []int64) ([]*QueueItem, error)
	Item(ctx context.Context, chatID int64) (*QueueItem, error)
	PickInviter(ctx context.Context, siteID int64) (*Employee, error)
	MarkSeen(ctx context.Context, chatID, seq int64) error
	AddTimer(ctx context.Context, t Timer) error
	ClaimTimers(ctx context.Context, limit int, lease time.Duration) ([]Timer, error)
	DeleteTimer(ctx context.Context, id int64) error
	NextTimer(ctx context.Context) (*time.Time, error)
	AutoInviteRules(ctx context.Context, siteID int64) ([]AutoInviteRule, error)
	SessionStats(ctx context.Context, siteID, sessionID int64) (SessionStats, error)
	AddFile(ctx context.Context, chatID int64, sender, name, contentType string, size int64, storageKey string) (int64, error)
	ChatFile(ctx context.Context, id int64) (chatID int64, name, contentType, storageKey string, err error)
	GroupOfAccount(ctx context.Context, accountID, groupID int64) (bool, error)
	// AppendVisitorMessage appends to the visitor's queued or active chat
	// unless the uid is used; nil, nil when that does not apply.
	AppendVisitorMessage(ctx context.Context, siteID, visitorID int64, uid, text string) (*Chat, *Event, error)
	TouchEmployee(ctx context.Context, id int64, at time.Time) error
	StaleOnline(ctx context.Context, before time.Time) ([]int64, error)
}

// Publisher carries wake-ups to every node (internal/hub.Hub).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// Sites finds sites (their chat settings).
type Sites interface {
	// SiteByID returns ENOTFOUND.
	SiteByID(ctx context.Context, id int64) (*comagic.Site, error)
}

// Mail is a mail to a visitor.
type Mail struct {
	Kind, To, Subject, Body string
}

// Mailer queues mail durably; nil when mail is off.
type Mailer interface {
	Enqueue(ctx context.Context, m Mail) error
}

// Options tune the service; zero values take the defaults.
type Options struct {
	// LateAnswerAfter is how long an operator answer may stay unseen by every
	// page of the visitor before it is emailed (default 60 s).
	LateAnswerAfter time.Duration
	// TimerLease is how long a claimed timer is held by one node (default 30 s).
	TimerLease time.Duration
	// TimerPoll bounds the wait between timer checks (default 1 s).
	TimerPoll time.Duration
	// Closed, when set, is called after a chat was closed (and committed)
	// with the chat as it is now: the account's webhooks (chat.closed).
	Closed func(ctx context.Context, c *Chat)
}

// Service is the chat domain.
type Service struct {
	store  Store
	pub    Publisher
	sites  Sites
	mail   Mailer
	logger *slog.Logger
	opts   Options
	wake   chan struct{}
	avail  availability
}

// NewService returns the chat service. mail may be nil.
func NewService(store Store, pub Publisher, sites Sites, mail Mailer, logger *slog.Logger, opts Options) *Service {
	if opts.LateAnswerAfter <= 0 {
		opts.LateAnswerAfter = time.Minute
	}
	if opts.TimerLease <= 0 {
		opts.TimerLease = 30 * time.Second
	}
	if opts.TimerPoll <= 0 {
		opts.TimerPoll = time.Second
	}
	return &Service{store: store, pub: pub, sites: sites, mail: mail, logger: logger, opts: opts, wake: make(chan struct{}, 1)}
}

// Wake is a hub message: what changed, for the nodes holding sockets.
type Wake struct {
	K         string `json:"k"` // event, state, chat, typing, availability
	Chat      int64  `json:"chat,omitempty"`
	Seq       int64  `json:"seq,omitempty"`
	Site      int64  `json:"site,omitempty"`
	From      string `json:"from,omitempty"`
	Text      string `json:"text,omitempty"`
	Available *bool  `json:"available,omitempty"`
}

// VisitorTopic and the others name the topics of the hub.
func VisitorTopic(id int64) string  { return "v." + strconv.FormatInt(id, 10) }
func EmployeeTopic(id int64) string { return "e." + strconv.FormatInt(id, 10) }
func SiteTopic(id int64) string     { return "s." + strconv.FormatInt(id, 10) }

// AvailabilityTopic carries a site's availability changes to its visitors.
func AvailabilityTopic(id int64) string { return "a." + strconv.FormatInt(id, 10) }

func (s *Service) publish(ctx context.Context, topic string, w Wake) {
	b, _ := json.Marshal(w)
	if err := s.pub.Publish(ctx, topic, b); err != nil {
		// The data is durable; clients catch up on their next resync.
		s.logger.Warn("chat: publish", "topic", topic, "err", err)
	}
}

// changed tells every interested socket about a chat after a change: the
// visitor's pages, the operator holding it (and the one before), and the
// site's operators when the queue changed.
func (s *Service) changed(ctx context.Context, before, after *Chat, events []*Event) {
	seq := after.LastSeq
	fresh := false
	for _, ev := range events {
		if !ev.Replayed {
			fresh = true
		}
	}
	if fresh {
		s.publish(ctx, VisitorTopic(after.VisitorID), Wake{K: "event", Chat: after.ID, Seq: seq})
	}
	stateChanged := before == nil || before.State != after.State || before.EmployeeID != after.EmployeeID || before.Rating != after.Rating
	if stateChanged {
		s.publish(ctx, VisitorTopic(after.VisitorID), Wake{K: "state", Chat: after.ID})
	}
	if fresh || stateChanged {
		w := Wake{K: "chat", Chat: after.ID, Seq: seq}
		if after.EmployeeID != 0 {
			ew := w
			if !stateChanged {
				ew.K = "event" // the operator holding it only needs the new events
			}
			s.publish(ctx, EmployeeTopic(after.EmployeeID), ew)
		}
		if before != nil && before.EmployeeID != 0 && before.EmployeeID != after.EmployeeID {
			s.publish(ctx, EmployeeTopic(before.EmployeeID), w)
		}
		if (before != nil && before.State == StateQueued) || after.State == StateQueued {
			s.publish(ctx, SiteTopic(after.SiteID), w)
		}
	}
	for _, ev := range events {
		if !ev.Replayed && ev.Kind == KindMessage && ev.Sender == SenderOperator {
			s.kick()
		}
	}
}

func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// ---- validation ----

func checkText(field, text string, max int) (string, error) {
	if !utf8.ValidString(text) {
		return "", &comagic.Error{Code: comagic.EINVALID, Field: field, Message: field + " is not valid UTF-8"}
	}
	text = strings.TrimSpace(strings.ReplaceAll(text, "\x00", ""))
	if text == "" {
		return "", &comagic.Error{Code: comagic.EINVALID, Field: field, Message: field + " is empty"}
	}
	if utf8.RuneCountInString(text) > max {
		return "", &comagic.Error{Code: comagic.EINVALID, Field: field, Message: fmt.Sprintf("%s is longer than %d characters", field, max)}
	}
	return text, nil
}

func checkUID(uid string) error {
	if uid == "" {
		return &comagic.Error{Code: comagic.EINVALID, Field: "uid", Message: "uid is required"}
	}
	if len(uid) > MaxUIDLen || !utf8.ValidString(uid) {
		return &comagic.Error{Code: comagic.EINVALID, Field: "uid", Message: fmt.Sprintf("uid is longer than %d bytes", MaxUIDLen)}
	}
	return nil
}

// ---- visitor side ----

// State returns what the visitor's pages show.
func (s *Service) State(ctx context.Context, v Visitor) (*VisitorState, error) {
	site, err := s.sites.SiteByID(ctx, v.SiteID)
	if err != nil {
		return nil, err
	}
	st := SettingsOf(site)
	out := &VisitorState{State: VisitorAvailable, FileTransfer: st.FileTransfer, MaxFileBytes: st.MaxFileBytes}
	c, err := s.store.OpenChat(ctx, v.SiteID, v.VisitorID)
	if err != nil {
		return nil, err
	}
	if c != nil {
		out.Chat = c
		out.State = VisitorChat
		if c.State == StateInvite {
			out.State = VisitorInvite
		}
		out.Rating = c.Rating
		if c.EmployeeID != 0 {
			if e, err := s.store.Employee(ctx, c.EmployeeID); err == nil {
				out.Operator = e.Vcard()
			}
		}
	}
	if out.Available, err = s.store.SiteAvailable(ctx, v.SiteID); err != nil {
		return nil, err
	}
	if out.Card, err = s.store.VisitorCard(ctx, v.SiteID, v.VisitorID); err != nil {
		return nil, err
	}
	out.RequiredInfo = st.RequiredInfo(out.Card)
	if out.HasHistory, err = s.store.HasHistory(ctx, v.SiteID, v.VisitorID); err != nil {
		return nil, err
	}
	return out, nil
}

// SiteAvailable reports whether an operator of the site is online to chat.
func (s *Service) SiteAvailable(ctx context.Context, siteID int64) (bool, error) {
	return s.store.SiteAvailable(ctx, siteID)
}

// startChange is the change that queues a new chat: retention timers from the
// site's settings and the idle close.
func (s *Service) startChange(site *comagic.Site, now time.Time) *Change {
	st := SettingsOf(site)
	ch := &Change{VisitorActive: true}
	at := now
	for i, m := range st.Retention.Messages {
		if m.Timeout <= 0 || strings.TrimSpace(m.Text) == "" {
			continue
		}
		at = at.Add(time.Duration(m.Timeout) * time.Second)
		ch.AddTimers = append(ch.AddTimers, Timer{Kind: TimerRetention, SiteID: site.ID, DueAt: at, Data: map[string]any{"index": i}})
	}
	if st.Retention.AlternateEnabled && st.Retention.AlternateTimeout > 0 && st.Retention.Alternate != "" {
		ch.AddTimers = append(ch.AddTimers, Timer{Kind: TimerRetentionAction, SiteID: site.ID,
			DueAt: now.Add(time.Duration(st.Retention.AlternateTimeout) * time.Second)})
	}
	ch.AddTimers = append(ch.AddTimers, Timer{Kind: TimerIdleClose, SiteID: site.ID, DueAt: now.Add(time.Duration(st.IdleTimeoutSec) * time.Second)})
	return ch
}

// Start queues a chat for the visitor (in the group, 0 = any), or returns the
// open one. Returns EINVALID for a group the site does not offer.
func (s *Service) Start(ctx context.Context, v Visitor, groupID int64) (*Chat, error) {
	site, err := s.sites.SiteByID(ctx, v.SiteID)
	if err != nil {
		return nil, err
	}
	if groupID != 0 {
		if err := checkGroup(site, groupID); err != nil {
			return nil, err
		}
		ok, err := s.store.GroupOfAccount(ctx, site.AccountID, groupID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &comagic.Error{Code: comagic.EINVALID, Field: "group_id",
				Message: "group_id is offered by the site's settings but no such group of operators exists (comagicd admin group create)"}
		}
	}
	c, events, created, err := s.store.Start(ctx, &Chat{SiteID: v.SiteID, VisitorID: v.VisitorID, SessionID: v.SessionID, GroupID: groupID, State: StateQueued},
		s.startChange(site, time.Now()))
	if err != nil {
		return nil, err
	}
	if created {
		s.changed(ctx, nil, c, events)
		s.route(ctx, v.SiteID)
		if c2, err := s.store.Chat(ctx, c.ID); err == nil {
			c = c2
		}
	}
	return c, nil
}

// checkGroup refuses a group that the site's chat does not offer.
func checkGroup(site *comagic.Site, groupID int64) error {
	st := SettingsOf(site)
	for _, g := range st.AllowedGroups {
		if g == groupID {
			return nil
		}
	}
	return &comagic.Error{Code: comagic.EINVALID, Field: "group_id", Message: "group_id is not a chat group of the site"}
}

// route assigns the site's waiting chats to free operators and tells them.
func (s *Service) route(ctx context.Context, siteID int64) {
	routed, err := s.store.Route(ctx, siteID, func(c *Chat, e *Employee) *Change {
		return &Change{State: StateActive, EmployeeID: ptr(e.ID),
			Events:     []*Event{{Kind: KindJoin, Sender: SenderSystem, EmployeeID: e.ID}},
			DropTimers: []string{TimerRetention, TimerRetentionAction}}
	})
	for _, r := range routed {
		s.changed(ctx, &Chat{ID: r.Chat.ID, SiteID: r.Chat.SiteID, VisitorID: r.Chat.VisitorID, State: StateQueued}, r.Chat, r.Events)
	}
	if err != nil {
		s.logger.Warn("chat: route", "site", siteID, "err", err)
	}
}

// SendVisitorMessage stores a message of the visitor, starting a chat (or
// accepting a pending invite) when needed. A resend with the same uid returns
// the stored event (Replayed) and writes nothing.
func (s *Service) SendVisitorMessage(ctx context.Context, v Visitor, uid, text string, groupID int64) (*Event, error) {
	if err := checkUID(uid); err != nil {
		return nil, err
	}
	text, err := checkText("text", text, MaxTextLen)
	if err != nil {
		return nil, err
	}
	// The common case, group committed: a message in a chat under way.
	if c, ev, err := s.store.AppendVisitorMessage(ctx, v.SiteID, v.VisitorID, uid, text); err != nil {
		return nil, err
	} else if ev != nil {
		s.changed(ctx, c, c, []*Event{ev})
		return ev, nil
	}
	c, err := s.store.OpenChat(ctx, v.SiteID, v.VisitorID)
	if err != nil {
		return nil, err
	}
	if c == nil {
		if c, err = s.Start(ctx, v, groupID); err != nil {
			return nil, err
		}
	}
	var before *Chat
	after, events, err := s.store.Apply(ctx, c.ID, func(c *Chat) (*Change, error) {
		if !c.Open() {
			return nil, comagic.Errorf(comagic.ECONFLICT, "the chat was closed meanwhile; send again")
		}
		before = c
		ch := &Change{VisitorActive: true, Events: []*Event{{Kind: KindMessage, Sender: SenderVisitor, Text: text, UID: uid}}}
		if c.State == StateInvite {
			ch.State = StateActive
			if c.EmployeeID == 0 {
				ch.State = StateQueued
			}
		}
		return ch, nil
	})
	if err != nil {
		if isCode(err, comagic.ECONFLICT) {
			// Closed by the operator or a timer meanwhile: a new chat.
			if _, err := s.Start(ctx, v, groupID); err != nil {
				return nil, err
			}
			return s.SendVisitorMessage(ctx, v, uid, text, groupID)
		}
		return nil, err
	}
	s.changed(ctx, before, after, events)
	if before != nil && before.State == StateInvite && after.State == StateQueued {
		s.route(ctx, v.SiteID)
	}
	return events[0], nil
}

// VisitorTyping passes the visitor's draft to the operator of the open chat.
func (s *Service) VisitorTyping(ctx context.Context, v Visitor, text string) error {
	if !utf8.ValidString(text) {
		return &comagic.Error{Code: comagic.EINVALID, Field: "text", Message: "text is not valid UTF-8"}
	}
	if utf8.RuneCountInString(text) > MaxTypingLen {
		text = string([]rune(text)[:MaxTypingLen])
	}
	c, err := s.store.OpenChat(ctx, v.SiteID, v.VisitorID)
	if err != nil || c == nil {
		return err
	}
	w := Wake{K: "typing", Chat: c.ID, From: SenderVisitor, Text: text}
	if c.EmployeeID != 0 {
		s.publish(ctx, EmployeeTopic(c.EmployeeID), w)
	} else if c.State == StateQueued {
		s.publish(ctx, SiteTopic(c.SiteID), w)
	}
	return nil
}

// CloseByVisitor closes the visitor's open chat (or rejects a pending invite).
func (s *Service) CloseByVisitor(ctx context.Context, v Visitor) error {
	c, err := s.store.OpenChat(ctx, v.SiteID, v.VisitorID)
	if err != nil || c == nil {
		return err
	}
	by := ClosedByVisitor
	if c.State == StateInvite {
		by = ClosedByInviteRejected
	}
	return s.close(ctx, c.ID, by, 0)
}

// close closes an open chat with a close event; employeeID, when not 0, must
// hold it. A closed chat stays closed (no error).
func (s *Service) close(ctx context.Context, chatID int64, by string, employeeID int64) error {
	var before *Chat
	after, events, err := s.store.Apply(ctx, chatID, func(c *Chat) (*Change, error) {
		if !c.Open() {
			return nil, nil
		}
		if employeeID != 0 && c.EmployeeID != employeeID {
			return nil, comagic.Errorf(comagic.EFORBIDDEN, "the chat is not yours")
		}
		before = c
		return &Change{State: StateClosed, ClosedBy: by,
			Events:     []*Event{{Kind: KindClose, Sender: SenderSystem, Data: map[string]any{"closed_by": by}}},
			DropTimers: []string{TimerRetention, TimerRetentionAction, TimerIdleClose}}, nil
	})
	if err != nil {
		return err
	}
	if before != nil {
		s.changed(ctx, before, after, events)
		if before.EmployeeID != 0 {
			s.routeEmployeeSites(ctx, before.EmployeeID)
		}
		if s.opts.Closed != nil {
			s.opts.Closed(ctx, after)
		}
	}
	return nil
}

// Rate sets the rating (1..5) of the visitor's open or last chat.
func (s *Service) Rate(ctx context.Context, v Visitor, mark int) (int, error) {
	if mark < 1 || mark > 5 {
		return 0, &comagic.Error{Code: comagic.EINVALID, Field: "mark", Message: "mark must be 1..5"}
	}
	c, err := s.store.LastChat(ctx, v.SiteID, v.VisitorID)
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, comagic.Errorf(comagic.ENOTFOUND, "no chat to rate")
	}
	var before *Chat
	after, events, err := s.store.Apply(ctx, c.ID, func(c *Chat) (*Change, error) {
		before = c
		if c.Rating == mark {
			return nil, nil
		}
		return &Change{Rating: ptr(mark), Events: []*Event{{Kind: KindRating, Sender: SenderVisitor, Data: map[string]any{"rating": mark}}}}, nil
	})
	if err != nil {
		return 0, err
	}
	s.changed(ctx, before, after, events)
	return mark, nil
}

// AcceptInvite turns a pending invite into a chat with the inviting operator
// (queued when they can no longer take it).
func (s *Service) AcceptInvite(ctx context.Context, v Visitor) error {
	c, err := s.store.OpenChat(ctx, v.SiteID, v.VisitorID)
	if err != nil {
		return err
	}
	if c == nil || c.State != StateInvite {
		return nil
	}
	var before *Chat
	after, events, err := s.store.Apply(ctx, c.ID, func(c *Chat) (*Change, error) {
		if c.State != StateInvite {
			return nil, nil
		}
		before = c
		ch := &Change{State: StateQueued, VisitorActive: true, EmployeeID: ptr[int64](0)}
		if c.EmployeeID != 0 {
			if e, err := s.store.Employee(ctx, c.EmployeeID); err == nil && e.Status == "online" && e.CanChat {
				ch.State, ch.EmployeeID = StateActive, nil
				ch.Events = []*Event{{Kind: KindJoin, Sender: SenderSystem, EmployeeID: e.ID}}
			}
		}
		return ch, nil
	})
	if err != nil {
		return err
	}
	if before != nil {
		s.changed(ctx, before, after, events)
		if after.State == StateQueued {
			s.route(ctx, v.SiteID)
		}
	}
	return nil
}

// RejectInvite closes a pending invite.
func (s *Service) RejectInvite(ctx context.Context, v Visitor) error {
	c, err := s.store.OpenChat(ctx, v.SiteID, v.VisitorID)
	if err != nil || c == nil || c.State != StateInvite {
		return err
	}
	return s.close(ctx, c.ID, ClosedByInviteRejected, 0)
}

// SetVisitorCard stores the visitor's name, email and phone (any may be "")
// and returns the card.
func (s *Service) SetVisitorCard(ctx context.Context, v Visitor, name, email, phone string) (VisitorCard, error) {
	var err error
	if name != "" {
		if name, err = checkText("name", name, 200); err != nil {
			return VisitorCard{}, err
		}
	}
	if email != "" {
		email = strings.TrimSpace(email)
		if !validEmail(email) {
			return VisitorCard{}, &comagic.Error{Code: comagic.EINVALID, Field: "email", Message: "email is not an e-mail address"}
		}
	}
	if phone != "" {
		if phone, err = checkText("phone", phone, 50); err != nil {
			return VisitorCard{}, err
		}
	}
	if err := s.store.SetVisitorCard(ctx, v.SiteID, v.VisitorID, name, email, phone); err != nil {
		return VisitorCard{}, err
	}
	if c, err := s.store.OpenChat(ctx, v.SiteID, v.VisitorID); err == nil && c != nil {
		s.publish(ctx, VisitorTopic(v.VisitorID), Wake{K: "state", Chat: c.ID})
		if c.EmployeeID != 0 {
			s.publish(ctx, EmployeeTopic(c.EmployeeID), Wake{K: "chat", Chat: c.ID, Seq: c.LastSeq})
		}
	} else {
		s.publish(ctx, VisitorTopic(v.VisitorID), Wake{K: "state"})
	}
	return s.store.VisitorCard(ctx, v.SiteID, v.VisitorID)
}

func validEmail(e string) bool {
	at := strings.LastIndexByte(e, '@')
	return at > 0 && at < len(e)-3 && strings.Contains(e[at:], ".") && len(e) <= 254 && !strings.ContainsAny(e, " \t\r\n<>,;\"")
}

// VisitorHistory returns a page of the visitor's earlier messages.
func (s *Service) VisitorHistory(ctx context.Context, v Visitor, before int64) ([]*Event, bool, error) {
	return s.store.VisitorHistory(ctx, v.SiteID, v.VisitorID, before, HistoryPage)
}

// VisitorEvents returns the events of the visitor's chat after seq; ENOTFOUND
// when the chat is not the visitor's.
func (s *Service) VisitorEvents(ctx context.Context, v Visitor, chatID, after int64, limit int) ([]*Event, error) {
	c, err := s.store.Chat(ctx, chatID)
	if err != nil {
		return nil, err
	}
	if c.SiteID != v.SiteID || c.VisitorID != v.VisitorID {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no such chat")
	}
	return s.store.Events(ctx, chatID, after, limit)
}

// EventsOf returns a chat's events after seq without checking who asks: for
// sockets that checked their access to the chat already.
func (s *Service) EventsOf(ctx context.Context, chatID, after int64, limit int) ([]*Event, error) {
	return s.store.Events(ctx, chatID, after, limit)
}

// MarkSeen records that a page of the visitor received the chat's events up
// to seq.
func (s *Service) MarkSeen(ctx context.Context, chatID, seq int64) error {
	return s.store.MarkSeen(ctx, chatID, seq)
}

// MailTranscript queues the transcript of the visitor's open or last chat to
// email. Returns EUNAVAILABLE when mail is not configured.
func (s *Service) MailTranscript(ctx context.Context, v Visitor, email string) error {
	email = strings.TrimSpace(email)
	if !validEmail(email) {
		return &comagic.Error{Code: comagic.EINVALID, Field: "email", Message: "email is not an e-mail address"}
	}
	if s.mail == nil {
		return comagic.Errorf(comagic.EUNAVAILABLE, "mail is not configured on this server")
	}
	c, err := s.store.LastChat(ctx, v.SiteID, v.VisitorID)
	if err != nil {
		return err
	}
	if c == nil {
		return comagic.Errorf(comagic.ENOTFOUND, "no chat to send")
	}
	events, err := s.store.Events(ctx, c.ID, 0, 10000)
	if err != nil {
		return err
	}
	if _, _, err := s.store.Apply(ctx, c.ID, func(*Chat) (*Change, error) { return &Change{VisitorEmail: email}, nil }); err != nil {
		return err
	}
	return s.mail.Enqueue(ctx, Mail{Kind: "transcript", To: email, Subject: "Переписка в чате", Body: Transcript(events)})
}

// Transcript renders events as plain text.
func Transcript(events []*Event) string {
	var b strings.Builder
	for _, ev := range events {
		who := ""
		switch {
		case ev.Kind == KindFile && ev.File != nil:
			ev = &Event{Sender: ev.Sender, Operator: ev.Operator, CreatedAt: ev.CreatedAt, Text: "[файл] " + ev.File.Name}
		case ev.Kind != KindMessage && ev.Kind != KindSystem && ev.Kind != KindInvite:
			continue
		}
		switch ev.Sender {
		case SenderVisitor:
			who = "Посетитель"
		case SenderOperator:
			who = "Оператор"
			if ev.Operator != nil && ev.Operator.Name != "" {
				who = ev.Operator.Name
			}
		default:
			who = "Система"
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", ev.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), who, ev.Text)
	}
	return b.String()
}

func isCode(err error, code string) bool {
	return comagic.ErrorCode(err) == code
}

// FileChat returns the chat a visitor's file goes to: the open one, or a new
// one.
func (s *Service) FileChat(ctx context.Context, v Visitor) (*Chat, error) {
	c, err := s.store.OpenChat(ctx, v.SiteID, v.VisitorID)
	if err != nil || c != nil {
		return c, err
	}
	return s.Start(ctx, v, 0)
}

// MaxFileBytes returns the site's limit on a chat file.
func (s *Service) MaxFileBytes(ctx context.Context, siteID int64) (int64, error) {
	site, err := s.sites.SiteByID(ctx, siteID)
	if err != nil {
		return 0, err
	}
	return SettingsOf(site).MaxFileBytes, nil
}

// AddVisitorFile records a stored file of the visitor in their chat as a file event.
func (s *Service) AddVisitorFile(ctx context.Context, v Visitor, chatID int64, name, contentType string, size int64, key string) (*Event, error) {
	c, err := s.store.Chat(ctx, chatID)
	if err != nil {
		return nil, err
	}
	if c.SiteID != v.SiteID || c.VisitorID != v.VisitorID {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no such chat")
	}
	return s.addFile(ctx, chatID, SenderVisitor, 0, name, contentType, size, key)
}

// AddOperatorFile records a stored file of the operator in a chat they hold.
func (s *Service) AddOperatorFile(ctx context.Context, e *Employee, chatID int64, name, contentType string, size int64, key string) (*Event, error) {
	c, err := s.store.Chat(ctx, chatID)
	if err != nil {
		return nil, err
	}
	if !e.HasSite(c.SiteID) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no such chat")
	}
	if c.EmployeeID != e.ID || !c.Open() {
		return nil, comagic.Errorf(comagic.EFORBIDDEN, "the chat is not yours")
	}
	return s.addFile(ctx, chatID, SenderOperator, e.ID, name, contentType, size, key)
}

func (s *Service) addFile(ctx context.Context, chatID int64, sender string, employeeID int64, name, contentType string, size int64, key string) (*Event, error) {
	id, err := s.store.AddFile(ctx, chatID, sender, name, contentType, size, key)
	if err != nil {
		return nil, err
	}
	var before *Chat
	after, events, err := s.store.Apply(ctx, chatID, func(c *Chat) (*Change, error) {
		if !c.Open() {
			return nil, comagic.Errorf(comagic.ECONFLICT, "the chat is closed")
		}
		before = c
		ch := &Change{Events: []*Event{{Kind: KindFile, Sender: sender, EmployeeID: employeeID, Text: name, FileID: id}}}
		if sender == SenderVisitor {
			ch.VisitorActive = true
		} else {
			ch.Answered = true
		}
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(ctx, before, after, events)
	return events[0], nil
}

// File returns a chat file's chat, name, type and storage key.
func (s *Service) File(ctx context.Context, id int64) (chatID int64, name, contentType, key string, err error) {
	return s.store.ChatFile(ctx, id)
}
