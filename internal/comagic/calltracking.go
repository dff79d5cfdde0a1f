package comagic

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Selector types of a replacement group (SPEC §9): an element id, class or
// name, any CSS selector, or an original phone number found in the page text.
const (
	SelectorID          = "id"
	SelectorClass       = "class"
	SelectorName        = "name"
	SelectorCSS         = "selector"
	SelectorPhoneNumber = "phone_number"
)

// SelectorTypes lists the selector types.
var SelectorTypes = [...]string{SelectorID, SelectorClass, SelectorName, SelectorCSS, SelectorPhoneNumber}

// Kinds of number rules.
const (
	RuleStatic  = "static"
	RuleDynamic = "dynamic"
)

// MatchFields are what a number rule matches the session's traffic on: any
// session, its source (utm_source or referrer domain), one UTM tag, the
// referrer domain or a substring of the landing URL.
var MatchFields = [...]string{"any", "source", "utm_source", "utm_medium", "utm_campaign", "referrer", "landing"}

// Bounds of the reservation time of a dynamic rule, in minutes.
const (
	MinReserveMinutes = 5
	MaxReserveMinutes = 10080
)

// PhoneSelector says where a replacement group's number stands on the page.
type PhoneSelector struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// ReplacementGroup is a site's set of places that show one number.
type ReplacementGroup struct {
	ID        int64
	SiteID    int64
	Name      string
	Selectors []PhoneSelector
	// Template writes the number, e.g. "+7 (XXX) XXX-XX-XX" (X = a digit,
	// filled from the number's end); "" = the default writing.
	Template string
	// DefaultNumber is shown when no rule gives one; "" = none.
	DefaultNumber string
}

// PhoneRule picks a group's number for sessions whose traffic matches.
type PhoneRule struct {
	ID         int64
	GroupID    int64
	SiteID     int64
	Kind       string // RuleStatic or RuleDynamic
	MatchField string // one of MatchFields
	MatchValue string
	// Number is a static rule's number.
	Number string
	// ReserveMinutes is how long a dynamic rule's number stays with a
	// session after its last sign of life.
	ReserveMinutes int
}

// CallTrackingConfig is what a site's pages need to pick numbers: its groups
// and their rules, in the order they are tried.
type CallTrackingConfig struct {
	Groups []ReplacementGroup
	Rules  map[int64][]PhoneRule // by group id: dynamic rules first, then static, oldest first
}

// Empty reports whether the site replaces no number.
func (c *CallTrackingConfig) Empty() bool { return c == nil || len(c.Groups) == 0 }

// Normalize trims and checks the group. Phone numbers (DefaultNumber and
// phone_number selectors) must already be digits (see phone.Normalize).
// Returns EINVALID naming the field.
func (g *ReplacementGroup) Normalize() error {
	g.Name = strings.TrimSpace(g.Name)
	g.Template = strings.TrimSpace(g.Template)
	switch {
	case g.Name == "" || !utf8.ValidString(g.Name) || utf8.RuneCountInString(g.Name) > 200:
		return Invalid("name", "the group name is required, at most 200 characters")
	case !utf8.ValidString(g.Template) || utf8.RuneCountInString(g.Template) > 100:
		return Invalid("template", "the template must be at most 100 characters")
	case g.Template != "" && !strings.Contains(strings.ToUpper(g.Template), "X"):
		return Invalid("template", "the template must contain X for the digits, e.g. +7 (XXX) XXX-XX-XX")
	case g.DefaultNumber != "" && !IsPhoneDigits(g.DefaultNumber):
		return Invalid("default_number", "the default number must be 8 to 15 digits")
	case len(g.Selectors) == 0:
		return Invalid("selector", "at least one selector is required")
	case len(g.Selectors) > 50:
		return Invalid("selector", "at most 50 selectors")
	}
	for i := range g.Selectors {
		s := &g.Selectors[i]
		s.Type, s.Value = strings.TrimSpace(s.Type), strings.TrimSpace(s.Value)
		switch {
		case !slices.Contains(SelectorTypes[:], s.Type):
			return Invalid("selector", "selector type %q: must be one of %s", s.Type, strings.Join(SelectorTypes[:], ", "))
		case s.Value == "" || !utf8.ValidString(s.Value) || len(s.Value) > 300:
			return Invalid("selector", "a %s selector needs a value of at most 300 bytes", s.Type)
		case s.Type == SelectorPhoneNumber && !IsPhoneDigits(s.Value):
			return Invalid("selector", "a phone_number selector needs the number as 8 to 15 digits")
		case (s.Type == SelectorID || s.Type == SelectorClass || s.Type == SelectorName) && strings.ContainsAny(s.Value, " \t\r\n\"'[]#.<>"):
			return Invalid("selector", "%s %q: give the bare %s, without # . [ ] quotes or spaces", s.Type, s.Value, s.Type)
		}
	}
	return nil
}

