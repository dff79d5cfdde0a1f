package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/groupcommit"
	"github.com/comagicd/comagicd/internal/postgres"
)

// retryAfter is the Retry-After (seconds) of 503 answers.
const retryAfter = 2

// statusOf maps an application error code to its HTTP status code; a code
// without a mapping is an internal error.
func statusOf(code string) int {
	switch code {
	case comagic.EINVALID:
		return http.StatusBadRequest
	case comagic.ENOTFOUND:
		return http.StatusNotFound
	case comagic.ECONFLICT:
		return http.StatusConflict
	case comagic.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case comagic.EFORBIDDEN:
		return http.StatusForbidden
	case comagic.ERATELIMITED:
		return http.StatusTooManyRequests
	case comagic.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
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
// errors are logged here and only here. A database that cannot serve (down,
// restarting, out of connections) or a server shutting down answers 503 with
// Retry-After.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := comagic.ErrorCode(err)
	if code == comagic.EINTERNAL {
		switch {
		case errors.Is(err, groupcommit.ErrClosed):
			err = comagic.Errorf(comagic.EUNAVAILABLE, "server is shutting down, retry")
		case postgres.IsUnavailable(err):
			if r.Context().Err() == nil {
				h.Logger.Warn("database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			err = comagic.Errorf(comagic.EUNAVAILABLE, "service temporarily unavailable, retry")
		case r.Context().Err() == nil:
			h.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		code = comagic.ErrorCode(err)
	}
	if code == comagic.EUNAVAILABLE {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	writeJSON(w, statusOf(code), errorBody(err))
}

var okBody = json.RawMessage(`{"success":true}`)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
