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
	k := s.Key(3, 17258569, 255544855)
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(k) {
		t.Fatalf("key %q has the wrong format", k)
	}
	if !s.Verify(3, 17258569, 255544855, k) {
		t.Fatal("genuine key rejected")
	}
	for _, tc := range []struct {
		site, v, s int64
		k          string
	}{
		{3, 17258570, 255544855, k},
		{3, 17258569, 255544856, k},
		{4, 17258569, 255544855, k},
		{3, 17258569, 255544855, k[:31] + "x"},
		{3, 17258569, 255544855, ""},
		{3, 0, 0, k},
	} {
		if s.Verify(tc.site, tc.v, tc.s, tc.k) {
			t.Errorf("forged key accepted for %d/%d %q", tc.v, tc.s, tc.k)
		}
	}
	other, _ := NewSigner([]byte("another secret of 16+ bytes"))
	if other.Verify(3, 17258569, 255544855, k) {
		t.Fatal("key of another secret accepted")
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}