// Normalize trims and checks the rule. Returns EINVALID naming the field.
func (r *PhoneRule) Normalize() error {
	r.MatchValue = strings.TrimSpace(r.MatchValue)
	if r.MatchField == "" {
		r.MatchField = "any"
	}
	switch {
	case r.Kind != RuleStatic && r.Kind != RuleDynamic:
		return Invalid("kind", "kind must be static or dynamic")
	case !slices.Contains(MatchFields[:], r.MatchField):
		return Invalid("match", "match must be one of %s", strings.Join(MatchFields[:], ", "))
	case r.MatchField != "any" && r.MatchValue == "":
		return Invalid("value", "matching on %s needs a value", r.MatchField)
	case r.MatchField == "any" && r.MatchValue != "":
		return Invalid("value", "match any takes no value")
	case !utf8.ValidString(r.MatchValue) || utf8.RuneCountInString(r.MatchValue) > 500:
		return Invalid("value", "the value must be at most 500 characters")
	case r.Kind == RuleStatic && !IsPhoneDigits(r.Number):
		return Invalid("number", "a static rule needs its number as 8 to 15 digits")
	case r.Kind == RuleDynamic && (r.ReserveMinutes < MinReserveMinutes || r.ReserveMinutes > MaxReserveMinutes):
		return Invalid("reserve_phone_numbers_time", "reserve_phone_numbers_time must be %d..%d minutes", MinReserveMinutes, MaxReserveMinutes)
	}
	if r.Kind == RuleDynamic {
		r.Number = ""
	} else {
		r.ReserveMinutes = 0
	}
	return nil
}

// Matches reports whether a session with the source and landing URL falls
// under the rule (case-insensitive; "source" is utm_source or the referrer
// domain, "referrer" a referrer domain ending, "landing" a URL substring).
func (r *PhoneRule) Matches(src Source, landing string) bool {
	v := strings.ToLower(r.MatchValue)
	eq := func(s string) bool { return strings.ToLower(s) == v }
	refMatch := func() bool {
		d := strings.ToLower(src.ReferrerDomain)
		return d != "" && (d == v || strings.HasSuffix(d, "."+v))
	}
	switch r.MatchField {
	case "any":
		return true
	case "source":
		return eq(src.UTMSource) || refMatch()
	case "utm_source":
		return eq(src.UTMSource)
	case "utm_medium":
		return eq(src.UTMMedium)
	case "utm_campaign":
		return eq(src.UTMCampaign)
	case "referrer":
		return refMatch()
	case "landing":
		return strings.Contains(strings.ToLower(landing), v)
	}
	return false
}

// IsPhoneDigits reports whether s is a stored phone number: 8 to 15 digits.
func IsPhoneDigits(s string) bool {
	if len(s) < 8 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PhoneClaim asks storage to reserve a free number of a dynamic rule's pool
// for a new visitor's session in the transaction of the page view.
type PhoneClaim struct {
	RuleID, SiteID int64
	ReserveMinutes int
	// Done says storage claimed: Number is the number, "" when the pool
	// was exhausted. Not done: the page view did not start a new visitor.
	Done   bool
	Number string
}

// ShownPhone is one place of the page and the number it shows (the bootstrap
// answer's "phones", the shape of Comagic.getPhones plus what the script
// needs to find the place).
type ShownPhone struct {
	// ID is "#x", ".x", "[name=x]", the CSS selector, or "number=DIGITS".
	ID    string  `json:"id"`
	Type  string  `json:"type"`
	Value string  `json:"value"`
	Img   *string `json:"img"`
	Text  string  `json:"text"`
	Raw   string  `json:"raw"`
	// DT marks a number of a dynamic pool reserved for the visitor.
	DT bool `json:"dt"`
}

// CallAttribution is what a call is attributed to: the session that held
// the called number when the call started.
type CallAttribution struct {
	SiteID         int64          `json:"site_id"`
	SiteKey        string         `json:"site_key"`
	ReservationID  int64          `json:"reservation_id"`
	VisitorID      int64          `json:"visitor_id"`
	SessionID      int64          `json:"session_id"`
	UTMSource      string         `json:"utm_source"`
	UTMMedium      string         `json:"utm_medium"`
	UTMCampaign    string         `json:"utm_campaign"`
	UTMTerm        string         `json:"utm_term"`
	UTMContent     string         `json:"utm_content"`
	Referrer       string         `json:"referrer"`
	ReferrerDomain string         `json:"referrer_domain"`
	LandingURL     string         `json:"landing_url"`
	SessionStarted time.Time      `json:"session_started_at"`
	Properties     map[string]any `json:"properties"` // value, or true for a flag without value
}

// Call is a phone call reported by the telephony (POST /api/v1/calls).
type Call struct {
	ID           int64     `json:"id"`
	CalledNumber string    `json:"called_number"`
	CallerNumber string    `json:"caller_number"`
	StartedAt    time.Time `json:"started_at"`
	Duration     *int      `json:"duration,omitempty"`
	RecordURL    string    `json:"record_url,omitempty"`
	PBXCallID    string    `json:"pbx_call_id,omitempty"`
	// SiteID is the site of the called number when it is in a pool, 0 else.
	SiteID int64 `json:"site_id,omitempty"`
	// Attribution is nil for a call to a number nobody held at the time.
	Attribution *CallAttribution `json:"attribution"`
	CreatedAt   time.Time        `json:"created_at"`
}
