package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

// Unknown site keys are cached like known ones: random keys do not cost a
// query each (issue 12 item 6).
func TestUnknownSiteKeysAreCached(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDB(t)
	sites := postgres.NewSites(db)
	key := strings.Repeat("A", 32)
	if _, err := sites.SiteByKey(ctx, key); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("unknown key: %v", err)
	}
	// Written behind the store's back: the cached answer stands until it expires.
	if _, err := db.Exec(ctx, `INSERT INTO accounts (name) VALUES ('a');
		INSERT INTO sites (account_id, site_key, domains) SELECT id, '`+key+`', '{shop.example}' FROM accounts`); err != nil {
		t.Fatal(err)
	}
	if _, err := sites.SiteByKey(ctx, key); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("unknown key was not cached: %v", err)
	}
	if sites.CachedSiteByKey(key) != nil {
		t.Fatal("CachedSiteByKey returned a site for a cached unknown key")
	}
	// Another store (another node) sees it at once, and the origins of sites.
	other := postgres.NewSites(db)
	if s, err := other.SiteByKey(ctx, key); err != nil || other.CachedSiteByKey(key) != s {
		t.Fatalf("other node: %v", err)
	}
	for origin, want := range map[string]bool{"https://shop.example": true, "http://www.shop.example:8080": true,
		"https://evil.example": false, "https://evil.com#.shop.example": false, "https://shop.example/x": false} {
		if got, err := other.OriginKnown(ctx, origin); err != nil || got != want {
			t.Errorf("OriginKnown(%q) = %v %v, want %v", origin, got, err, want)
		}
	}
}
