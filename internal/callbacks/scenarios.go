package callbacks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// Scenario is a callback scenario of a site: where its orders (of a group,
// or of every group without one of its own) are POSTed.
type Scenario struct {
	ID     int64
	SiteID int64
	// GroupID is the group's id, 0 for the site's default scenario;
	// GroupName its name.
	GroupID   int64
	GroupName string
	Mode      string // async or sync
	URL       string
	// Secret signs the POSTs; shown once, when the scenario is created.
	Secret    string
	Active    bool
	CreatedAt time.Time
}

// Scenarios keeps the callback scenarios.
type Scenarios struct {
	db *pgxpool.Pool
}

// NewScenarios returns the scenario store on db.
func NewScenarios(db *pgxpool.Pool) *Scenarios { return &Scenarios{db: db} }

// site returns the id and account of the site with key, or ENOTFOUND.
func (s *Scenarios) site(ctx context.Context, key string) (id, account int64, err error) {
	err = s.db.QueryRow(ctx, `SELECT id, account_id FROM sites WHERE site_key = $1`, key).Scan(&id, &account)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, &comagic.Error{Code: comagic.ENOTFOUND, Field: "site", Message: fmt.Sprintf("no site %q", key)}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("callbacks: site %q: %w", key, err)
	}
	return id, account, nil
}

const scenarioColumns = `sc.id, sc.site_id, COALESCE(sc.group_id, 0), COALESCE(g.name, ''), sc.mode, sc.url, sc.secret, sc.active, sc.created_at`

func scanScenario(row pgx.Row) (Scenario, error) {
	var sc Scenario
	err := row.Scan(&sc.ID, &sc.SiteID, &sc.GroupID, &sc.GroupName, &sc.Mode, &sc.URL, &sc.Secret, &sc.Active, &sc.CreatedAt)
	return sc, err
}

// Add creates an active scenario of the site with key for the group named
// group of the site's account ("" = the site's default scenario), POSTing to
// rawURL, synchronous when sync, with a new secret; it returns the scenario
// with its secret. Returns ENOTFOUND naming site or group, EINVALID naming
// url.
func (s *Scenarios) Add(ctx context.Context, siteKey, group, rawURL string, sync bool) (*Scenario, error) {
	rawURL = strings.TrimSpace(rawURL)
	if err := webhooks.CheckURL(rawURL); err != nil {
		return nil, err
	}
	siteID, account, err := s.site(ctx, siteKey)
	if err != nil {
		return nil, err
	}
	var groupID *int64
	if group != "" {
		var id int64
		err := s.db.QueryRow(ctx, `SELECT id FROM employee_groups WHERE account_id = $1 AND name = $2`, account, group).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, &comagic.Error{Code: comagic.ENOTFOUND, Field: "group", Message: fmt.Sprintf("no group %q in the site's account", group)}
		}
		if err != nil {
			return nil, fmt.Errorf("callbacks: group %q: %w", group, err)
		}
		groupID = &id
	}
	mode := ModeAsync
	if sync {
		mode = ModeSync
	}
	sc, err := scanScenario(s.db.QueryRow(ctx, `WITH sc AS (
			INSERT INTO callback_scenarios (site_id, group_id, mode, url, secret) VALUES ($1, $2, $3, $4, $5) RETURNING *)
		SELECT `+scenarioColumns+` FROM sc LEFT JOIN employee_groups g ON g.id = sc.group_id`,
		siteID, groupID, mode, rawURL, webhooks.NewSecret()))
	if err != nil {
		return nil, fmt.Errorf("callbacks: add scenario: %w", err)
	}
	return &sc, nil
}

// List returns the scenarios of the site with key, oldest first; ENOTFOUND
// for an unknown site.
func (s *Scenarios) List(ctx context.Context, siteKey string) ([]Scenario, error) {
	siteID, _, err := s.site(ctx, siteKey)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+scenarioColumns+` FROM callback_scenarios sc
		LEFT JOIN employee_groups g ON g.id = sc.group_id WHERE sc.site_id = $1 ORDER BY sc.id`, siteID)
	if err != nil {
		return nil, fmt.Errorf("callbacks: list scenarios: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Scenario, error) { return scanScenario(row) })
	if err != nil {
		return nil, fmt.Errorf("callbacks: list scenarios: %w", err)
	}
	return out, nil
}

// Remove deletes scenario id of the site with key; orders still scheduled
// for it fail at their time. ENOTFOUND naming site or id.
func (s *Scenarios) Remove(ctx context.Context, siteKey string, id int64) error {
	siteID, _, err := s.site(ctx, siteKey)
	if err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, `DELETE FROM callback_scenarios WHERE id = $1 AND site_id = $2`, id, siteID)
	if err != nil {
		return fmt.Errorf("callbacks: remove scenario %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return &comagic.Error{Code: comagic.ENOTFOUND, Field: "id", Message: fmt.Sprintf("no scenario %d of the site", id)}
	}
	return nil
}
