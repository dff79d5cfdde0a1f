package tracking

import (
	"context"
	"strings"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/credentials"
	"github.com/comagicd/comagicd/internal/fields"
	"github.com/comagicd/comagicd/internal/phone"
)

// Store is the storage the tracking service writes through.
type Store interface {
	RecordHit(ctx context.Context, w *comagic.HitWrite) error
	TrackEvent(ctx context.Context, ev comagic.Event) error
	AddVisitorInfo(ctx context.Context, siteID, visitorID int64, info comagic.VisitorInfo) error
	SetProperty(ctx context.Context, siteID, visitorID int64, p comagic.Property) error
	GetProperty(ctx context.Context, siteID, visitorID int64, name string) (*comagic.Property, error)
	DeleteProperty(ctx context.Context, siteID, visitorID int64, name string) error
	SessionByID(ctx context.Context, sessionID int64) (*comagic.SessionRef, error)
	RecordLeadAction(ctx context.Context, a *comagic.LeadAction) error
}

// Sites finds sites by id.
type Sites interface {
	SiteByID(ctx context.Context, id int64) (*comagic.Site, error)
}

// Events announces stored lead actions to the account's webhooks
// (internal/webhooks.Publisher); it logs its own failures.
type Events interface {
	Publish(ctx context.Context, accountID int64, event string, payload any)
}

// Service implements comagic.TrackingService: it checks credentials and input,
// applies the session rules and writes through a Store.
type Service struct {
	store  Store
	sites  Sites
	signer *credentials.Signer
	events Events
	now    func() time.Time

	// PhoneClaims, when set, gives the pool numbers to claim for a page view
	// that starts a new visitor, in the page view's transaction (SPEC §9):
	// the dynamic rules that match its source and URL (calltracking.Service.Claims).
	PhoneClaims func(ctx context.Context, site *comagic.Site, src comagic.Source, landing string) []*comagic.PhoneClaim
}

var _ comagic.TrackingService = (*Service)(nil)

// NewService returns the tracking service; events may be nil (no webhooks).
func NewService(store Store, sites Sites, signer *credentials.Signer, events Events) *Service {
	return &Service{store: store, sites: sites, signer: signer, events: events, now: time.Now}
}

// Limits on tracked text, in characters.
const (
	maxName  = 255
	maxValue = 4096
)

// RecordHit records a page view, continuing the claimed session when its key is
// genuine and the site's session rules allow; a claim with a wrong key starts a
// new visitor and never reaches the claimed one.
func (s *Service) RecordHit(ctx context.Context, site *comagic.Site, creds *comagic.Credentials, pv comagic.PageView) (*comagic.Hit, error) {
	pv.URL = Clip(strings.TrimSpace(pv.URL), maxField)
	pv.Title = Clip(pv.Title, 1024)
	pv.Referrer = Clip(strings.TrimSpace(pv.Referrer), maxField)
	pv.UserAgent = Clip(pv.UserAgent, 512)
	if pv.URL == "" {
		return nil, comagic.Invalid("url", "url of the page is required")
	}
	w := &comagic.HitWrite{
		Site:   site,
		View:   pv,
		Source: SourceOf(site, pv.URL, pv.Referrer),
		Device: DeviceType(pv.UserAgent),
		At:     s.now().UTC(),
	}
	if creds != nil && s.signer.Verify(site.ID, creds.VisitorID, creds.SessionID, creds.Key) {
		w.Claimed = creds
	}
	if s.PhoneClaims != nil && w.Claimed == nil {
		w.Claims = s.PhoneClaims(ctx, site, w.Source, pv.URL)
	}
	if err := s.store.RecordHit(ctx, w); err != nil {
		return nil, err
	}
	hit := w.Result
	hit.Claims = w.Claims
	if hit.NewSession {
		hit.Key = s.signer.Key(site.ID, hit.VisitorID, hit.SessionID)
	} else {
		hit.Key = w.Claimed.Key // verified above, and still the session's key
	}
	return &hit, nil
}

// Verify checks that creds are genuine for the site. Returns EUNAUTHORIZED
// naming the key field.
func (s *Service) Verify(site *comagic.Site, creds comagic.Credentials) error {
	if !s.signer.Verify(site.ID, creds.VisitorID, creds.SessionID, creds.Key) {
		return &comagic.Error{Code: comagic.EUNAUTHORIZED, Field: "key", Message: "key does not match visitor_id and session_id"}
	}
	return nil
}

// TrackEvent stores a custom event of the visitor.
func (s *Service) TrackEvent(ctx context.Context, site *comagic.Site, creds comagic.Credentials, ev comagic.Event) error {
	if err := s.Verify(site, creds); err != nil {
		return err
	}
	var err error
	if ev.Category, err = requiredText("category", ev.Category, maxName); err != nil {
		return err
	}
	if ev.Action, err = requiredText("action", ev.Action, maxName); err != nil {
		return err
	}
	if ev.Name, err = optionalText("name", ev.Name, maxName); err != nil {
		return err
	}
	if ev.Value, err = optionalText("value", ev.Value, maxValue); err != nil {
		return err
	}
	ev.SiteID, ev.VisitorID, ev.SessionID, ev.At = site.ID, creds.VisitorID, creds.SessionID, s.now().UTC()
	return s.store.TrackEvent(ctx, ev)
}

