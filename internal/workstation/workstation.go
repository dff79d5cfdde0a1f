// Package workstation is what an operator workstation reads and edits beside
// the operator websocket (SPEC §11): the visitors on a site now, the visitor
// card and its contacts, offline requests and call-back orders with their
// processed mark, and the directory of operators and groups. Every method is
// scoped to the sites the operator works on: another site's data is ENOTFOUND,
// as if it did not exist. Marks and new offline requests reach the site's
// operators on every node through the hub.
package workstation

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/comagic"
)

// LiveWindow is how recent a visitor's last page view must be for them to be
// on the site now.
const LiveWindow = 5 * time.Minute

// Limits of the lists.
const (
	MaxLive      = 200
	DefaultPage  = 50
	MaxPage      = 100
	MaxPages     = 100 // page views of the visit in a card
	MaxCardItems = 50  // chats, requests and orders in a card
	MaxContacts  = 10  // emails or phones in an edit
	MaxNameLen   = 200
	MaxQueryLen  = 200
)

// Page is a page view.
type Page struct {
	URL   string `json:"url"`
	Title string `json:"title"`
	At    int64  `json:"at"`
}

// UTM are a session's UTM tags.
type UTM struct {
	Source   string `json:"source"`
	Medium   string `json:"medium"`
	Campaign string `json:"campaign"`
	Term     string `json:"term"`
	Content  string `json:"content"`
}

// LiveVisitor is a visitor on the site now, with their latest session.
type LiveVisitor struct {
	VisitorID        int64  `json:"visitor_id"`
	SiteID           int64  `json:"site_id"`
	SessionID        int64  `json:"session_id"`
	Name             string `json:"name"`
	Page             *Page  `json:"page"`
	SessionStartedAt int64  `json:"session_started_at"`
	LastActivityAt   int64  `json:"last_activity_at"`
	TimeOnSite       int64  `json:"time_on_site_s"`
	Source           string `json:"source"`
	Referrer         string `json:"referrer"`
	ReferrerDomain   string `json:"referrer_domain"`
	LandingURL       string `json:"landing_url"`
	UTM              UTM    `json:"utm"`
	DeviceType       string `json:"device_type"`
	ChatID           *int64 `json:"chat_id"`
}

// Session is a visitor's session as the card shows it.
type Session struct {
	SessionID      int64  `json:"session_id"`
	StartedAt      int64  `json:"started_at"`
	LastActivityAt int64  `json:"last_activity_at"`
	TimeOnSite     int64  `json:"time_on_site_s"`
	Source         string `json:"source"`
	Referrer       string `json:"referrer"`
	ReferrerDomain string `json:"referrer_domain"`
	LandingURL     string `json:"landing_url"`
	UTM            UTM    `json:"utm"`
	DeviceType     string `json:"device_type"`
	UserAgent      string `json:"user_agent"`
}

// EmployeeRef names an employee.
type EmployeeRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// GroupRef names a group of operators.
type GroupRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Property is a visitor property; Value is nil for a bare flag.
type Property struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

// ChatSummary is a chat of the visitor in their card.
type ChatSummary struct {
	ID        int64        `json:"id"`
	State     string       `json:"state"`
	CreatedAt int64        `json:"created_at"`
	ClosedAt  *int64       `json:"closed_at"`
	Employee  *EmployeeRef `json:"employee"`
	Rating    *int         `json:"rating"`
	Messages  int64        `json:"messages"`
}

// Mark is an operator's processed mark of an offline request or a call-back
// order: who set it and when (unix seconds).
type Mark struct {
	Processed   bool         `json:"processed"`
	ProcessedAt *int64       `json:"processed_at"`
	ProcessedBy *EmployeeRef `json:"processed_by"`
}

// OfflineRequest is an offline request as operators list it.
type OfflineRequest struct {
	ID        int64  `json:"id"`
	SiteID    int64  `json:"site_id"`
	CreatedAt int64  `json:"created_at"`
	Name      string `json:"name"`
	Phone     string `json:"phone"`
	Email     string `json:"email"`
	Message   string `json:"message"`
	FormName  string `json:"form_name"`
	Channel   string `json:"channel"`
	VisitorID *int64 `json:"visitor_id"`
	SessionID *int64 `json:"session_id"`
	Source    string `json:"source"`
	PageURL   string `json:"page_url"`
	Mark
}

