package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/workstation"
)

// maxWorkstationBody bounds the bodies of the workstation's edits.
const maxWorkstationBody = 16 << 10

// workstationRoutes mounts the workstation's endpoints on an authenticated
// /api/operator router (api/openapi.yaml, tag workstation).
func (h *Handler) workstationRoutes(r chi.Router) {
	if h.Workstation == nil {
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(h.sameOrigin)
		r.Get("/directory", h.wsDirectory)
		r.Get("/visitors/live", h.wsLiveVisitors)
		r.Get("/visitors/{visitor_id}", h.wsVisitorCard)
		r.Patch("/visitors/{visitor_id}", h.wsEditVisitor)
		r.Get("/offline_requests", h.wsOfflineRequests)
		r.Post("/offline_requests/{id}/processed", h.wsMarkOfflineRequest)
		r.Get("/callbacks", h.wsCallbacks)
		r.Post("/callbacks/{id}/processed", h.wsMarkCallback)
	})
}

// operatorOf is the request's operator as the workstation service takes it.
func operatorOf(r *http.Request) *workstation.Operator {
	p := operators.FromContext(r.Context())
	return &workstation.Operator{EmployeeID: p.EmployeeID, AccountID: p.AccountID, HasSite: p.HasSite, SiteIDs: p.SiteIDs}
}

// positiveParam parses a positive integer; "" is 0 unless required.
func positiveParam(name, s string, required bool) (int64, error) {
	if s == "" {
		if required {
			return 0, comagic.Invalid(name, "%s is required", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, comagic.Invalid(name, "%s must be a positive integer", name)
	}
	return n, nil
}

func querySite(r *http.Request) (int64, error) {
	return positiveParam("site_id", r.URL.Query().Get("site_id"), true)
}

func (h *Handler) wsDirectory(w http.ResponseWriter, r *http.Request) {
	d, err := h.Workstation.Directory(r.Context(), operatorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success bool `json:"success"`
		*workstation.Directory
	}{true, d})
}

func (h *Handler) wsLiveVisitors(w http.ResponseWriter, r *http.Request) {
	site, err := querySite(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	limit, err := positiveParam("limit", r.URL.Query().Get("limit"), false)
	if err == nil && limit > workstation.MaxLive {
		err = comagic.Invalid("limit", "limit must be between 1 and %d", workstation.MaxLive)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.Workstation.LiveVisitors(r.Context(), operatorOf(r), site, int(limit))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success  bool                      `json:"success"`
		Visitors []workstation.LiveVisitor `json:"visitors"`
	}{true, list})
}

func (h *Handler) writeCard(w http.ResponseWriter, c *workstation.Card) {
	writeJSON(w, http.StatusOK, struct {
		Success bool              `json:"success"`
		Visitor *workstation.Card `json:"visitor"`
	}{true, c})
}

// visitorTarget reads site_id and the path's visitor_id.
func visitorTarget(r *http.Request) (site, visitor int64, err error) {
	if site, err = querySite(r); err != nil {
		return 0, 0, err
	}
	visitor, err = positiveParam("visitor_id", chi.URLParam(r, "visitor_id"), true)
	return site, visitor, err
}

func (h *Handler) wsVisitorCard(w http.ResponseWriter, r *http.Request) {
	site, visitor, err := visitorTarget(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.Workstation.Card(r.Context(), operatorOf(r), site, visitor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeCard(w, c)
}

// stringList reads a member that must be an array of strings; absent and
// null are nil.
func (o object) stringList(name string) ([]string, error) {
	raw, ok := o[name]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	list := []string{}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, comagic.Invalid(name, "%s must be an array of strings", name)
	}
	return list, nil
}

func (h *Handler) wsEditVisitor(w http.ResponseWriter, r *http.Request) {
	site, visitor, err := visitorTarget(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := decodeJSON(w, r, maxWorkstationBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var c workstation.Contacts
	if raw, ok := o["name"]; ok && string(bytes.TrimSpace(raw)) != "null" {
		var name string
		if json.Unmarshal(raw, &name) != nil {
			h.fail(w, r, comagic.Invalid("name", "name must be a string"))
			return
		}
		c.Name = &name
	}
	if c.Emails, err = o.stringList("emails"); err == nil {
		c.Phones, err = o.stringList("phones")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	card, err := h.Workstation.EditContacts(r.Context(), operatorOf(r), site, visitor, c)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeCard(w, card)
}

// listFilter reads site_id, processed, q, before and limit.
func listFilter(r *http.Request) (workstation.Filter, error) {
	q := r.URL.Query()
	var f workstation.Filter
	var err error
	if f.SiteID, err = querySite(r); err != nil {
		return f, err
	}
	switch p := q.Get("processed"); p {
	case "":
	case "true", "false":
		v := p == "true"
		f.Processed = &v
	default:
		return f, comagic.Invalid("processed", "processed must be true or false")
	}
	if f.Before, err = positiveParam("before", q.Get("before"), false); err != nil {
		return f, err
	}
	limit, err := positiveParam("limit", q.Get("limit"), false)
	if err != nil {
		return f, err
	}
	if limit > workstation.MaxPage {
		return f, comagic.Invalid("limit", "limit must be between 1 and %d", workstation.MaxPage)
	}
	f.Limit, f.Query = int(limit), q.Get("q")
	return f, nil
}

// nextBefore is the next page's before, null on the last page.
func nextBefore(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func (h *Handler) wsOfflineRequests(w http.ResponseWriter, r *http.Request) {
	f, err := listFilter(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, next, err := h.Workstation.OfflineRequests(r.Context(), operatorOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success    bool                         `json:"success"`
		Requests   []workstation.OfflineRequest `json:"offline_requests"`
		NextBefore *int64                       `json:"next_before"`
	}{true, list, nextBefore(next)})
}

func (h *Handler) wsCallbacks(w http.ResponseWriter, r *http.Request) {
	f, err := listFilter(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, next, err := h.Workstation.Callbacks(r.Context(), operatorOf(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success    bool                   `json:"success"`
		Callbacks  []workstation.Callback `json:"callbacks"`
		NextBefore *int64                 `json:"next_before"`
	}{true, list, nextBefore(next)})
}

// markTarget reads the path's id and the body's processed.
func markTarget(w http.ResponseWriter, r *http.Request) (int64, bool, error) {
	id, err := positiveParam("id", chi.URLParam(r, "id"), true)
	if err != nil {
		return 0, false, err
	}
	o, err := decodeJSON(w, r, maxWorkstationBody)
	if err != nil {
		return 0, false, err
	}
	var processed *bool
	if raw, ok := o["processed"]; !ok || json.Unmarshal(raw, &processed) != nil || processed == nil {
		return 0, false, comagic.Invalid("processed", "processed must be true or false")
	}
	return id, *processed, nil
}

func (h *Handler) wsMarkOfflineRequest(w http.ResponseWriter, r *http.Request) {
	id, processed, err := markTarget(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req, err := h.Workstation.MarkOfflineRequest(r.Context(), operatorOf(r), id, processed)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success bool                        `json:"success"`
		Request *workstation.OfflineRequest `json:"offline_request"`
	}{true, req})
}

func (h *Handler) wsMarkCallback(w http.ResponseWriter, r *http.Request) {
	id, processed, err := markTarget(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.Workstation.MarkCallback(r.Context(), operatorOf(r), id, processed)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success  bool                  `json:"success"`
		Callback *workstation.Callback `json:"callback"`
	}{true, c})
}
