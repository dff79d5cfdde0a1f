package phone

import "testing"

func TestNormalize(t *testing.T) {
	ok := map[string]string{
		"8 912 345-67-89":    "79123456789",
		"+7 (912) 345-67-89": "79123456789",
		"79123456789":        "79123456789",
		"+79251234567":       "79251234567",
		"9123456789":         "79123456789",
		"+1 650 253 0000":    "16502530000",
		"79000000000":        "79000000000",
		"+44 20 7946 0958":   "442079460958",
	}
	for in, want := range ok {
		got, err := Normalize(in, "RU")
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "123", "+", "<script>", "1234567890123456789012345"} {
		if got, err := Normalize(bad, "RU"); err == nil {
			t.Errorf("Normalize(%q) = %q, want error", bad, got)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("8 912 345-67-89")
	f.Add("+1 650 253 0000")
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := Normalize(s, "RU"); err == nil {
			for _, r := range got {
				if r < '0' || r > '9' {
					t.Fatalf("Normalize(%q) = %q has a non-digit", s, got)
				}
			}
		}
	})
}
