package webhooks

import (
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
)

// OfflineRequest is the data of offline_request.created.
type OfflineRequest struct {
	ID        int64          `json:"id"`
	SiteID    int64          `json:"site_id"`
	SiteKey   string         `json:"site_key"`
	VisitorID int64          `json:"visitor_id,omitempty"` // absent for an unattributed request
	SessionID int64          `json:"session_id,omitempty"`
	Name      string         `json:"name"`
	Email     string         `json:"email"`
	Phone     string         `json:"phone"`
	Message   string         `json:"message"`
	IsSale    bool           `json:"is_sale"`
	SaleCost  *string        `json:"sale_cost"` // decimal text or null
	GroupID   int64          `json:"group_id,omitempty"`
	FormName  string         `json:"form_name"`
	Source    string         `json:"source"` // browser or api
	Extra     map[string]any `json:"extra"`
	CreatedAt time.Time      `json:"created_at"`
}

// OfflineRequestData is the data of offline_request.created for a stored
// request.
func OfflineRequestData(r *comagic.OfflineRequest) OfflineRequest {
	extra := r.Extra
	if extra == nil {
		extra = map[string]any{}
	}
	return OfflineRequest{ID: r.ID, SiteID: r.SiteID, SiteKey: r.SiteKey, VisitorID: r.VisitorID, SessionID: r.SessionID,
		Name: r.Name, Email: r.Email, Phone: r.Phone, Message: r.Message, IsSale: r.IsSale, SaleCost: r.SaleCost,
		GroupID: r.GroupID, FormName: r.FormName, Source: r.Source, Extra: extra, CreatedAt: r.CreatedAt.UTC()}
}

// LeadAction is the data of lead_action.created.
type LeadAction struct {
	ID        int64          `json:"id"`
	SiteID    int64          `json:"site_id"`
	SiteKey   string         `json:"site_key"`
	VisitorID int64          `json:"visitor_id"`
	SessionID int64          `json:"session_id"`
	Widget    string         `json:"widget"` // call_generator, offline_message_generator, personal_form
	Action    string         `json:"action"` // show, submit, cancel
	IsLead    bool           `json:"is_lead"`
	Data      map[string]any `json:"data"`
	CreatedAt time.Time      `json:"created_at"`
}

// LeadActionData is the data of lead_action.created for a stored action of
// the site whose key is siteKey.
func LeadActionData(siteKey string, a *comagic.LeadAction) LeadAction {
	data := a.Data
	if data == nil {
		data = map[string]any{}
	}
	return LeadAction{ID: a.ID, SiteID: a.SiteID, SiteKey: siteKey, VisitorID: a.VisitorID, SessionID: a.SessionID,
		Widget: a.Widget, Action: a.Action, IsLead: a.IsLead(), Data: data, CreatedAt: a.CreatedAt.UTC()}
}

// ChatClosed is the data of chat.closed.
type ChatClosed struct {
	ChatID    int64  `json:"chat_id"`
	SiteID    int64  `json:"site_id"`
	SiteKey   string `json:"site_key"`
	VisitorID int64  `json:"visitor_id"`
	// ClosedBy is visitor, operator, idle, invite_rejected or system.
	ClosedBy string `json:"closed_by"`
	// Rating is the visitor's mark 1..5, or 0 when not rated.
	Rating int `json:"rating"`
	// Messages counts the messages and files of the visitor and the operators.
	Messages   int64      `json:"messages"`
	EmployeeID int64      `json:"employee_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ClosedAt   *time.Time `json:"closed_at"`
}
