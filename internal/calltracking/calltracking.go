// Package calltracking decides which phone numbers a page view shows (SPEC
// §9): per replacement group, a number reserved from a dynamic rule's pool,
// else a static rule's number, else the group's default. It keeps the
// reservations alive (hits and the page's heartbeat), and attributes the
// calls the telephony reports to the session that held the called number.
package calltracking

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/metrics"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/phone"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// Store is the storage of call tracking (postgres.CallTracking).
type Store interface {
	Config(ctx context.Context, siteID int64) (*comagic.CallTrackingConfig, error)
	Reserve(ctx context.Context, rule *comagic.PhoneRule, visitorID, sessionID int64, newVisitor bool, now time.Time) (string, error)
	Renew(ctx context.Context, siteID, sessionID int64, now time.Time) (int64, error)
	AccountByAPIToken(ctx context.Context, hash []byte) (int64, error)
	RecordCall(ctx context.Context, accountID int64, c *comagic.Call, dedupe string, onInsert func(ctx context.Context, tx pgx.Tx) error) (bool, error)
	Calls(ctx context.Context, accountID int64, f postgres.CallFilter) ([]comagic.Call, error)
}

// Service is call tracking.
type Service struct {
	store   Store
	verify  func(*comagic.Site, comagic.Credentials) error
	metrics *metrics.Metrics
	notify  func() // wakes the webhook dispatcher; may be nil
	log     *slog.Logger
	now     func() time.Time
}

// NewService returns call tracking on store; verify checks a visitor's
// credentials (tracking.Service.Verify), notify wakes the local webhook
// dispatcher after a call was published (may be nil).
func NewService(store Store, verify func(*comagic.Site, comagic.Credentials) error, m *metrics.Metrics, notify func(), log *slog.Logger) *Service {
	return &Service{store: store, verify: verify, metrics: m, notify: notify, log: log, now: time.Now}
}

// Phones are the numbers of a page view: the bootstrap and hit answers'
// "phones", and how often the page should say it is still open while it
// shows a reserved number (0: no reserved number).
type Phones struct {
	List       []comagic.ShownPhone
	HeartbeatS int
}

// maxHeartbeat bounds the heartbeat period; a reservation lasts at least
// comagic.MinReserveMinutes, so a page renews it a few times before then.
const maxHeartbeat = 120

// ForHit returns the numbers the page view shows; nil when the site replaces
// none. Numbers of dynamic pools are reserved for the session (or the
// visitor's reservation kept); an exhausted pool falls through to the
// group's static rules and default number.
func (s *Service) ForHit(ctx context.Context, site *comagic.Site, hit *comagic.Hit) (*Phones, error) {
	cfg, err := s.store.Config(ctx, site.ID)
	if err != nil || cfg.Empty() {
		return nil, err
	}
	out := &Phones{}
	for _, g := range cfg.Groups {
		number, dt := "", false
		for i := range cfg.Rules[g.ID] {
			r := &cfg.Rules[g.ID][i]
			if !r.Matches(hit.Source, hit.LandingURL) {
				continue
			}
			if r.Kind == comagic.RuleStatic {
				number = r.Number
				break
			}
			n, err := s.reserve(ctx, r, hit)
			if err != nil {
				return nil, err
			}
			if n == "" {
				s.metrics.PoolExhausted.Inc()
				continue
			}
			number, dt = n, true
			s.metrics.PhoneReservations.WithLabelValues(outcome(hit)).Inc()
			hb := min(r.ReserveMinutes*60/3, maxHeartbeat)
			if out.HeartbeatS == 0 || hb < out.HeartbeatS {
				out.HeartbeatS = hb
			}
			break
		}
		if number == "" {
			number = g.DefaultNumber
		}
		if number == "" {
			continue
		}
		text := Format(number, g.Template)
		for _, sel := range g.Selectors {
			out.List = append(out.List, comagic.ShownPhone{ID: selectorID(sel), Type: sel.Type, Value: sel.Value, Text: text, Raw: number, DT: dt})
		}
	}
	return out, nil
}

// reserve returns the rule's number for the page view: the one claimed in
// its transaction (a new visitor), else the visitor's own or a free one.
func (s *Service) reserve(ctx context.Context, r *comagic.PhoneRule, hit *comagic.Hit) (string, error) {
	for _, c := range hit.Claims {
		if c.RuleID == r.ID && c.Done {
			return c.Number, nil
		}
	}
	return s.store.Reserve(ctx, r, hit.VisitorID, hit.SessionID, hit.NewVisitor, hit.At)
}

