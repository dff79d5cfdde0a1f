package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
)

// LeadRules stores the sites' lead generator rules (SPEC §10). The active
// rules of a site go out with every bootstrap answer, so they are cached per
// node for as long as sites are (siteCacheTTL).
type LeadRules struct {
	db    *pgxpool.Pool
	cache *siteCache[[]comagic.LeadRule]
}

// NewLeadRules returns the lead rule store on db.
func NewLeadRules(db *pgxpool.Pool) *LeadRules {
	return &LeadRules{db: db, cache: newSiteCache[[]comagic.LeadRule]()}
}

const leadRuleColumns = `id, site_id, widget, min_time_on_page_s, min_time_on_site_s, min_page_views, url_pattern, source, once_per, on_exit, active, created_at`

func scanLeadRule(row pgx.Row) (comagic.LeadRule, error) {
	var r comagic.LeadRule
	err := row.Scan(&r.ID, &r.SiteID, &r.Widget, &r.MinTimeOnPage, &r.MinTimeOnSite, &r.MinPageViews, &r.URLPattern, &r.Source,
		&r.OncePer, &r.OnExit, &r.Active, &r.CreatedAt)
	return r, err
}

// Add checks and stores a rule of r.SiteID (active) and returns it as stored.
// Returns EINVALID for a bad field, ENOTFOUND for an unknown site.
func (s *LeadRules) Add(ctx context.Context, r comagic.LeadRule) (*comagic.LeadRule, error) {
	if err := r.Normalize(); err != nil {
		return nil, err
	}
	out, err := scanLeadRule(s.db.QueryRow(ctx, `INSERT INTO lead_rules (site_id, widget, min_time_on_page_s, min_time_on_site_s,
		min_page_views, url_pattern, source, once_per, on_exit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+leadRuleColumns,
		r.SiteID, r.Widget, r.MinTimeOnPage, r.MinTimeOnSite, r.MinPageViews, r.URLPattern, r.Source, r.OncePer, r.OnExit))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "site %d not found", r.SiteID)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: add lead rule: %w", err)
	}
	s.forget(r.SiteID)
	return &out, nil
}

// List returns every rule of the site, active or not, oldest first.
func (s *LeadRules) List(ctx context.Context, siteID int64) ([]comagic.LeadRule, error) {
	return s.query(ctx, `SELECT `+leadRuleColumns+` FROM lead_rules WHERE site_id = $1 ORDER BY id`, siteID)
}

// Remove deletes a rule of the site. Returns ENOTFOUND when the site has no such rule.
func (s *LeadRules) Remove(ctx context.Context, siteID, id int64) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM lead_rules WHERE id = $1 AND site_id = $2`, id, siteID)
	if err != nil {
		return fmt.Errorf("postgres: remove lead rule: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return comagic.Errorf(comagic.ENOTFOUND, "the site has no lead rule %d", id)
	}
	s.forget(siteID)
	return nil
}

// Active returns the site's active rules, oldest first; a change made through
// another node shows within siteCacheTTL.
func (s *LeadRules) Active(ctx context.Context, siteID int64) ([]comagic.LeadRule, error) {
	return s.cache.get(ctx, siteID, func(ctx context.Context) ([]comagic.LeadRule, error) {
		return s.query(ctx, `SELECT `+leadRuleColumns+` FROM lead_rules WHERE site_id = $1 AND active ORDER BY id`, siteID)
	})
}

func (s *LeadRules) forget(siteID int64) { s.cache.forget(siteID) }

func (s *LeadRules) query(ctx context.Context, q string, args ...any) ([]comagic.LeadRule, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: lead rules: %w", err)
	}
	defer rows.Close()
	out := []comagic.LeadRule{}
	for rows.Next() {
		r, err := scanLeadRule(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: lead rules: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: lead rules: %w", err)
	}
	return out, nil
}
