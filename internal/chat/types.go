// Package chat is the consultant chat (SPEC §7): chats of visitors with
// operators, their durable event log, routing to operators, invites,
// retention, idle close and late answers. The websocket channels
// (internal/chatws) call its Service; the hub carries wake-ups between nodes.
package chat

import (
	"time"
)

// Chat states as stored.
const (
	StateInvite = "invite" // an operator or a rule invited the visitor
	StateQueued = "queued" // waiting for an operator
	StateActive = "active" // an operator has it
	StateClosed = "closed"
)

// Visitor states of the widget API (getState).
const (
	VisitorAvailable = "available"
	VisitorInvite    = "invite"
	VisitorChat      = "chat"
)

// Event kinds.
const (
	KindMessage         = "message"
	KindFile            = "file"
	KindSystem          = "system"
	KindInvite          = "invite"
	KindJoin            = "join"
	KindLeave           = "leave"
	KindRating          = "rating"
	KindRetentionAction = "retention_action"
	KindClose           = "close"
)

// Senders of events.
const (
	SenderVisitor  = "visitor"
	SenderOperator = "operator"
	SenderSystem   = "system"
)

// Who closed a chat.
const (
	ClosedByVisitor        = "visitor"
	ClosedByOperator       = "operator"
	ClosedByIdle           = "idle"
	ClosedByInviteRejected = "invite_rejected"
)

// Limits of client input.
const (
	MaxTextLen   = 10000
	MaxTypingLen = 1000
	MaxUIDLen    = 100
	HistoryPage  = 20
)

// Chat is a chat of a visitor on a site.
type Chat struct {
	ID             int64
	SiteID         int64
	VisitorID      int64
	SessionID      int64
	GroupID        int64 // 0 = none
	EmployeeID     int64 // 0 = none
	State          string
	ClosedBy       string
	Rating         int // 0 = none
	LastSeq        int64
	VisitorSeenSeq int64
	VisitorEmail   string
	CreatedAt      time.Time
	AnsweredAt     *time.Time
	ClosedAt       *time.Time
	LastActivityAt time.Time
}

// Open reports whether the chat is not closed.
func (c *Chat) Open() bool { return c.State != StateClosed }

// Vcard is an operator as visitors see them.
type Vcard struct {
	Name     string `json:"name"`
	Position string `json:"position"`
	Avatar   string `json:"avatar"`
}

// File is a file sent in a chat.
type File struct {
	ID          int64  `json:"-"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	URL         string `json:"url"`
}

// Event is one entry of a chat's log.
type Event struct {
	ChatID     int64
	Seq        int64
	ID         int64 // message_id: unique across chats
	Kind       string
	Sender     string
	EmployeeID int64
	Text       string
	UID        string
	Data       map[string]any
	CreatedAt  time.Time
	// Operator is the employee's vcard when EmployeeID is set (read side).
	Operator *Vcard
	// File is set for KindFile (read side); FileID links it on write.
	File   *File
	FileID int64
	// Replayed is set when an event with the same uid was already stored: the
	// stored one is returned and nothing was written.
	Replayed bool
}

// VisitorCard is what the visitor told about themselves.
type VisitorCard struct {
	Name  string   `json:"name"`
	Email []string `json:"email"`
	Phone []string `json:"phone"`
}

// Visitor identifies a verified visitor of a site.
type Visitor struct {
	SiteID    int64
	VisitorID int64
	SessionID int64
}

// VisitorState is what a visitor's page shows.
type VisitorState struct {
	State        string
	Chat         *Chat // the open chat, or nil
	Operator     *Vcard
	Rating       int
	Available    bool
	Card         VisitorCard
	RequiredInfo []string
	FileTransfer bool
	MaxFileBytes int64
	HasHistory   bool
}

// Timer kinds.
const (
	TimerRetention       = "retention"
	TimerRetentionAction = "retention_action"
	TimerIdleClose       = "idle_close"
	TimerAutoInvite      = "auto_invite"
	TimerLateAnswer      = "late_answer"
)

// Timer is a scheduled piece of work on a chat or visitor.
type Timer struct {
	ID        int64
	Kind      string
	ChatID    int64
	SiteID    int64
	VisitorID int64
	DueAt     time.Time
	Data      map[string]any
}

// Employee is an operator as routing and the operator channel see them.
type Employee struct {
	ID        int64
	AccountID int64
	Name      string
	Position  string
	Avatar    string
	Status    string
	MaxChats  int
	CanChat   bool
	CanInvite bool
	SiteIDs   []int64
	GroupIDs  []int64
}

// Vcard returns the employee as visitors see them.
func (e *Employee) Vcard() *Vcard {
	return &Vcard{Name: e.Name, Position: e.Position, Avatar: e.Avatar}
}

// HasSite reports whether the employee works on the site.
func (e *Employee) HasSite(id int64) bool {
	for _, s := range e.SiteIDs {
		if s == id {
			return true
		}
	}
	return false
}

// QueueItem is a chat as operators see it in lists.
type QueueItem struct {
	Chat     *Chat
	Card     VisitorCard
	LastText string
}

// AutoInviteRule invites visitors of a site automatically when an operator is
// online and every condition that is set holds.
type AutoInviteRule struct {
	ID            int64
	Message       string
	MinTimeOnSite time.Duration
	MinPageViews  int
	URLPattern    string // substring of the page URL; "" = any
	Source        string // utm_source or referrer domain; "" = any
}

// SessionStats is what auto-invite rules look at.
type SessionStats struct {
	StartedAt      time.Time
	LastHitAt      time.Time
	PageViews      int
	URL            string
	UTMSource      string
	ReferrerDomain string
}

// Routed is a chat routing assigned to an operator, with its join event.
type Routed struct {
	Chat   *Chat
	Events []*Event
}
