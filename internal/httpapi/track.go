package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/comagicd/comagicd/internal/comagic"
)

// hitAnswer is what the embed script stores after a page view (SPEC §2, §3).
type hitAnswer struct {
	Success             bool   `json:"success"`
	SiteKey             string `json:"site_key"`
	Key                 string `json:"key"`
	URI                 string `json:"uri"`
	ConsultantServerURL string `json:"consultant_server_url"`
	VisitorID           int64  `json:"visitor_id"`
	SessionID           int64  `json:"session_id"`
	HitID               int64  `json:"hit_id"`
	SessionStartedAt    int64  `json:"session_started_at"`
	NewSession          bool   `json:"new_session"`
	CookieSuffix        string `json:"cookie_suffix"`
	DeviceType          string `json:"device_type"`
	// Settings holds the enabled widgets' settings for the device (bootstrap only).
	Settings map[string]json.RawMessage `json:"settings,omitempty"`
	// OperatorsOnline tells whether an operator of the site can chat now
	// (bootstrap only; Comagic.getOperatorStatus).
	OperatorsOnline *bool `json:"operators_online,omitempty"`
	// LeadRules are the site's active lead rules of the lead forms enabled in
	// Settings (bootstrap only; SPEC §10).
	LeadRules []comagic.LeadRule `json:"lead_rules,omitempty"`
	// Phones are the numbers the page shows (SPEC §9; bootstrap and hit).
	Phones []comagic.ShownPhone `json:"phones,omitempty"`
	// PhonesHeartbeatS is how often (seconds) an open page renews the
	// numbers reserved for it (POST phones/heartbeat); 0 = none reserved.
	PhonesHeartbeatS int `json:"phones_heartbeat_s,omitempty"`
}