// Claims returns what a page view that starts a new visitor claims in its
// own transaction: per replacement group, a number of the first dynamic rule
// matching the page view's source and URL (tracking.Service.PhoneClaims).
// A site without dynamic rules, or whose configuration cannot be read now,
// claims nothing (ForHit then reserves on its own).
func (s *Service) Claims(ctx context.Context, site *comagic.Site, src comagic.Source, landing string) []*comagic.PhoneClaim {
	cfg, err := s.store.Config(ctx, site.ID)
	if err != nil || cfg.Empty() {
		return nil
	}
	var out []*comagic.PhoneClaim
	for _, g := range cfg.Groups {
		for i := range cfg.Rules[g.ID] {
			r := &cfg.Rules[g.ID][i]
			if !r.Matches(src, landing) {
				continue
			}
			if r.Kind == comagic.RuleDynamic {
				out = append(out, &comagic.PhoneClaim{RuleID: r.ID, SiteID: site.ID, ReserveMinutes: r.ReserveMinutes})
			}
			break
		}
	}
	return out
}

func outcome(hit *comagic.Hit) string {
	if hit.NewSession {
		return "claimed"
	}
	return "kept"
}

// selectorID is the id of Comagic.getPhones for a selector: "#x", ".x",
// "[name=x]", "number=DIGITS" or the CSS selector itself.
func selectorID(s comagic.PhoneSelector) string {
	switch s.Type {
	case comagic.SelectorID:
		return "#" + s.Value
	case comagic.SelectorClass:
		return "." + s.Value
	case comagic.SelectorName:
		return "[name=" + s.Value + "]"
	case comagic.SelectorPhoneNumber:
		return "number=" + s.Value
	}
	return s.Value
}

