package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/testenv"
	"github.com/comagicd/comagicd/internal/webhooks"
)

func TestAdminWebhooks(t *testing.T) {
	db := testenv.NewDatabase(t)
	ctx := context.Background()
	cli := adminCLI(t, db)
	for _, acc := range []string{"Shop", "Other"} {
		if _, err := cli("site", "create", "--account", acc, "--domain", strings.ToLower(acc)+".example"); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cli("webhook", "add", "--account", "Shop", "--url", "https://crm.example/hook", "--event", "offline_request.created", "--event", "chat.closed")
	m := regexp.MustCompile(`(?s)^webhook: (\d+)\nsecret: ([0-9a-f]{64})\nevents: offline_request.created,chat.closed\n`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("add: %q %v", out, err)
	}
	id, secret := m[1], m[2]
	out, err = cli("webhook", "add", "--account", "Other", "--url", "http://other.example/hook")
	if err != nil || !strings.Contains(out, "events: all\n") {
		t.Fatalf("add all: %q %v", out, err)
	}
	otherID := regexp.MustCompile(`^webhook: (\d+)`).FindStringSubmatch(out)[1]
	// Bad input.
	for _, bad := range [][]string{
		{"--account", "Shop", "--url", "ftp://crm.example/"},
		{"--account", "Shop", "--url", "crm.example/hook"},
		{"--account", "Shop", "--url", "https://crm.example/", "--event", "call.made"},
	} {
		if _, err := cli(append([]string{"webhook", "add"}, bad...)...); comagic.ErrorCode(err) != comagic.EINVALID {
			t.Fatalf("add %v: %v", bad, err)
		}
	}
	if _, err := cli("webhook", "add", "--account", "Nobody", "--url", "https://x.example/"); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("unknown account: %v", err)
	}
	// The list shows no secret; --account filters.
	out, err = cli("webhook", "list", "--account", "Shop")
	if err != nil || !strings.HasPrefix(out, id+"\taccount=Shop\turl=https://crm.example/hook\tevents=offline_request.created,chat.closed\tactive=true\t") ||
		strings.Count(out, "\n") != 1 || strings.Contains(out, secret) {
		t.Fatalf("list Shop: %q %v", out, err)
	}
	if out, err = cli("webhook", "list"); err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, "account=Other") {
		t.Fatalf("list: %q %v", out, err)
	}

	// The delivery log: one pending delivery, then its failed attempt.
	pool := testenv.NewDBAt(t, db)
	var accountID int64
	if err := pool.QueryRow(ctx, `SELECT id FROM accounts WHERE name = 'Shop'`).Scan(&accountID); err != nil {
		t.Fatal(err)
	}
	if n, err := webhooks.Publish(ctx, pool, accountID, webhooks.EventChatClosed, map[string]any{"chat_id": 1}); err != nil || n != 1 {
		t.Fatalf("publish: %d %v", n, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE webhook_deliveries SET attempts = 2, last_status = 502, last_error = 'HTTP 502 Bad Gateway: down'`); err != nil {
		t.Fatal(err)
	}
	out, err = cli("webhook", "deliveries", "--id", id)
	if err != nil || !regexp.MustCompile(`^\d+\tchat.closed\tcreated=\S+\tpending next=\S+\tfailed_attempts=2\tlast_status=502\tlast_error="HTTP 502 Bad Gateway: down"\n$`).MatchString(out) {
		t.Fatalf("deliveries: %q %v", out, err)
	}
	if out, err = cli("webhook", "deliveries", "--id", otherID); err != nil || out != "" {
		t.Fatalf("deliveries of the other webhook: %q %v", out, err)
	}
	if _, err := cli("webhook", "deliveries", "--id", "999999"); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("deliveries of no webhook: %v", err)
	}
	// Remove.
	if out, err = cli("webhook", "remove", "--id", id); err != nil || out != "removed webhook "+id+"\n" {
		t.Fatalf("remove: %q %v", out, err)
	}
	if _, err := cli("webhook", "remove", "--id", id); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("remove again: %v", err)
	}
	if out, _ = cli("webhook", "list", "--account", "Shop"); out != "" {
		t.Fatalf("list after remove: %q", out)
	}
	if _, err := cli("webhook", "remove"); err == nil {
		t.Fatal("remove without --id")
	}
}
