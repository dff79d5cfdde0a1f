package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/jackc/pgx/v5/pgconn"
)

// Every error code has a status; one without a mapping is a 500, not a panic,
// and a database that cannot serve is a 503 with Retry-After (issue 12 item 3).
func TestStatusOf(t *testing.T) {
	h := &Handler{Deps: Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	for _, tc := range []struct {
		err    error
		status int
	}{
		{comagic.Errorf("no_such_code", "x"), 500},
		{errors.New("plain"), 500},
		{comagic.Invalid("f", "x"), 400},
		{comagic.Errorf(comagic.EUNAVAILABLE, "x"), 503},
		{&pgconn.ConnectError{}, 503},
		{&pgconn.PgError{Code: "57P01"}, 503},
		{&pgconn.PgError{Code: "22003"}, 500},
	} {
		rec := httptest.NewRecorder()
		h.fail(rec, httptest.NewRequest(http.MethodGet, "/", nil), tc.err)
		if rec.Code != tc.status || (tc.status == 503) != (rec.Header().Get("Retry-After") != "") {
			t.Errorf("%v: %d %v, want %d", tc.err, rec.Code, rec.Header(), tc.status)
		}
	}
}
