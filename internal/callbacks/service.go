package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/phone"
	"github.com/comagicd/comagicd/internal/tracking"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// Captcha checks a captcha answer and uses the captcha up (captcha.Service).
type Captcha interface {
	Check(ctx context.Context, siteID int64, key, value string) (bool, error)
}

// Publisher publishes a wake-up on a hub topic (hub.Hub).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// Deps are what a Service needs; Hub, Notify and WebhooksNotify may be nil.
type Deps struct {
	DB *pgxpool.Pool
	// Verify checks a visitor's credentials (tracking.Service.Verify).
	Verify  func(*comagic.Site, comagic.Credentials) error
	Captcha Captcha
	// Hub tells the site's operators about an accepted order.
	Hub Publisher
	// Notify wakes this node's Dispatcher after an order was stored.
	Notify func()
	// WebhooksNotify wakes this node's webhook dispatcher after events were
	// queued.
	WebhooksNotify func()
	Logger         *slog.Logger
	// Client sends synchronous scenarios' POSTs; by default one that does
	// not follow redirects.
	Client *http.Client
	// SyncTimeout bounds a synchronous scenario's POST; 2 s.
	SyncTimeout time.Duration
}

// Service takes call-back orders. It holds no mutable state.
type Service struct {
	Deps
}

// NewService returns the service on d.
func NewService(d Deps) *Service {
	if d.Client == nil {
		d.Client = noRedirectClient()
	}
	if d.SyncTimeout <= 0 {
		d.SyncTimeout = 2 * time.Second
	}
	return &Service{Deps: d}
}

func noRedirectClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Request is an order as the endpoint decoded it: texts as sent, to be
// checked and normalised by the service.
type Request struct {
	Site  *comagic.Site
	Creds comagic.Credentials
	HitID int64
	// Phone is the phone as text; PhoneIsText is false when it came as
	// another JSON type (a boolean, an object), which is no phone.
	Phone        string
	PhoneIsText  bool
	CaptchaKey   string
	CaptchaValue string
	// DelayedCallTime and GroupID are the texts of the parameters (see
	// ParseDelayedCallTime and ParseGroupID).
	DelayedCallTime string
	GroupID         string
	// Source is sitephone (when empty), consultant_sitephone or
	// call_generator.
	Source string
	// Values are the form's fields, a flat object.
	Values map[string]any
	// IP is the client's address; Device its device type (desktop, tablet,
	// mobile), which selects the sitephone settings that say whether a
	// captcha is required.
	IP     string
	Device string
}

// CaptchaRequired reports whether the site's sitephone settings for the
// device type ask for a captcha (is_captcha_enabled: true).
func CaptchaRequired(site *comagic.Site, device string) bool {
	raw, ok := site.SettingsFor(device)["sitephone"]
	if !ok {
		return false
	}
	var s struct {
		Captcha any `json:"is_captcha_enabled"`
	}
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	return s.Captcha == true
}

// scenario is the scenario an order goes to.
type scenario struct {
	ID     int64
	Mode   string
	URL    string
	Secret string
}

