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
// s=1 leaves the system fields out of the answer.
func (h *Handler) vcSet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ci, ok := tracking.ParseComagicID(q.Get("ci"))
	if !ok {
		h.fail(w, r, comagic.Invalid("ci", "ci must be <visitor_id>.<session_id>.<timestamp>"))
		return
	}
	var site *comagic.Site
	key := q.Get("k")
	if key == "" {
		if q.Get("sk") == "" {
			h.fail(w, r, comagic.Invalid("k", "k (credentials key) or sk (site key) is required"))
			return
		}
		var err error
		if site, err = h.Sites.SiteByKey(r.Context(), q.Get("sk")); err != nil {
			h.fail(w, r, comagic.Invalid("sk", "unknown site key"))
			return
		}
		if !h.allowOrigin(w, r, site) {
			h.fail(w, r, &comagic.Error{Code: comagic.EFORBIDDEN, Field: "origin", Message: "origin is not one of the site's domains"})
			return
		}
	}
	site, err := h.Tracking.AddVisitorInfoByComagicID(r.Context(), site, key, ci, comagic.VisitorInfo{
		Name: q.Get("vn"), Phone: q.Get("vp"), Email: q.Get("ve"),
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if key != "" && !h.allowOrigin(w, r, site) {
		// Stored already: a foreign page learns nothing, it only cannot read the answer.
		writeJSON(w, http.StatusForbidden, errorBody(&comagic.Error{Code: comagic.EFORBIDDEN, Field: "origin", Message: "origin is not one of the site's domains"}))
		return
	}
	if q.Get("s") == "1" {
		writeJSON(w, http.StatusOK, okBody)
		return
	}
	writeJSON(w, http.StatusOK, vcAnswer{Success: true, SiteKey: site.Key, VisitorID: ci.VisitorID, SessionID: ci.SessionID, HitID: q.Get("hi")})
}

// addOfflineMessage is the vendor's POST /api/add_offline_message/ for site
// backends: form-encoded (also multipart or JSON) credentials and request fields.
func (h *Handler) addOfflineMessage(w http.ResponseWriter, r *http.Request) {
	fields, err := leadFields(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	in, err := leads.Parse(fields)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	allow := func(site *comagic.Site) error {
		if !h.allowOrigin(w, r, site) {
			return &comagic.Error{Code: comagic.EFORBIDDEN, Field: "origin", Message: "origin is not one of the site's domains"}
		}
		return nil
	}
	if _, err := h.Leads.Submit(r.Context(), nil, in, "api", allow); err != nil {
		h.fail(w, r, err)
		return
	}
	h.Metrics.OfflineRequests.WithLabelValues("api").Inc()
	writeJSON(w, http.StatusOK, okBody)
}

// addOfflineMessagePreflight lets browsers post to the compatibility endpoint;
// the POST itself is then checked against the site's origins.
func (h *Handler) addOfflineMessagePreflight(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Vary", "Origin")
	}
	w.WriteHeader(http.StatusNoContent)
}
