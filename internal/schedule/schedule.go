// Package schedule is a site's weekly working hours for call-backs: whether
// the site takes calls now, when it opens next, and the call times offered to
// a visitor who wants a call later (the vendor's delayed_call_times).
//
// A week is written as text, one clause per group of days, separated by ";":
//
//	mon-fri 09:00-18:00; sat 10:00-14:00
//	mon,wed,fri 09:00-13:00 14:00-18:00
//	daily 00:00-24:00
//
// Days are mon..sun (or "daily"); a clause may list several intervals. An
// interval may not cross midnight (write two). Times are local to the site's
// time zone.
package schedule

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Interval is a part of a day, in minutes since local midnight: [From, To).
type Interval struct {
	From, To int
}

// Week holds the intervals of each day, indexed by time.Weekday (Sunday = 0),
// sorted and not overlapping.
type Week [7][]Interval

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// maxText bounds the text a week is parsed from.
const maxText = 1000

// Parse reads a week from its text form (see the package comment). The empty
// text is an error: a site without a schedule has no Week.
func Parse(text string) (Week, error) {
	var w Week
	text = strings.ToLower(strings.TrimSpace(text))
	if text == "" {
		return w, fmt.Errorf("no days given")
	}
	if len(text) > maxText {
		return w, fmt.Errorf("longer than %d characters", maxText)
	}
	for _, clause := range strings.Split(text, ";") {
		fields := strings.Fields(clause)
		if len(fields) == 0 {
			continue
		}
		days, err := parseDays(fields[0])
		if err != nil {
			return w, err
		}
		if len(fields) == 1 {
			return w, fmt.Errorf("%q: no hours given (e.g. %s 09:00-18:00)", strings.TrimSpace(clause), fields[0])
		}
		for _, f := range fields[1:] {
			iv, err := parseInterval(f)
			if err != nil {
				return w, err
			}
			for _, d := range days {
				w[d] = append(w[d], iv)
			}
		}
	}
	empty := true
	for d := range w {
		iv, err := normalize(w[d])
		if err != nil {
			return w, fmt.Errorf("%s: %w", time.Weekday(d).String()[:3], err)
		}
		w[d] = iv
		empty = empty && len(iv) == 0
	}
	if empty {
		return w, fmt.Errorf("no days given")
	}
	return w, nil
}

func parseDays(s string) ([]time.Weekday, error) {
	if s == "daily" || s == "mon-sun" {
		return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, nil
	}
	var out []time.Weekday
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[from]
		if !ok {
			return nil, fmt.Errorf("%q is not a day (mon, tue, wed, thu, fri, sat, sun or daily)", from)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := dayNames[to]
		if !ok {
			return nil, fmt.Errorf("%q is not a day (mon, tue, wed, thu, fri, sat, sun)", to)
		}
		// Ranges run Monday first: mon-fri, fri-sun, sat-mon.
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(m) != 2 || len(h) < 1 || len(h) > 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

func parseInterval(s string) (Interval, error) {
	a, b, ok := strings.Cut(s, "-")
	from, okA := parseClock(a)
	to, okB := parseClock(b)
	if !ok || !okA || !okB {
		return Interval{}, fmt.Errorf("%q is not hours like 09:00-18:00", s)
	}
	if to <= from {
		return Interval{}, fmt.Errorf("%q ends before it starts (split an interval across midnight in two)", s)
	}
	return Interval{from, to}, nil
}

func normalize(iv []Interval) ([]Interval, error) {
	sort.Slice(iv, func(i, j int) bool { return iv[i].From < iv[j].From })
	for i := 1; i < len(iv); i++ {
		if iv[i].From < iv[i-1].To {
			return nil, fmt.Errorf("intervals %s and %s overlap", iv[i-1], iv[i])
		}
	}
	return iv, nil
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// String writes the interval as 09:00-18:00.
func (iv Interval) String() string { return clock(iv.From) + "-" + clock(iv.To) }

// String writes the week in the text form Parse reads, one clause per day.
func (w Week) String() string {
	var parts []string
	for _, d := range []time.Weekday{1, 2, 3, 4, 5, 6, 0} {
		if len(w[d]) == 0 {
			continue
		}
		s := strings.ToLower(d.String()[:3])
		for _, iv := range w[d] {
			s += " " + iv.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// MarshalJSON stores the week as its text.
func (w Week) MarshalJSON() ([]byte, error) { return json.Marshal(w.String()) }

// UnmarshalJSON reads a week stored as its text.
func (w *Week) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p, err := Parse(s)
	if err != nil {
		return err
	}
	*w = p
	return nil
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// minuteOf is the minute of t's local day.
func minuteOf(t time.Time) int { return t.Hour()*60 + t.Minute() }

// at is local midnight of t's day plus m minutes, in t's location (a DST
// change within the day moves the wall clock, as it does for the site).
func at(t time.Time, m int) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, t.Location()).Add(time.Duration(m) * time.Minute)
}

// Open reports whether t (in the site's location loc) falls in working hours.
func (w Week) Open(t time.Time, loc *time.Location) bool {
	t = t.In(orUTC(loc))
	m := minuteOf(t)
	for _, iv := range w[t.Weekday()] {
		if m >= iv.From && m < iv.To {
			return true
		}
	}
	return false
}

// NextOpen returns t itself when the site is open then, or else the start of
// the next working interval within two weeks (zero time when there is none).
func (w Week) NextOpen(t time.Time, loc *time.Location) time.Time {
	if w.Open(t, loc) {
		return t
	}
	t = t.In(orUTC(loc))
	for i := 0; i < 15; i++ {
		day := t.AddDate(0, 0, i)
		for _, iv := range w[day.Weekday()] {
			if s := at(day, iv.From); s.After(t) {
				return s
			}
		}
	}
	return time.Time{}
}

// Day is one day of offered call times, as the vendor's widgets read it:
// date and times in milliseconds since the epoch. Date is noon of the day in
// the site's time zone: a widget shows it as a date in the visitor's time
// zone, where the site's midnight may fall on the day before.
type Day struct {
	Date  int64   `json:"date"`
	Times []int64 `json:"times"`
}

// CallTimes lists the times a visitor may ask to be called at: every step
// within working hours (or around the clock for a nil week) from a little
// after now, on the next days days (today included), the days without
// times left out. lead keeps the first offer at least that far from now.
func CallTimes(w *Week, now time.Time, loc *time.Location, days int, step, lead time.Duration) []Day {
	if step < 5*time.Minute {
		step = 5 * time.Minute
	}
	now = now.In(orUTC(loc))
	earliest := now.Add(lead)
	stepMin := int(step / time.Minute)
	var out []Day
	for i := 0; i < days; i++ {
		day := now.AddDate(0, 0, i)
		intervals := []Interval{{0, 24 * 60}}
		if w != nil {
			intervals = w[day.Weekday()]
		}
		var d Day
		for _, iv := range intervals {
			for m := iv.From; m < iv.To; m += stepMin {
				t := at(day, m)
				if t.Before(earliest) {
					continue
				}
				if d.Times == nil {
					d.Date = at(day, 12*60).UnixMilli()
				}
				d.Times = append(d.Times, t.UnixMilli())
			}
		}
		if d.Times != nil {
			out = append(out, d)
		}
	}
	return out
}
