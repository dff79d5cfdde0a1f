package httpapi

import (
	"bytes"
	"net/http"

	"github.com/comagicd/comagicd/internal/comagic"
)

// leadAction records a show, submit or cancel of a lead form (SPEC §10): the
// embed script's leadAction posts the visitor's credentials with widget,
// action and an optional flat data object.
func (h *Handler) leadAction(w http.ResponseWriter, r *http.Request) {
	o, c, t, ok := h.visitorCall(w, r, "widget", "action")
	if !ok {
		return
	}
	a := &comagic.LeadAction{Widget: t[0], Action: t[1]}
	var err error
	if a.HitID, err = o.id("hit_id"); err == nil {
		a.Data, err = o.flatObject("data")
	}
	if err == nil {
		err = h.Tracking.RecordLeadAction(r.Context(), siteOf(r), c, a)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.Metrics.LeadActions.WithLabelValues(a.Widget, a.Action).Inc()
	writeJSON(w, http.StatusOK, okBody)
}

// flatObject reads an optional JSON object member (absent or null: nil), its
// numbers kept as json.Number; the service checks its values.
func (o object) flatObject(name string) (map[string]any, error) {
	raw := bytes.TrimSpace(o[name])
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if raw[0] != '{' || unmarshalObject(raw, &m) != nil {
		return nil, comagic.Invalid(name, "%s must be an object of string, number or boolean values", name)
	}
	return m, nil
}
