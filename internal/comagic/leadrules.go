package comagic

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// How often a lead rule may fire: once per session or once per visitor.
const (
	LeadOncePerSession = "session"
	LeadOncePerVisitor = "visitor"
)

// Bounds of a lead rule's conditions.
const (
	maxLeadRuleSeconds = 86400
	maxLeadRuleViews   = 10000
	maxLeadRuleURL     = 2000
	maxLeadRuleSource  = 200
)

// LeadRule decides when the embed script shows one of a site's lead forms
// (SPEC §10): every condition given must hold. The browser evaluates the
// rules; the JSON form is what the bootstrap answer carries.
type LeadRule struct {
	ID     int64  `json:"id"`
	SiteID int64  `json:"-"`
	Widget string `json:"widget"` // call_generator, offline_message_generator or personal_form
	// MinTimeOnPage and MinTimeOnSite are whole seconds on the page and since
	// the session started.
	MinTimeOnPage int `json:"min_time_on_page_s"`
	MinTimeOnSite int `json:"min_time_on_site_s"`
	// MinPageViews counts the pages viewed in the session, this one included.
	MinPageViews int `json:"min_page_views"`
	// URLPattern is a substring of the page URL; "" = any page.
	URLPattern string `json:"url_pattern"`
	// Source is the visit's utm_source or referrer domain (case-insensitive); "" = any.
	Source string `json:"source"`
	// OncePer is LeadOncePerSession or LeadOncePerVisitor.
	OncePer string `json:"once_per"`
	// OnExit holds the form back, once the other conditions hold, until the
	// visitor is about to leave the page (exit intent, judged by the page).
	OnExit    bool      `json:"on_exit"`
	Active    bool      `json:"-"`
	CreatedAt time.Time `json:"-"`
}

// Normalize trims the rule's texts, defaults OncePer to a session and checks
// every field. Returns EINVALID with the field.
func (r *LeadRule) Normalize() error {
	r.URLPattern = strings.TrimSpace(r.URLPattern)
	r.Source = strings.TrimSpace(r.Source)
	if r.OncePer == "" {
		r.OncePer = LeadOncePerSession
	}
	switch {
	case !slices.Contains(LeadWidgets[:], r.Widget):
		return Invalid("widget", "widget must be one of %s", strings.Join(LeadWidgets[:], ", "))
	case r.MinTimeOnPage < 0 || r.MinTimeOnPage > maxLeadRuleSeconds:
		return Invalid("min_time_on_page_s", "time on page must be 0..%d seconds", maxLeadRuleSeconds)
	case r.MinTimeOnSite < 0 || r.MinTimeOnSite > maxLeadRuleSeconds:
		return Invalid("min_time_on_site_s", "time on site must be 0..%d seconds", maxLeadRuleSeconds)
	case r.MinPageViews < 0 || r.MinPageViews > maxLeadRuleViews:
		return Invalid("min_page_views", "page views must be 0..%d", maxLeadRuleViews)
	case !utf8.ValidString(r.URLPattern) || utf8.RuneCountInString(r.URLPattern) > maxLeadRuleURL:
		return Invalid("url_pattern", "the URL pattern must be valid text of at most %d characters", maxLeadRuleURL)
	case !utf8.ValidString(r.Source) || utf8.RuneCountInString(r.Source) > maxLeadRuleSource:
		return Invalid("source", "the source must be valid text of at most %d characters", maxLeadRuleSource)
	case r.OncePer != LeadOncePerSession && r.OncePer != LeadOncePerVisitor:
		return Invalid("once_per", "once_per must be session or visitor")
	}
	return nil
}
