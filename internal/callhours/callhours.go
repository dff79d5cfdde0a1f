// Package callhours applies a site's working hours for call-backs to the
// settings its call widgets receive with the bootstrap: whether the site
// takes calls now (is_schedule_active) and the times offered for a call later
// (delayed_call_times), as the vendor's platform computes them.
package callhours

import (
	"encoding/json"
	"maps"
	"sync"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/schedule"
)

// The call times offered to a visitor who wants a call later: every
// CallStep of the site's working hours, over CallDays days (today included),
// the first at least CallLead from now.
const (
	CallDays = 7
	CallStep = 30 * time.Minute
	CallLead = 15 * time.Minute
)

// callWidgets are the view controllers whose settings carry the vendor's
// is_schedule_active and delayed_call_times.
var callWidgets = []string{"sitephone", "call_generator", "personal_form"}

// Scheduled derives, at now, the schedule-dependent keys of the call widgets
// in settings (one device's settings of site): is_schedule_active from the
// site's working hours, when it has them, and delayed_call_times, when the
// stored object asks for it with true (or, for call_generator, with
// is_delayed_call_enabled and no list of its own), as the vendor's list of
// days {date, times} (false when no time is left to offer). settings is not
// changed; widgets without such keys keep their JSON as stored.
func Scheduled(site *comagic.Site, settings map[string]json.RawMessage, now time.Time) map[string]json.RawMessage {
	out, copied := settings, false
	for _, vc := range callWidgets {
		raw, ok := settings[vc]
		if !ok {
			continue
		}
		var obj map[string]any
		if json.Unmarshal(raw, &obj) != nil || obj == nil {
			continue
		}
		changed := false
		if site.CallSchedule != nil {
			obj["is_schedule_active"] = site.CallSchedule.Open(now, site.Location)
			changed = true
		}
		_, isList := obj["delayed_call_times"].([]any)
		if obj["delayed_call_times"] == true || (vc == "call_generator" && obj["is_delayed_call_enabled"] == true && !isList) {
			var days any = false
			if d := schedule.CallTimes(site.CallSchedule, now, site.Location, CallDays, CallStep, CallLead); len(d) > 0 {
				days = d
			}
			obj["delayed_call_times"] = days
			changed = true
		}
		if !changed {
			continue
		}
		b, err := json.Marshal(obj)
		if err != nil {
			continue
		}
		if !copied {
			out, copied = maps.Clone(settings), true
		}
		out[vc] = b
	}
	return out
}

// Cache keeps Scheduled's answer per site and device type for the
// minute it was made in, so that page views do not decode and encode the
// call widgets' settings each time. A changed site (a new *comagic.Site from
// the site cache) is derived afresh.
type Cache struct {
	mu sync.RWMutex
	m  map[callTimesKey]callTimesEntry
}

type callTimesKey struct {
	site   int64
	device string
}

type callTimesEntry struct {
	site     *comagic.Site
	minute   int64
	settings map[string]json.RawMessage
}

// maxCallTimesEntries bounds the cache; it is cleared when full.
const maxCallTimesEntries = 10000

// Settings returns site's settings for device with the call widgets'
// schedule-dependent keys derived at now (see Scheduled).
func (c *Cache) Settings(site *comagic.Site, device string, now time.Time) map[string]json.RawMessage {
	k := callTimesKey{site.ID, device}
	minute := now.Unix() / 60
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if ok && e.site == site && e.minute == minute {
		return e.settings
	}
	out := Scheduled(site, site.SettingsFor(device), now)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCallTimesEntries {
		c.m = make(map[callTimesKey]callTimesEntry)
	}
	c.m[k] = callTimesEntry{site: site, minute: minute, settings: out}
	c.mu.Unlock()
	return out
}