// recordPageView is the shared body of bootstrap and hit.
func (h *Handler) recordPageView(w http.ResponseWriter, r *http.Request, withSettings bool) {
	site := siteOf(r)
	o, err := decodeJSON(w, r, maxTrackBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := o.credentials()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	t, err := o.texts("url", "title", "referrer")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var claimed *comagic.Credentials
	if c.VisitorID != 0 || c.SessionID != 0 || c.Key != "" {
		claimed = &c
	}
	hit, err := h.Tracking.RecordHit(r.Context(), site, claimed, comagic.PageView{
		URL: t[0], Title: t[1], Referrer: t[2], UserAgent: r.UserAgent(), IP: clientIPOf(r),
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.Metrics.Hits.Inc()
	if hit.NewVisitor {
		h.Metrics.NewVisitors.Inc()
	}
	if hit.NewSession {
		h.Metrics.NewSessions.Inc()
	}
	ans := hitAnswer{
		Success: true, SiteKey: site.Key, Key: hit.Key, URI: h.BaseURL, ConsultantServerURL: h.BaseURL,
		VisitorID: hit.VisitorID, SessionID: hit.SessionID, HitID: hit.HitID,
		SessionStartedAt: hit.SessionStartedAt.Unix(), NewSession: hit.NewSession,
		CookieSuffix: site.CookieSuffix(), DeviceType: hit.DeviceType,
	}
	h.phones(r, site, hit, &ans)
	if withSettings {
		ans.Settings = h.callTimes.Settings(site, hit.DeviceType, time.Now())
		online := false
		if h.Chat != nil {
			// Availability is cached for a moment per site; the chat's
			// availability frames bring every change in real time.
			if online, err = h.Chat.Service.AvailableCached(r.Context(), site.ID); err != nil {
				h.Logger.Warn("bootstrap: operator availability", "site", site.ID, "err", err)
			}
		}
		ans.OperatorsOnline = &online
		ans.LeadRules = h.leadRules(r, site, ans.Settings)
	}
	writeJSON(w, http.StatusOK, ans)
}

// leadRules returns the site's active lead rules of the widgets enabled in
// settings; nil when there are none or they cannot be read (the page then
// shows no lead form, and the rest of the answer still goes out).
func (h *Handler) leadRules(r *http.Request, site *comagic.Site, settings map[string]json.RawMessage) []comagic.LeadRule {
	if h.LeadRules == nil || len(settings) == 0 {
		return nil
	}
	all, err := h.LeadRules.Active(r.Context(), site.ID)
	if err != nil {
		h.Logger.Warn("bootstrap: lead rules", "site", site.ID, "err", err)
		return nil
	}
	var out []comagic.LeadRule
	for _, rule := range all {
		if s, ok := settings[rule.Widget]; ok && len(s) > 0 && string(s) != "null" {
			out = append(out, rule)
		}
	}
	return out
}

// bootstrap answers the one request of every page view.
func (h *Handler) bootstrap(w http.ResponseWriter, r *http.Request) { h.recordPageView(w, r, true) }

// hit records an SPA navigation (Comagic.reinitTrackView).
func (h *Handler) hit(w http.ResponseWriter, r *http.Request) { h.recordPageView(w, r, false) }

// visitorCall decodes the body of a visitor call: its credentials and the named
// text members. It answers the error itself and reports false on bad input.
func (h *Handler) visitorCall(w http.ResponseWriter, r *http.Request, names ...string) (object, comagic.Credentials, []string, bool) {
	o, err := decodeJSON(w, r, maxTrackBody)
	var c comagic.Credentials
	var t []string
	if err == nil {
		c, err = o.credentials()
	}
	if err == nil {
		t, err = o.texts(names...)
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, c, nil, false
	}
	return o, c, t, true
}

func (h *Handler) event(w http.ResponseWriter, r *http.Request) {
	o, c, t, ok := h.visitorCall(w, r, "category", "action", "name", "value")
	if !ok {
		return
	}
	hitID, err := o.id("hit_id")
	if err == nil {
		err = h.Tracking.TrackEvent(r.Context(), siteOf(r), c, comagic.Event{HitID: hitID, Category: t[0], Action: t[1], Name: t[2], Value: t[3]})
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.Metrics.Events.Inc()
	writeJSON(w, http.StatusOK, okBody)
}

func (h *Handler) visitorInfo(w http.ResponseWriter, r *http.Request) {
	_, c, t, ok := h.visitorCall(w, r, "name", "phone", "email")
	if !ok {
		return
	}
	if err := h.Tracking.AddVisitorInfo(r.Context(), siteOf(r), c, comagic.VisitorInfo{Name: t[0], Phone: t[1], Email: t[2]}); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, okBody)
}

type propertyAnswer struct {
	Success bool `json:"success"`
	Result  any  `json:"result"`
}

// property serves set, has, get and delete of visitor properties (SPEC §4).
func (h *Handler) property(w http.ResponseWriter, r *http.Request) {
	o, c, t, ok := h.visitorCall(w, r, "name")
	if !ok {
		return
	}
	site, name := siteOf(r), t[0]
	switch chi.URLParam(r, "op") {
	case "set":
		value, present, err := o.optText("value")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		p := comagic.Property{Name: name, Value: value, HasValue: present && value != ""}
		if err := h.Tracking.SetProperty(r.Context(), site, c, p); err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, okBody)
	case "delete":
		if err := h.Tracking.DeleteProperty(r.Context(), site, c, name); err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, okBody)
	case "has", "get":
		p, err := h.Tracking.GetProperty(r.Context(), site, c, name)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		var result any = p != nil
		if chi.URLParam(r, "op") == "get" && p != nil && p.HasValue {
			result = p.Value
		}
		writeJSON(w, http.StatusOK, propertyAnswer{Success: true, Result: result})
	default:
		h.fail(w, r, comagic.Errorf(comagic.ENOTFOUND, "unknown property operation %q (set, has, get, delete)", chi.URLParam(r, "op")))
	}
}

// leadAnswer is the success answer of both offline-request endpoints.
type leadAnswer struct {
	Success bool `json:"success"`
	Result  any  `json:"result"`
}

// offlineRequest serves Comagic.addOfflineRequest: a JSON (or form) body with the
// visitor's credentials and the request fields.
func (h *Handler) offlineRequest(w http.ResponseWriter, r *http.Request) {
	in, err := h.parseLead(w, r, siteOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req, err := h.Leads.Submit(r.Context(), siteOf(r), in, "browser", nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !req.Replayed {
		h.Metrics.OfflineRequests.WithLabelValues("browser").Inc()
	}
	writeJSON(w, http.StatusOK, leadAnswer{Success: true})
}
