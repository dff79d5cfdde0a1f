package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/groupcommit"
)

// statusOf maps application error codes to HTTP status codes.
var statusOf = map[string]int{
	comagic.EINVALID:      http.StatusBadRequest,
	comagic.ENOTFOUND:     http.StatusNotFound,
	comagic.ECONFLICT:     http.StatusConflict,
	comagic.EUNAUTHORIZED: http.StatusUnauthorized,
	comagic.EFORBIDDEN:    http.StatusForbidden,
	comagic.ERATELIMITED:  http.StatusTooManyRequests,
	comagic.EINTERNAL:     http.StatusInternalServerError,
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

type failure struct {
	Success bool        `json:"success"`
	Error   errorDetail `json:"error"`
}

func errorBody(err error) failure {
	return failure{Error: errorDetail{Code: comagic.ErrorCode(err), Message: comagic.ErrorMessage(err), Field: comagic.ErrorField(err)}}
}

// fail answers with the error's status and the error shape of the API; internal
// errors are logged here and only here.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := comagic.ErrorCode(err)
	if code == comagic.EINTERNAL {
		if errors.Is(err, groupcommit.ErrClosed) {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, errorBody(comagic.Errorf(comagic.EINTERNAL, "server is shutting down, retry")))
			return
		}
		if r.Context().Err() == nil {
			h.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	writeJSON(w, statusOf[code], errorBody(err))
}

var okBody = json.RawMessage(`{"success":true}`)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
