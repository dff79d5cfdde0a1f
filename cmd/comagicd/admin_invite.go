package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
)

// adminInviteRule manages a site's auto-invite rules: add, list, remove.
func adminInviteRule(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	fs, dbURL := adminFlags("admin invite-rule "+action, stderr)
	siteKey := fs.String("site", "", "site key")
	message := fs.String("message", "", "invitation text")
	after := fs.Duration("after", 0, "time on site before the invitation, e.g. 30s")
	pages := fs.Int("page-views", 0, "pages viewed in the visit, at least")
	urlPart := fs.String("url", "", "the page URL contains this")
	source := fs.String("source", "", "utm_source or referrer domain of the visit")
	id := fs.Int64("id", 0, "rule id (remove)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *siteKey == "" {
		return errors.New("admin invite-rule: --site is required")
	}
	rule := chat.AutoInviteRule{Message: strings.TrimSpace(*message), MinTimeOnSite: *after, MinPageViews: *pages,
		URLPattern: *urlPart, Source: *source}
	switch action {
	case "add":
		switch {
		case rule.Message == "" || utf8.RuneCountInString(rule.Message) > 2000:
			return comagic.Invalid("message", "--message must be 1..2000 characters")
		case *after < 0 || *after > 24*time.Hour:
			return comagic.Invalid("after", "--after must be between 0 and 24h")
		case *pages < 0:
			return comagic.Invalid("page-views", "--page-views must not be negative")
		}
	case "list":
	case "remove":
		if *id <= 0 {
			return errors.New("admin invite-rule remove: --id is required")
		}
	default:
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("admin invite-rule: unknown action %q", action)
	}
	db, site, err := openAdminSite(ctx, *dbURL, *siteKey, "admin invite-rule")
	if err != nil {
		return err
	}
	defer db.Close()
	chats := postgres.NewChats(db)
	switch action {
	case "add":
		n, err := chats.AddAutoInviteRule(ctx, site.ID, rule)
		if err != nil {
			return fmt.Errorf("admin invite-rule add: %w", err)
		}
		fmt.Fprintf(stdout, "invite rule: %d\n", n)
	case "remove":
		if err := chats.RemoveAutoInviteRule(ctx, site.ID, *id); err != nil {
			return fmt.Errorf("admin invite-rule remove: %w", err)
		}
		fmt.Fprintf(stdout, "removed invite rule %d\n", *id)
	default:
		rules, err := chats.AutoInviteRules(ctx, site.ID)
		if err != nil {
			return err
		}
		for _, r := range rules {
			fmt.Fprintf(stdout, "%d\tafter=%s\tpage_views=%d\turl=%q\tsource=%q\tmessage=%q\n",
				r.ID, r.MinTimeOnSite, r.MinPageViews, r.URLPattern, r.Source, r.Message)
		}
	}
	return nil
}