// Format writes the digits raw with the template: each X (or x) takes the
// next digit of the last as many digits of raw as the template has X's. An
// empty template, or one with more X's than raw has digits, gives
// "+7 (495) 123-45-67" for 11-digit numbers of +7 and "+<digits>" else.
func Format(raw, template string) string {
	n := strings.Count(strings.ToUpper(template), "X")
	if n == 0 || n > len(raw) {
		if len(raw) == 11 && raw[0] == '7' {
			template, n = "+7 (XXX) XXX-XX-XX", 10
		} else {
			return "+" + raw
		}
	}
	digits := raw[len(raw)-n:]
	var b strings.Builder
	for _, r := range template {
		if r == 'X' || r == 'x' {
			b.WriteByte(digits[0])
			digits = digits[1:]
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Heartbeat renews the reservations of the visitor's session while its page
// is open. Returns EUNAUTHORIZED for bad credentials.
func (s *Service) Heartbeat(ctx context.Context, site *comagic.Site, creds comagic.Credentials) (int64, error) {
	if err := s.verify(site, creds); err != nil {
		return 0, err
	}
	return s.store.Renew(ctx, site.ID, creds.SessionID, s.now())
}

// Authenticate returns the account of an API token. Returns EUNAUTHORIZED for
// a malformed, unknown or revoked token.
func (s *Service) Authenticate(ctx context.Context, token string) (int64, error) {
	bad := comagic.Errorf(comagic.EUNAUTHORIZED, "invalid or revoked API token")
	if !operators.WellFormedToken(token) {
		return 0, bad
	}
	id, err := s.store.AccountByAPIToken(ctx, operators.HashToken(token))
	if comagic.ErrorCode(err) == comagic.ENOTFOUND {
		return 0, bad
	}
	return id, err
}

// CallInput is a call as the telephony reports it, texts as received.
type CallInput struct {
	CalledNumber, CallerNumber, StartedAt, Duration, RecordURL, PBXCallID string
}

// How far a reported call's start may lie from now.
const (
	maxCallAge    = 366 * 24 * time.Hour
	maxCallFuture = 24 * time.Hour
)

// Parse checks the input and returns the call to store and its dedupe key.
// Returns EINVALID naming the field.
func (s *Service) Parse(in CallInput) (*comagic.Call, string, error) {
	c := &comagic.Call{}
	var err error
	if c.CalledNumber, err = phone.Normalize(in.CalledNumber, "RU"); err != nil {
		return nil, "", comagic.Invalid("called_number", "called_number %q is not a phone number", clip(in.CalledNumber))
	}
	if c.CallerNumber, err = callerNumber(in.CallerNumber); err != nil {
		return nil, "", err
	}
	if c.StartedAt, err = parseTime(in.StartedAt); err != nil {
		return nil, "", err
	}
	now := s.now()
	if c.StartedAt.Before(now.Add(-maxCallAge)) || c.StartedAt.After(now.Add(maxCallFuture)) {
		return nil, "", comagic.Invalid("started_at", "started_at must lie within the last year and not more than a day ahead")
	}
	c.StartedAt = c.StartedAt.UTC()
	if in.Duration != "" {
		d, err := strconv.Atoi(in.Duration)
		if err != nil || d < 0 || d > 7*86400 {
			return nil, "", comagic.Invalid("duration", "duration must be whole seconds, 0..604800")
		}
		c.Duration = &d
	}
	if in.RecordURL != "" {
		u, err := url.Parse(in.RecordURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(in.RecordURL) > 2000 {
			return nil, "", comagic.Invalid("record_url", "record_url must be an http(s) URL of at most 2000 bytes")
		}
		c.RecordURL = in.RecordURL
	}
	c.PBXCallID = strings.TrimSpace(in.PBXCallID)
	if !utf8.ValidString(c.PBXCallID) || len(c.PBXCallID) > 200 {
		return nil, "", comagic.Invalid("pbx_call_id", "pbx_call_id must be text of at most 200 bytes")
	}
	dedupe := "pbx:" + c.PBXCallID
	if c.PBXCallID == "" {
		dedupe = fmt.Sprintf("t:%s|%s|%d", c.CalledNumber, c.CallerNumber, c.StartedAt.Unix())
	}
	return c, dedupe, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// callerNumber normalises a caller's phone; short or internal numbers
// (digits, + * #) are kept as given.
func callerNumber(s string) (string, error) {
	s = strings.TrimSpace(s)
	if p, err := phone.Normalize(s, "RU"); err == nil {
		return p, nil
	}
	if s == "" || len(s) > 32 || strings.Trim(s, "0123456789+*#") != "" {
		return "", comagic.Invalid("caller_number", "caller_number must be a phone number")
	}
	return s, nil
}

// parseTime reads RFC 3339 or unix seconds.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1<<40 {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, comagic.Invalid("started_at", "started_at must be RFC 3339 time (2026-01-02T15:04:05Z) or unix seconds")
}

// CallData is the data of the call.created webhook event.
type CallData struct {
	AccountID int64 `json:"account_id"`
	comagic.Call
}

// RecordCall attributes and stores a call of the account (once per PBX call
// id, or per called number, caller and start time) and publishes call.created
// to the account's webhooks in the same transaction. It reports whether the
// call was new. Returns EINVALID naming the field.
func (s *Service) RecordCall(ctx context.Context, accountID int64, in CallInput) (*comagic.Call, bool, error) {
	c, dedupe, err := s.Parse(in)
	if err != nil {
		return nil, false, err
	}
	queued := int64(0)
	created, err := s.store.RecordCall(ctx, accountID, c, dedupe, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		queued, err = webhooks.Publish(ctx, tx, accountID, webhooks.EventCallCreated, CallData{AccountID: accountID, Call: *c})
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if created {
		s.metrics.Calls.WithLabelValues(strconv.FormatBool(c.Attribution != nil)).Inc()
		if queued > 0 && s.notify != nil {
			s.notify()
		}
	}
	return c, created, nil
}

// Calls returns the account's calls by the filter; Limit defaults to 100
// and is capped at 1000.
func (s *Service) Calls(ctx context.Context, accountID int64, f postgres.CallFilter) ([]comagic.Call, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	return s.store.Calls(ctx, accountID, f)
}

// ReservationsKept is how long reservation history stays for attributing
// calls reported late and for reports.
const ReservationsKept = 180 * 24 * time.Hour

// Purger deletes old reservation history (postgres.CallTracking).
type Purger interface {
	PurgeReservations(ctx context.Context, before time.Time) (int64, error)
}

// Purge deletes reservation history older than ReservationsKept.
func Purge(ctx context.Context, p Purger) (int64, error) {
	return p.PurgeReservations(ctx, time.Now().Add(-ReservationsKept))
}
