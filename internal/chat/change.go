package chat

// Change is what one command does to a chat, applied atomically with the
// events it appends: the chat row is locked, the events get the next seqs, and
// the timers are added or dropped in the same transaction.
type Change struct {
	State        string // "" keeps the state
	EmployeeID   *int64 // nil keeps; pointer to 0 clears
	GroupID      *int64 // nil keeps; pointer to 0 clears
	ClosedBy     string
	Rating       *int // nil keeps; pointer to 0 clears
	VisitorEmail string
	// Answered marks the first operator answer (answered_at).
	Answered bool
	// VisitorActive marks a sign of life of the visitor (last_visitor_at).
	VisitorActive bool
	Events        []*Event
	AddTimers     []Timer
	// DropTimers deletes the chat's timers of these kinds.
	DropTimers []string
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
