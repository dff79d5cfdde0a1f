package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/phone"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// adminCallTrackingUsage documents the call-tracking commands (part of adminUsage).
const adminCallTrackingUsage = `  phone-group add --site KEY --name NAME --selector TYPE=VALUE [--selector ...]
        [--template "+7 (XXX) XXX-XX-XX"] [--default-number NUMBER]
        a replacement group: where its number stands on the pages (TYPE is
        id, class, name, selector (any CSS selector) or phone_number (the
        page's original number, found in the text in any formatting)), how
        it is written, and the number shown when no rule gives one
  phone-group list --site KEY
  phone-group remove --site KEY --id ID
  phone-rule add --site KEY --group ID --kind static --number NUMBER
        [--match any|source|utm_source|utm_medium|utm_campaign|referrer|landing --value V]
  phone-rule add --site KEY --group ID --kind dynamic --number N1 --number N2 ...
        --reserve-phone-numbers-time MINUTES [--match ... --value V]
        which number a session whose traffic matches sees: a static rule's
        number, or one of a dynamic rule's pool reserved for the session
        (5..10080 minutes, renewed while the visitor is active); dynamic
        rules are tried first, an exhausted pool falls back to the static
        rules and the default number
  phone-rule list --site KEY
  phone-rule remove --site KEY --id ID
  pool add-numbers --site KEY --rule ID --number N [--number N...]
  pool status --site KEY
        each dynamic pool: numbers, held now, free, page views that found
        it exhausted in the last 24 hours and the latest
  api-token create --account NAME [--name LABEL]
        an account API token (POST/GET /api/v1/calls), shown once; stored
        as its SHA-256
  api-token list [--account NAME]
  api-token revoke --id ID
`

// ctFlags are the flags of the per-site call-tracking commands.
type ctFlags struct {
	fs                       *flag.FlagSet
	dbURL, siteKey, name     *string
	template, defaultNumber  *string
	kind, match, value       *string
	selectors, numbers       multi
	id, group, rule, minutes *int64
	account                  *string
}

func newCTFlags(what string, stderr io.Writer) *ctFlags {
	fs, dbURL := adminFlags(what, stderr)
	f := &ctFlags{fs: fs,
		dbURL:         dbURL,
		siteKey:       fs.String("site", "", "site key"),
		name:          fs.String("name", "", "name of the group (or label of the token)"),
		template:      fs.String("template", "", `how the number is written, X for digits, e.g. "+7 (XXX) XXX-XX-XX"`),
		defaultNumber: fs.String("default-number", "", "number shown when no rule gives one"),
		kind:          fs.String("kind", "", "static or dynamic"),
		match:         fs.String("match", "any", "what the rule matches: any, source, utm_source, utm_medium, utm_campaign, referrer, landing"),
		value:         fs.String("value", "", "the value matched"),
		id:            fs.Int64("id", 0, "id (remove, revoke)"),
		group:         fs.Int64("group", 0, "replacement group id"),
		rule:          fs.Int64("rule", 0, "dynamic rule id"),
		minutes:       fs.Int64("reserve-phone-numbers-time", 0, "minutes a pool number stays with a session after its last activity (5..10080)"),
		account:       fs.String("account", "", "account name"),
	}
	fs.Var(&f.selectors, "selector", "TYPE=VALUE (repeatable): id, class, name, selector or phone_number")
	fs.Var(&f.numbers, "number", "phone number (repeatable for a pool)")
	return f
}

