package comagic

import "testing"

func TestAllowsOrigin(t *testing.T) {
	s := &Site{Domains: []string{"shop.example"}}
	for origin, want := range map[string]bool{
		"https://shop.example": true, "http://shop.example:8080": true, "https://www.shop.example": true,
		"https://SHOP.example.": true, "chrome-extension://shop.example": true,
		"https://evil.com#.shop.example": false, "https://evil.com/.shop.example": false,
		"https://evil.com?.shop.example": false, "https://x@shop.example": false, "https://shop.example/": false,
		"https://shop.example:": false, "https://shop.example:x": false, "null": false, "": false,
		"://shop.example": false, "1https://shop.example": false, "https://evilshop.example": false,
		"https://shop.example\\@evil.com": false, "https://shop.example evil": false,
	} {
		if got := s.AllowsOrigin(origin); got != want {
			t.Errorf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
}

// FuzzOriginHost: no panic, and an accepted origin's host is clean.
func FuzzOriginHost(f *testing.F) {
	for _, s := range []string{"https://shop.example", "http://[::1]:8080", "https://evil.com#.shop.example", "null", "a://b:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		host, ok := OriginHost(origin)
		if !ok {
			return
		}
		for _, c := range host {
			if c == '/' || c == '#' || c == '?' || c == '@' || c == ' ' {
				t.Fatalf("%q accepted with host %q", origin, host)
			}
		}
		(&Site{Domains: []string{"shop.example"}}).AllowsOrigin(origin)
	})
}
