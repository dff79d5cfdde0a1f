// Package leads turns the fields of an offline request (SPEC §5), as they arrive
// from a browser or a site backend in any encoding, into a validated
// comagic.OfflineRequest. Known fields are checked and converted; everything else
// is kept as extra data of the request.
package leads

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/comagicd/comagicd/internal/comagic"
	textfield "github.com/comagicd/comagicd/internal/fields"
	"github.com/comagicd/comagicd/internal/phone"
)

// Limits on what one request may carry.
const (
	maxShort       = 255
	maxMessage     = 10000
	maxExtraFields = 100
	maxExtraValue  = 10000
)

// IdempotencyField is the form (or JSON) field that carries an idempotency key
// for clients that cannot set the Idempotency-Key header.
const IdempotencyField = "idempotency_key"

// maxIdempotencyKey is the longest idempotency key accepted, in bytes.
const maxIdempotencyKey = 255

// Input is a parsed offline request with the tracking ids it claims.
type Input struct {
	// Creds holds the claimed tracking ids. HasCreds tells whether they can be
	// verified: a key was sent with both ids. Ids without a key are kept with
	// the lead as unverified claims (SPEC §3), never attributed.
	Creds    comagic.Credentials
	HasCreds bool
	// Request is validated except for the phone, which needs the site's region:
	// call NormalizePhone once the site is known.
	Request comagic.OfflineRequest
}

// ignored are fields of the protocol that carry nothing to store.
var ignored = map[string]bool{"uri": true, "consultant_server_url": true}

// Parse validates fields (strings, string slices from forms, or any JSON value)
// and returns the request. Errors are EINVALID and name the field.
func Parse(fields map[string]any) (*Input, error) {
	in := &Input{Request: comagic.OfflineRequest{Extra: map[string]any{}}}
	r := &in.Request
	var err error
	str := func(name string, max int) (string, error) { return text(fields, name, max) }

	if in.Creds.VisitorID, err = id(fields, "visitor_id"); err != nil {
		return nil, err
	}
	if in.Creds.SessionID, err = id(fields, "session_id"); err != nil {
		return nil, err
	}
	if r.HitID, err = id(fields, "hit_id"); err != nil {
		return nil, err
	}
	if in.Creds.Key, err = str("key", 64); err != nil {
		return nil, err
	}
	if r.SiteKey, err = str("site_key", 64); err != nil {
		return nil, err
	}
	if r.Name, err = str("name", maxShort); err != nil {
		return nil, err
	}
	if r.Email, err = str("email", maxShort); err != nil {
		return nil, err
	}
	if r.Phone, err = str("phone", 64); err != nil {
		return nil, err
	}
	if r.FormName, err = str("form_name", maxShort); err != nil {
		return nil, err
	}
	textField, err := str("text", maxMessage)
	if err != nil {
		return nil, err
	}
	messageField, err := str("message", maxMessage)
	if err != nil {
		return nil, err
	}
	if r.GroupID, err = id(fields, "group_id"); err != nil {
		return nil, err
	}
	if r.IsSale, err = boolean(fields, "is_sale"); err != nil {
		return nil, err
	}
	if r.IsSale {
		if r.SaleCost, err = money(fields, "sale_cost"); err != nil {
			return nil, err
		}
	}
	if r.IdempotencyKey, err = IdempotencyKey(IdempotencyField, fields[IdempotencyField]); err != nil {
		return nil, err
	}

	// The backend API calls it text, the browser API message; keep both if both came.
	r.Message = textField
	switch {
	case r.Message == "":
		r.Message = messageField
	case messageField != "" && messageField != textField:
		r.Extra["message"] = messageField
	}

	// Only a key with both ids can attribute the lead. Ids without a key (form
	// plugins that copy the ids but not the key) or a key without its ids are
	// kept as unverified claims of an unattributed lead: refusing would lose it.
	in.HasCreds = in.Creds.Key != "" && in.Creds.VisitorID != 0 && in.Creds.SessionID != 0
	if !in.HasCreds && r.SiteKey == "" {
		return nil, comagic.Invalid("site_key", "site_key is required unless key, visitor_id and session_id are all given")
	}
	if r.Email != "" {
		if err := textfield.Email("email", r.Email); err != nil {
			return nil, err
		}
	}
	if r.Name == "" && r.Email == "" && r.Phone == "" && r.Message == "" {
		return nil, comagic.Invalid("name", "at least one of name, phone, email or text is required")
	}

	for k, v := range fields {
		if known[k] || ignored[k] {
			continue
		}
		if len(r.Extra) >= maxExtraFields {
			return nil, comagic.Invalid(k, "too many fields (at most %d extra fields)", maxExtraFields)
		}
		if err := checkExtra(k, v); err != nil {
			return nil, err
		}
		r.Extra[k] = v
	}
	if r.IdempotencyKey != "" {
		r.RequestHash = RequestHash(fields)
	}
	return in, nil
}

// IdempotencyKey checks an idempotency key from the header or the form field
// named field: absent or empty is "", otherwise 1 to 255 printable ASCII
// characters. Returns EINVALID naming the field.
func IdempotencyKey(field string, v any) (string, error) {
	s, _, err := scalar(map[string]any{field: v}, field)
	if err != nil || len(s) > maxIdempotencyKey {
		return "", comagic.Invalid(IdempotencyField, "%s must be at most %d printable ASCII characters", field, maxIdempotencyKey)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", comagic.Invalid(IdempotencyField, "%s must be at most %d printable ASCII characters", field, maxIdempotencyKey)
		}
	}
	return s, nil
}

