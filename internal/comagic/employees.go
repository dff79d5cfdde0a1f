package comagic

import "time"

// Employee statuses (SPEC §1).
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

// ValidStatus reports whether s is one of the employee statuses.
func ValidStatus(s string) bool {
	return s == StatusOnline || s == StatusAway || s == StatusOffline
}

// Employee is an operator of an account (SPEC §1): they log in to the
// workstation and answer chats on the sites they are given.
type Employee struct {
	ID        int64
	AccountID int64
	// Account is the name of the account.
	Account string
	// Login is unique across the server.
	Login    string
	Name     string
	Position string
	// Avatar is the URL of the operator's picture, or "".
	Avatar   string
	Status   string
	StatusAt time.Time
	// MaxChats is how many chats the operator holds at once (0..100).
	MaxChats       int
	CanChat        bool
	CanInvite      bool
	HandlesOffline bool
	// DisabledAt is set once the employee is disabled: they cannot log in and
	// their tokens are revoked.
	DisabledAt *time.Time
	CreatedAt  time.Time
	// SiteIDs and SiteKeys are the sites the employee works on (the same
	// sites, in the same order, by id).
	SiteIDs  []int64
	SiteKeys []string
	// GroupIDs and GroupNames are the groups the employee belongs to (in the
	// same order, by id).
	GroupIDs   []int64
	GroupNames []string
}

// Group is a set of employees of an account; chats, offline requests and
// callbacks can target a group.
type Group struct {
	ID        int64
	AccountID int64
	// Account is the name of the account.
	Account string
	Name    string
	// Members is the number of employees in the group.
	Members   int
	CreatedAt time.Time
}
