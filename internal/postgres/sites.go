package postgres

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/comagicd/comagicd/internal/schedule"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
)

// siteCacheTTL bounds how long a node serves a site's settings after a change
// made through another node.
const siteCacheTTL = 10 * time.Second

// Sites stores accounts and sites. Lookups by key are cached briefly, since every
// tracking request needs its site; so are unknown keys, so that random keys do
// not cost a query each, and the origins that some site allows.
type Sites struct {
	db  *pgxpool.Pool
	now func() time.Time

	mu      sync.RWMutex
	cache   map[string]cachedSite // by site key; site nil: no such site
	keys    map[int64]string      // site id → site key
	origins map[string]cachedBool // by origin host: whether some site allows it
}

type cachedSite struct {
	site *comagic.Site
	at   time.Time
}

type cachedBool struct {
	ok bool
	at time.Time
}

// maxCached bounds each cache of Sites; a full cache is emptied.
const maxCached = 100000

// NewSites returns the site store on db.
func NewSites(db *pgxpool.Pool) *Sites {
	return &Sites{db: db, now: time.Now, cache: map[string]cachedSite{}, keys: map[int64]string{}, origins: map[string]cachedBool{}}
}

const siteColumns = `id, account_id, site_key, domains, time_zone, phone_region, session_timeout_s, anonymize_ip, settings, created_at, chat_idle_timeout_s, chat_max_file_bytes, call_schedule`

// scanSite scans siteColumns, followed by any extra columns into extra.
func scanSite(row pgx.Row, extra ...any) (*comagic.Site, error) {
	var s comagic.Site
	var timeout, idle int
	var settings []byte
	var hours *string
	dest := append([]any{&s.ID, &s.AccountID, &s.Key, &s.Domains, &s.TimeZone, &s.Region, &timeout, &s.AnonymizeIP, &settings, &s.CreatedAt,
		&idle, &s.ChatMaxFileBytes, &hours}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	s.SessionTimeout = time.Duration(timeout) * time.Second
	s.ChatIdleTimeout = time.Duration(idle) * time.Second
	if err := json.Unmarshal(settings, &s.Settings); err != nil {
		return nil, fmt.Errorf("site %d settings: %w", s.ID, err)
	}
	s.Location = time.UTC
	if loc, err := time.LoadLocation(s.TimeZone); err == nil {
		s.Location = loc
	}
	if hours != nil {
		w, err := schedule.Parse(*hours)
		if err != nil {
			return nil, fmt.Errorf("site %d call schedule: %w", s.ID, err)
		}
		s.CallSchedule = &w
	}
	return &s, nil
}

// SiteByKey returns the site with the public key. Returns ENOTFOUND.
func (s *Sites) SiteByKey(ctx context.Context, key string) (*comagic.Site, error) {
	unknown := &comagic.Error{Code: comagic.ENOTFOUND, Field: "site_key", Message: "unknown site_key"}
	s.mu.RLock()
	c, ok := s.cache[key]
	s.mu.RUnlock()
	if ok && s.now().Sub(c.at) < siteCacheTTL {
		if c.site == nil {
			return nil, unknown
		}
		return c.site, nil
	}
	if !validSiteKey(key) {
		return nil, unknown // not even a query: Postgres refuses invalid UTF-8
	}
	site, err := scanSite(s.db.QueryRow(ctx, `SELECT `+siteColumns+` FROM sites WHERE site_key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		s.mu.Lock()
		if len(s.cache) > maxCached {
			clear(s.cache)
			clear(s.keys)
		}
		s.cache[key] = cachedSite{at: s.now()}
		s.mu.Unlock()
		return nil, unknown
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: site by key: %w", err)
	}
	s.remember(site)
	return site, nil
}

// validSiteKey reports whether key has the shape of a site key: 32 ASCII
// letters and digits.
func validSiteKey(key string) bool {
	if len(key) != 32 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// CachedSiteByKey returns the site with the public key when this node has it
// cached, without asking the database; nil otherwise.
func (s *Sites) CachedSiteByKey(key string) *comagic.Site {
	s.mu.RLock()
	c := s.cache[key]
	s.mu.RUnlock()
	if s.now().Sub(c.at) >= siteCacheTTL {
		return nil
	}
	return c.site
}

// OriginKnown reports whether some site allows browser requests from origin
// (see comagic.Site.AllowsOrigin). Answers are cached like sites.
func (s *Sites) OriginKnown(ctx context.Context, origin string) (bool, error) {
	host, ok := comagic.OriginHost(origin)
	if !ok {
		return false, nil
	}
	s.mu.RLock()
	c, cached := s.origins[host]
	s.mu.RUnlock()
	if cached && s.now().Sub(c.at) < siteCacheTTL {
		return c.ok, nil
	}
	// The host and every parent domain: a site's domain allows its subdomains.
	var suffixes []string
	for h := host; h != ""; {
		suffixes = append(suffixes, h)
		_, rest, found := strings.Cut(h, ".")
		if !found {
			break
		}
		h = rest
	}
	var known bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sites WHERE domains && $1::text[])`, suffixes).Scan(&known); err != nil {
		return false, fmt.Errorf("postgres: origin known: %w", err)
	}
	s.mu.Lock()
	if len(s.origins) > maxCached {
		clear(s.origins)
	}
	s.origins[host] = cachedBool{ok: known, at: s.now()}
	s.mu.Unlock()
	return known, nil
}

func (s *Sites) remember(site *comagic.Site) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) > maxCached {
		clear(s.cache)
		clear(s.keys)
	}
	s.cache[site.Key] = cachedSite{site: site, at: s.now()}
	s.keys[site.ID] = site.Key
}

