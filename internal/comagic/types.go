package comagic

import (
	"encoding/json"
	"github.com/comagicd/comagicd/internal/schedule"
	"net"
	"strings"
	"time"
)

// Device types reported by the bootstrap and stored with every hit.
const (
	DeviceDesktop = "desktop"
	DeviceTablet  = "tablet"
	DeviceMobile  = "mobile"
)

// DeviceTypes lists the device types in the order settings are keyed by.
var DeviceTypes = [...]string{DeviceDesktop, DeviceTablet, DeviceMobile}

// Account is one customer of the platform.
type Account struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Site is one website of an account.
type Site struct {
	ID        int64
	AccountID int64
	// Key is the public 32-character site key used by the embed code.
	Key string
	// Domains are the allowed origins' hosts; subdomains are allowed too.
	Domains  []string
	TimeZone string
	// Region is the default phone region (ISO 3166 alpha-2, e.g. "RU").
	Region string
	// SessionTimeout ends a session after this long without a hit.
	SessionTimeout time.Duration
	// AnonymizeIP zeroes the host part of stored IP addresses.
	AnonymizeIP bool
	// ChatIdleTimeout closes a chat after this long without a message.
	ChatIdleTimeout time.Duration
	// ChatMaxFileBytes bounds a file sent in a chat.
	ChatMaxFileBytes int64
	// CallSchedule is the site's working hours for call-backs (in Location);
	// nil = around the clock.
	CallSchedule *schedule.Week
	// Location is TimeZone loaded (UTC when unknown).
	Location *time.Location
	// Settings holds the widget settings: {view controller: {device type: object}}.
	Settings  map[string]map[string]json.RawMessage
	CreatedAt time.Time
}

// AllowsOrigin reports whether a browser request from origin (scheme://host[:port])
// may call this site's endpoints: the origin's host must be one of the site's
// domains or a subdomain of one, on any scheme and port. A malformed origin (with
// a path, query, fragment or user, or "null") is never allowed.
func (s *Site) AllowsOrigin(origin string) bool {
	host, ok := OriginHost(origin)
	if !ok {
		return false
	}
	for _, d := range s.Domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// OriginHost returns the lower-case host of a serialised origin,
// scheme "://" host [":" port], and false for anything else: an origin with a
// path, query, fragment, user or stray characters ("https://evil.com#.shop.example")
// is malformed.
func OriginHost(origin string) (string, bool) {
	scheme, rest, ok := strings.Cut(origin, "://")
	if !ok || scheme == "" || rest == "" || len(origin) > 300 {
		return "", false
	}
	for i, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	host := rest
	if h, port, err := net.SplitHostPort(rest); err == nil {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return "", false
		}
		host = h
	} else if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
		host = rest[1 : len(rest)-1]
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return "", false
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '_') {
			return "", false
		}
	}
	return host, true
}

// SettingsFor returns the widget settings for one device type: {view controller: object}.
// A tablet gets a view controller's desktop settings unless the site has tablet
// settings for it, as the vendor's platform does: most sites configure only
// desktop and mobile.
func (s *Site) SettingsFor(device string) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(s.Settings))
	for vc, byDevice := range s.Settings {
		if v, ok := byDevice[device]; ok {
			out[vc] = v
		} else if v, ok := byDevice["desktop"]; ok && device == "tablet" {
			out[vc] = v
		}
	}
	return out
}

// CookieSuffix is the short per-site suffix of the `_comagic_id<S>` and
// `_cmg_csst<S>` cookies.
func (s *Site) CookieSuffix() string {
	if len(s.Key) < 6 {
		return s.Key
	}
	return s.Key[:6]
}

// Credentials identify a visitor's session to the server. Key proves the bearer
// was issued this (VisitorID, SessionID) pair.
type Credentials struct {
	VisitorID int64
	SessionID int64
	Key       string
}

