package httpapi_test

import "testing"

func TestWidgetSettingsDelivered(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	srv.SetWidgetSettings(t, site, "sitephone", "desktop", `{"title":"Обратный звонок","is_visible":true}`)
	srv.SetWidgetSettings(t, site, "sitephone", "mobile", `{"title":"Звонок","is_visible":true}`)
	srv.SetWidgetSettings(t, site, "consultant", "desktop", `{"common":{"banner_color":"43A400"}}`)
	status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"})
	settings, _ := a["settings"].(map[string]any)
	sp, _ := settings["sitephone"].(map[string]any)
	if status != 200 || sp["title"] != "Обратный звонок" || settings["consultant"] == nil {
		t.Fatalf("%d %v", status, a)
	}
	status, a = c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"}, "User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
	settings, _ = a["settings"].(map[string]any)
	sp, _ = settings["sitephone"].(map[string]any)
	if status != 200 || sp["title"] != "Звонок" || settings["consultant"] != nil {
		t.Fatalf("mobile: %v", a)
	}
	srv.SetWidgetSettings(t, site, "sitephone", "desktop", "")
	_, a = c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"})
	settings, _ = a["settings"].(map[string]any)
	if settings["sitephone"] != nil || settings["consultant"] == nil {
		t.Fatalf("after removal: %v", a)
	}
}
