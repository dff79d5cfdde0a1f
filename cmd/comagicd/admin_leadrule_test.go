package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/testenv"
)

func TestAdminLeadRules(t *testing.T) {
	db := testenv.NewDatabase(t)
	ctx := context.Background()
	cli := func(args ...string) (string, string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := admin(ctx, append(args, "-database-url", db), strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	keys := map[string]string{}
	for _, acc := range []string{"Shop", "Other"} {
		out, _, err := cli("site", "create", "--account", acc, "--domain", strings.ToLower(acc)+".example")
		if err != nil {
			t.Fatal(err)
		}
		keys[acc] = regexp.MustCompile(`site_key: (\w+)`).FindStringSubmatch(out)[1]
	}
	out, note, err := cli("lead-rule", "add", "--site", keys["Shop"], "--widget", "call_generator", "--on-page", "1500ms",
		"--on-site", "2m", "--page-views", "3", "--url", " /catalog ", "--source", "yandex")
	m := regexp.MustCompile(`^lead rule: (\d+)\n$`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("add: %q %v", out, err)
	}
	if !strings.Contains(note, "no call_generator settings") {
		t.Errorf("no note about the missing settings: %q", note)
	}
	id := m[1]
	out, _, err = cli("lead-rule", "add", "--site", keys["Shop"], "--widget", "personal_form", "--once-per", "visitor", "--on-exit")
	if err != nil {
		t.Fatalf("add personal_form: %q %v", out, err)
	}
	id2 := regexp.MustCompile(`^lead rule: (\d+)`).FindStringSubmatch(out)[1]
	for _, bad := range [][]string{
		{"--widget", "sitephone"},
		{"--widget", "personal_form", "--once-per", "day"},
		{"--widget", "personal_form", "--page-views", "-1"},
		{"--widget", "personal_form", "--on-page", "-1s"},
		{"--widget", "personal_form", "--on-site", "25h"},
		{"--widget", "personal_form", "--source", strings.Repeat("s", 201)},
	} {
		if _, _, err := cli(append([]string{"lead-rule", "add", "--site", keys["Shop"]}, bad...)...); comagic.ErrorCode(err) != comagic.EINVALID {
			t.Errorf("add %v: %v", bad, err)
		}
	}
	if _, _, err := cli("lead-rule", "add", "--site", strings.Repeat("x", 32), "--widget", "personal_form"); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Errorf("unknown site: %v", err)
	}
	// 1.5 s rounds up to 2 s; texts are trimmed; the default is once per session.
	out, _, err = cli("lead-rule", "list", "--site", keys["Shop"])
	want := id + "\twidget=call_generator\ton_page=2s\ton_site=120s\tpage_views=3\turl=\"/catalog\"\tsource=\"yandex\"\tonce_per=session\ton_exit=false\tactive=true\n" +
		id2 + "\twidget=personal_form\ton_page=0s\ton_site=0s\tpage_views=0\turl=\"\"\tsource=\"\"\tonce_per=visitor\ton_exit=true\tactive=true\n"
	if err != nil || out != want {
		t.Fatalf("list:\n%q\nwant\n%q (%v)", out, want, err)
	}
	if out, _, err = cli("lead-rule", "list", "--site", keys["Other"]); err != nil || out != "" {
		t.Fatalf("list Other: %q %v", out, err)
	}
	// A rule is removed only through its own site.
	if _, _, err := cli("lead-rule", "remove", "--site", keys["Other"], "--id", id); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("remove through another site: %v", err)
	}
	if out, _, err = cli("lead-rule", "remove", "--site", keys["Shop"], "--id", id); err != nil || out != "removed lead rule "+id+"\n" {
		t.Fatalf("remove: %q %v", out, err)
	}
	if out, _, _ = cli("lead-rule", "list", "--site", keys["Shop"]); strings.Contains(out, "call_generator") || !strings.Contains(out, "personal_form") {
		t.Fatalf("after remove: %q", out)
	}
	if _, _, err := cli("lead-rule", "remove", "--site", keys["Shop"]); err == nil {
		t.Error("remove without --id succeeded")
	}
	if _, _, err := cli("lead-rule", "frob", "--site", keys["Shop"]); err == nil {
		t.Error("unknown action succeeded")
	}
}
