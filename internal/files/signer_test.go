package files

import (
	"regexp"
	"strings"
	"testing"
)

func TestSigner(t *testing.T) {
	s, err := NewSigner("0123456789abcdef-server-secret")
	if err != nil {
		t.Fatal(err)
	}
	sig := s.Sign(42, 7)
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(sig) {
		t.Fatalf("signature %q is not 43 URL-safe characters", sig)
	}
	if s.Sign(42, 7) != sig {
		t.Fatal("signing is not deterministic")
	}
	if !s.Verify(42, 7, sig) {
		t.Fatal("a fresh signature does not verify")
	}
	other, err := NewSigner("0123456789abcdef-other-secret")
	if err != nil {
		t.Fatal(err)
	}
	again, err := NewSigner("0123456789abcdef-server-secret")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Verify(42, 7, sig) {
		t.Fatal("a signer with the same secret (another node) rejects the signature")
	}
	tampered := []byte(sig)
	tampered[10] ^= 1
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"another file", s.Verify(43, 7, sig)},
		{"another chat", s.Verify(42, 8, sig)},
		{"swapped ids", s.Verify(7, 42, sig)},
		{"another secret", other.Verify(42, 7, sig)},
		{"tampered", s.Verify(42, 7, string(tampered))},
		{"truncated", s.Verify(42, 7, sig[:42])},
		{"extended", s.Verify(42, 7, sig+"A")},
		{"empty", s.Verify(42, 7, "")},
		{"not base64", s.Verify(42, 7, strings.Repeat("!", 43))},
		{"padded base64", s.Verify(42, 7, sig+"=")},
	} {
		if c.ok {
			t.Errorf("%s: verified", c.what)
		}
	}
	// The ids are separated: (1, 23) and (12, 3) sign differently.
	if s.Sign(1, 23) == s.Sign(12, 3) {
		t.Fatal("ambiguous encoding of the ids")
	}
	if _, err := NewSigner("short"); err == nil {
		t.Fatal("NewSigner accepted a 5-byte secret")
	}
}
