package tracking

import (
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
)

func TestSourceOf(t *testing.T) {
	site := &comagic.Site{Domains: []string{"shop.example"}}
	cases := []struct{ url, ref, key string }{
		{"https://shop.example/", "", ""},
		{"https://shop.example/a", "https://shop.example/", ""},
		{"https://shop.example/a", "https://m.shop.example/x", ""},
		{"https://shop.example/?utm_source=ya&utm_medium=cpc", "https://yandex.ru/", "utm:ya|cpc|||"},
		{"https://shop.example/?gclid=abc", "", "gclid:abc"},
		{"https://shop.example/", "https://www.google.com/search?q=x", "ref:google.com"},
		{"https://other.example/", "https://other.example/x", ""},
		{"::bad", "::bad", ""},
	}
	for _, c := range cases {
		if got := SourceOf(site, c.url, c.ref).Key; got != c.key {
			t.Errorf("SourceOf(%q, %q) = %q, want %q", c.url, c.ref, got, c.key)
		}
	}
}

func TestDeviceType(t *testing.T) {
	cases := map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36":                 "desktop",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148":   "mobile",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36": "mobile",
		"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15":                          "tablet",
		"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120 Safari/537.36":        "tablet",
		"": "desktop",
	}
	for ua, want := range cases {
		if got := DeviceType(ua); got != want {
			t.Errorf("DeviceType(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestComagicID(t *testing.T) {
	id, ok := ParseComagicID("2032047566.3117192853.1555675484")
	if !ok || id.VisitorID != 2032047566 || id.SessionID != 3117192853 || id.StartedAt != 1555675484 {
		t.Fatalf("parse: %+v %v", id, ok)
	}
	if id.String() != "2032047566.3117192853.1555675484" {
		t.Fatal(id.String())
	}
	for _, bad := range []string{"", "1.2", "1.2.3.4", "a.2.3", "-1.2.3", "1..3", "0.1.1"} {
		if _, ok := ParseComagicID(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseComagicID(f *testing.F) {
	f.Add("2032047566.3117192853.1555675484")
	f.Add("1.2.3")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParseComagicID(s)
		if ok {
			back, ok2 := ParseComagicID(id.String())
			if !ok2 || back != id {
				t.Fatalf("round trip of %q failed", s)
			}
		}
	})
}

func TestClip(t *testing.T) {
	if got := Clip("привет", 3); got != "п" {
		t.Fatalf("got %q", got)
	}
	if got := Clip("a\xffb", 10); got != "a\uFFFDb" {
		t.Fatalf("got %q", got)
	}
}
