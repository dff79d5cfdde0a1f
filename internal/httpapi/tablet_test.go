package httpapi_test

import "testing"

// A tablet gets the desktop widgets unless the site has tablet settings: the
// vendor's exports carry desktop and mobile settings only.
func TestTabletFallsBackToDesktopSettings(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	srv.SetWidgetSettings(t, site, "sitephone", "desktop", `{"title":"Настольный","is_visible":true}`)
	srv.SetWidgetSettings(t, site, "sitephone", "mobile", `{"title":"Телефон","is_visible":true}`)
	srv.SetWidgetSettings(t, site, "consultant", "desktop", `{"common":{"banner_color":"43A400"}}`)
	srv.SetWidgetSettings(t, site, "consultant", "tablet", `{"common":{"banner_color":"111111"}}`)
	for _, ua := range []string{
		"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
	} {
		status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"}, "User-Agent", ua)
		settings, _ := a["settings"].(map[string]any)
		sp, _ := settings["sitephone"].(map[string]any)
		cons, _ := settings["consultant"].(map[string]any)
		common, _ := cons["common"].(map[string]any)
		if status != 200 || a["device_type"] != "tablet" || sp["title"] != "Настольный" || common["banner_color"] != "111111" {
			t.Fatalf("%s: %d %v", ua, status, a)
		}
	}
}
