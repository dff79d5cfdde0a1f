package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/comagicd/comagicd/internal/callbacks"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// adminCallbackScenario manages the sites' callback scenarios: add, list,
// remove.
func adminCallbackScenario(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	fs, dbURL := adminFlags("admin callback-scenario "+action, stderr)
	site := fs.String("site", "", "site key")
	group := fs.String("group", "", "name of the operators' group (none: the site's default scenario)")
	rawURL := fs.String("url", "", "http:// or https:// address receiving the orders")
	sync := fs.Bool("sync", false, "POST each order at once, while the visitor waits (the PBX answers at accept time)")
	id := fs.Int64("id", 0, "scenario id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *site == "" {
		return fmt.Errorf("admin callback-scenario %s: --site is required", action)
	}
	switch action {
	case "add":
		if *rawURL == "" {
			return errors.New("admin callback-scenario add: --url is required")
		}
		if err := webhooks.CheckURL(strings.TrimSpace(*rawURL)); err != nil {
			return err
		}
	case "list":
	case "remove":
		if *id <= 0 {
			return errors.New("admin callback-scenario remove: --id is required")
		}
	default:
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("admin callback-scenario: unknown action %q", action)
	}
	db, err := openAdminDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	store := callbacks.NewScenarios(db)
	switch action {
	case "add":
		sc, err := store.Add(ctx, *site, *group, *rawURL, *sync)
		if err != nil {
			return fmt.Errorf("admin callback-scenario add: %w", err)
		}
		fmt.Fprintf(stdout, "scenario: %d\nsecret: %s\nmode: %s\ngroup: %s\n\nThe secret signs every order (X-Comagicd-Signature); it is not shown again.\n",
			sc.ID, sc.Secret, sc.Mode, groupLabel(sc.GroupName))
	case "list":
		all, err := store.List(ctx, *site)
		if err != nil {
			return fmt.Errorf("admin callback-scenario list: %w", err)
		}
		for _, sc := range all {
			fmt.Fprintf(stdout, "%d\tgroup=%s\tmode=%s\turl=%s\tactive=%t\tcreated=%s\n",
				sc.ID, groupLabel(sc.GroupName), sc.Mode, sc.URL, sc.Active, sc.CreatedAt.UTC().Format(time.RFC3339))
		}
	default:
		if err := store.Remove(ctx, *site, *id); err != nil {
			return fmt.Errorf("admin callback-scenario remove: %w", err)
		}
		fmt.Fprintf(stdout, "removed callback scenario %d\n", *id)
	}
	return nil
}

// groupLabel shows a scenario's group, "default" for the site's default.
func groupLabel(name string) string {
	if name == "" {
		return "default"
	}
	return name
}