// phones normalises phone numbers given on the command line for the region.
func phones(field string, in []string, region string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		p, err := phone.Normalize(s, region)
		if err != nil {
			return nil, comagic.Invalid(field, "%q is not a phone number", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// ctSite parses the flags of a per-site call-tracking command (object is
// "phone-group", "phone-rule" or "pool"; action one of actions), opens the
// database and finds the site. The caller closes db.
func ctSite(ctx context.Context, object, action string, actions []string, args []string, stderr io.Writer) (*ctFlags, *pgxpool.Pool, *comagic.Site, *postgres.CallTracking, error) {
	what := "admin " + object
	f := newCTFlags(what+" "+action, stderr)
	if err := f.fs.Parse(args); err != nil {
		return nil, nil, nil, nil, err
	}
	if !slices.Contains(actions, action) {
		fmt.Fprint(stderr, adminUsage)
		return nil, nil, nil, nil, fmt.Errorf("%s: unknown action %q", what, action)
	}
	db, site, err := openAdminSite(ctx, *f.dbURL, *f.siteKey, what)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return f, db, site, postgres.NewCallTracking(db, nil), nil
}

// adminPhoneGroup manages a site's replacement groups: add, list, remove.
func adminPhoneGroup(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	f, db, site, store, err := ctSite(ctx, "phone-group", action, []string{"add", "list", "remove"}, args, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	switch action {
	case "add":
		g := comagic.ReplacementGroup{SiteID: site.ID, Name: *f.name, Template: *f.template}
		if *f.defaultNumber != "" {
			d, err := phones("default_number", []string{*f.defaultNumber}, site.Region)
			if err != nil {
				return err
			}
			g.DefaultNumber = d[0]
		}
		for _, s := range f.selectors {
			typ, val, ok := strings.Cut(s, "=")
			if !ok {
				return comagic.Invalid("selector", "selector %q: want TYPE=VALUE, e.g. id=comagic_phone", s)
			}
			if typ == comagic.SelectorPhoneNumber {
				p, err := phones("selector", []string{val}, site.Region)
				if err != nil {
					return err
				}
				val = p[0]
			}
			g.Selectors = append(g.Selectors, comagic.PhoneSelector{Type: typ, Value: val})
		}
		out, err := store.AddGroup(ctx, g)
		if err != nil {
			return fmt.Errorf("admin phone-group add: %w", err)
		}
		fmt.Fprintf(stdout, "phone group: %d\n", out.ID)
	case "remove":
		if err := store.RemoveGroup(ctx, site.ID, *f.id); err != nil {
			return fmt.Errorf("admin phone-group remove: %w", err)
		}
		fmt.Fprintf(stdout, "removed phone group %d\n", *f.id)
	default:
		groups, err := store.Groups(ctx, site.ID)
		if err != nil {
			return fmt.Errorf("admin phone-group list: %w", err)
		}
		for _, g := range groups {
			var sel []string
			for _, s := range g.Selectors {
				sel = append(sel, s.Type+"="+s.Value)
			}
			fmt.Fprintf(stdout, "%d\tname=%q\tselectors=%s\ttemplate=%q\tdefault=%s\n", g.ID, g.Name, strings.Join(sel, ","), g.Template, g.DefaultNumber)
		}
	}
	return nil
}

// adminPhoneRule manages a site's number rules: add, list, remove.
func adminPhoneRule(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	f, db, site, store, err := ctSite(ctx, "phone-rule", action, []string{"add", "list", "remove"}, args, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	switch action {
	case "add":
		numbers, err := phones("number", f.numbers, site.Region)
		if err != nil {
			return err
		}
		r := comagic.PhoneRule{GroupID: *f.group, SiteID: site.ID, Kind: *f.kind, MatchField: *f.match, MatchValue: *f.value,
			ReserveMinutes: int(min(max(*f.minutes, -1), comagic.MaxReserveMinutes+1))}
		var pool []string
		if r.Kind == comagic.RuleStatic {
			if len(numbers) != 1 {
				return comagic.Invalid("number", "a static rule takes exactly one --number")
			}
			r.Number = numbers[0]
		} else {
			pool = numbers
		}
		out, err := store.AddRule(ctx, r, pool)
		if err != nil {
			return fmt.Errorf("admin phone-rule add: %w", err)
		}
		fmt.Fprintf(stdout, "phone rule: %d\n", out.ID)
	case "remove":
		if err := store.RemoveRule(ctx, site.ID, *f.id); err != nil {
			return fmt.Errorf("admin phone-rule remove: %w", err)
		}
		fmt.Fprintf(stdout, "removed phone rule %d\n", *f.id)
	default:
		rules, err := store.Rules(ctx, site.ID)
		if err != nil {
			return fmt.Errorf("admin phone-rule list: %w", err)
		}
		for _, r := range rules {
			what := "number=" + r.Number
			if r.Kind == comagic.RuleDynamic {
				what = fmt.Sprintf("reserve_phone_numbers_time=%dm", r.ReserveMinutes)
			}
			fmt.Fprintf(stdout, "%d\tgroup=%d\t%s\tmatch=%s\tvalue=%q\t%s\n", r.ID, r.GroupID, r.Kind, r.MatchField, r.MatchValue, what)
		}
	}
	return nil
}

// adminPool adds numbers to a pool and shows the pools' state.
func adminPool(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	f, db, site, store, err := ctSite(ctx, "pool", action, []string{"add-numbers", "status"}, args, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if action == "add-numbers" {
		numbers, err := phones("number", f.numbers, site.Region)
		if err != nil {
			return err
		}
		if len(numbers) == 0 {
			return errors.New("admin pool add-numbers: --number is required")
		}
		if err := store.AddNumbers(ctx, site.ID, *f.rule, numbers); err != nil {
			return fmt.Errorf("admin pool add-numbers: %w", err)
		}
		fmt.Fprintf(stdout, "added %d numbers to rule %d\n", len(numbers), *f.rule)
		return nil
	}
	status, err := store.PoolStatus(ctx, site.ID, time.Now())
	if err != nil {
		return fmt.Errorf("admin pool status: %w", err)
	}
	for _, p := range status {
		last := "never"
		if p.LastExhaustedAt != nil {
			last = p.LastExhaustedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "rule=%d\tgroup=%d\tnumbers=%d\theld=%d\tfree=%d\treserve=%dm\texhausted_24h=%d\tlast_exhausted=%s\n",
			p.RuleID, p.GroupID, p.Numbers, p.Held, p.Numbers-p.Held, p.ReserveMinutes, p.Exhausted24h, last)
	}
	return nil
}

// adminAPIToken manages account API tokens: create, list, revoke.
func adminAPIToken(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	f := newCTFlags("admin api-token "+action, stderr)
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	switch action {
	case "create":
		if *f.account == "" {
			return errors.New("admin api-token create: --account is required")
		}
	case "list":
	case "revoke":
		if *f.id <= 0 {
			return errors.New("admin api-token revoke: --id is required")
		}
	default:
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("admin api-token: unknown action %q", action)
	}
	db, err := openAdminDB(ctx, *f.dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	store := postgres.NewCallTracking(db, nil)
	var accountID int64
	if *f.account != "" {
		if accountID, err = webhooks.NewStore(db).AccountID(ctx, *f.account); err != nil {
			return fmt.Errorf("admin api-token %s: %w", action, err)
		}
	}
	switch action {
	case "create":
		tok := operators.NewToken()
		t, err := store.CreateAPIToken(ctx, accountID, strings.TrimSpace(*f.name), operators.HashToken(tok))
		if err != nil {
			return fmt.Errorf("admin api-token create: %w", err)
		}
		fmt.Fprintf(stdout, "api token: %d\ntoken: %s\n\nSend it as \"Authorization: Bearer <token>\"; it is not shown again.\n", t.ID, tok)
	case "revoke":
		if err := store.RevokeAPIToken(ctx, *f.id); err != nil {
			return fmt.Errorf("admin api-token revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked api token %d\n", *f.id)
	default:
		all, err := store.APITokens(ctx, accountID)
		if err != nil {
			return fmt.Errorf("admin api-token list: %w", err)
		}
		for _, t := range all {
			state := "active"
			if t.RevokedAt != nil {
				state = "revoked=" + t.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%d\taccount_id=%d\tname=%q\tcreated=%s\t%s\n", t.ID, t.AccountID, t.Name, t.CreatedAt.UTC().Format(time.RFC3339), state)
		}
	}
	return nil
}
