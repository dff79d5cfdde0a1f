package comagic

import "context"

// SiteService finds sites.
type SiteService interface {
	// SiteByKey returns the site with the public key. Returns ENOTFOUND.
	SiteByKey(ctx context.Context, key string) (*Site, error)
	// SiteByID returns the site with the id. Returns ENOTFOUND.
	SiteByID(ctx context.Context, id int64) (*Site, error)
}

// TrackingService records page views and what visitors do on them.
type TrackingService interface {
	// RecordHit resolves or creates the visitor and session of a page view on the
	// site and records the hit; creds may be nil or unverifiable, which starts a
	// new visitor. On success the rows are committed.
	RecordHit(ctx context.Context, site *Site, creds *Credentials, pv PageView) (*Hit, error)
	// TrackEvent stores a custom event. Returns EINVALID, EUNAUTHORIZED.
	TrackEvent(ctx context.Context, site *Site, creds Credentials, ev Event) error
	// AddVisitorInfo stores contacts of the visitor. Returns EINVALID, EUNAUTHORIZED.
	AddVisitorInfo(ctx context.Context, site *Site, creds Credentials, info VisitorInfo) error
	// SetProperty sets a property of the visitor. Returns EINVALID, EUNAUTHORIZED.
	SetProperty(ctx context.Context, site *Site, creds Credentials, p Property) error
	// GetProperty returns the property, or nil when the visitor does not have it.
	// Returns EINVALID, EUNAUTHORIZED.
	GetProperty(ctx context.Context, site *Site, creds Credentials, name string) (*Property, error)
	// DeleteProperty removes the property. Returns EINVALID, EUNAUTHORIZED.
	DeleteProperty(ctx context.Context, site *Site, creds Credentials, name string) error
	// RecordLeadAction stores a show, submit or cancel of a lead form; its
	// SiteID, VisitorID and SessionID come from the site and credentials, and
	// ID and CreatedAt are set. Returns EINVALID (widget, action, data),
	// EUNAUTHORIZED, ENOTFOUND. On success the row is committed.
	RecordLeadAction(ctx context.Context, site *Site, creds Credentials, a *LeadAction) error
}

// OfflineRequestService stores leads.
type OfflineRequestService interface {
	// Create stores a lead. Attributed leads carry credentials that the caller has
	// verified; the session must belong to the site. Returns EINVALID, ENOTFOUND,
	// EUNAUTHORIZED. On success the row is committed and ID is set.
	Create(ctx context.Context, req *OfflineRequest) error
}
