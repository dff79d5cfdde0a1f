package schedule

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"mon-fri 09:00-18:00", "mon 09:00-18:00; tue 09:00-18:00; wed 09:00-18:00; thu 09:00-18:00; fri 09:00-18:00"},
		{"Sat 10:00-14:00; sun 9:00-12:00", "sat 10:00-14:00; sun 09:00-12:00"},
		{"mon,wed 14:00-18:00 09:00-13:00", "mon 09:00-13:00 14:00-18:00; wed 09:00-13:00 14:00-18:00"},
		{"fri-mon 00:00-24:00", "mon 00:00-24:00; fri 00:00-24:00; sat 00:00-24:00; sun 00:00-24:00"},
		{"daily 08:30-20:00;", "mon 08:30-20:00; tue 08:30-20:00; wed 08:30-20:00; thu 08:30-20:00; fri 08:30-20:00; sat 08:30-20:00; sun 08:30-20:00"},
	} {
		w, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := w.String(); got != c.want {
			t.Errorf("Parse(%q) = %q, want %q", c.in, got, c.want)
		}
		again, err := Parse(w.String())
		if err != nil || again.String() != w.String() {
			t.Errorf("%q does not read back: %v", w.String(), err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                                      "no days",
		"   ;  ":                                "no days",
		"monday 09:00-18:00":                    `"monday" is not a day`,
		"mon-xyz 09:00-18:00":                   `"xyz" is not a day`,
		"mon":                                   "no hours given",
		"mon 9-18":                              "is not hours",
		"mon 18:00-09:00":                       "ends before it starts",
		"mon 09:00-25:00":                       "is not hours",
		"mon 09:60-10:00":                       "is not hours",
		"mon 09:00-13:00 12:00-14:00":           "overlap",
		"mon 09:00-18:00; mon 17:00-19:00":      "overlap",
		strings.Repeat("mon 09:00-10:00;", 100): "longer than",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestOpenAndNextOpen(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	w, err := Parse("mon-fri 09:00-13:00 14:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	// Friday 2026-11-27.
	fri := func(h, m int) time.Time { return time.Date(2026, 11, 27, h, m, 0, 0, msk) }
	for _, c := range []struct {
		t    time.Time
		open bool
		next time.Time
	}{
		{fri(8, 59), false, fri(9, 0)},
		{fri(9, 0), true, fri(9, 0)},
		{fri(13, 0), false, fri(14, 0)},
		{fri(17, 59), true, fri(17, 59)},
		{fri(18, 0), false, time.Date(2026, 11, 30, 9, 0, 0, 0, msk)}, // Monday
		{time.Date(2026, 11, 28, 12, 0, 0, 0, msk), false, time.Date(2026, 11, 30, 9, 0, 0, 0, msk)},
	} {
		// The same instant seen from UTC gives the same answer.
		u := c.t.UTC()
		if got := w.Open(u, msk); got != c.open {
			t.Errorf("Open(%v) = %v", c.t, got)
		}
		if got := w.NextOpen(u, msk); !got.Equal(c.next) {
			t.Errorf("NextOpen(%v) = %v, want %v", c.t, got, c.next)
		}
	}
}

func TestCallTimes(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	w, err := Parse("mon-fri 09:00-11:00; sat 10:00-11:00")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 10, 10, 0, 0, msk) // Friday
	days := CallTimes(&w, now, msk, 4, 30*time.Minute, 15*time.Minute)
	ms := func(d, h, m int) int64 { return time.Date(2026, 11, d, h, m, 0, 0, msk).UnixMilli() }
	want := []Day{
		{ms(27, 12, 0), []int64{ms(27, 10, 30)}},
		{ms(28, 12, 0), []int64{ms(28, 10, 0), ms(28, 10, 30)}},
		// Sunday is closed and left out.
		{ms(30, 12, 0), []int64{ms(30, 9, 0), ms(30, 9, 30), ms(30, 10, 0), ms(30, 10, 30)}},
	}
	if len(days) != len(want) {
		t.Fatalf("got %d days %v, want %v", len(days), days, want)
	}
	for i := range want {
		if days[i].Date != want[i].Date || len(days[i].Times) != len(want[i].Times) {
			t.Fatalf("day %d: got %v, want %v", i, days[i], want[i])
		}
		for j := range want[i].Times {
			if days[i].Times[j] != want[i].Times[j] {
				t.Fatalf("day %d: got %v, want %v", i, days[i], want[i])
			}
		}
	}
	// Without a schedule every step of the day is offered.
	all := CallTimes(nil, now, msk, 2, time.Hour, 0)
	if len(all) != 2 || len(all[0].Times) != 13 || len(all[1].Times) != 24 {
		t.Errorf("around the clock: %d days, %v", len(all), all)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"mon-fri 09:00-18:00", "daily 00:00-24:00; sat 1:00-2:00", "sun-sat 9:00-9:01", "mon,", "-", ";;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(w.String())
		if err != nil || again.String() != w.String() {
			t.Fatalf("%q → %q does not read back: %v", s, w.String(), err)
		}
		loc := time.UTC
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		if n := w.NextOpen(now, loc); n.IsZero() || !w.Open(n, loc) {
			t.Fatalf("%q: NextOpen %v is not open", s, n)
		}
		_ = CallTimes(&w, now, loc, 7, 30*time.Minute, 0)
	})
}
