package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/widgets"
)

const adminUsage = `usage: comagicd admin <object> <action> [flags]

  site create --account NAME --domain DOMAIN [--domain DOMAIN...]
        create a site (and the account when new); prints "site_key: <key>"
        and the embed code
  site list
        list sites with their account, key and domains
  site update --site KEY [--domain DOMAIN...] [--time-zone TZ] [--region RU]
        [--session-timeout 30m] [--anonymize-ip=true|false]
        change a site; --domain replaces the list of domains
  site settings --site KEY --widget VC --device desktop|tablet|mobile --file settings.json
        set the settings object of a widget (view controller: consultant,
        sitephone, call_generator, offline_message_generator, personal_form)
        for a device type; the file has the shape of the vendor's settings and
        is checked first. --remove instead of --file disables the widget there.

Every admin command also takes -database-url (default: $DATABASE_URL).
`

// multi collects a repeated string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func admin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "site" {
		fmt.Fprint(stderr, adminUsage)
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h") {
			return nil
		}
		return errors.New("admin: expected: site create|list|update|settings")
	}
	action := args[1]
	fs := flag.NewFlagSet("admin site "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", envOr("DATABASE_URL", config.DefaultDatabaseURL), "PostgreSQL URL")
	baseURL := fs.String("base-url", envOr("COMAGICD_BASE_URL", "http://localhost:8080/"), "public base URL for the embed code")
	account := fs.String("account", "", "account name")
	siteKey := fs.String("site", "", "site key")
	var domains multi
	fs.Var(&domains, "domain", "site domain (repeatable)")
	tz := fs.String("time-zone", "", "IANA time zone, e.g. Europe/Moscow")
	region := fs.String("region", "", "default phone region, e.g. RU")
	timeout := fs.Duration("session-timeout", 0, "session timeout, e.g. 30m")
	anon := fs.String("anonymize-ip", "", "true or false")
	widget := fs.String("widget", "", "view controller: "+strings.Join(widgets.ViewControllers, ", "))
	device := fs.String("device", "", "device type: desktop, tablet or mobile")
	file := fs.String("file", "", "settings JSON file ('-' for standard input)")
	remove := fs.Bool("remove", false, "remove the widget's settings for the device")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if err := postgres.EnsureDatabase(ctx, *dbURL); err != nil {
		return err
	}
	db, err := postgres.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := postgres.Migrate(ctx, db); err != nil {
		return err
	}
	sites := postgres.NewSites(db)
	base := *baseURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}

	switch action {
	case "create":
		if *account == "" {
			return errors.New("admin site create: --account is required")
		}
		if len(domains) == 0 {
			return errors.New("admin site create: --domain is required")
		}
		acc, err := sites.EnsureAccount(ctx, *account)
		if err != nil {
			return err
		}
		site, err := sites.CreateSite(ctx, acc.ID, domains)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "site_key: %s\naccount: %s\ndomains: %s\n\nEmbed code:\n\n%s", site.Key, acc.Name, strings.Join(site.Domains, ", "), snippet(base, site.Key))
		return nil
	case "list":
		all, accounts, err := sites.ListSites(ctx)
		if err != nil {
			return err
		}
		for i, s := range all {
			fmt.Fprintf(stdout, "%s\taccount=%s\tdomains=%s\ttime_zone=%s\tregion=%s\tsession_timeout=%s\n",
				s.Key, accounts[i], strings.Join(s.Domains, ","), s.TimeZone, s.Region, s.SessionTimeout)
		}
		return nil
	case "update":
		if *siteKey == "" {
			return errors.New("admin site update: --site is required")
		}
		o := postgres.SiteOptions{Domains: domains}
		if *tz != "" {
			o.TimeZone = tz
		}
		if *region != "" {
			o.Region = region
		}
		if *timeout != 0 {
			d := time.Duration(*timeout)
			o.SessionTimeout = &d
		}
		switch *anon {
		case "":
		case "true", "false":
			v := *anon == "true"
			o.AnonymizeIP = &v
		default:
			return errors.New("admin site update: --anonymize-ip must be true or false")
		}
		s, err := sites.UpdateSite(ctx, *siteKey, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "site_key: %s\ndomains: %s\ntime_zone: %s\nregion: %s\nsession_timeout: %s\nanonymize_ip: %t\n",
			s.Key, strings.Join(s.Domains, ","), s.TimeZone, s.Region, s.SessionTimeout, s.AnonymizeIP)
		return nil
	case "settings":
		return siteSettings(ctx, sites, *siteKey, *widget, *device, *file, *remove, stdin, stdout)
	}
	fmt.Fprint(stderr, adminUsage)
	return fmt.Errorf("admin site: unknown action %q", action)
}

// siteSettings validates and stores one widget's settings for one device type.
func siteSettings(ctx context.Context, sites *postgres.Sites, key, vc, device, file string, remove bool, stdin io.Reader, stdout io.Writer) error {
	switch {
	case key == "":
		return errors.New("admin site settings: --site is required")
	case vc == "":
		return errors.New("admin site settings: --widget is required (" + strings.Join(widgets.ViewControllers, ", ") + ")")
	case !widgets.ValidDevice(device):
		return fmt.Errorf("admin site settings: --device must be desktop, tablet or mobile, got %q", device)
	case remove == (file != ""):
		return errors.New("admin site settings: give exactly one of --file and --remove")
	}
	var raw json.RawMessage
	if !remove {
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return fmt.Errorf("admin site settings: %w", err)
		}
		if raw, err = widgets.Validate(vc, data); err != nil {
			return fmt.Errorf("admin site settings: %s is not valid: %s", file, comagic.ErrorMessage(err))
		}
	} else if !widgets.Known(vc) {
		return fmt.Errorf("admin site settings: unknown widget %q (one of %s)", vc, strings.Join(widgets.ViewControllers, ", "))
	}
	if _, err := sites.SetWidgetSettings(ctx, key, vc, device, raw); err != nil {
		return err
	}
	if remove {
		fmt.Fprintf(stdout, "%s: %s removed for %s\n", key, vc, device)
	} else {
		fmt.Fprintf(stdout, "%s: %s settings stored for %s (%d bytes)\n", key, vc, device, len(raw))
	}
	return nil
}

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, config.Getenv, stderr)
	if err != nil {
		return err
	}
	if err := postgres.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := postgres.Migrate(ctx, db); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied to", postgres.RedactURL(cfg.DatabaseURL))
	return nil
}

func envOr(name, def string) string {
	if v := config.Getenv(name); v != "" {
		return v
	}
	return def
}
