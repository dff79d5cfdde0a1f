package fields

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
)

func TestText(t *testing.T) {
	if s, err := Text("name", "  Анна  ", 4); err != nil || s != "Анна" {
		t.Fatalf("%q %v", s, err)
	}
	for _, bad := range []string{"a\xffb", "a\x00b", strings.Repeat("я", 5)} {
		if _, err := Text("name", bad, 4); comagic.ErrorField(err) != "name" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestEmail(t *testing.T) {
	for _, ok := range []string{"dmitry@comagic.ru", "a.b+c@sub.example.org"} {
		if err := Email("email", ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"nope", "a@b", "Name <a@b.ru>", "a@b.ru, c@d.ru", "@b.ru"} {
		if err := Email("email", bad); comagic.ErrorField(err) != "email" {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, ok := range []string{"0", "-0.0", "0e5", "1.5", "-12345678901234567890", "1e308", "2.5E-300"} {
		if err := Number("data.n", json.Number(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"1e999999", "-1e400", "1e-999999", "0.1e-400", "abc", ""} {
		if err := Number("data.n", json.Number(bad)); comagic.ErrorField(err) != "data.n" {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}
