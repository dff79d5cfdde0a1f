package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/comagicd/comagicd/internal/webhooks"
)

// adminWebhook manages the accounts' webhooks: add, list, remove, deliveries.
func adminWebhook(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	fs, dbURL := adminFlags("admin webhook "+action, stderr)
	account := fs.String("account", "", "account name")
	rawURL := fs.String("url", "", "http:// or https:// address receiving the POSTs")
	var events multi
	fs.Var(&events, "event", "event to receive (repeatable; none = every event): "+strings.Join(webhooks.Events[:], ", "))
	id := fs.Int64("id", 0, "webhook id")
	limit := fs.Int("limit", 50, "deliveries to show, newest first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch action {
	case "add":
		if *account == "" || *rawURL == "" {
			return errors.New("admin webhook add: --account and --url are required")
		}
		if err := webhooks.CheckURL(strings.TrimSpace(*rawURL)); err != nil {
			return err
		}
		if _, err := webhooks.CleanEvents(events); err != nil {
			return err
		}
	case "list":
	case "remove", "deliveries":
		if *id <= 0 {
			return fmt.Errorf("admin webhook %s: --id is required", action)
		}
		if *limit <= 0 || *limit > 1000 {
			return errors.New("admin webhook deliveries: --limit must be 1..1000")
		}
	default:
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("admin webhook: unknown action %q", action)
	}
	db, err := openAdminDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	store := webhooks.NewStore(db)
	var accountID int64
	if *account != "" {
		if accountID, err = store.AccountID(ctx, *account); err != nil {
			return fmt.Errorf("admin webhook %s: %w", action, err)
		}
	}
	switch action {
	case "add":
		w, err := store.Add(ctx, accountID, *rawURL, events)
		if err != nil {
			return fmt.Errorf("admin webhook add: %w", err)
		}
		fmt.Fprintf(stdout, "webhook: %d\nsecret: %s\nevents: %s\n\nThe secret signs every delivery (X-Comagicd-Signature); it is not shown again.\n",
			w.ID, w.Secret, eventList(w.Events))
	case "list":
		all, err := store.List(ctx, accountID)
		if err != nil {
			return fmt.Errorf("admin webhook list: %w", err)
		}
		for _, w := range all {
			fmt.Fprintf(stdout, "%d\taccount=%s\turl=%s\tevents=%s\tactive=%t\tcreated=%s\n",
				w.ID, w.AccountName, w.URL, eventList(w.Events), w.Active, w.CreatedAt.UTC().Format(time.RFC3339))
		}
	case "remove":
		if err := store.Remove(ctx, *id); err != nil {
			return fmt.Errorf("admin webhook remove: %w", err)
		}
		fmt.Fprintf(stdout, "removed webhook %d\n", *id)
	default:
		log, err := store.Deliveries(ctx, *id, *limit)
		if err != nil {
			return fmt.Errorf("admin webhook deliveries: %w", err)
		}
		for _, d := range log {
			state := "pending next=" + d.NextAttemptAt.UTC().Format(time.RFC3339)
			if d.DeliveredAt != nil {
				state = "delivered=" + d.DeliveredAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%d\t%s\tcreated=%s\t%s\tfailed_attempts=%d\tlast_status=%d\tlast_error=%q\n",
				d.ID, d.Event, d.CreatedAt.UTC().Format(time.RFC3339), state, d.Attempts, d.LastStatus, d.LastError)
		}
	}
	return nil
}

// eventList shows a webhook's events, "all" for every event.
func eventList(events []string) string {
	if len(events) == 0 {
		return "all"
	}
	return strings.Join(events, ",")
}