// Callback is a call-back order as operators list it.
type Callback struct {
	ID           int64     `json:"id"`
	SiteID       int64     `json:"site_id"`
	CreatedAt    int64     `json:"created_at"`
	Phone        string    `json:"phone"`
	Status       string    `json:"status"`
	Channel      string    `json:"channel"`
	Group        *GroupRef `json:"group"`
	ScheduledAt  int64     `json:"scheduled_at"`
	DispatchedAt *int64    `json:"dispatched_at"`
	Attempts     int       `json:"attempts"`
	LastError    *string   `json:"last_error"`
	VisitorID    int64     `json:"visitor_id"`
	SessionID    int64     `json:"session_id"`
	Source       string    `json:"source"`
	PageURL      string    `json:"page_url"`
	Mark
}

// Card is the visitor card.
type Card struct {
	VisitorID       int64            `json:"visitor_id"`
	SiteID          int64            `json:"site_id"`
	Name            string           `json:"name"`
	Emails          []string         `json:"emails"`
	Phones          []string         `json:"phones"`
	Properties      []Property       `json:"properties"`
	Session         *Session         `json:"session"`
	CurrentPage     *Page            `json:"current_page"`
	Pages           []Page           `json:"pages"`
	OpenChatID      *int64           `json:"open_chat_id"`
	Chats           []ChatSummary    `json:"chats"`
	OfflineRequests []OfflineRequest `json:"offline_requests"`
	Callbacks       []Callback       `json:"callbacks"`
}

// Filter selects a page of offline requests or call-back orders.
type Filter struct {
	SiteID    int64
	VisitorID int64 // 0 = any
	Processed *bool // nil = any
	Query     string
	Before    int64 // 0 = from the newest
	Limit     int
}

// Contacts is an edit of a visitor's name and contacts; nil members are kept.
type Contacts struct {
	Name   *string
	Emails []string // nil keeps, empty clears
	Phones []string
}

// DirectorySite is one of the operator's sites.
type DirectorySite struct {
	ID      int64    `json:"id"`
	Key     string   `json:"site_key"`
	Domains []string `json:"domains"`
}

// DirectoryOperator is an operator sharing a site with the caller.
type DirectoryOperator struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Position  string  `json:"position"`
	Avatar    string  `json:"avatar"`
	Status    string  `json:"status"`
	CanChat   bool    `json:"can_chat"`
	MaxChats  int     `json:"max_chats"`
	OpenChats int     `json:"open_chats"`
	SiteIDs   []int64 `json:"site_ids"`
	GroupIDs  []int64 `json:"group_ids"`
}

// Directory is who and what an operator can transfer chats to.
type Directory struct {
	Sites     []DirectorySite     `json:"sites"`
	Operators []DirectoryOperator `json:"operators"`
	Groups    []GroupRef          `json:"groups"`
}

// Operator is the caller: an employee of an account working on some sites.
type Operator struct {
	EmployeeID int64
	AccountID  int64
	// HasSite reports whether the operator works on the site.
	HasSite func(siteID int64) bool
	SiteIDs []int64
}

// Store is the durable side (internal/postgres.Workstation). Methods that
// take a site id read only that site's rows; sites lists the sites allowed.
type Store interface {
	LiveVisitors(ctx context.Context, siteID int64, since time.Time, limit int) ([]LiveVisitor, error)
	// Card returns ENOTFOUND for a visitor not of the site.
	Card(ctx context.Context, siteID, visitorID int64) (*Card, error)
	// SetContacts returns ENOTFOUND for a visitor not of the site.
	SetContacts(ctx context.Context, siteID, visitorID int64, c Contacts) error
	OfflineRequests(ctx context.Context, f Filter) ([]OfflineRequest, error)
	Callbacks(ctx context.Context, f Filter) ([]Callback, error)
	// MarkOfflineRequest sets or clears the mark of a request of one of the
	// sites and reports whether it changed; ENOTFOUND otherwise.
	MarkOfflineRequest(ctx context.Context, sites []int64, id, employeeID int64, processed bool) (*OfflineRequest, bool, error)
	// MarkCallback is MarkOfflineRequest for call-back orders.
	MarkCallback(ctx context.Context, sites []int64, id, employeeID int64, processed bool) (*Callback, bool, error)
	Directory(ctx context.Context, accountID int64, sites []int64) (*Directory, error)
}

