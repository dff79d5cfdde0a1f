package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/testenv"
)

func TestAdminInviteRules(t *testing.T) {
	db := testenv.NewDatabase(t)
	cli := adminCLI(t, db)
	out, err := cli("site", "create", "--account", "Shop", "--domain", "shop.example")
	if err != nil {
		t.Fatal(err)
	}
	site := regexp.MustCompile(`(?m)^site_key: (\S+)$`).FindStringSubmatch(out)[1]
	out, err = cli("site", "create", "--account", "Other", "--domain", "other.example")
	if err != nil {
		t.Fatal(err)
	}
	other := regexp.MustCompile(`(?m)^site_key: (\S+)$`).FindStringSubmatch(out)[1]

	out, err = cli("invite-rule", "add", "--site", site, "--message", "Нужна помощь?", "--after", "30s", "--page-views", "2", "--url", "/catalog")
	if err != nil || !strings.HasPrefix(out, "invite rule: ") {
		t.Fatalf("add: %q %v", out, err)
	}
	id := strings.TrimSpace(strings.TrimPrefix(out, "invite rule: "))
	if out, err = cli("invite-rule", "list", "--site", site); err != nil ||
		!strings.Contains(out, id+"\tafter=30s\tpage_views=2\turl=\"/catalog\"") || !strings.Contains(out, "Нужна помощь?") {
		t.Fatalf("list: %q %v", out, err)
	}
	for _, bad := range [][]string{
		{"--message", ""}, {"--message", "x", "--after", "-1s"}, {"--message", "x", "--page-views", "-1"},
	} {
		if _, err := cli(append([]string{"invite-rule", "add", "--site", site}, bad...)...); comagic.ErrorCode(err) != comagic.EINVALID {
			t.Fatalf("add %v: %v", bad, err)
		}
	}
	// Another site cannot remove this site's rule.
	if _, err := cli("invite-rule", "remove", "--site", other, "--id", id); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("remove from another site: %v", err)
	}
	if out, err = cli("invite-rule", "remove", "--site", site, "--id", id); err != nil {
		t.Fatalf("remove: %q %v", out, err)
	}
	if out, _ = cli("invite-rule", "list", "--site", site); out != "" {
		t.Fatalf("list after remove: %q", out)
	}
}