// RequestHash identifies the content of a request (its fields but the
// idempotency key), so that an idempotency key reused for another request can
// be told from a retry. Parse sets it when the fields carry a key.
func RequestHash(fields map[string]any) []byte {
	rest := make(map[string]any, len(fields))
	for k, v := range fields {
		if k != IdempotencyField {
			rest[k] = v
		}
	}
	b, _ := json.Marshal(rest) // checked values: always encodable; keys sorted
	sum := sha256.Sum256(b)
	return sum[:]
}

// known are the fields Parse converts itself.
var known = map[string]bool{
	"visitor_id": true, "session_id": true, "hit_id": true, "key": true, "site_key": true,
	"name": true, "email": true, "phone": true, "form_name": true, "text": true, "message": true,
	"group_id": true, "is_sale": true, "sale_cost": true, IdempotencyField: true,
}

// NormalizePhone replaces the request's phone with its normalised digits for the
// site's default region. Returns EINVALID naming "phone".
func (in *Input) NormalizePhone(region string) error {
	if in.Request.Phone == "" {
		return nil
	}
	p, err := phone.Normalize(in.Request.Phone, region)
	if err != nil {
		return comagic.Invalid("phone", "phone %q is not a valid phone number", in.Request.Phone)
	}
	in.Request.Phone = p
	return nil
}

// scalar returns the single textual value of a field: a form value, the first of
// repeated form values, or a JSON string, number or boolean.
func scalar(fields map[string]any, name string) (string, bool, error) {
	v, ok := fields[name]
	if !ok || v == nil {
		return "", false, nil
	}
	switch t := v.(type) {
	case string:
		return t, true, nil
	case []string:
		if len(t) == 0 {
			return "", false, nil
		}
		return t[0], true, nil
	case json.Number:
		return t.String(), true, nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true, nil
	case bool:
		return strconv.FormatBool(t), true, nil
	default:
		return "", false, comagic.Invalid(name, "%s must be a string, number or boolean", name)
	}
}

func text(fields map[string]any, name string, max int) (string, error) {
	s, _, err := scalar(fields, name)
	if err != nil {
		return "", err
	}
	return textfield.Text(name, s, max)
}

func id(fields map[string]any, name string) (int64, error) {
	s, _, err := scalar(fields, name)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "" || s == "null" || s == "undefined" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, comagic.Invalid(name, "%s must be a positive integer, got %q", name, clip(s))
	}
	return n, nil
}

// boolean accepts true/false, 1/0, on/off, yes/no and empty (false).
func boolean(fields map[string]any, name string) (bool, error) {
	s, _, err := scalar(fields, name)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "0", "off", "no", "null", "undefined":
		return false, nil
	case "true", "1", "on", "yes":
		return true, nil
	}
	return false, comagic.Invalid(name, "%s must be a boolean (true/false, 1/0, on), got %q", name, clip(s))
}

// maxMoneyCents bounds an amount in cents: numeric(14, 2) holds less than 10^12.
const maxMoneyCents = 100_000_000_000_000

// money reads a non-negative decimal amount ("9 999,50", "12.5", a JSON number
// without exponent) and rounds it half up to cents, as decimal text such as
// "9999.50". The amount must stay below 10^12 after rounding.
func money(fields map[string]any, name string) (*string, error) {
	s, _, err := scalar(fields, name)
	if err != nil {
		return nil, err
	}
	s = strings.NewReplacer(" ", "", "\u00a0", "", ",", ".").Replace(strings.TrimSpace(s))
	if s == "" {
		return nil, nil
	}
	bad := comagic.Invalid(name, "%s must be a non-negative amount below 10^12, got %q", name, clip(s))
	whole, frac, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	if !digits(whole) || !digits(frac) || len(whole) > 12 || (whole == "" && frac == "" && !strings.HasPrefix(s, "0")) {
		return nil, bad
	}
	var cents int64
	for _, d := range whole {
		cents = cents*10 + int64(d-'0')
	}
	frac += "000"
	cents = cents*100 + int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	if frac[2] >= '5' {
		cents++
	}
	if cents >= maxMoneyCents {
		return nil, bad
	}
	out := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	return &out, nil
}

// digits reports whether s consists of ASCII digits only ("" does).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func checkExtra(name string, v any) error {
	if !validText(name) || len(name) > maxShort {
		return comagic.Invalid("extra", "extra field names must be valid UTF-8 text of at most %d bytes", maxShort)
	}
	if !validValue(v, 0) {
		return comagic.Invalid(name, "%s must be valid UTF-8 text and finite numbers within ±1.8e308 (objects nested at most 8 deep)", name)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return comagic.Invalid(name, "%s cannot be stored: %v", name, err)
	}
	if len(b) > maxExtraValue {
		return comagic.Invalid(name, "%s is longer than %d bytes", name, maxExtraValue)
	}
	return nil
}

func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// validValue reports whether every string (and key) inside v can be stored as
// jsonb text.
func validValue(v any, depth int) bool {
	if depth > 8 {
		return false
	}
	switch t := v.(type) {
	case string:
		return validText(t)
	case json.Number:
		return validNumber(t)
	case []string:
		for _, s := range t {
			if !validText(s) {
				return false
			}
		}
	case []any:
		for _, e := range t {
			if !validValue(e, depth+1) {
				return false
			}
		}
	case map[string]any:
		for k, e := range t {
			if !validText(k) || !validValue(e, depth+1) {
				return false
			}
		}
	}
	return true
}

// validNumber reports whether a JSON number is one a double holds: Postgres
// numeric overflows on exponents such as 1e999999, and so would every reader.
func validNumber(n json.Number) bool { return textfield.Number("", n) == nil }

func clip(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s…", strings.ToValidUTF8(s[:40], ""))
	}
	return s
}