// AddVisitorInfo stores the visitor's name, phone and email (SPEC §4).
func (s *Service) AddVisitorInfo(ctx context.Context, site *comagic.Site, creds comagic.Credentials, info comagic.VisitorInfo) error {
	if err := s.Verify(site, creds); err != nil {
		return err
	}
	clean, err := CleanVisitorInfo(info, site.Region)
	if err != nil {
		return err
	}
	return s.store.AddVisitorInfo(ctx, site.ID, creds.VisitorID, clean)
}

// AddVisitorInfoByComagicID stores contacts for the visitor named by a comagic_id
// (the `ci` of /vc/s/). With a key, the key must be genuine for the id's visitor
// and session, and the site is the session's. Without a key, site is the one the
// caller named by site key, and the id must match a session of that site
// exactly, session start included. Every mismatch gives the same EUNAUTHORIZED
// error, so that a guesser learns nothing from it. allow, when not nil, vets the
// resolved site before anything is written. It returns the site. Returns
// EINVALID, EUNAUTHORIZED.
func (s *Service) AddVisitorInfoByComagicID(ctx context.Context, site *comagic.Site, key string, ci ComagicID, info comagic.VisitorInfo, allow func(*comagic.Site) error) (*comagic.Site, error) {
	mismatch := &comagic.Error{Code: comagic.EUNAUTHORIZED, Field: "ci", Message: "ci (with k or sk) does not identify a session of the site"}
	ref, err := s.store.SessionByID(ctx, ci.SessionID)
	if comagic.ErrorCode(err) == comagic.ENOTFOUND {
		return nil, mismatch
	}
	if err != nil {
		return nil, err
	}
	if ref.VisitorID != ci.VisitorID {
		return nil, mismatch
	}
	if key != "" {
		if !s.signer.Verify(ref.SiteID, ci.VisitorID, ci.SessionID, key) || (site != nil && site.ID != ref.SiteID) {
			return nil, mismatch
		}
		if site, err = s.sites.SiteByID(ctx, ref.SiteID); err != nil {
			return nil, err
		}
	} else if site == nil || site.ID != ref.SiteID || ref.StartedAt.Unix() != ci.StartedAt {
		return nil, mismatch
	}
	clean, err := CleanVisitorInfo(info, site.Region)
	if err != nil {
		return nil, err
	}
	if allow != nil {
		if err := allow(site); err != nil {
			return nil, err
		}
	}
	return site, s.store.AddVisitorInfo(ctx, site.ID, ci.VisitorID, clean)
}

// CleanVisitorInfo validates contacts and normalises the phone for the region.
// At least one field must be given. Returns EINVALID naming the field.
func CleanVisitorInfo(info comagic.VisitorInfo, region string) (comagic.VisitorInfo, error) {
	var err error
	if info.Name, err = optionalText("name", info.Name, maxName); err != nil {
		return info, err
	}
	if info.Email, err = optionalText("email", info.Email, maxName); err != nil {
		return info, err
	}
	if info.Phone, err = optionalText("phone", info.Phone, 64); err != nil {
		return info, err
	}
	if info.Name == "" && info.Phone == "" && info.Email == "" {
		return info, comagic.Invalid("name", "at least one of name, phone or email is required")
	}
	if info.Phone != "" {
		p, err := phone.Normalize(info.Phone, region)
		if err != nil {
			return info, comagic.Invalid("phone", "phone %q is not a valid phone number", info.Phone)
		}
		info.Phone = p
	}
	if info.Email != "" {
		if err := fields.Email("email", info.Email); err != nil {
			return info, err
		}
		info.Email = strings.ToLower(info.Email)
	}
	return info, nil
}

// SetProperty sets a property (with or without value) of the visitor.
func (s *Service) SetProperty(ctx context.Context, site *comagic.Site, creds comagic.Credentials, p comagic.Property) error {
	if err := s.Verify(site, creds); err != nil {
		return err
	}
	var err error
	if p.Name, err = requiredText("name", p.Name, maxName); err != nil {
		return err
	}
	if p.Value, err = optionalText("value", p.Value, maxValue); err != nil {
		return err
	}
	return s.store.SetProperty(ctx, site.ID, creds.VisitorID, p)
}

// GetProperty returns the visitor's property or nil.
func (s *Service) GetProperty(ctx context.Context, site *comagic.Site, creds comagic.Credentials, name string) (*comagic.Property, error) {
	if err := s.Verify(site, creds); err != nil {
		return nil, err
	}
	name, err := requiredText("name", name, maxName)
	if err != nil {
		return nil, err
	}
	return s.store.GetProperty(ctx, site.ID, creds.VisitorID, name)
}

// DeleteProperty removes the visitor's property.
func (s *Service) DeleteProperty(ctx context.Context, site *comagic.Site, creds comagic.Credentials, name string) error {
	if err := s.Verify(site, creds); err != nil {
		return err
	}
	name, err := requiredText("name", name, maxName)
	if err != nil {
		return err
	}
	return s.store.DeleteProperty(ctx, site.ID, creds.VisitorID, name)
}

func optionalText(field, s string, max int) (string, error) { return fields.Text(field, s, max) }

func requiredText(field, s string, max int) (string, error) {
	s, err := optionalText(field, s, max)
	if err == nil && s == "" {
		err = comagic.Invalid(field, "%s is required", field)
	}
	return s, err
}
