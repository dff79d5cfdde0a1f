// Package phone normalises phone numbers typed by visitors to the digits-only
// international form the platform stores (`8 912 345-67-89` → `79123456789`).
package phone

import (
	"errors"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is returned for text that is not a possible phone number.
var ErrInvalid = errors.New("not a valid phone number")

// Normalize parses raw in the default region (ISO 3166 alpha-2, e.g. "RU") and
// returns the country code and national number as digits. Numbers written in
// international form without "+" (79123456789) are understood too.
func Normalize(raw, region string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 64 {
		return "", ErrInvalid
	}
	if region == "" {
		region = "RU"
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		// A number that already carries its country code but no "+".
		digits := onlyDigits(raw)
		if len(digits) < 8 || strings.HasPrefix(raw, "+") {
			return "", ErrInvalid
		}
		num, err = phonenumbers.Parse("+"+digits, region)
		if err != nil || !phonenumbers.IsPossibleNumber(num) {
			return "", ErrInvalid
		}
	}
	return strconv.Itoa(int(num.GetCountryCode())) + phonenumbers.GetNationalSignificantNumber(num), nil
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