// Sites finds sites (the phone region of an edit).
type Sites interface {
	// SiteByID returns ENOTFOUND.
	SiteByID(ctx context.Context, id int64) (*comagic.Site, error)
}

// Publisher carries wake-ups to every node (internal/hub.Hub).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// Service serves the workstation's reads and edits.
type Service struct {
	store  Store
	sites  Sites
	pub    Publisher
	logger *slog.Logger
	now    func() time.Time
}

// NewService returns the service; pub may be nil (no live frames).
func NewService(store Store, sites Sites, pub Publisher, logger *slog.Logger) *Service {
	return &Service{store: store, sites: sites, pub: pub, logger: logger, now: time.Now}
}

// Wake kinds of the hub messages this package publishes on a site's topic
// (chat.SiteTopic); the operator channel turns them into frames.
const (
	WakeOfflineRequest = "offline_request"
	WakeCallback       = "callback"
	WakeVisitor        = "visitor"
)

// Events of the frames.
const (
	EventCreated     = "created"
	EventRequested   = "requested"
	EventProcessed   = "processed"
	EventUnprocessed = "unprocessed"
	EventUpdated     = "updated"
)

// Wake is the hub message about an offline request or a call-back order.
type Wake struct {
	K         string `json:"k"`
	Site      int64  `json:"site"`
	ID        int64  `json:"id"`
	Event     string `json:"event,omitempty"`
	Processed bool   `json:"processed,omitempty"`
}

// publish tells the site's operators on every node; a failure is logged (the
// data is durable, lists reload on reconnect).
func (s *Service) publish(ctx context.Context, w Wake) {
	Publish(ctx, s.pub, s.logger, w)
}

// Publish sends w on its site's topic through pub (nil: nothing), logging a
// failure.
func Publish(ctx context.Context, pub Publisher, logger *slog.Logger, w Wake) {
	if pub == nil {
		return
	}
	b, _ := json.Marshal(w)
	if err := pub.Publish(context.WithoutCancel(ctx), chat.SiteTopic(w.Site), b); err != nil && logger != nil {
		logger.Warn("workstation: wake operators", "kind", w.K, "site", w.Site, "id", w.ID, "err", err)
	}
}

// OfflineRequestCreated tells the site's operators about a stored offline
// request (any route); a replayed one is not news.
func (s *Service) OfflineRequestCreated(ctx context.Context, r *comagic.OfflineRequest) {
	if r == nil || r.Replayed || r.ID == 0 {
		return
	}
	s.publish(ctx, Wake{K: WakeOfflineRequest, Site: r.SiteID, ID: r.ID, Event: EventCreated})
}

// site checks that the operator works on the site: ENOTFOUND otherwise, as
// for a site that does not exist.
func site(op *Operator, siteID int64) error {
	if siteID <= 0 || !op.HasSite(siteID) {
		return &comagic.Error{Code: comagic.ENOTFOUND, Field: "site_id", Message: "no such site"}
	}
	return nil
}

