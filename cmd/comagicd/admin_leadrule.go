package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
)

// adminLeadRuleUsage documents the lead-rule commands (part of adminUsage's topics).
const adminLeadRuleUsage = `  lead-rule add --site KEY --widget VC [--on-page 30s] [--on-site 2m]
        [--page-views N] [--url SUBSTRING] [--source SOURCE]
        [--once-per session|visitor] [--on-exit]
        show a lead form (call_generator, offline_message_generator,
        personal_form) once every condition given holds (with --on-exit,
        then only when the visitor is about to leave the page: the pointer
        leaves through the top of the window, or a fast scroll back up on a
        touch screen); at most once per
        session (default) or visitor, and not after a lead form was
        submitted or cancelled there. The site needs settings of the widget.
  lead-rule list --site KEY
  lead-rule remove --site KEY --id ID
`

// adminLeadRule manages a site's lead generator rules: add, list, remove.
func adminLeadRule(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	fs, dbURL := adminFlags("admin lead-rule "+action, stderr)
	siteKey := fs.String("site", "", "site key")
	widget := fs.String("widget", "", "lead form: call_generator, offline_message_generator or personal_form")
	onPage := fs.Duration("on-page", 0, "time on the page before the form shows, e.g. 30s")
	onSite := fs.Duration("on-site", 0, "time since the visit started, e.g. 2m")
	pages := fs.Int("page-views", 0, "pages viewed in the visit, at least")
	urlPart := fs.String("url", "", "the page URL contains this")
	source := fs.String("source", "", "utm_source or referrer domain of the visit")
	oncePer := fs.String("once-per", comagic.LeadOncePerSession, "session or visitor")
	onExit := fs.Bool("on-exit", false, "show only on exit intent, once the other conditions hold")
	id := fs.Int64("id", 0, "rule id (remove)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *siteKey == "" {
		return errors.New("admin lead-rule: --site is required")
	}
	rule := comagic.LeadRule{Widget: *widget, MinTimeOnPage: seconds(*onPage), MinTimeOnSite: seconds(*onSite),
		MinPageViews: *pages, URLPattern: *urlPart, Source: *source, OncePer: *oncePer, OnExit: *onExit}
	switch action {
	case "add":
		if *onPage < 0 || *onSite < 0 {
			return comagic.Invalid("on-page", "--on-page and --on-site must not be negative")
		}
		if err := rule.Normalize(); err != nil {
			return fmt.Errorf("admin lead-rule add: %w", err)
		}
	case "list":
	case "remove":
		if *id <= 0 {
			return errors.New("admin lead-rule remove: --id is required")
		}
	default:
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("admin lead-rule: unknown action %q", action)
	}
	db, site, err := openAdminSite(ctx, *dbURL, *siteKey, "admin lead-rule")
	if err != nil {
		return err
	}
	defer db.Close()
	store := postgres.NewLeadRules(db)
	switch action {
	case "add":
		rule.SiteID = site.ID
		r, err := store.Add(ctx, rule)
		if err != nil {
			return fmt.Errorf("admin lead-rule add: %w", err)
		}
		fmt.Fprintf(stdout, "lead rule: %d\n", r.ID)
		if _, ok := site.Settings[r.Widget]; !ok {
			fmt.Fprintf(stderr, "note: the site has no %s settings yet, so the rule shows nothing until it has (admin site settings)\n", r.Widget)
		}
	case "remove":
		if err := store.Remove(ctx, site.ID, *id); err != nil {
			return fmt.Errorf("admin lead-rule remove: %w", err)
		}
		fmt.Fprintf(stdout, "removed lead rule %d\n", *id)
	default:
		rules, err := store.List(ctx, site.ID)
		if err != nil {
			return fmt.Errorf("admin lead-rule list: %w", err)
		}
		for _, r := range rules {
			fmt.Fprintf(stdout, "%d\twidget=%s\ton_page=%ds\ton_site=%ds\tpage_views=%d\turl=%q\tsource=%q\tonce_per=%s\ton_exit=%t\tactive=%t\n",
				r.ID, r.Widget, r.MinTimeOnPage, r.MinTimeOnSite, r.MinPageViews, r.URLPattern, r.Source, r.OncePer, r.OnExit, r.Active)
		}
	}
	return nil
}

// seconds rounds a duration up to whole seconds (a negative one to -1).
func seconds(d time.Duration) int {
	if d < 0 {
		return -1
	}
	return int((d + time.Second - 1) / time.Second)
}