// Request checks and takes an order. It returns EUNAUTHORIZED (field key)
// for credentials that are not genuine and EINVALID for a bad source or
// values; every other outcome is a Result. An error of the database is
// returned as is.
func (s *Service) Request(ctx context.Context, req *Request) (*Result, error) {
	site := req.Site
	if err := s.Verify(site, req.Creds); err != nil {
		return nil, err
	}
	source := req.Source
	if source == "" {
		source = SourceSitephone
	}
	if !ValidSource(source) {
		return nil, comagic.Invalid("source", "source must be sitephone, consultant_sitephone or call_generator")
	}
	values, err := tracking.CleanLeadData(req.Values)
	if err != nil {
		return nil, comagic.Invalid("values", "values: %s", comagic.ErrorMessage(err))
	}
	if !req.PhoneIsText {
		return result(StatusError, CodeInvalidPhone), nil
	}
	digits, err := phone.Normalize(req.Phone, site.Region)
	if err != nil {
		return result(StatusError, CodeInvalidPhone), nil
	}
	now := time.Now()
	due, err := ParseDelayedCallTime(req.DelayedCallTime, now)
	if err != nil {
		return result(StatusError, CodeInvalidTime), nil
	}
	// A call asked for now while the site is closed waits for the opening.
	if site.CallSchedule != nil && !due.After(now) {
		if open := site.CallSchedule.NextOpen(now, site.Location); !open.IsZero() {
			due = open
		}
	}
	if CaptchaRequired(site, req.Device) {
		ok, err := s.Captcha.Check(ctx, site.ID, req.CaptchaKey, req.CaptchaValue)
		if err != nil {
			return nil, fmt.Errorf("callbacks: %w", err)
		}
		if !ok {
			return result(StatusWrongCaptcha, CodeWrongCaptcha), nil
		}
	}
	var ip *string
	if a, err := netip.ParseAddr(req.IP); err == nil {
		a = a.Unmap()
		if site.AnonymizeIP {
			bits := 24
			if a.Is6() {
				bits = 48
			}
			p, _ := a.Prefix(bits)
			a = p.Addr()
		}
		str := a.String()
		ip = &str
	}
	ev := Event{Payload: Payload{SiteKey: site.Key, Phone: "+" + digits, VisitorID: req.Creds.VisitorID,
		SessionID: req.Creds.SessionID, Source: source, Values: values, DueAt: due.UTC()}, SiteID: site.ID}
	var sc scenario
	var res *Result
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		res = nil
		// One order of the site at a time: the count and the insert
		// below agree on every node.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('comagicd.callbacks.' || $1::bigint, 0))`, site.ID); err != nil {
			return err
		}
		var byVisitor, byIP int
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE visitor_id = $2), count(*) FILTER (WHERE ip = $3::inet)
			FROM callbacks WHERE site_id = $1 AND created_at > clock_timestamp() - interval '1 minute'`,
			site.ID, req.Creds.VisitorID, ip).Scan(&byVisitor, &byIP); err != nil {
			return err
		}
		if byVisitor >= MaxPerMinute || byIP >= MaxPerMinute {
			res = result(StatusTooMany, CodeTooMany)
			return nil
		}
		var group *int64
		err := tx.QueryRow(ctx, `SELECT sc.id, sc.mode, sc.url, sc.secret, g.id
			FROM (SELECT $2::bigint AS gid) p
			LEFT JOIN employee_groups g ON g.id = p.gid AND g.account_id = $3
			JOIN callback_scenarios sc ON sc.site_id = $1 AND sc.active AND (sc.group_id = g.id OR sc.group_id IS NULL)
			ORDER BY sc.group_id IS NULL, sc.id LIMIT 1`, site.ID, ParseGroupID(req.GroupID), site.AccountID).
			Scan(&sc.ID, &sc.Mode, &sc.URL, &sc.Secret, &group)
		if errors.Is(err, pgx.ErrNoRows) {
			res = result(StatusNoScenario, CodeNoScenario)
			return nil
		}
		if err != nil {
			return err
		}
		ev.GroupID, ev.ScenarioID, ev.Status = group, sc.ID, StateScheduled
		var lastError *string
		if sc.Mode == ModeSync {
			// Failed until the endpoint says otherwise: a node that dies
			// during the POST leaves no order that nobody answered for.
			ev.Status = StateFailed
			msg := "synchronous dispatch under way"
			lastError = &msg
		}
		data, err := json.Marshal(values)
		if err != nil {
			return err
		}
		// created_at is the insert's own time (the lock may have waited).
		if err := tx.QueryRow(ctx, `INSERT INTO callbacks (site_id, visitor_id, session_id, hit_id, phone, group_id, source,
				scenario_id, data, ip, status, due_at, next_attempt_at, last_error, created_at)
			VALUES ($1, $2, $3, NULLIF($4, 0), $5, $6, $7, $8, $9, $10::inet, $11, $12, $12, $13, clock_timestamp())
			RETURNING id, created_at`, site.ID, req.Creds.VisitorID, req.Creds.SessionID, req.HitID, ev.Phone, group, source,
			sc.ID, data, ip, ev.Status, due, lastError).Scan(&ev.CallbackID, &ev.RequestedAt); err != nil {
			return err
		}
		ev.RequestedAt = ev.RequestedAt.UTC()
		if sc.Mode == ModeAsync {
			_, err = webhooks.Publish(ctx, tx, site.AccountID, webhooks.EventCallbackRequested, ev)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("callbacks: take order: %w", err)
	}
	if res != nil {
		return res, nil
	}
	if sc.Mode == ModeSync {
		if res, err := s.dispatchNow(ctx, site, sc, &ev); res != nil || err != nil {
			return res, err
		}
	} else if s.Notify != nil {
		s.Notify()
	}
	if s.WebhooksNotify != nil {
		s.WebhooksNotify()
	}
	s.wakeOperators(ctx, site.ID, ev.CallbackID)
	return &Result{Status: StatusAccepted, Code: CodeAccepted, CallbackID: ev.CallbackID}, nil
}

// dispatchNow POSTs the order of a synchronous scenario and records the
// outcome. It returns the failure Result when the endpoint did not accept
// the order, nil when it did.
func (s *Service) dispatchNow(ctx context.Context, site *comagic.Site, sc scenario, ev *Event) (*Result, error) {
	status, postErr := post(ctx, s.Client, s.SyncTimeout, sc.URL, sc.Secret, &ev.Payload)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ev.Attempts, ev.LastStatus = 1, status
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		if postErr == nil {
			ev.Status, ev.Attempts = StateDispatched, 0
			if err := tx.QueryRow(ctx, `UPDATE callbacks SET status = 'dispatched', dispatched_at = now(), last_status = $2, last_error = NULL
				WHERE id = $1 RETURNING dispatched_at`, ev.CallbackID, status).Scan(&ev.DispatchedAt); err != nil {
				return err
			}
			if _, err := webhooks.Publish(ctx, tx, site.AccountID, webhooks.EventCallbackRequested, ev); err != nil {
				return err
			}
			_, err := webhooks.Publish(ctx, tx, site.AccountID, webhooks.EventCallbackDispatched, ev)
			return err
		}
		ev.LastError = clip(postErr.Error())
		if _, err := tx.Exec(ctx, `UPDATE callbacks SET attempts = 1, last_status = NULLIF($2, 0), last_error = $3 WHERE id = $1`,
			ev.CallbackID, status, ev.LastError); err != nil {
			return err
		}
		_, err := webhooks.Publish(ctx, tx, site.AccountID, webhooks.EventCallbackFailed, ev)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("callbacks: record synchronous dispatch of %d: %w", ev.CallbackID, err)
	}
	if s.WebhooksNotify != nil {
		s.WebhooksNotify()
	}
	if postErr != nil {
		s.Logger.Warn("callbacks: synchronous scenario refused", "callback", ev.CallbackID, "scenario", sc.ID, "status", status, "err", postErr)
		return result(StatusError, CodeScenarioUnreachable), nil
	}
	return nil, nil
}

// wakeOperators tells the site's operators, on every node, about an order.
func (s *Service) wakeOperators(ctx context.Context, siteID, id int64) {
	if s.Hub == nil {
		return
	}
	b, _ := json.Marshal(map[string]any{"k": "callback", "site": siteID, "id": id})
	if err := s.Hub.Publish(context.WithoutCancel(ctx), chat.SiteTopic(siteID), b); err != nil {
		s.Logger.Warn("callbacks: wake operators", "site", siteID, "callback", id, "err", err)
	}
}

// maxError bounds the stored text of an error.
const maxError = 2000

// clip makes an error's text storable: valid UTF-8 without NUL, at most
// maxError bytes.
func clip(msg string) string {
	msg = strings.ReplaceAll(strings.ToValidUTF8(msg, "?"), "\x00", "")
	if len(msg) > maxError {
		msg = strings.ToValidUTF8(msg[:maxError], "")
	}
	return msg
}

// maxBodyInError bounds how much of a refusing answer's body is kept.
const maxBodyInError = 300

// post sends p to url once, signed with secret: nil for a 2xx answer, else
// the status (0 without an answer) and what went wrong.
func post(ctx context.Context, client *http.Client, timeout time.Duration, url, secret string, p *Payload) (int, error) {
	if p.Values == nil {
		p.Values = map[string]any{}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return 0, fmt.Errorf("body: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "comagicd-callbacks/1")
	req.Header.Set(webhooks.HeaderEvent, EventHeader)
	req.Header.Set(webhooks.HeaderDelivery, strconv.FormatInt(p.CallbackID, 10))
	req.Header.Set(webhooks.HeaderTimestamp, ts)
	req.Header.Set(webhooks.HeaderSignature, webhooks.Sign(secret, ts, b))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyInError))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %s: %s", resp.Status, bytes.TrimSpace(snippet))
	}
	return resp.StatusCode, nil
}
