package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
)

// FuzzDecodeJSON runs the API's JSON decoder and every accessor of a decoded
// body on fuzzed input: no panic, and every error is EINVALID naming a field.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"visitor_id":1,"session_id":"2","key":"k","url":"u"}`, `{"a":1} x`, `{"visitor_id":1e999}`,
		`{"name":{"x":[1]},"value":null}`, `[1]`, `null`, `{"key":"\ud800"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		o, err := decodeJSON(httptest.NewRecorder(), r, maxTrackBody)
		if err != nil {
			if comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) == "" {
				t.Fatalf("error without field: %v", err)
			}
			return
		}
		_, err1 := o.credentials()
		_, err2 := o.texts("url", "title", "name", "value")
		_, _, err3 := o.optText("value")
		_, err4 := o.id("hit_id")
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil && (comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) == "") {
				t.Fatalf("error without field: %v", err)
			}
		}
	})
}
