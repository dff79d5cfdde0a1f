package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

func TestAdminCallTracking(t *testing.T) {
	db := testenv.NewDatabase(t)
	ctx := context.Background()
	cli := adminCLI(t, db)
	out, err := cli("site", "create", "--account", "Shop", "--domain", "shop.example")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`site_key: (\w+)`).FindStringSubmatch(out)[1]
	id := func(what string, args ...string) string {
		t.Helper()
		out, err := cli(args...)
		m := regexp.MustCompile(what + `: (\d+)\n`).FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("%s: %q %v", what, out, err)
		}
		return m[1]
	}
	group := id("phone group", "phone-group", "add", "--site", key, "--name", "Main", "--selector", "id=comagic_phone", "--selector", "class=comagic_phone",
		"--selector", "phone_number=8 (495) 999-99-99", "--template", "+7 (XXX) XXX-XX-XX", "--default-number", "+7 495 000-00-00")
	id("phone rule", "phone-rule", "add", "--site", key, "--group", group, "--kind", "static", "--match", "utm_source", "--value", "yandex", "--number", "84951112233")
	rule := id("phone rule", "phone-rule", "add", "--site", key, "--group", group, "--kind", "dynamic", "--reserve-phone-numbers-time", "30",
		"--number", "74992000001", "--number", "74992000002")
	if out, err := cli("pool", "add-numbers", "--site", key, "--rule", rule, "--number", "74992000003"); err != nil || !strings.Contains(out, "added 1") {
		t.Fatalf("add-numbers: %q %v", out, err)
	}
	out, err = cli("phone-group", "list", "--site", key)
	if err != nil || !strings.Contains(out, "selectors=id=comagic_phone,class=comagic_phone,phone_number=74959999999") || !strings.Contains(out, "default=74950000000") {
		t.Fatalf("group list: %q %v", out, err)
	}
	out, err = cli("phone-rule", "list", "--site", key)
	if err != nil || !strings.Contains(out, "static\tmatch=utm_source\tvalue=\"yandex\"\tnumber=74951112233") || !strings.Contains(out, "reserve_phone_numbers_time=30m") {
		t.Fatalf("rule list: %q %v", out, err)
	}
	out, err = cli("pool", "status", "--site", key)
	if err != nil || !strings.Contains(out, "numbers=3\theld=0\tfree=3\treserve=30m\texhausted_24h=0\tlast_exhausted=never") {
		t.Fatalf("pool status: %q %v", out, err)
	}
	// Bad input names the field; nothing is stored.
	for field, args := range map[string][]string{
		"reserve_phone_numbers_time": {"phone-rule", "add", "--site", key, "--group", group, "--kind", "dynamic", "--reserve-phone-numbers-time", "4", "--number", "74992000009"},
		"number":                     {"phone-rule", "add", "--site", key, "--group", group, "--kind", "static", "--number", "call me"},
		"selector":                   {"phone-group", "add", "--site", key, "--name", "X", "--selector", "xpath=//a"},
		"kind":                       {"phone-rule", "add", "--site", key, "--group", group, "--kind", "sometimes", "--number", "74992000009"},
	} {
		if _, err := cli(args...); comagic.ErrorField(err) != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if _, err := cli("phone-rule", "add", "--site", key, "--group", group, "--kind", "dynamic", "--reserve-phone-numbers-time", "10081", "--number", "74992000009"); comagic.ErrorCode(err) != comagic.EINVALID {
		t.Errorf("10081 minutes: %v", err)
	}

	// API tokens: shown once, stored hashed, revocable.
	out, err = cli("api-token", "create", "--account", "Shop", "--name", "pbx")
	m := regexp.MustCompile(`api token: (\d+)\ntoken: (\S+)\n`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("token: %q %v", out, err)
	}
	pool := testenv.NewDBAt(t, db)
	store := postgres.NewCallTracking(pool, nil)
	acc, err := store.AccountByAPIToken(ctx, operators.HashToken(m[2]))
	if err != nil || acc == 0 {
		t.Fatalf("the token does not authenticate: %v", err)
	}
	var stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE token_hash = $1`, []byte(m[2])).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("the token is stored in clear: %d %v", stored, err)
	}
	if out, err := cli("api-token", "list", "--account", "Shop"); err != nil || !strings.Contains(out, `name="pbx"`) || strings.Contains(out, m[2]) {
		t.Fatalf("list: %q %v", out, err)
	}
	if _, err := cli("api-token", "revoke", "--id", m[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AccountByAPIToken(ctx, operators.HashToken(m[2])); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("revoked token still works: %v", err)
	}
	if _, err := cli("api-token", "create", "--account", "Nobody"); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("unknown account: %v", err)
	}
}
