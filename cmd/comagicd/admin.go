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

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/operators"
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
        [--call-hours "mon-fri 09:00-18:00; sat 10:00-14:00"]
        change a site; --domain replaces the list of domains; --call-hours
        sets the working hours for call-backs in the site's time zone
        (days mon..sun or daily, ranges like mon-fri, several intervals a
        day); --call-hours '' removes them (around the clock)
  site settings --site KEY --widget VC --device desktop|tablet|mobile --file settings.json
        set the settings object of a widget (view controller: consultant,
        sitephone, call_generator, offline_message_generator, personal_form)
        for a device type; the file has the shape of the vendor's settings and
        is checked first. --remove instead of --file disables the widget there.

  employee create --account NAME --login LOGIN --name NAME [--position P]
        [--avatar URL] [--password-stdin] [--site KEY...] [--group NAME...]
        [--max-chats N] [--can-chat=false] [--can-invite=false]
        [--handles-offline=false]
        create an operator (and the account when new). Sites and groups must
        be the account's. With --password-stdin the password (8 to 200
        characters) is the first line of standard input; without it a random
        password is generated and printed once.
  employee list [--account NAME]
        list employees (of one account, or all)
  employee update --login LOGIN [--name NAME] [--position P] [--avatar URL]
        [--password-stdin] [--site KEY...] [--group NAME...] [--max-chats N]
        [--can-chat=true|false] [--can-invite=true|false]
        [--handles-offline=true|false]
        change an employee; --site and --group replace the lists (--site ''
        removes every site); a new password logs the employee out everywhere
  employee disable --login LOGIN
        disable an employee: offline, cannot log in, logged out everywhere
  group create --account NAME --name NAME
        create a group of operators (and the account when new)
  group list [--account NAME]
        list groups with their number of members
  invite-rule add --site KEY --message TEXT [--after 30s] [--page-views N]
        [--url SUBSTRING] [--source SOURCE]
        invite the site's visitors to chat automatically when an operator is
        online and every condition given holds (once per visit)
  invite-rule list --site KEY
  invite-rule remove --site KEY --id ID
  webhook add --account NAME --url URL [--event E...]
        add a webhook of the account: signed POSTs of the events (every
        event without --event: offline_request.created, chat.closed,
        lead_action.created, callback.requested, callback.dispatched,
        callback.failed, call.created); prints its id and secret, shown once
  webhook list [--account NAME]
  webhook remove --id ID
        remove a webhook and its delivery log
  webhook deliveries --id ID [--limit 50]
        the delivery log, newest first: attempts, last status and error
  callback-scenario add --site KEY [--group NAME] --url URL [--sync]
        where the site's call-back orders (of the group, or without --group
        of every group without its own) are POSTed, signed; --sync POSTs at
        once while the visitor waits; prints its id and secret, shown once
  callback-scenario list --site KEY
  callback-scenario remove --site KEY --id ID
