// Package fields validates the text fields visitors and site backends send, with
// errors that name the field (SPEC §13: bad input gets a clear error naming the
// field).
package fields

import (
	"net/mail"
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
