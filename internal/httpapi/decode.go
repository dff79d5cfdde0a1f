package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Body size limits.
const (
	maxTrackBody = 64 << 10
	maxLeadBody  = 256 << 10
)

// object is a decoded JSON object whose members are converted on demand, so that
// every conversion error names its field.
type object map[string]json.RawMessage

// decodeJSON reads a JSON object from the body whatever its content type (the
// embed script posts text/plain to spare a CORS preflight).
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64) (object, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, comagic.Invalid("body", "request body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, comagic.Invalid("body", "cannot read request body: %v", err)
	}
	var o object
	if err := unmarshalObject(body, &o); err != nil || o == nil {
		return nil, comagic.Invalid("body", "request body must be one JSON object")
	}
	return o, nil
}

// unmarshalObject is the one JSON decoder of the API: exactly one JSON value
// (white space around it allowed, nothing after it), numbers kept as
// json.Number so that no precision is lost on the way to the checks.
func unmarshalObject(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// id reads an identifier sent as a JSON number or a numeric string; absent,
// null, "", "null" and "undefined" are 0.
func (o object) id(name string) (int64, error) {
	s, err := o.text(name)
	if err != nil || s == "" || s == "null" || s == "undefined" {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, comagic.Invalid(name, "%s must be a positive integer", name)
	}
	return n, nil
}

// text reads a string; numbers and booleans are taken as their text, absent and
// null are "".
func (o object) text(name string) (string, error) {
	s, _, err := o.optText(name)
	return s, err
}

// optText is text that also tells whether the member was present and not null.
func (o object) optText(name string) (string, bool, error) {
	raw, ok := o[name]
	if !ok {
		return "", false, nil
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case string(raw) == "null":
		return "", false, nil
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, comagic.Invalid(name, "%s is not a valid string", name)
		}
		return s, true, nil
	case len(raw) > 0 && (raw[0] == '{' || raw[0] == '['):
		return "", false, comagic.Invalid(name, "%s must be a string, not an object or array", name)
	default:
		return string(raw), true, nil
	}
}

// credentials reads visitor_id, session_id and key.
func (o object) credentials() (comagic.Credentials, error) {
	var c comagic.Credentials
	var err error
	if c.VisitorID, err = o.id("visitor_id"); err != nil {
		return c, err
	}
	if c.SessionID, err = o.id("session_id"); err != nil {
		return c, err
	}
	c.Key, err = o.text("key")
	return c, err
}

// texts reads several string members at once, stopping at the first error.
func (o object) texts(names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		var err error
		if out[i], err = o.text(n); err != nil {
			return nil, err
		}
	}
	return out, nil
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
		var fields map[string]any
		if err := unmarshalObject(body, &fields); err != nil || fields == nil {
			return nil, comagic.Invalid("body", "request body must be one JSON object or a form (Content-Type %q)", r.Header.Get("Content-Type"))
		}
		return fields, nil
	}
}