` + adminLeadRuleUsage + adminCallTrackingUsage + `
Every admin command also takes -database-url (default: $DATABASE_URL).
`

// adminFlags returns the flag set of an admin command named name, writing
// its errors to stderr, with the -database-url flag every command takes.
func adminFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, fs.String("database-url", envOr("DATABASE_URL", config.DefaultDatabaseURL), "PostgreSQL URL")
}

// openAdminSite opens the database and finds the site of a per-site admin
// command (what names the command in errors). The caller closes db.
func openAdminSite(ctx context.Context, dbURL, siteKey, what string) (*pgxpool.Pool, *comagic.Site, error) {
	db, err := openAdminDB(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	site, err := postgres.NewSites(db).SiteByKey(ctx, siteKey)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return db, site, nil
}

// multi collects a repeated string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func admin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) >= 2 {
		switch args[0] {
		case "site":
			return adminSite(ctx, args[1], args[2:], stdin, stdout, stderr)
		case "employee":
			return adminEmployee(ctx, args[1], args[2:], stdin, stdout, stderr)
		case "group":
			return adminGroup(ctx, args[1], args[2:], stdout, stderr)
		case "invite-rule":
			return adminInviteRule(ctx, args[1], args[2:], stdout, stderr)
		case "webhook":
			return adminWebhook(ctx, args[1], args[2:], stdout, stderr)
		case "lead-rule":
			return adminLeadRule(ctx, args[1], args[2:], stdout, stderr)
		case "callback-scenario":
			return adminCallbackScenario(ctx, args[1], args[2:], stdout, stderr)
		case "phone-group":
			return adminPhoneGroup(ctx, args[1], args[2:], stdout, stderr)
		case "phone-rule":
			return adminPhoneRule(ctx, args[1], args[2:], stdout, stderr)
		case "pool":
			return adminPool(ctx, args[1], args[2:], stdout, stderr)
		case "api-token":
			return adminAPIToken(ctx, args[1], args[2:], stdout, stderr)
		}
	}
	fmt.Fprint(stderr, adminUsage)
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h") {
		return nil
	}
	return errors.New("admin: expected: site create|list|update|settings, employee create|list|update|disable, group create|list, invite-rule add|list|remove, webhook add|list|remove|deliveries, callback-scenario add|list|remove, lead-rule add|list|remove, phone-group add|list|remove, phone-rule add|list|remove, pool add-numbers|status, api-token create|list|revoke")
}

// openAdminDB opens the database at url, creating and migrating it when needed.
func openAdminDB(ctx context.Context, url string) (*pgxpool.Pool, error) {
	if err := postgres.EnsureDatabase(ctx, url); err != nil {
		return nil, err
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func adminSite(ctx context.Context, action string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, dbURL := adminFlags("admin site "+action, stderr)
	baseURL := fs.String("base-url", envOr("COMAGICD_BASE_URL", "http://localhost:8080/"), "public base URL for the embed code")
	account := fs.String("account", "", "account name")
	siteKey := fs.String("site", "", "site key")
	var domains multi
	fs.Var(&domains, "domain", "site domain (repeatable)")
	tz := fs.String("time-zone", "", "IANA time zone, e.g. Europe/Moscow")
	region := fs.String("region", "", "default phone region, e.g. RU")
	timeout := fs.Duration("session-timeout", 0, "session timeout, e.g. 30m")
	anon := fs.String("anonymize-ip", "", "true or false")
	hours := fs.String("call-hours", "", `working hours for call-backs, e.g. "mon-fri 09:00-18:00; sat 10:00-14:00" ('' = around the clock)`)
	widget := fs.String("widget", "", "view controller: "+strings.Join(widgets.ViewControllers, ", "))
	device := fs.String("device", "", "device type: desktop, tablet or mobile")
	file := fs.String("file", "", "settings JSON file ('-' for standard input)")
	remove := fs.Bool("remove", false, "remove the widget's settings for the device")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openAdminDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
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
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "call-hours" {
				o.CallSchedule = hours
			}
		})
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
		callHours := "around the clock"
		if s.CallSchedule != nil {
			callHours = s.CallSchedule.String()
		}
		fmt.Fprintf(stdout, "site_key: %s\ndomains: %s\ntime_zone: %s\nregion: %s\nsession_timeout: %s\nanonymize_ip: %t\ncall_hours: %s\n",
			s.Key, strings.Join(s.Domains, ","), s.TimeZone, s.Region, s.SessionTimeout, s.AnonymizeIP, callHours)
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

// employeeFlags are the flags of "admin employee create|update".
type employeeFlags struct {
	fs                                 *flag.FlagSet
	dbURL, account, login, name        *string
	position, avatar                   *string
	passwordStdin                      *bool
	sites, groups                      multi
	maxChats                           *int
	canChat, canInvite, handlesOffline *bool
}

func newEmployeeFlags(action string, stderr io.Writer) *employeeFlags {
	fs, dbURL := adminFlags("admin employee "+action, stderr)
	f := &employeeFlags{fs: fs, dbURL: dbURL}
	f.account = fs.String("account", "", "account name")
	f.login = fs.String("login", "", "login of the employee")
	f.name = fs.String("name", "", "name shown to visitors")
	f.position = fs.String("position", "", "position shown to visitors")
	f.avatar = fs.String("avatar", "", "http(s) URL of the avatar")
	f.passwordStdin = fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	fs.Var(&f.sites, "site", "site key of the account (repeatable)")
	fs.Var(&f.groups, "group", "group name of the account (repeatable)")
	f.maxChats = fs.Int("max-chats", 5, "chats held at once (0..100)")
	f.canChat = fs.Bool("can-chat", true, "may chat")
	f.canInvite = fs.Bool("can-invite", true, "may invite visitors to chat")
	f.handlesOffline = fs.Bool("handles-offline", true, "handles offline requests")
	return f
}

// set returns the names of the flags given on the command line.
func (f *employeeFlags) set() map[string]bool {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// readPassword reads the first line of r and hashes it.
func readPassword(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	hash, err := operators.HashPassword(strings.TrimSuffix(line, "\r"))
	if err != nil {
		return "", fmt.Errorf("password from standard input: %s", comagic.ErrorMessage(err))
	}
	return hash, nil
}

func adminEmployee(ctx context.Context, action string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := newEmployeeFlags(action, stderr)
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("admin employee %s: unexpected argument %q", action, f.fs.Arg(0))
	}
	set := f.set()
	switch action {
	case "create":
		switch {
		case *f.account == "":
			return errors.New("admin employee create: --account is required")
		case *f.login == "":
			return errors.New("admin employee create: --login is required")
		case *f.name == "":
			return errors.New("admin employee create: --name is required")
		}
	case "update", "disable":
		if *f.login == "" {
			return fmt.Errorf("admin employee %s: --login is required", action)
		}
	case "list":
	default:
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("admin employee: unknown action %q", action)
	}
	// The password is read and hashed before the database is touched.
	var hash, generated string
	var err error
	switch {
	case *f.passwordStdin && (action == "create" || action == "update"):
		if hash, err = readPassword(stdin); err != nil {
			return fmt.Errorf("admin employee %s: %w", action, err)
		}
	case action == "create":
		generated = operators.GeneratePassword()
		if hash, err = operators.HashPassword(generated); err != nil {
			return err
		}
	}
	db, err := openAdminDB(ctx, *f.dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	emps := postgres.NewEmployees(db)

	switch action {
	case "create":
		in := postgres.EmployeeInput{Account: *f.account, Login: *f.login, Name: *f.name, Position: *f.position, Avatar: *f.avatar,
			PasswordHash: hash, Sites: f.sites, Groups: f.groups}
		if set["max-chats"] {
			in.MaxChats = f.maxChats
		}
		if set["can-chat"] {
			in.CanChat = f.canChat
		}
		if set["can-invite"] {
			in.CanInvite = f.canInvite
		}
		if set["handles-offline"] {
			in.HandlesOffline = f.handlesOffline
		}
		e, err := emps.CreateEmployee(ctx, in)
		if err != nil {
			return fmt.Errorf("admin employee create: %w", err)
		}
		printEmployee(stdout, e)
		if generated != "" {
			fmt.Fprintf(stdout, "password: %s\n(generated and shown only this once; change it with: comagicd admin employee update --login %s --password-stdin)\n", generated, e.Login)
		}
		return nil
	case "list":
		var accountID int64
		if *f.account != "" {
			acc, err := emps.AccountByName(ctx, *f.account)
			if err != nil {
				return fmt.Errorf("admin employee list: %w", err)
			}
			accountID = acc.ID
		}
		all, err := emps.ListEmployees(ctx, accountID)
		if err != nil {
			return err
		}
		for _, e := range all {
			disabled := "no"
			if e.DisabledAt != nil {
				disabled = e.DisabledAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%s\taccount=%s\tname=%s\tposition=%s\tstatus=%s\tmax_chats=%d\tsites=%s\tgroups=%s\tdisabled=%s\n",
				e.Login, e.Account, e.Name, e.Position, e.Status, e.MaxChats, strings.Join(e.SiteKeys, ","), strings.Join(e.GroupNames, ","), disabled)
		}
		return nil
	}

	e, err := emps.EmployeeByLogin(ctx, *f.login)
	if err != nil {
		return fmt.Errorf("admin employee %s: %w", action, err)
	}
	if *f.account != "" && *f.account != e.Account {
		return fmt.Errorf("admin employee %s: %s is an employee of account %q, not %q", action, e.Login, e.Account, *f.account)
	}
	if action == "disable" {
		if e, err = emps.DisableEmployee(ctx, e.ID); err != nil {
			return fmt.Errorf("admin employee disable: %w", err)
		}
		printEmployee(stdout, e)
		return nil
	}
	var u postgres.EmployeeUpdate
	if set["name"] {
		u.Name = f.name
	}
	if set["position"] {
		u.Position = f.position
	}
	if set["avatar"] {
		u.Avatar = f.avatar
	}
	if hash != "" {
		u.PasswordHash = &hash
	}
	if set["max-chats"] {
		u.MaxChats = f.maxChats
	}
	if set["can-chat"] {
		u.CanChat = f.canChat
	}
	if set["can-invite"] {
		u.CanInvite = f.canInvite
	}
	if set["handles-offline"] {
		u.HandlesOffline = f.handlesOffline
	}
	if set["site"] {
		sites := []string(f.sites)
		u.Sites = &sites
	}
	if set["group"] {
		groups := []string(f.groups)
		u.Groups = &groups
	}
	if e, err = emps.UpdateEmployee(ctx, e.ID, u); err != nil {
		return fmt.Errorf("admin employee update: %w", err)
	}
	printEmployee(stdout, e)
	if hash != "" {
		fmt.Fprintln(stdout, "password changed; the employee's sessions were logged out")
	}
	return nil
}

func printEmployee(w io.Writer, e *comagic.Employee) {
	fmt.Fprintf(w, "employee: %s (id %d)\naccount: %s\nname: %s\nposition: %s\navatar: %s\nmax_chats: %d\ncan_chat: %t\ncan_invite: %t\nhandles_offline: %t\nsites: %s\ngroups: %s\n",
		e.Login, e.ID, e.Account, e.Name, e.Position, e.Avatar, e.MaxChats, e.CanChat, e.CanInvite, e.HandlesOffline,
		strings.Join(e.SiteKeys, ","), strings.Join(e.GroupNames, ","))
	if e.DisabledAt != nil {
		fmt.Fprintf(w, "disabled: %s\n", e.DisabledAt.UTC().Format(time.RFC3339))
	}
}

func adminGroup(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	fs, dbURL := adminFlags("admin group "+action, stderr)
	account := fs.String("account", "", "account name")
	name := fs.String("name", "", "group name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch action {
	case "create":
		if *account == "" || *name == "" {
			return errors.New("admin group create: --account and --name are required")
		}
	case "list":
	default:
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("admin group: unknown action %q", action)
	}
	db, err := openAdminDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	emps := postgres.NewEmployees(db)
	if action == "create" {
		g, err := emps.CreateGroup(ctx, *account, *name)
		if err != nil {
			return fmt.Errorf("admin group create: %w", err)
		}
		fmt.Fprintf(stdout, "group: %s (id %d)\naccount: %s\n", g.Name, g.ID, g.Account)
		return nil
	}
	var accountID int64
	if *account != "" {
		acc, err := emps.AccountByName(ctx, *account)
		if err != nil {
			return fmt.Errorf("admin group list: %w", err)
		}
		accountID = acc.ID
	}
	groups, err := emps.ListGroups(ctx, accountID)
	if err != nil {
		return err
	}
	for _, g := range groups {
		fmt.Fprintf(stdout, "%s\taccount=%s\tid=%d\tmembers=%d\n", g.Name, g.Account, g.ID, g.Members)
	}
	return nil
}
