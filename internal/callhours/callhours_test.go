package callhours

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/schedule"
)

func site(t *testing.T, hours string) *comagic.Site {
	t.Helper()
	s := &comagic.Site{ID: 1, Location: time.UTC, Settings: map[string]map[string]json.RawMessage{
		"sitephone":  {"desktop": json.RawMessage(`{"title":"x","delayed_call_times":true}`)},
		"consultant": {"desktop": json.RawMessage(`{"common":{}}`)},
	}}
	if hours != "" {
		w, err := schedule.Parse(hours)
		if err != nil {
			t.Fatal(err)
		}
		s.CallSchedule = &w
	}
	return s
}

func TestScheduledLeavesOthersAlone(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // Friday noon
	s := site(t, "mon-fri 09:00-13:00")
	in := s.SettingsFor("desktop")
	out := Scheduled(s, in, now)
	if string(in["sitephone"]) != `{"title":"x","delayed_call_times":true}` {
		t.Fatalf("the input changed: %s", in["sitephone"])
	}
	if &out["consultant"][0] != &in["consultant"][0] {
		t.Error("the consultant's settings were re-encoded")
	}
	var sp struct {
		Active bool           `json:"is_schedule_active"`
		Days   []schedule.Day `json:"delayed_call_times"`
		Title  string         `json:"title"`
	}
	if err := json.Unmarshal(out["sitephone"], &sp); err != nil {
		t.Fatal(err)
	}
	// Today 12:30 (noon + 15 min, on the half hour), then Monday to Thursday.
	if !sp.Active || sp.Title != "x" || len(sp.Days) != 5 || len(sp.Days[0].Times) != 1 || len(sp.Days[1].Times) != 8 {
		t.Errorf("sitephone: %+v", sp)
	}
	// Nothing to derive: the stored JSON as it is.
	plain := &comagic.Site{ID: 2, Location: time.UTC, Settings: map[string]map[string]json.RawMessage{"sitephone": {"desktop": json.RawMessage(`{"title":"y"}`)}}}
	m := plain.SettingsFor("desktop")
	if got := Scheduled(plain, m, now); len(got) != 1 || string(got["sitephone"]) != `{"title":"y"}` {
		t.Errorf("plain: %v", got)
	}
}

func TestCacheByMinuteAndSite(t *testing.T) {
	var c Cache
	s := site(t, "daily 09:00-18:00")
	at := time.Date(2026, 11, 27, 17, 59, 10, 0, time.UTC)
	a := c.Settings(s, "desktop", at)
	b := c.Settings(s, "desktop", at.Add(30*time.Second))
	if &a["sitephone"][0] != &b["sitephone"][0] {
		t.Error("the same minute was derived again")
	}
	closed := c.Settings(s, "desktop", at.Add(time.Minute))
	var v struct {
		Active bool `json:"is_schedule_active"`
	}
	if json.Unmarshal(closed["sitephone"], &v); v.Active {
		t.Error("open at 18:00:10")
	}
	// A changed site (a new object from the site cache) is derived afresh.
	s2 := site(t, "daily 00:00-24:00")
	if json.Unmarshal(c.Settings(s2, "desktop", at.Add(time.Minute))["sitephone"], &v); !v.Active {
		t.Error("the changed site's hours were not used")
	}
}
