package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

func TestAdminEmployeeAndGroupCommands(t *testing.T) {
	db := testenv.NewDatabase(t)
	pool := testenv.NewDBAt(t, db)
	ctx := context.Background()
	svc := operators.NewService(postgres.NewEmployees(pool))

	// cli runs an admin command with the standard input given.
	cli := func(stdin string, args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := admin(ctx, append(args, "-database-url", db), strings.NewReader(stdin), &out, &errOut)
		return out.String(), err
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := cli(stdin, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	siteKey := func(account, domain string) string {
		t.Helper()
		out := must("", "site", "create", "--account", account, "--domain", domain)
		return regexp.MustCompile(`(?m)^site_key: (\S+)$`).FindStringSubmatch(out)[1]
	}
	shop := siteKey("Shop", "shop.example")
	blog := siteKey("Shop", "blog.example")
	other := siteKey("Other", "other.example")

	// Groups.
	if out := must("", "group", "create", "--account", "Shop", "--name", "Sales"); !strings.Contains(out, "group: Sales (id ") {
		t.Fatalf("group create: %s", out)
	}
	must("", "group", "create", "--account", "Shop", "--name", "Support")
	must("", "group", "create", "--account", "Other", "--name", "Night shift")
	if _, err := cli("", "group", "create", "--account", "Shop", "--name", "Sales"); comagic.ErrorCode(err) != comagic.ECONFLICT {
		t.Fatalf("duplicate group: %v", err)
	}

	// Create with a password from standard input (first line only).
	out := must("pa55word-shop\nignored\n", "employee", "create", "--account", "Shop", "--login", "anna", "--name", "Anna",
		"--position", "Sales", "--password-stdin", "--site", shop, "--site", blog, "--group", "Sales", "--max-chats", "3")
	if !strings.Contains(out, "employee: anna (id ") || !strings.Contains(out, "sites: "+shop+","+blog) || !strings.Contains(out, "groups: Sales\n") ||
		!strings.Contains(out, "max_chats: 3\n") || strings.Contains(out, "password:") {
		t.Fatalf("create anna:\n%s", out)
	}
	if _, p, _, err := svc.Login(ctx, "anna", "pa55word-shop"); err != nil || p.MaxChats != 3 || len(p.SiteIDs) != 2 {
		t.Fatalf("anna logs in: %+v %v", p, err)
	}

	// Without --password-stdin a password is generated and printed once.
	out = must("", "employee", "create", "--account", "Shop", "--login", "bob", "--name", "Bob", "--can-invite=false")
	m := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "can_invite: false") {
		t.Fatalf("create bob:\n%s", out)
	}
	if _, _, _, err := svc.Login(ctx, "bob", m[1]); err != nil {
		t.Fatalf("bob logs in with the generated password: %v", err)
	}
	var stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM employees WHERE password_hash LIKE '$argon2id$%' AND position($1 in password_hash) = 0`, m[1]).Scan(&stored); err != nil || stored != 2 {
		t.Fatalf("hashed passwords: %d %v", stored, err)
	}

	// Sites and groups of another account, bad input, missing flags.
	for _, bad := range []struct {
		stdin string
		args  []string
		field string
	}{
		{"", []string{"employee", "create", "--account", "Shop", "--login", "carl", "--name", "Carl", "--site", other}, "site"},
		{"", []string{"employee", "create", "--account", "Shop", "--login", "carl", "--name", "Carl", "--group", "Night shift"}, "group"},
		{"", []string{"employee", "create", "--account", "Shop", "--login", "anna", "--name", "Anna 2"}, "login"},
		{"", []string{"employee", "create", "--account", "Shop", "--login", "c c", "--name", "Carl"}, "login"},
		{"", []string{"employee", "create", "--account", "Shop", "--login", "carl", "--name", "Carl", "--max-chats", "500"}, "max_chats"},
		{"", []string{"employee", "update", "--login", "anna", "--site", other}, "site"},
		{"", []string{"employee", "update", "--login", "anna", "--group", "Night shift"}, "group"},
		{"", []string{"employee", "update", "--login", "anna", "--avatar", "javascript:alert(1)"}, "avatar"},
		{"short\n", []string{"employee", "create", "--account", "Shop", "--login", "carl", "--name", "Carl", "--password-stdin"}, ""},
		{"", []string{"employee", "create", "--account", "Shop", "--login", "carl", "--name", "Carl", "--password-stdin"}, ""},
		{"", []string{"employee", "create", "--login", "carl", "--name", "Carl"}, ""},
		{"", []string{"employee", "create", "--account", "Shop", "--name", "Carl"}, ""},
		{"", []string{"employee", "create", "--account", "Shop", "--login", "carl"}, ""},
		{"", []string{"employee", "update", "--name", "X"}, ""},
		{"", []string{"employee", "update", "--login", "nobody", "--name", "X"}, ""},
		{"", []string{"employee", "update", "--login", "anna", "--account", "Other", "--name", "X"}, ""},
		{"", []string{"employee", "disable"}, ""},
		{"", []string{"employee", "list", "--account", "Nobody"}, ""},
		{"", []string{"employee", "frob"}, ""},
		{"", []string{"group", "create", "--account", "Shop"}, ""},
		{"", []string{"group", "frob"}, ""},
		{"", []string{"employee"}, ""},
	} {
		_, err := cli(bad.stdin, bad.args...)
		if err == nil || bad.field != "" && comagic.ErrorField(err) != bad.field {
			t.Errorf("%v: %v (want field %q)", bad.args, err, bad.field)
		}
	}
	if out := must("", "employee", "list"); strings.Contains(out, "carl") {
		t.Fatalf("a refused employee was stored:\n%s", out)
	}

	// Update: --site and --group replace, other fields are kept; a new
	// password logs the employee out.
	token, _, _, err := svc.Login(ctx, "anna", "pa55word-shop")
	if err != nil {
		t.Fatal(err)
	}
	out = must("", "employee", "update", "--login", "anna", "--site", blog, "--group", "Support", "--group", "Sales", "--name", "Anna K.")
	if !strings.Contains(out, "name: Anna K.\n") || !strings.Contains(out, "sites: "+blog+"\n") || !strings.Contains(out, "groups: Sales,Support\n") ||
		!strings.Contains(out, "position: Sales\n") || !strings.Contains(out, "max_chats: 3\n") {
		t.Fatalf("update:\n%s", out)
	}
	if _, err := svc.Authenticate(ctx, token); err != nil {
		t.Fatalf("token lost without a password change: %v", err)
	}
	must("new-pa55word\r\n", "employee", "update", "--login", "anna", "--password-stdin")
	if _, err := svc.Authenticate(ctx, token); comagic.ErrorCode(err) != comagic.EUNAUTHORIZED {
		t.Fatalf("token after password change: %v", err)
	}
	if _, _, _, err := svc.Login(ctx, "anna", "pa55word-shop"); comagic.ErrorCode(err) != comagic.EUNAUTHORIZED {
		t.Fatalf("old password: %v", err)
	}
	if _, _, _, err := svc.Login(ctx, "anna", "new-pa55word"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if out := must("", "employee", "update", "--login", "anna", "--site", ""); !strings.Contains(out, "sites: \n") {
		t.Fatalf("--site '' keeps sites:\n%s", out)
	}

	// Lists.
	must("", "employee", "create", "--account", "Other", "--login", "olga", "--name", "Olga", "--group", "Night shift", "--site", other)
	out = must("", "employee", "list", "--account", "Shop")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "anna\taccount=Shop\tname=Anna K.") ||
		!strings.Contains(lines[0], "groups=Sales,Support") || !strings.HasPrefix(lines[1], "bob\t") || strings.Contains(out, "olga") {
		t.Fatalf("list Shop:\n%s", out)
	}
	if out := must("", "employee", "list"); !strings.Contains(out, "olga\taccount=Other") || strings.Count(out, "\n") != 3 {
		t.Fatalf("list all:\n%s", out)
	}
	out = must("", "group", "list", "--account", "Shop")
	if !strings.Contains(out, "Sales\taccount=Shop\tid=") || !strings.Contains(out, "Support\taccount=Shop") || !strings.Contains(out, "members=1") || strings.Contains(out, "Night") {
		t.Fatalf("group list Shop:\n%s", out)
	}
	if out := must("", "group", "list"); strings.Count(out, "\n") != 3 {
		t.Fatalf("group list:\n%s", out)
	}

	// Disable: logged out, cannot log in, listed as disabled.
	token, _, _, err = svc.Login(ctx, "bob", m[1])
	if err != nil {
		t.Fatal(err)
	}
	if out := must("", "employee", "disable", "--login", "bob"); !strings.Contains(out, "disabled: ") {
		t.Fatalf("disable:\n%s", out)
	}
	if _, err := svc.Authenticate(ctx, token); comagic.ErrorCode(err) != comagic.EUNAUTHORIZED {
		t.Fatalf("token of a disabled employee: %v", err)
	}
	if _, _, _, err := svc.Login(ctx, "bob", m[1]); comagic.ErrorCode(err) != comagic.EUNAUTHORIZED {
		t.Fatalf("disabled employee logs in: %v", err)
	}
	if out := must("", "employee", "list", "--account", "Shop"); !regexp.MustCompile(`(?m)^bob\t.*\tdisabled=\d{4}-`).MatchString(out) {
		t.Fatalf("list after disable:\n%s", out)
	}

	// The site commands still work, and run() reaches the new objects.
	var o, e bytes.Buffer
	if err := run(ctx, []string{"admin", "group", "list", "-database-url", db}, &o, &e); err != nil || !strings.Contains(o.String(), "Night shift") {
		t.Fatalf("run admin group list: %v %s", err, o.String())
	}
	if out := must("", "site", "list"); !strings.Contains(out, shop+"\taccount=Shop") {
		t.Fatalf("site list:\n%s", out)
	}
	o.Reset()
	if err := run(ctx, []string{"admin", "help"}, &o, &e); err != nil || !strings.Contains(e.String(), "employee create --account NAME") {
		t.Fatalf("admin help: %v", err)
	}
}
