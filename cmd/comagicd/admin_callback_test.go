package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/testenv"
)

func TestAdminCallbackScenarios(t *testing.T) {
	db := testenv.NewDatabase(t)
	cli := adminCLI(t, db)
	out, err := cli("site", "create", "--account", "Shop", "--domain", "shop.example")
	if err != nil {
		t.Fatal(err)
	}
	site := regexp.MustCompile(`site_key: ([A-Za-z0-9]{32})`).FindStringSubmatch(out)[1]
	if _, err := cli("site", "create", "--account", "Other", "--domain", "other.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli("group", "create", "--account", "Shop", "--name", "Sales"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli("group", "create", "--account", "Other", "--name", "Elsewhere"); err != nil {
		t.Fatal(err)
	}

	out, err = cli("callback-scenario", "add", "--site", site, "--url", "https://pbx.example/callback")
	m := regexp.MustCompile(`(?s)^scenario: (\d+)\nsecret: ([0-9a-f]{64})\nmode: async\ngroup: default\n`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("add: %q %v", out, err)
	}
	id, secret := m[1], m[2]
	out, err = cli("callback-scenario", "add", "--site", site, "--group", "Sales", "--url", "http://pbx.example/sales", "--sync")
	if err != nil || !strings.Contains(out, "mode: sync\ngroup: Sales\n") {
		t.Fatalf("add sync: %q %v", out, err)
	}
	// Bad input.
	for _, c := range []struct {
		args []string
		code string
	}{
		{[]string{"--site", site, "--url", "ftp://pbx.example/"}, comagic.EINVALID},
		{[]string{"--site", site, "--url", "https://pbx.example/", "--group", "Elsewhere"}, comagic.ENOTFOUND},
		{[]string{"--site", "NoSuchSite0000000000000000000000", "--url", "https://pbx.example/"}, comagic.ENOTFOUND},
	} {
		if _, err := cli(append([]string{"callback-scenario", "add"}, c.args...)...); comagic.ErrorCode(err) != c.code {
			t.Fatalf("add %v: %v", c.args, err)
		}
	}
	if _, err := cli("callback-scenario", "add", "--url", "https://pbx.example/"); err == nil {
		t.Fatal("add without --site")
	}
	// The list shows no secret.
	out, err = cli("callback-scenario", "list", "--site", site)
	if err != nil || strings.Count(out, "\n") != 2 || !strings.HasPrefix(out, id+"\tgroup=default\tmode=async\turl=https://pbx.example/callback\tactive=true\t") ||
		!strings.Contains(out, "\tgroup=Sales\tmode=sync\turl=http://pbx.example/sales\t") || strings.Contains(out, secret) {
		t.Fatalf("list: %q %v", out, err)
	}
	if out, err = cli("callback-scenario", "remove", "--site", site, "--id", id); err != nil || out != "removed callback scenario "+id+"\n" {
		t.Fatalf("remove: %q %v", out, err)
	}
	if _, err := cli("callback-scenario", "remove", "--site", site, "--id", id); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("remove again: %v", err)
	}
	if out, err = cli("callback-scenario", "list", "--site", site); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("list after remove: %q %v", out, err)
	}
}
