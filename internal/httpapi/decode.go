package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Body size limits.
const (
	maxTrackBody = 64 << 10
	maxLeadBody  = 256 << 10
)

// id is an identifier that clients send as a JSON number or a numeric string.
type id int64

// UnmarshalJSON accepts 123, "123", "", null.
func (v *id) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*v = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return errors.New("must be a positive integer")
	}
	*v = id(n)
	return nil
}

// text is a string that clients may also send as a number or boolean.
type text string

// UnmarshalJSON accepts strings, numbers, booleans and null.
func (t *text) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return errors.New("must be a string")
	default:
		*t = text(b)
	}
	return nil
}

// creds are the credentials every visitor call carries.
type creds struct {
	VisitorID id   `json:"visitor_id"`
	SessionID id   `json:"session_id"`
	Key       text `json:"key"`
	HitID     id   `json:"hit_id"`
}

func (c creds) credentials() comagic.Credentials {
	return comagic.Credentials{VisitorID: int64(c.VisitorID), SessionID: int64(c.SessionID), Key: string(c.Key)}
}

// decodeJSON reads a JSON object from the body whatever its content type (the
// embed script posts text/plain to spare a CORS preflight). Errors name the field.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return comagic.Invalid("body", "request body is larger than %d bytes", limit)
	}
	if err != nil {
		return comagic.Invalid("body", "cannot read request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return comagic.Invalid("body", "request body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return comagic.Invalid(typeErr.Field, "%s has the wrong type (%s)", typeErr.Field, typeErr.Value)
	}
	// Errors from the UnmarshalJSON methods above carry the field since Go 1.24
	// only as text: "json: cannot unmarshal ... into Go struct field x.visitor_id".
	msg := err.Error()
	if i := strings.LastIndex(msg, "Go struct field "); i >= 0 {
		f := msg[i+len("Go struct field "):]
		if j := strings.IndexByte(f, ' '); j >= 0 {
			f = f[:j]
		}
		if k := strings.LastIndexByte(f, '.'); k >= 0 {
			f = f[k+1:]
		}
		return comagic.Invalid(f, "%s is invalid: %v", f, err)
	}
	return comagic.Invalid("body", "request body is not a valid JSON object: %v", err)
}

// leadFields reads an offline request in any of its encodings into field values:
// urlencoded and multipart forms give strings (lists for repeated fields), JSON
// gives its own values.
func leadFields(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLeadBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		var err error
		if mt == "multipart/form-data" {
			err = r.ParseMultipartForm(maxLeadBody)
		} else {
			err = r.ParseForm()
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, comagic.Invalid("body", "request body is larger than %d bytes", maxLeadBody)
		}
		if err != nil {
			return nil, comagic.Invalid("body", "cannot parse the form: %v", err)
		}
		if r.MultipartForm != nil {
			for name := range r.MultipartForm.File {
				return nil, comagic.Invalid(name, "file uploads are not accepted with offline requests")
			}
		}
		fields := make(map[string]any, len(r.PostForm))
		for k, vs := range r.PostForm {
			if len(vs) == 1 {
				fields[k] = vs[0]
			} else {
				fields[k] = vs
			}
		}
		return fields, nil
	default:
		body, err := io.ReadAll(r.Body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, comagic.Invalid("body", "request body is larger than %d bytes", maxLeadBody)
		}
		if err != nil {
			return nil, comagic.Invalid("body", "cannot read request body: %v", err)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var fields map[string]any
		if err := dec.Decode(&fields); err != nil || fields == nil {
			return nil, comagic.Invalid("body", "request body must be a JSON object or a form (Content-Type %q)", r.Header.Get("Content-Type"))
		}
		return fields, nil
	}
}