// PageView describes one page view (hit) as the browser reports it.
type PageView struct {
	URL       string
	Title     string
	Referrer  string
	UserAgent string
	IP        string
}

// Source is what brought a session: UTM tags, a click id or a referring domain.
type Source struct {
	// Key identifies the source; "" means direct or internal navigation, which
	// never starts a new session by itself.
	Key            string
	ReferrerDomain string
	UTMSource      string
	UTMMedium      string
	UTMCampaign    string
	UTMTerm        string
	UTMContent     string
}

// Hit is one recorded page view with the identifiers it was given.
type Hit struct {
	SiteID           int64
	VisitorID        int64
	SessionID        int64
	HitID            int64
	Key              string
	NewVisitor       bool
	NewSession       bool
	SessionStartedAt time.Time
	DeviceType       string
	At               time.Time
	// Source and LandingURL are the session's: what brought it and its first page.
	Source     Source
	LandingURL string
	// Claims are the HitWrite's claims of pool numbers, done when the page
	// view started a new visitor.
	Claims []*PhoneClaim
}

// HitWrite is one page view for storage to record. The caller fills the inputs;
// storage fills Result. Claimed credentials must already be verified.
type HitWrite struct {
	Site    *Site
	Claimed *Credentials // nil: a new visitor
	View    PageView
	Source  Source
	Device  string
	At      time.Time
	// Claims ask for numbers of dynamic pools (SPEC §9) in the transaction
	// of the page view, when it starts a new visitor (who holds none yet).
	Claims []*PhoneClaim

	Result Hit
}

// Event is a custom event (`Comagic.trackEvent`).
type Event struct {
	SiteID    int64
	VisitorID int64
	SessionID int64
	HitID     int64 // 0 when unknown; a hit outside the session is dropped
	Category  string
	Action    string
	Name      string
	Value     string
	At        time.Time
}

// VisitorInfo is what `Comagic.addVisitorInfo` reports: the name overwrites, the
// phone and email are added when new.
type VisitorInfo struct {
	Name  string
	Phone string // normalised digits with country code
	Email string
}

// Property is a visitor property; a property without value is a bare flag.
type Property struct {
	Name     string
	Value    string
	HasValue bool
}

// OfflineRequest is a lead left on the site.
type OfflineRequest struct {
	ID        int64
	SiteID    int64
	SiteKey   string // used to find the site when no tracking ids are given
	VisitorID int64  // 0 for an unattributed lead
	SessionID int64
	HitID     int64
	Name      string
	Email     string
	Phone     string
	Message   string
	// ClaimedVisitorID, ClaimedSessionID and ClaimedHitID are the tracking ids
	// an unattributed lead arrived with but could not prove (no key): kept for
	// the record, never used to attribute.
	ClaimedVisitorID int64
	ClaimedSessionID int64
	ClaimedHitID     int64
	IsSale           bool
	// SaleCost is the decimal amount with two decimals ("9999.50"), or nil.
	SaleCost *string
	GroupID  int64
	FormName string
	// Source tells where the lead came from: "browser" or "api".
	Source string
	// Extra holds every field the client sent that has no column of its own.
	Extra map[string]any
	// IdempotencyKey, when not "", makes a retried request with the same key
	// (per site) answer as the first did instead of storing it again.
	IdempotencyKey string
	// RequestHash identifies the request's content; a key reused for another
	// content is a conflict.
	RequestHash []byte
	// Replayed tells that the request was a retry of an already stored one.
	Replayed bool
	// AccountID and Announce, when Announce is not nil, queue the webhook
	// event offline_request.created in the request's own transaction for the
	// account's webhooks: Announce is its data without id and created_at,
	// which the store adds. Announced is how many deliveries were queued.
	AccountID int64
	Announce  []byte
	Announced int64
	CreatedAt time.Time
}

// SessionRef is what the server knows of a session without trusting a client.
type SessionRef struct {
	SiteID    int64
	VisitorID int64
	StartedAt time.Time
}
