package httpapi

import (
	"net/http"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/leads"
	"github.com/comagicd/comagicd/internal/tracking"
)

type vcAnswer struct {
	Success   bool   `json:"success"`
	SiteKey   string `json:"site_key,omitempty"`
	VisitorID int64  `json:"visitor_id,omitempty"`
	SessionID int64  `json:"session_id,omitempty"`
	HitID     string `json:"hit_id,omitempty"`
}

// vcSet is the vendor's GET /vc/s/: add a visitor's name (vn), phone (vp) and
// email (ve) by comagic_id (ci), proven by the key (k) or named by site key (sk).
// s=1 leaves the system fields out of the answer. Nothing is written unless the
// answer is 200. Without k, failed lookups are limited per site key, and every
// mismatch answers alike, so that ids cannot be guessed.
func (h *Handler) vcSet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ci, ok := tracking.ParseComagicID(q.Get("ci"))
	if !ok {
		h.fail(w, r, comagic.Invalid("ci", "ci must be <visitor_id>.<session_id>.<timestamp>"))
		return
	}
	info := comagic.VisitorInfo{Name: q.Get("vn"), Phone: q.Get("vp"), Email: q.Get("ve")}
	allow := func(site *comagic.Site) error {
		if !h.allowOrigin(w, r, site) {
			return &comagic.Error{Code: comagic.EFORBIDDEN, Field: "origin", Message: "origin is not one of the site's domains"}
		}
		return nil
	}
	var site *comagic.Site
	key := q.Get("k")
	if key == "" {
		sk := q.Get("sk")
		if sk == "" {
			h.fail(w, r, comagic.Invalid("k", "k (credentials key) or sk (site key) is required"))
			return
		}
		if h.ciFailures.blocked(r.Context(), sk) {
			h.fail(w, r, comagic.Errorf(comagic.ERATELIMITED, "too many failed ci lookups, retry in a minute"))
			return
		}
		var err error
		if site, err = h.Sites.SiteByKey(r.Context(), sk); err != nil {
			if comagic.ErrorCode(err) == comagic.ENOTFOUND {
				err = comagic.Invalid("sk", "unknown site key")
			}
			h.fail(w, r, err)
			return
		}
		if err := allow(site); err != nil {
			h.fail(w, r, err)
			return
		}
		site, err = h.Tracking.AddVisitorInfoByComagicID(r.Context(), site, "", ci, info, nil)
		if comagic.ErrorCode(err) == comagic.EUNAUTHORIZED {
			h.ciFailures.fail(r.Context(), sk)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
	} else {
		var err error
		if site, err = h.Tracking.AddVisitorInfoByComagicID(r.Context(), nil, key, ci, info, allow); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if q.Get("s") == "1" {
		writeJSON(w, http.StatusOK, okBody)
		return
	}
	writeJSON(w, http.StatusOK, vcAnswer{Success: true, SiteKey: site.Key, VisitorID: ci.VisitorID, SessionID: ci.SessionID, HitID: q.Get("hi")})
}

// addOfflineMessage is the vendor's POST /api/add_offline_message/ for site
// backends: form-encoded (also multipart or JSON) credentials and request fields.
// Error answers carry CORS headers for origins some site allows, so that a page
// can read them; a stored lead needs an origin of its own site.
func (h *Handler) addOfflineMessage(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) {
		if w.Header().Get("Access-Control-Allow-Origin") == "" {
			h.allowKnownOrigin(w, r)
		}
		h.fail(w, r, err)
	}
	in, err := h.parseLead(w, r, nil)
	if err != nil {
		fail(err)
		return
	}
	allow := func(site *comagic.Site) error {
		if !h.allowOrigin(w, r, site) {
			return &comagic.Error{Code: comagic.EFORBIDDEN, Field: "origin", Message: "origin is not one of the site's domains"}
		}
		return nil
	}
	req, err := h.Leads.Submit(r.Context(), nil, in, "api", allow)
	if err != nil {
		fail(err)
		return
	}
	if !req.Replayed {
		h.Metrics.OfflineRequests.WithLabelValues("api").Inc()
	}
	writeJSON(w, http.StatusOK, okBody)
}

// parseLead reads and checks an offline request in any encoding, with its
// idempotency key from the Idempotency-Key header or the idempotency_key field.
// site, when not nil, is the site of the path: its key is the default site_key.
func (h *Handler) parseLead(w http.ResponseWriter, r *http.Request, site *comagic.Site) (*leads.Input, error) {
	fields, err := leadFields(w, r)
	if err != nil {
		return nil, err
	}
	if _, ok := fields["site_key"]; !ok && site != nil {
		fields["site_key"] = site.Key
	}
	in, err := leads.Parse(fields)
	if err != nil {
		return nil, err
	}
	if v := r.Header.Values("Idempotency-Key"); len(v) > 0 {
		key, err := leads.IdempotencyKey("Idempotency-Key", v[0])
		if err != nil {
			return nil, err
		}
		if len(v) > 1 || (in.Request.IdempotencyKey != "" && in.Request.IdempotencyKey != key) {
			return nil, comagic.Invalid(leads.IdempotencyField, "the Idempotency-Key header and the idempotency_key field differ")
		}
		if in.Request.RequestHash == nil {
			in.Request.RequestHash = leads.RequestHash(fields)
		}
		in.Request.IdempotencyKey = key
	}
	return in, nil
}

// addOfflineMessagePreflight lets browsers post to the compatibility endpoint
// from the origins of the sites; the POST itself is then checked against its
// site's origins.
func (h *Handler) addOfflineMessagePreflight(w http.ResponseWriter, r *http.Request) {
	h.allowKnownOrigin(w, r)
	w.WriteHeader(http.StatusNoContent)
}
