package comagic

import "time"

// The lead forms whose actions are recorded (SPEC §10).
const (
	WidgetCallGenerator           = "call_generator"
	WidgetOfflineMessageGenerator = "offline_message_generator"
	WidgetPersonalForm            = "personal_form"
)

// What a visitor does with a lead form.
const (
	LeadShow   = "show"
	LeadSubmit = "submit"
	LeadCancel = "cancel"
)

// LeadWidgets lists the lead forms; LeadActionNames the actions on them.
var (
	LeadWidgets     = [...]string{WidgetCallGenerator, WidgetOfflineMessageGenerator, WidgetPersonalForm}
	LeadActionNames = [...]string{LeadShow, LeadSubmit, LeadCancel}
)

// LeadAction is one show, submit or cancel of a lead form by a visitor, kept
// for the lead-generation reports.
type LeadAction struct {
	ID        int64
	SiteID    int64
	VisitorID int64
	SessionID int64
	HitID     int64 // 0 when unknown; a hit outside the session is dropped
	Widget    string
	Action    string
	// Data holds what the page sent with the action: a few flat values, each a
	// string, a json.Number or a bool.
	Data      map[string]any
	CreatedAt time.Time
}

// IsLead reports whether the action counts as a lead in the reports: a submit
// of personal_form. The other forms' leads are the callbacks and offline
// requests that their submits create.
func (a *LeadAction) IsLead() bool {
	return a.Widget == WidgetPersonalForm && a.Action == LeadSubmit
}
