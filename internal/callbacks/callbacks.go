// Package callbacks takes the call-back orders of the sitephone and the call
// generator (SPEC §8, §10) and hands them to the site's callback scenario: a
// signed HTTP POST to the site's PBX or integration.
//
// Service.Request answers an order with the vendor's statuses: 0 accepted,
// 1 wrong or missing captcha (when the site's sitephone settings enable
// one), 2 no scenario for the site or group, 3 platform error (a phone that is
// not one, a synchronous scenario that cannot be reached), 4 more than
// MaxPerMinute orders in a minute by the visitor or from the client's
// address (counted in PostgreSQL under a per-site lock, so every node agrees).
//
// A scenario is asynchronous or synchronous. An asynchronous scenario's
// orders are stored as scheduled for their delayed_call_time (or now) and
// POSTed by a Dispatcher on any node: due rows are claimed with FOR UPDATE
// SKIP LOCKED under a lease, a failed attempt is retried with backoff
// (5 s, 30 s, 2 min, 2 min) and the order fails after MaxAttempts. A
// synchronous scenario is POSTed at once, while the visitor waits (at most
// SyncTimeout): the PBX answers at accept time, and the order is accepted
// only when it answers 2xx, status 3 "scenario_unreachable" otherwise.
//
// The POST's body is the JSON Payload; its headers are the webhooks' (see
// package webhooks): X-Comagicd-Event "callback", X-Comagicd-Delivery (the
// callback id, for deduplication), X-Comagicd-Timestamp and
// X-Comagicd-Signature, signed with the scenario's secret; webhooks.Verify
// checks them. The account's webhooks receive callback.requested at accept,
// callback.dispatched and callback.failed, in the transaction of the change.
// Operators of the site get a hub wake {"k":"callback","site":S,"id":ID} on
// chat.SiteTopic at accept.
package callbacks

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
)

// The statuses of an answer (result.status).
const (
	StatusAccepted     = 0
	StatusWrongCaptcha = 1
	StatusNoScenario   = 2
	StatusError        = 3
	StatusTooMany      = 4
)

// The codes of an answer (result.code).
const (
	CodeAccepted            = "accepted"
	CodeWrongCaptcha        = "wrong_captcha"
	CodeNoScenario          = "no_scenario"
	CodeInvalidPhone        = "invalid_phone"
	CodeInvalidTime         = "invalid_delayed_call_time"
	CodeScenarioUnreachable = "scenario_unreachable"
	CodeInternal            = "internal_error"
	CodeTooMany             = "too_many_calls"
)

// The sources of an order.
const (
	SourceSitephone           = "sitephone"
	SourceConsultantSitephone = "consultant_sitephone"
	SourceCallGenerator       = "call_generator"
)

// The modes of a scenario.
const (
	ModeAsync = "async"
	ModeSync  = "sync"
)

// The states of a callback.
const (
	StateScheduled  = "scheduled"
	StateDispatched = "dispatched"
	StateFailed     = "failed"
)

// MaxPerMinute is how many orders a visitor, and a client address, may
// place on a site within a minute; the next one gets StatusTooMany.
const MaxPerMinute = 10

// MaxDelay is how far ahead delayed_call_time may be.
const MaxDelay = 31 * 24 * time.Hour

// EventHeader is the X-Comagicd-Event of a scenario's POST.
const EventHeader = "callback"

// Result is the answer to an order: {status, code} and, when accepted, the
// callback's id.
type Result struct {
	Status     int    `json:"status"`
	Code       string `json:"code"`
	CallbackID int64  `json:"callback_id,omitempty"`
}

// Accepted reports whether the order was accepted.
func (r *Result) Accepted() bool { return r.Status == StatusAccepted }

func result(status int, code string) *Result { return &Result{Status: status, Code: code} }

// ValidSource reports whether s is one of the sources of an order.
func ValidSource(s string) bool {
	return s == SourceSitephone || s == SourceConsultantSitephone || s == SourceCallGenerator
}

// blank reports whether an optional parameter sent as text means "not given".
func blank(s string) bool {
	switch strings.ToLower(s) {
	case "", "0", "null", "undefined", "false", "nan":
		return true
	}
	return false
}

// ParseGroupID reads group_id as sent in the wild: a number or numeric text;
// absent, 0, null, "" or anything that is not a positive integer is 0 (no
// group: the site's default scenario).
func ParseGroupID(raw string) int64 {
	raw = strings.TrimSpace(raw)
	if blank(raw) {
		return 0
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return max(n, 0)
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f != math.Trunc(f) || f <= 0 || f > 1<<53 {
		return 0
	}
	return int64(f)
}

// ParseDelayedCallTime reads delayed_call_time: milliseconds since the epoch
// (UTC) as a number or text, or an RFC 3339 time. Absent, 0, null and "" mean
// now, and so does a time in the past. It returns EINVALID naming
// delayed_call_time for text that is no time or a time more than MaxDelay
// after now.
func ParseDelayedCallTime(raw string, now time.Time) (time.Time, error) {
	raw = strings.TrimSpace(raw)
	if blank(raw) {
		return now, nil
	}
	var t time.Time
	if f, err := strconv.ParseFloat(raw, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
			return time.Time{}, comagic.Invalid("delayed_call_time", "delayed_call_time is not a time")
		}
		t = time.UnixMilli(int64(f))
	} else if t, err = time.Parse(time.RFC3339, raw); err != nil {
		return time.Time{}, comagic.Invalid("delayed_call_time", "delayed_call_time must be milliseconds since 1970 (UTC)")
	}
	if t.Before(now) {
		return now, nil
	}
	if t.Sub(now) > MaxDelay {
		return time.Time{}, comagic.Invalid("delayed_call_time", "delayed_call_time is more than %d days ahead", int(MaxDelay/(24*time.Hour)))
	}
	return t, nil
}

// Payload is the JSON body of a scenario's POST.
type Payload struct {
	CallbackID int64  `json:"callback_id"`
	SiteKey    string `json:"site_key"`
	Phone      string `json:"phone"` // E.164
	// GroupID is the operators' group asked for; null for the default.
	GroupID     *int64         `json:"group_id"`
	VisitorID   int64          `json:"visitor_id"`
	SessionID   int64          `json:"session_id"`
	Source      string         `json:"source"`
	Values      map[string]any `json:"values"`
	RequestedAt time.Time      `json:"requested_at"`
	DueAt       time.Time      `json:"due_at"`
}

// Event is the data of the webhook events callback.requested,
// callback.dispatched and callback.failed: the payload and the state.
type Event struct {
	Payload
	SiteID       int64      `json:"site_id"`
	ScenarioID   int64      `json:"scenario_id"`
	Status       string     `json:"status"` // scheduled, dispatched, failed
	Attempts     int        `json:"attempts"`
	LastStatus   int        `json:"last_status,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	DispatchedAt *time.Time `json:"dispatched_at"`
}
