package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/comagicd/comagicd/internal/callbacks"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/tracking"
)

// Callbacks takes call-back orders (callbacks.Service).
type Callbacks interface {
	// Request returns EUNAUTHORIZED for bad credentials, EINVALID for a bad
	// source or values; every other outcome is a Result.
	Request(ctx context.Context, req *callbacks.Request) (*callbacks.Result, error)
}

// callbackRoutes mounts the callback endpoint, rate limited like every
// public endpoint; nothing when Deps.Callbacks is nil.
func (h *Handler) callbackRoutes(r chi.Router, limit func(http.Handler) http.Handler) {
	if h.Callbacks == nil {
		return
	}
	r.With(limit, h.siteCORS).Options("/api/track/{site_key}/callback", h.callback) // siteCORS answers
	r.With(limit, h.siteCORS).Post("/api/track/{site_key}/callback", h.callback)
}

// callbackAnswer is the vendor's callback shape of ComagicWidget.sitePhoneCall.
type callbackAnswer struct {
	Success bool              `json:"success"`
	Result  *callbacks.Result `json:"result"`
}

// callback serves ComagicWidget.sitePhoneCall and call_generator.submit: the
// visitor's credentials and the order's parameters in every form seen in the
// wild. Only a malformed body or bad credentials get a 4xx; everything else
// is 200 with {success, result: {status, code}}.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	o, c, t, ok := h.visitorCall(w, r, "source")
	if !ok {
		return
	}
	req := &callbacks.Request{Site: siteOf(r), Creds: c, Source: t[0], IP: clientIPOf(r), Device: tracking.DeviceType(r.UserAgent())}
	var err error
	if req.HitID, err = o.id("hit_id"); err != nil {
		req.HitID = 0 // an attribution hint only
	}
	if req.Values, err = o.flatObject("values"); err != nil {
		h.fail(w, r, err)
		return
	}
	req.Phone, req.PhoneIsText = lenientText(o, "phone")
	req.CaptchaKey, _ = lenientText(o, "captcha_key")
	req.CaptchaValue, _ = lenientText(o, "captcha_value")
	req.DelayedCallTime, _ = lenientText(o, "delayed_call_time")
	req.GroupID, _ = lenientText(o, "group_id")
	res, err := h.Callbacks.Request(r.Context(), req)
	if err != nil {
		switch comagic.ErrorCode(err) {
		case comagic.EINVALID, comagic.EUNAUTHORIZED:
			h.fail(w, r, err)
			return
		}
		if r.Context().Err() == nil {
			h.Logger.Error("callback failed", "site", req.Site.ID, "err", err)
		}
		res = &callbacks.Result{Status: callbacks.StatusError, Code: callbacks.CodeInternal}
	}
	h.Metrics.Callbacks.WithLabelValues(strconv.Itoa(res.Status), res.Code).Inc()
	writeJSON(w, http.StatusOK, callbackAnswer{Success: res.Accepted(), Result: res})
}

// lenientText reads a member as text whatever came: a string as is, a number
// as its text, null or absent as "". It reports false for a boolean, an
// object or an array (their text is "").
func lenientText(o object, name string) (string, bool) {
	raw := bytes.TrimSpace(o[name])
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	switch raw[0] {
	case '"':
		s, _, err := o.optText(name)
		return s, err == nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), true
	default:
		return "", false
	}
}
