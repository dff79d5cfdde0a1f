// Package fields validates the text fields visitors and site backends send, with
// errors that name the field (SPEC §13: bad input gets a clear error naming the
// field).
package fields

import (
	"encoding/json"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Text trims s and checks that it is valid UTF-8 without NUL bytes and at most
// max characters long. Returns EINVALID naming the field.
func Text(field, s string, max int) (string, error) {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", comagic.Invalid(field, "%s is not valid UTF-8 text", field)
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		return "", comagic.Invalid(field, "%s is longer than %d characters", field, max)
	}
	return s, nil
}

// Email checks that s is a bare address (no display name) whose domain has a
// dot. Returns EINVALID naming the field.
func Email(field, s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return comagic.Invalid(field, "%s %q is not a valid address", field, s)
	}
	return nil
}

// Number checks that a JSON number is one a double holds, so that Postgres
// (whose numeric overflows on exponents such as 1e999999) and every reader can
// take it; an underflow such as 1e-999999 is refused too, for it is not zero.
// Returns EINVALID naming the field.
func Number(field string, n json.Number) error {
	f, err := strconv.ParseFloat(string(n), 64)
	if err == nil && f == 0 {
		mantissa, _, _ := strings.Cut(strings.ToLower(string(n)), "e")
		if strings.Trim(mantissa, "-+0.") != "" {
			err = strconv.ErrRange
		}
	}
	if err != nil {
		return comagic.Invalid(field, "%s is not a number a double can hold", field)
	}
	return nil
}
