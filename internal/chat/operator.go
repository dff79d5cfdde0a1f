package chat

import (
	"context"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Operator statuses.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

// Hello is what an operator's workstation starts from.
type Hello struct {
	Employee *Employee
	Chats    []*QueueItem
	Queue    []*QueueItem
}

// Employee returns the employee (ENOTFOUND when unknown or disabled).
func (s *Service) Employee(ctx context.Context, id int64) (*Employee, error) {
	return s.store.Employee(ctx, id)
}

// Site returns the site with the id (ENOTFOUND).
func (s *Service) Site(ctx context.Context, id int64) (*comagic.Site, error) {
	return s.sites.SiteByID(ctx, id)
}

// Hello returns the operator's open chats and the queue of their sites.
func (s *Service) Hello(ctx context.Context, employeeID int64) (*Hello, error) {
	e, err := s.store.Employee(ctx, employeeID)
	if err != nil {
		return nil, err
	}
	h := &Hello{Employee: e}
	if h.Chats, err = s.store.OperatorChats(ctx, e.ID); err != nil {
		return nil, err
	}
	if h.Queue, err = s.store.Queue(ctx, e.SiteIDs); err != nil {
		return nil, err
	}
	return h, nil
}

// SetStatus sets the operator's status; going online routes waiting chats,
// and sites whose availability changed are told.
func (s *Service) SetStatus(ctx context.Context, employeeID int64, status string) error {
	switch status {
	case StatusOnline, StatusAway, StatusOffline:
	default:
		return &comagic.Error{Code: comagic.EINVALID, Field: "status", Message: "status must be online, away or offline"}
	}
	changed, err := s.store.SetEmployeeStatus(ctx, employeeID, status)
	if err != nil {
		return err
	}
	for site, available := range changed {
		w := Wake{K: "availability", Site: site, Available: ptr(available)}
		s.publish(ctx, SiteTopic(site), w)
		s.publish(ctx, AvailabilityTopic(site), w)
	}
	if status == StatusOnline {
		s.routeEmployeeSites(ctx, employeeID)
	}
	return nil
}

// routeEmployeeSites routes the waiting chats of the employee's sites.
func (s *Service) routeEmployeeSites(ctx context.Context, employeeID int64) {
	sites, err := s.store.SitesWithQueue(ctx, employeeID)
	if err != nil {
		s.logger.Warn("chat: sites with queue", "err", err)
		return
	}
	for _, site := range sites {
		s.route(ctx, site)
	}
}

// ownedChat loads a chat an operator may act on: one of their sites.
func (s *Service) ownedChat(ctx context.Context, e *Employee, chatID int64) (*Chat, error) {
	c, err := s.store.Chat(ctx, chatID)
	if err != nil {
		return nil, err
	}
	if !e.HasSite(c.SiteID) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no such chat")
	}
	return c, nil
}

// Item returns a chat as operators list it; ENOTFOUND outside the
// employee's sites.
func (s *Service) Item(ctx context.Context, e *Employee, chatID int64) (*QueueItem, error) {
	if _, err := s.ownedChat(ctx, e, chatID); err != nil {
		return nil, err
	}
	return s.store.Item(ctx, chatID)
}

// Take assigns a queued chat to the operator by hand.
func (s *Service) Take(ctx context.Context, e *Employee, chatID int64) (*Chat, error) {
	if !e.CanChat {
		return nil, comagic.Errorf(comagic.EFORBIDDEN, "this employee may not chat")
	}
	if _, err := s.ownedChat(ctx, e, chatID); err != nil {
		return nil, err
	}
	var before *Chat
	after, events, err := s.store.Apply(ctx, chatID, func(c *Chat) (*Change, error) {
		if c.State != StateQueued {
			if c.EmployeeID == e.ID && c.State == StateActive {
				return nil, nil
			}
			return nil, comagic.Errorf(comagic.ECONFLICT, "the chat is not waiting")
		}
		before = c
		return &Change{State: StateActive, EmployeeID: ptr(e.ID),
			Events:     []*Event{{Kind: KindJoin, Sender: SenderSystem, EmployeeID: e.ID}},
			DropTimers: []string{TimerRetention, TimerRetentionAction}}, nil
	})
	if err != nil {
		return nil, err
	}
	if before != nil {
		s.changed(ctx, before, after, events)
	}
	return after, nil
}

