package browsertest

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The demo page embeds the script with its own ?k= and origin and shows the
// results of the API calls as text.
func TestDemoPage(t *testing.T) {
	api := newFakeAPI(t)
	tab := newTab(t)
	tab.Go(api.URL + "/demo/?k=" + api.SiteKey)
	waitBoot(tab)
	for _, call := range []string{"getCredentials", "trackEvent", "setProperty", "getProperty", "addVisitorInfo", "addOfflineRequest", "storage", "reinitTrackView", "openChatWindow"} {
		tab.Run(chromedp.Click(chromedp.CSS(`button[data-call=` + call + `]`)))
	}
	out := Wait[string](tab, `(t => t.includes('addOfflineRequest →') && t.includes('addVisitorInfo →') && t.includes('getProperty →') && t)(document.getElementById('out').textContent)`, 10*time.Second)
	for _, want := range []string{`"site_key": "` + api.SiteKey + `"`, `"statusText": "OK"`, `"result": "Потенциальный"`, "storage demo_clicks → 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if n := len(api.Calls("event")); n != 1 {
		t.Errorf("%d events from the demo, want 1", n)
	}
	noExceptions(t, tab)
}