// SiteByID returns the site with the id. Returns ENOTFOUND.
func (s *Sites) SiteByID(ctx context.Context, id int64) (*comagic.Site, error) {
	s.mu.RLock()
	key, ok := s.keys[id]
	s.mu.RUnlock()
	if ok {
		return s.SiteByKey(ctx, key)
	}
	site, err := scanSite(s.db.QueryRow(ctx, `SELECT `+siteColumns+` FROM sites WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "site %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: site by id: %w", err)
	}
	s.remember(site)
	return site, nil
}

// EnsureAccount returns the account with the name, creating it when missing.
func (s *Sites) EnsureAccount(ctx context.Context, name string) (*comagic.Account, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, comagic.Invalid("account", "account name is required")
	}
	const q = `INSERT INTO accounts (name) VALUES ($1)
	           ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
	           RETURNING id, name, created_at`
	var a comagic.Account
	if err := s.db.QueryRow(ctx, q, name).Scan(&a.ID, &a.Name, &a.CreatedAt); err != nil {
		return nil, fmt.Errorf("postgres: ensure account: %w", err)
	}
	return &a, nil
}

// NewSiteKey returns a random 32-character site key.
func NewSiteKey() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	buf := make([]byte, 32)
	out := make([]byte, 0, 32)
	for len(out) < 32 {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < 248 && len(out) < 32 { // 248 = 4*62: no modulo bias
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// NormalizeDomain lower-cases a domain and strips a scheme, port, path and
// leading "www." so that it matches request origins. Returns EINVALID.
func NormalizeDomain(d string) (string, error) {
	d = strings.ToLower(strings.TrimSpace(d))
	if _, rest, ok := strings.Cut(d, "://"); ok {
		d = rest
	}
	d, _, _ = strings.Cut(d, "/")
	if h, _, ok := strings.Cut(d, ":"); ok {
		d = h
	}
	d = strings.TrimSuffix(strings.TrimPrefix(d, "www."), ".")
	if d == "" || len(d) > 253 || strings.ContainsAny(d, " \t\r\n@?#*\"'<>\\") {
		return "", comagic.Invalid("domain", "%q is not a domain name", d)
	}
	return d, nil
}

// CreateSite creates a site of the account for the domains and returns it with a
// fresh site key. Returns EINVALID.
func (s *Sites) CreateSite(ctx context.Context, accountID int64, domains []string) (*comagic.Site, error) {
	if len(domains) == 0 {
		return nil, comagic.Invalid("domain", "at least one domain is required")
	}
	clean := make([]string, 0, len(domains))
	for _, d := range domains {
		n, err := NormalizeDomain(d)
		if err != nil {
			return nil, err
		}
		clean = append(clean, n)
	}
	for {
		site, err := scanSite(s.db.QueryRow(ctx,
			`INSERT INTO sites (account_id, site_key, domains) VALUES ($1, $2, $3) RETURNING `+siteColumns,
			accountID, NewSiteKey(), clean))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			continue // site key collision: draw another
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: create site: %w", notFoundIfGone(err, "account"))
		}
		s.remember(site) // replaces a cached "unknown key"
		s.mu.Lock()
		clear(s.origins) // its domains may have been cached as unknown
		s.mu.Unlock()
		return site, nil
	}
}

// ListSites returns every site with its account name, oldest first.
func (s *Sites) ListSites(ctx context.Context) ([]*comagic.Site, []string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+prefixed("s.", siteColumns)+`, a.name FROM sites s JOIN accounts a ON a.id = s.account_id ORDER BY s.id`)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: list sites: %w", err)
	}
	defer rows.Close()
	var sites []*comagic.Site
	var accounts []string
	for rows.Next() {
		var account string
		site, err := scanSite(rows, &account)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: list sites: %w", err)
		}
		sites = append(sites, site)
		accounts = append(accounts, account)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("postgres: list sites: %w", err)
	}
	return sites, accounts, nil
}

// SiteOptions are the per-site options an administrator may change.
type SiteOptions struct {
	Domains        []string
	TimeZone       *string
	Region         *string
	SessionTimeout *time.Duration
	AnonymizeIP    *bool
	// CallSchedule is the working hours for call-backs in the text form of
	// internal/schedule; "" removes them (around the clock).
	CallSchedule *string
}

// UpdateSite changes the options that are set. Returns EINVALID, ENOTFOUND.
func (s *Sites) UpdateSite(ctx context.Context, key string, o SiteOptions) (*comagic.Site, error) {
	var domains []string
	for _, d := range o.Domains {
		n, err := NormalizeDomain(d)
		if err != nil {
			return nil, err
		}
		domains = append(domains, n)
	}
	if o.TimeZone != nil {
		if _, err := time.LoadLocation(*o.TimeZone); err != nil {
			return nil, comagic.Invalid("time_zone", "unknown time zone %q", *o.TimeZone)
		}
	}
	if o.Region != nil && (len(*o.Region) != 2 || strings.ToUpper(*o.Region) != *o.Region) {
		return nil, comagic.Invalid("region", "region must be a two-letter upper-case country code, got %q", *o.Region)
	}
	var timeout *int
	if o.SessionTimeout != nil {
		t := int(o.SessionTimeout.Seconds())
		if t < 60 || t > 86400 {
			return nil, comagic.Invalid("session_timeout", "session timeout must be between 1m and 24h")
		}
		timeout = &t
	}
	var hours *string
	clearHours := false
	if o.CallSchedule != nil {
		if strings.TrimSpace(*o.CallSchedule) == "" {
			clearHours = true
		} else {
			w, err := schedule.Parse(*o.CallSchedule)
			if err != nil {
				return nil, comagic.Invalid("call_schedule", "call schedule: %v", err)
			}
			text := w.String()
			hours = &text
		}
	}
	const q = `UPDATE sites SET
	             domains = COALESCE($2, domains),
	             time_zone = COALESCE($3, time_zone),
	             phone_region = COALESCE($4, phone_region),
	             session_timeout_s = COALESCE($5, session_timeout_s),
	             anonymize_ip = COALESCE($6, anonymize_ip),
	             call_schedule = CASE WHEN $8 THEN NULL ELSE COALESCE($7, call_schedule) END
	           WHERE site_key = $1 RETURNING ` + siteColumns
	site, err := scanSite(s.db.QueryRow(ctx, q, key, domains, o.TimeZone, o.Region, timeout, o.AnonymizeIP, hours, clearHours))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "site %q not found", key)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: update site: %w", err)
	}
	s.mu.Lock()
	delete(s.cache, key)
	s.mu.Unlock()
	return site, nil
}

// CountSites returns the number of sites.
func (s *Sites) CountSites(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM sites`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count sites: %w", err)
	}
	return n, nil
}

func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = prefix + parts[i]
	}
	return strings.Join(parts, ", ")
}

// SetWidgetSettings stores the settings object of one view controller for one
// device type of the site (SPEC §6); a nil raw removes them, which disables the
// widget for that device. The caller validates the object. Returns ENOTFOUND.
func (s *Sites) SetWidgetSettings(ctx context.Context, key, vc, device string, raw json.RawMessage) (*comagic.Site, error) {
	const q = `UPDATE sites SET settings = CASE
	               WHEN $4::jsonb IS NULL THEN settings #- ARRAY[$2, $3]
	               ELSE jsonb_set(CASE WHEN settings ? $2 THEN settings ELSE settings || jsonb_build_object($2::text, '{}'::jsonb) END,
	                              ARRAY[$2, $3], $4::jsonb)
	           END
	           WHERE site_key = $1 RETURNING ` + siteColumns
	var arg any
	if raw != nil {
		arg = string(raw)
	}
	site, err := scanSite(s.db.QueryRow(ctx, q, key, vc, device, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "site %q not found", key)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: set widget settings: %w", err)
	}
	s.mu.Lock()
	delete(s.cache, key)
	s.mu.Unlock()
	return site, nil
}
