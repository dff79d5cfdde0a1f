package credentials

import (
	"regexp"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	s, err := NewSigner([]byte("0123456789abcdef0123"))
	if err != nil {
		t.Fatal(err)
	}
	k := s.Key(17258569, 255544855)
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(k) {
		t.Fatalf("key %q has the wrong format", k)
	}
	if !s.Verify(17258569, 255544855, k) {
		t.Fatal("genuine key rejected")
	}
	for _, tc := range []struct {
		v, s int64
		k    string
	}{
		{17258570, 255544855, k},
		{17258569, 255544856, k},
		{17258569, 255544855, k[:31] + "x"},
		{17258569, 255544855, ""},
		{0, 0, k},
	} {
		if s.Verify(tc.v, tc.s, tc.k) {
			t.Errorf("forged key accepted for %d/%d %q", tc.v, tc.s, tc.k)
		}
	}
	other, _ := NewSigner([]byte("another secret of 16+ bytes"))
	if other.Verify(17258569, 255544855, k) {
		t.Fatal("key of another secret accepted")
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}