// SendOperatorMessage stores an operator's message in a chat they hold.
func (s *Service) SendOperatorMessage(ctx context.Context, e *Employee, chatID int64, uid, text string) (*Event, error) {
	if err := checkUID(uid); err != nil {
		return nil, err
	}
	text, err := checkText("text", text, MaxTextLen)
	if err != nil {
		return nil, err
	}
	if _, err := s.ownedChat(ctx, e, chatID); err != nil {
		return nil, err
	}
	var before *Chat
	after, events, err := s.store.Apply(ctx, chatID, func(c *Chat) (*Change, error) {
		if c.EmployeeID != e.ID || !c.Open() {
			return nil, comagic.Errorf(comagic.EFORBIDDEN, "the chat is not yours")
		}
		before = c
		ch := &Change{Answered: true, Events: []*Event{{Kind: KindMessage, Sender: SenderOperator, EmployeeID: e.ID, Text: text, UID: uid}}}
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	ev := events[0]
	if !ev.Replayed {
		if err := s.store.AddTimer(ctx, Timer{Kind: TimerLateAnswer, ChatID: chatID, SiteID: after.SiteID,
			DueAt: ev.CreatedAt.Add(s.opts.LateAnswerAfter), Data: map[string]any{"seq": ev.Seq}}); err != nil {
			s.logger.Warn("chat: late-answer timer", "chat", chatID, "err", err)
		}
	}
	s.changed(ctx, before, after, events)
	return ev, nil
}

// OperatorTyping passes the operator's typing to the visitor's pages.
func (s *Service) OperatorTyping(ctx context.Context, e *Employee, chatID int64) error {
	c, err := s.ownedChat(ctx, e, chatID)
	if err != nil {
		return err
	}
	if c.EmployeeID != e.ID || !c.Open() {
		return comagic.Errorf(comagic.EFORBIDDEN, "the chat is not yours")
	}
	s.publish(ctx, VisitorTopic(c.VisitorID), Wake{K: "typing", Chat: c.ID, From: SenderOperator})
	return nil
}

// CloseByOperator closes a chat the operator holds.
func (s *Service) CloseByOperator(ctx context.Context, e *Employee, chatID int64) error {
	if _, err := s.ownedChat(ctx, e, chatID); err != nil {
		return err
	}
	return s.close(ctx, chatID, ClosedByOperator, e.ID)
}

// Transfer hands a chat the operator holds to another operator of the site
// (toEmployee) or back to the queue of a group (toGroup).
func (s *Service) Transfer(ctx context.Context, e *Employee, chatID, toEmployee, toGroup int64) (*Chat, error) {
	if (toEmployee == 0) == (toGroup == 0) {
		return nil, &comagic.Error{Code: comagic.EINVALID, Field: "employee_id", Message: "give either employee_id or group_id"}
	}
	c, err := s.ownedChat(ctx, e, chatID)
	if err != nil {
		return nil, err
	}
	var target *Employee
	if toEmployee != 0 {
		if target, err = s.store.Employee(ctx, toEmployee); err != nil || !target.HasSite(c.SiteID) || target.AccountID != e.AccountID {
			return nil, &comagic.Error{Code: comagic.EINVALID, Field: "employee_id", Message: "employee_id is not an operator of the chat's site"}
		}
		if !target.CanChat {
			return nil, &comagic.Error{Code: comagic.EINVALID, Field: "employee_id", Message: "that employee may not chat"}
		}
	}
	var before *Chat
	after, events, err := s.store.Apply(ctx, chatID, func(c *Chat) (*Change, error) {
		if c.EmployeeID != e.ID || c.State != StateActive {
			return nil, comagic.Errorf(comagic.EFORBIDDEN, "the chat is not yours")
		}
		before = c
		ch := &Change{Events: []*Event{{Kind: KindLeave, Sender: SenderSystem, EmployeeID: e.ID}}}
		if target != nil {
			ch.EmployeeID = ptr(target.ID)
			ch.Events = append(ch.Events, &Event{Kind: KindJoin, Sender: SenderSystem, EmployeeID: target.ID})
		} else {
			ch.State, ch.EmployeeID, ch.GroupID = StateQueued, ptr[int64](0), ptr(toGroup)
		}
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(ctx, before, after, events)
	if after.State == StateQueued {
		s.route(ctx, after.SiteID)
	}
	return after, nil
}

// Invite invites a visitor of one of the operator's sites to chat.
func (s *Service) Invite(ctx context.Context, e *Employee, siteID, visitorID int64, text string) (*Chat, error) {
	if !e.CanInvite || !e.CanChat {
		return nil, comagic.Errorf(comagic.EFORBIDDEN, "this employee may not invite")
	}
	if !e.HasSite(siteID) {
		return nil, &comagic.Error{Code: comagic.EINVALID, Field: "site_id", Message: "site_id is not one of your sites"}
	}
	text, err := checkText("text", text, MaxTextLen)
	if err != nil {
		return nil, err
	}
	return s.invite(ctx, siteID, visitorID, e, text, 0)
}

// invite creates a chat in state invite from e with text, unless the visitor
// has an open chat (ECONFLICT).
func (s *Service) invite(ctx context.Context, siteID, visitorID int64, e *Employee, text string, ruleID int64) (*Chat, error) {
	site, err := s.sites.SiteByID(ctx, siteID)
	if err != nil {
		return nil, err
	}
	data := map[string]any{}
	if ruleID != 0 {
		data["rule_id"] = ruleID
	}
	ch := &Change{Events: []*Event{{Kind: KindInvite, Sender: SenderOperator, EmployeeID: e.ID, Text: text, Data: data}},
		AddTimers: []Timer{{Kind: TimerIdleClose, SiteID: siteID, DueAt: timeNow().Add(SettingsOfIdle(site))}}}
	c, events, created, err := s.store.Start(ctx, &Chat{SiteID: siteID, VisitorID: visitorID, EmployeeID: e.ID, State: StateInvite}, ch)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, comagic.Errorf(comagic.ECONFLICT, "the visitor already has an open chat")
	}
	s.changed(ctx, nil, c, events)
	return c, nil
}

// OperatorEvents returns a chat's events after seq for an operator of its site.
func (s *Service) OperatorEvents(ctx context.Context, e *Employee, chatID, after int64, limit int) ([]*Event, error) {
	if _, err := s.ownedChat(ctx, e, chatID); err != nil {
		return nil, err
	}
	return s.store.Events(ctx, chatID, after, limit)
}

// OperatorHistory returns a page of a chat's events before seq.
func (s *Service) OperatorHistory(ctx context.Context, e *Employee, chatID, before int64) ([]*Event, bool, error) {
	if _, err := s.ownedChat(ctx, e, chatID); err != nil {
		return nil, false, err
	}
	return s.store.ChatHistory(ctx, chatID, before, HistoryPage)
}