// LiveVisitors returns the visitors on the site now, newest activity first.
func (s *Service) LiveVisitors(ctx context.Context, op *Operator, siteID int64, limit int) ([]LiveVisitor, error) {
	if err := site(op, siteID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxLive {
		limit = MaxLive
	}
	return s.store.LiveVisitors(ctx, siteID, s.now().Add(-LiveWindow), limit)
}

// Card returns the visitor card; ENOTFOUND outside the operator's sites.
func (s *Service) Card(ctx context.Context, op *Operator, siteID, visitorID int64) (*Card, error) {
	if err := site(op, siteID); err != nil {
		return nil, err
	}
	return s.store.Card(ctx, siteID, visitorID)
}

// EditContacts checks and stores an edit of the visitor's name and contacts,
// and returns the card. Returns EINVALID naming the member, ENOTFOUND.
func (s *Service) EditContacts(ctx context.Context, op *Operator, siteID, visitorID int64, c Contacts) (*Card, error) {
	if err := site(op, siteID); err != nil {
		return nil, err
	}
	st, err := s.sites.SiteByID(ctx, siteID)
	if err != nil {
		return nil, err
	}
	if c, err = checkContacts(c, st.Region); err != nil {
		return nil, err
	}
	if err := s.store.SetContacts(ctx, siteID, visitorID, c); err != nil {
		return nil, err
	}
	s.publish(ctx, Wake{K: WakeVisitor, Site: siteID, ID: visitorID, Event: EventUpdated})
	return s.store.Card(ctx, siteID, visitorID)
}

// checkFilter bounds a list filter.
func checkFilter(op *Operator, f *Filter) error {
	if err := site(op, f.SiteID); err != nil {
		return err
	}
	if f.Limit <= 0 {
		f.Limit = DefaultPage
	}
	if f.Limit > MaxPage {
		return comagic.Invalid("limit", "limit must be between 1 and %d", MaxPage)
	}
	q, err := checkQuery(f.Query)
	if err != nil {
		return err
	}
	f.Query = q
	return nil
}

// OfflineRequests returns a page of the site's offline requests, newest
// first, and the before of the next page (0: none).
func (s *Service) OfflineRequests(ctx context.Context, op *Operator, f Filter) ([]OfflineRequest, int64, error) {
	if err := checkFilter(op, &f); err != nil {
		return nil, 0, err
	}
	f.Limit++
	list, err := s.store.OfflineRequests(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	list, next := page(list, f.Limit-1, func(r OfflineRequest) int64 { return r.ID })
	return list, next, nil
}

// page cuts a list read with one item more than limit to limit and returns
// the before of the next page: the last id kept, or 0 when nothing more.
func page[T any](list []T, limit int, id func(T) int64) ([]T, int64) {
	if len(list) <= limit {
		return list, 0
	}
	list = list[:limit]
	return list, id(list[limit-1])
}

// Callbacks returns a page of the site's call-back orders, newest first, and
// the before of the next page (0: none).
func (s *Service) Callbacks(ctx context.Context, op *Operator, f Filter) ([]Callback, int64, error) {
	if err := checkFilter(op, &f); err != nil {
		return nil, 0, err
	}
	f.Limit++
	list, err := s.store.Callbacks(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	list, next := page(list, f.Limit-1, func(c Callback) int64 { return c.ID })
	return list, next, nil
}

func markEvent(processed bool) string {
	if processed {
		return EventProcessed
	}
	return EventUnprocessed
}

// MarkOfflineRequest sets or clears the processed mark of an offline request
// of the operator's sites and tells the site's operators when it changed.
func (s *Service) MarkOfflineRequest(ctx context.Context, op *Operator, id int64, processed bool) (*OfflineRequest, error) {
	r, changed, err := s.store.MarkOfflineRequest(ctx, op.SiteIDs, id, op.EmployeeID, processed)
	if err != nil {
		return nil, err
	}
	if changed {
		s.publish(ctx, Wake{K: WakeOfflineRequest, Site: r.SiteID, ID: r.ID, Event: markEvent(processed), Processed: processed})
	}
	return r, nil
}

// MarkCallback sets or clears the processed mark of a call-back order of the
// operator's sites and tells the site's operators when it changed.
func (s *Service) MarkCallback(ctx context.Context, op *Operator, id int64, processed bool) (*Callback, error) {
	c, changed, err := s.store.MarkCallback(ctx, op.SiteIDs, id, op.EmployeeID, processed)
	if err != nil {
		return nil, err
	}
	if changed {
		s.publish(ctx, Wake{K: WakeCallback, Site: c.SiteID, ID: c.ID, Event: markEvent(processed), Processed: processed})
	}
	return c, nil
}

// Directory returns the operator's sites, the operators sharing one of them
// and the account's groups.
func (s *Service) Directory(ctx context.Context, op *Operator) (*Directory, error) {
	return s.store.Directory(ctx, op.AccountID, op.SiteIDs)
}
