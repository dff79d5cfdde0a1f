package chat

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
)

// timeNow is the clock of timers.
func timeNow() time.Time { return time.Now() }

// SettingsOfIdle returns the site's idle-close timeout.
func SettingsOfIdle(site *comagic.Site) time.Duration {
	return time.Duration(SettingsOf(site).IdleTimeoutSec) * time.Second
}

// Run fires due timers until ctx ends: retention messages and actions, idle
// closes, auto-invites and late answers. Timers are claimed with FOR UPDATE
// SKIP LOCKED under a lease, so each fires on one node; effects are
// idempotent, so a node dying mid-way only delays one.
func (s *Service) Run(ctx context.Context) error {
	for {
		n, err := s.fireDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("chat: timers", "err", err)
		}
		wait := s.opts.TimerPoll
		if n > 0 {
			wait = 0
		} else if next, err := s.store.NextTimer(ctx); err == nil && next != nil {
			if d := time.Until(*next); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// fireDue handles one batch of due timers and returns how many.
func (s *Service) fireDue(ctx context.Context) (int, error) {
	timers, err := s.store.ClaimTimers(ctx, 100, s.opts.TimerLease)
	if err != nil {
		return 0, err
	}
	for _, t := range timers {
		if err := s.fire(ctx, t); err != nil {
			s.logger.Warn("chat: timer failed; retried after the lease", "kind", t.Kind, "id", t.ID, "err", err)
			continue
		}
		if err := s.store.DeleteTimer(ctx, t.ID); err != nil {
			return len(timers), err
		}
	}
	return len(timers), nil
}

func (s *Service) fire(ctx context.Context, t Timer) error {
	switch t.Kind {
	case TimerRetention:
		return s.fireRetention(ctx, t)
	case TimerRetentionAction:
		return s.fireRetentionAction(ctx, t)
	case TimerIdleClose:
		return s.fireIdleClose(ctx, t)
	case TimerAutoInvite:
		return s.fireAutoInvite(ctx, t)
	case TimerLateAnswer:
		return s.fireLateAnswer(ctx, t)
	}
	return fmt.Errorf("chat: unknown timer kind %q", t.Kind)
}

func intOf(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int64:
		return n
	case int:
		return int64(n)
	}
	return 0
}

// fireRetention posts a retention message while nobody has answered. Its uid
// (the timer's) makes a second firing after a crash a no-op.
func (s *Service) fireRetention(ctx context.Context, t Timer) error {
	site, err := s.sites.SiteByID(ctx, t.SiteID)
	if err != nil {
		return ignoreNotFound(err)
	}
	msgs := SettingsOf(site).Retention.Messages
	i := int(intOf(t.Data["index"]))
	if i < 0 || i >= len(msgs) {
		return nil
	}
	text := msgs[i].Text
	return s.systemEvent(ctx, t.ChatID, func(c *Chat) bool { return c.State == StateQueued },
		&Event{Kind: KindSystem, Sender: SenderSystem, Text: text, UID: fmt.Sprintf("timer-%d", t.ID)})
}

// fireRetentionAction offers the visitor another way to reach the site.
func (s *Service) fireRetentionAction(ctx context.Context, t Timer) error {
	site, err := s.sites.SiteByID(ctx, t.SiteID)
	if err != nil {
		return ignoreNotFound(err)
	}
	way := SettingsOf(site).Retention.Alternate
	if way == "" {
		return nil
	}
	return s.systemEvent(ctx, t.ChatID, func(c *Chat) bool { return c.State == StateQueued },
		&Event{Kind: KindRetentionAction, Sender: SenderSystem, UID: fmt.Sprintf("timer-%d", t.ID),
			Data: map[string]any{"alternate_communication_way": way}})
}

// systemEvent appends ev to the chat when cond holds on its current row.
func (s *Service) systemEvent(ctx context.Context, chatID int64, cond func(*Chat) bool, ev *Event) error {
	var before *Chat
	after, events, err := s.store.Apply(ctx, chatID, func(c *Chat) (*Change, error) {
		if !cond(c) {
			return nil, nil
		}
		before = c
		return &Change{Events: []*Event{ev}}, nil
	})
	if err != nil {
		return ignoreNotFound(err)
	}
	if before != nil {
		s.changed(ctx, before, after, events)
	}
	return nil
}

// fireIdleClose closes a chat with no activity for the site's idle timeout,
// or schedules the next check.
func (s *Service) fireIdleClose(ctx context.Context, t Timer) error {
	c, err := s.store.Chat(ctx, t.ChatID)
	if err != nil {
		return ignoreNotFound(err)
	}
	if !c.Open() {
		return nil
	}
	site, err := s.sites.SiteByID(ctx, c.SiteID)
	if err != nil {
		return ignoreNotFound(err)
	}
	due := c.LastActivityAt.Add(SettingsOfIdle(site))
	if time.Until(due) > 0 {
		return s.store.AddTimer(ctx, Timer{Kind: TimerIdleClose, ChatID: c.ID, SiteID: c.SiteID, DueAt: due})
	}
	return s.close(ctx, c.ID, ClosedByIdle, 0)
}

// fireLateAnswer emails the operator's answers that no page of the visitor
// received, when the visitor left an address.
func (s *Service) fireLateAnswer(ctx context.Context, t Timer) error {
	if s.mail == nil {
		return nil
	}
	c, err := s.store.Chat(ctx, t.ChatID)
	if err != nil {
		return ignoreNotFound(err)
	}
	seq := intOf(t.Data["seq"])
	if c.VisitorSeenSeq >= seq {
		return nil
	}
	to := c.VisitorEmail
	if to == "" {
		card, err := s.store.VisitorCard(ctx, c.SiteID, c.VisitorID)
		if err != nil {
			return ignoreNotFound(err)
		}
		if len(card.Email) == 0 {
			return nil
		}
		to = card.Email[0]
	}
	events, err := s.store.Events(ctx, c.ID, c.VisitorSeenSeq, 1000)
	if err != nil {
		return err
	}
	var unseen []*Event
	for _, ev := range events {
		if ev.Kind == KindMessage && ev.Sender == SenderOperator && ev.Seq <= seq {
			unseen = append(unseen, ev)
		}
	}
	// Only the timer of the latest unseen answer sends, with all of them.
	if len(unseen) == 0 || unseen[len(unseen)-1].Seq != seq {
		return nil
	}
	if err := s.mail.Enqueue(ctx, Mail{Kind: "late_answer", To: to, Subject: "Ответ оператора в чате",
		Body: "Вы покинули сайт до ответа оператора. Ответ:\n\n" + Transcript(unseen)}); err != nil {
		return err
	}
	return s.store.MarkSeen(ctx, c.ID, seq)
}

// VisitorArrived is called when a page of the visitor opens its channel: it
// checks the site's auto-invite rules and schedules an invite when one
// matches (at the rule's time on site).
func (s *Service) VisitorArrived(ctx context.Context, v Visitor) error {
	rules, err := s.store.AutoInviteRules(ctx, v.SiteID)
	if err != nil || len(rules) == 0 {
		return err
	}
	last, err := s.store.LastChat(ctx, v.SiteID, v.VisitorID)
	if err != nil {
		return err
	}
	if last != nil && (last.Open() || last.SessionID == v.SessionID) {
		return nil // chatting, or already invited or chatting in this visit
	}
	st, err := s.store.SessionStats(ctx, v.SiteID, v.SessionID)
	if err != nil {
		return ignoreNotFound(err)
	}
	for _, r := range rules {
		if !ruleMatches(r, st) {
			continue
		}
		due := st.StartedAt.Add(r.MinTimeOnSite)
		if due.Before(timeNow()) {
			due = timeNow()
		}
		return s.store.AddTimer(ctx, Timer{Kind: TimerAutoInvite, SiteID: v.SiteID, VisitorID: v.VisitorID, DueAt: due,
			Data: map[string]any{"rule_id": r.ID, "session_id": v.SessionID}})
	}
	return nil
}

// ruleMatches checks the conditions of a rule other than time on site.
func ruleMatches(r AutoInviteRule, st SessionStats) bool {
	if r.MinPageViews > 0 && st.PageViews < r.MinPageViews {
		return false
	}
	if r.URLPattern != "" && !strings.Contains(st.URL, r.URLPattern) {
		return false
	}
	if r.Source != "" && !strings.EqualFold(r.Source, st.UTMSource) && !strings.EqualFold(r.Source, st.ReferrerDomain) {
		return false
	}
	return true
}

// fireAutoInvite invites the visitor when the rule still holds, an operator
// is online, and the visitor has not chatted or been invited in this visit.
func (s *Service) fireAutoInvite(ctx context.Context, t Timer) error {
	sessionID := intOf(t.Data["session_id"])
	ruleID := intOf(t.Data["rule_id"])
	last, err := s.store.LastChat(ctx, t.SiteID, t.VisitorID)
	if err != nil {
		return err
	}
	if last != nil && (last.Open() || last.SessionID == sessionID) {
		return nil
	}
	rules, err := s.store.AutoInviteRules(ctx, t.SiteID)
	if err != nil {
		return err
	}
	var rule *AutoInviteRule
	for i := range rules {
		if rules[i].ID == ruleID {
			rule = &rules[i]
		}
	}
	if rule == nil {
		return nil
	}
	st, err := s.store.SessionStats(ctx, t.SiteID, sessionID)
	if err != nil {
		return ignoreNotFound(err)
	}
	if !ruleMatches(*rule, st) || timeNow().Sub(st.LastHitAt) > 30*time.Minute {
		return nil
	}
	e, err := s.store.PickInviter(ctx, t.SiteID)
	if err != nil || e == nil {
		return err
	}
	site, err := s.sites.SiteByID(ctx, t.SiteID)
	if err != nil {
		return ignoreNotFound(err)
	}
	ch := &Change{Events: []*Event{{Kind: KindInvite, Sender: SenderOperator, EmployeeID: e.ID, Text: rule.Message,
		UID: fmt.Sprintf("timer-%d", t.ID), Data: map[string]any{"rule_id": rule.ID}}},
		AddTimers: []Timer{{Kind: TimerIdleClose, SiteID: t.SiteID, DueAt: timeNow().Add(SettingsOfIdle(site))}}}
	c, events, created, err := s.store.Start(ctx, &Chat{SiteID: t.SiteID, VisitorID: t.VisitorID, SessionID: sessionID, EmployeeID: e.ID, State: StateInvite}, ch)
	if err != nil || !created {
		return ignoreNotFound(err)
	}
	s.changed(ctx, nil, c, events)
	return nil
}

func ignoreNotFound(err error) error {
	if isCode(err, comagic.ENOTFOUND) {
		return nil
	}
	return err
}
