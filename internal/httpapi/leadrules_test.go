package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
)

// The bootstrap answer carries the site's active lead rules of the lead forms
// that have settings for the device, and nothing else.
func TestLeadRulesInBootstrap(t *testing.T) {
	c, srv := newServer(t)
	ctx := context.Background()
	site := srv.CreateSite(t, "shop.example")
	other := srv.CreateSite(t, "other.example")
	srv.SetWidgetSettings(t, site, "call_generator", "desktop", `{"banner_title":"Перезвоним?"}`)
	srv.SetWidgetSettings(t, site, "personal_form", "mobile", `{"banner_title":"Приз"}`)
	srv.SetWidgetSettings(t, other, "call_generator", "desktop", `{"banner_title":"x"}`)
	siteID := func(key string) int64 {
		var id int64
		if err := srv.DB.QueryRow(ctx, `SELECT id FROM sites WHERE site_key = $1`, key).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	rules := postgres.NewLeadRules(srv.DB)
	add := func(r comagic.LeadRule) int64 {
		t.Helper()
		out, err := rules.Add(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return out.ID
	}
	cg := add(comagic.LeadRule{SiteID: siteID(site), Widget: "call_generator", MinTimeOnPage: 5, MinPageViews: 2, URLPattern: "/cat", Source: "yandex"})
	pf := add(comagic.LeadRule{SiteID: siteID(site), Widget: "personal_form", OncePer: "visitor"})
	add(comagic.LeadRule{SiteID: siteID(site), Widget: "offline_message_generator"}) // no settings: never sent
	inactive := add(comagic.LeadRule{SiteID: siteID(site), Widget: "call_generator"})
	if _, err := srv.DB.Exec(ctx, `UPDATE lead_rules SET active = false WHERE id = $1`, inactive); err != nil {
		t.Fatal(err)
	}
	add(comagic.LeadRule{SiteID: siteID(other), Widget: "call_generator", MinTimeOnSite: 9})
	if _, err := rules.Add(ctx, comagic.LeadRule{SiteID: siteID(site), Widget: "consultant"}); comagic.ErrorCode(err) != comagic.EINVALID {
		t.Fatalf("consultant rule: %v", err)
	}
	if _, err := rules.Add(ctx, comagic.LeadRule{SiteID: -1, Widget: "personal_form"}); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("rule of no site: %v", err)
	}

	// The server's cache may hold an empty list from before: poll.
	var got []any
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"})
		if status != 200 {
			t.Fatalf("bootstrap: %d %v", status, a)
		}
		got, _ = a["lead_rules"].([]any)
		if len(got) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(got) != 1 {
		t.Fatalf("desktop lead_rules: %v", got)
	}
	r := got[0].(map[string]any)
	want := map[string]any{"id": float64(cg), "widget": "call_generator", "min_time_on_page_s": float64(5), "min_time_on_site_s": float64(0),
		"min_page_views": float64(2), "url_pattern": "/cat", "source": "yandex", "once_per": "session", "on_exit": false}
	if len(r) != len(want) {
		t.Fatalf("rule %v, want %v", r, want)
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("rule[%s] = %v, want %v", k, r[k], v)
		}
	}
	_, a := c.post("/api/track/"+site+"/bootstrap", map[string]any{"url": "https://shop.example/"},
		"User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
	got, _ = a["lead_rules"].([]any)
	if len(got) != 1 || got[0].(map[string]any)["id"] != float64(pf) || got[0].(map[string]any)["once_per"] != "visitor" {
		t.Fatalf("mobile lead_rules: %v", a["lead_rules"])
	}
	// A hit (SPA navigation) carries no settings and no rules.
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	body := v.creds()
	body["url"] = "https://shop.example/2"
	status, a := c.post("/api/track/"+site+"/hit", body)
	if status != 200 {
		t.Fatalf("hit: %d %v", status, a)
	}
	if _, ok := a["lead_rules"]; ok {
		t.Fatalf("hit answer has lead_rules: %v", a)
	}
}
