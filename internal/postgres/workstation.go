package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/workstation"
)

// Workstation is the operator workstation's storage (workstation.Store).
type Workstation struct {
	db *pgxpool.Pool
}

// NewWorkstation returns the workstation's store on db.
func NewWorkstation(db *pgxpool.Pool) *Workstation { return &Workstation{db: db} }

var _ workstation.Store = (*Workstation)(nil)

// sessionSource is the source of session s as lists show it.
const sessionSource = `coalesce(nullif(s.utm_source, ''), s.referrer_domain, '')`

// LiveVisitorsSQL lists the visitors of site $1 with a page view since $2,
// newest first, at most $3: the sessions by sessions_site_last_hit_idx, each
// the visitor's latest (sessions_visitor_idx), cut to the limit before the
// visitor, its latest hit (hits_session_idx) and its open chat
// (chats_open_visitor_idx) are looked up, so that only the answered rows pay
// for them (also when parallel workers read ahead).
const LiveVisitorsSQL = `SELECT s.visitor_id, s.id, coalesce((SELECT v.name FROM visitors v WHERE v.id = s.visitor_id), ''), s.started_at, s.last_hit_at, ` + sessionSource + `,
	s.referrer, s.referrer_domain, s.landing_url, s.utm_source, s.utm_medium, s.utm_campaign, s.utm_term, s.utm_content,
	s.device_type, h.url, h.title, h.created_at,
	(SELECT c.id FROM chats c WHERE c.site_id = s.site_id AND c.visitor_id = s.visitor_id AND c.state <> 'closed')
FROM (SELECT * FROM sessions l
      WHERE l.site_id = $1 AND l.last_hit_at > $2
        AND NOT EXISTS (SELECT 1 FROM sessions n WHERE n.visitor_id = l.visitor_id AND n.started_at > l.started_at)
      ORDER BY l.last_hit_at DESC
      LIMIT $3) s
LEFT JOIN LATERAL (SELECT url, title, created_at FROM hits WHERE session_id = s.id ORDER BY created_at DESC LIMIT 1) h ON true
ORDER BY s.last_hit_at DESC`

// LiveVisitors returns the visitors of the site whose latest session had a
// page view since since, newest activity first.
func (w *Workstation) LiveVisitors(ctx context.Context, siteID int64, since time.Time, limit int) ([]workstation.LiveVisitor, error) {
	rows, err := w.db.Query(ctx, LiveVisitorsSQL, siteID, since, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: live visitors: %w", err)
	}
	now := time.Now()
	out := []workstation.LiveVisitor{}
	var lv workstation.LiveVisitor
	var started, last time.Time
	var url, title *string
	var at *time.Time
	var chatID *int64
	_, err = pgx.ForEachRow(rows, []any{&lv.VisitorID, &lv.SessionID, &lv.Name, &started, &last, &lv.Source,
		&lv.Referrer, &lv.ReferrerDomain, &lv.LandingURL, &lv.UTM.Source, &lv.UTM.Medium, &lv.UTM.Campaign, &lv.UTM.Term, &lv.UTM.Content,
		&lv.DeviceType, &url, &title, &at, &chatID}, func() error {
		v := lv
		v.SiteID = siteID
		v.SessionStartedAt, v.LastActivityAt = started.Unix(), last.Unix()
		v.TimeOnSite = max(0, int64(now.Sub(started).Seconds()))
		if url != nil {
			v.Page = &workstation.Page{URL: *url, Title: deref(title), At: at.Unix()}
		}
		if chatID != nil {
			id := *chatID
			v.ChatID = &id
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: live visitors: %w", err)
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	u := t.Unix()
	return &u
}

// Card returns the visitor card. Returns ENOTFOUND for a visitor not of the site.
func (w *Workstation) Card(ctx context.Context, siteID, visitorID int64) (*workstation.Card, error) {
	c := &workstation.Card{VisitorID: visitorID, SiteID: siteID, Emails: []string{}, Phones: []string{},
		Properties: []workstation.Property{}, Pages: []workstation.Page{}, Chats: []workstation.ChatSummary{}}
	var name *string
	err := w.db.QueryRow(ctx, `SELECT name FROM visitors WHERE id = $1 AND site_id = $2`, visitorID, siteID).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &comagic.Error{Code: comagic.ENOTFOUND, Field: "visitor_id", Message: "no such visitor"}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: visitor card: %w", err)
	}
	c.Name = deref(name)

	b := &pgx.Batch{}
	b.Queue(`SELECT kind, value FROM visitor_contacts WHERE visitor_id = $1 AND site_id = $2 ORDER BY created_at DESC, value`,
		visitorID, siteID).Query(func(rows pgx.Rows) error {
		var kind, value string
		_, err := pgx.ForEachRow(rows, []any{&kind, &value}, func() error {
			if kind == "email" {
				c.Emails = append(c.Emails, value)
			} else {
				c.Phones = append(c.Phones, value)
			}
			return nil
		})
		return err
	})
	b.Queue(`SELECT name, value FROM visitor_properties WHERE visitor_id = $1 AND site_id = $2 ORDER BY name`,
		visitorID, siteID).Query(func(rows pgx.Rows) error {
		var p workstation.Property
		_, err := pgx.ForEachRow(rows, []any{&p.Name, &p.Value}, func() error {
			c.Properties = append(c.Properties, p)
			return nil
		})
		return err
	})
	b.Queue(`SELECT s.id, s.started_at, s.last_hit_at, `+sessionSource+`, s.referrer, s.referrer_domain, s.landing_url,
			s.utm_source, s.utm_medium, s.utm_campaign, s.utm_term, s.utm_content, s.device_type, s.user_agent
		FROM sessions s WHERE s.visitor_id = $1 AND s.site_id = $2 ORDER BY s.started_at DESC LIMIT 1`,
		visitorID, siteID).Query(func(rows pgx.Rows) error {
		var s workstation.Session
		var started, last time.Time
		_, err := pgx.ForEachRow(rows, []any{&s.SessionID, &started, &last, &s.Source, &s.Referrer, &s.ReferrerDomain, &s.LandingURL,
			&s.UTM.Source, &s.UTM.Medium, &s.UTM.Campaign, &s.UTM.Term, &s.UTM.Content, &s.DeviceType, &s.UserAgent}, func() error {
			s.StartedAt, s.LastActivityAt = started.Unix(), last.Unix()
			s.TimeOnSite = max(0, int64(last.Sub(started).Seconds()))
			c.Session = &s
			return nil
		})
		return err
	})
	b.Queue(`SELECT c.id, c.state, c.created_at, c.closed_at, c.employee_id, e.name, c.rating,
			(SELECT count(*) FROM chat_events ev WHERE ev.chat_id = c.id AND ev.kind IN ('message', 'file') AND ev.sender IN ('visitor', 'operator'))
		FROM chats c LEFT JOIN employees e ON e.id = c.employee_id
		WHERE c.visitor_id = $1 AND c.site_id = $2 ORDER BY c.id DESC LIMIT $3`,
		visitorID, siteID, workstation.MaxCardItems).Query(func(rows pgx.Rows) error {
		var s workstation.ChatSummary
		var created time.Time
		var closed *time.Time
		var empID *int64
		var empName *string
		var rating *int
		_, err := pgx.ForEachRow(rows, []any{&s.ID, &s.State, &created, &closed, &empID, &empName, &rating, &s.Messages}, func() error {
			x := s
			x.CreatedAt, x.ClosedAt, x.Rating = created.Unix(), unixPtr(closed), rating
			if empID != nil {
				x.Employee = &workstation.EmployeeRef{ID: *empID, Name: deref(empName)}
			}
			if x.State != "closed" {
				id := x.ID
				c.OpenChatID = &id
			}
			c.Chats = append(c.Chats, x)
			return nil
		})
		return err
	})
	if err := w.db.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("postgres: visitor card: %w", err)
	}
	if c.Session != nil {
		rows, err := w.db.Query(ctx, `SELECT url, title, created_at FROM hits WHERE session_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
			c.Session.SessionID, workstation.MaxPages)
		if err != nil {
			return nil, fmt.Errorf("postgres: visitor card: pages: %w", err)
		}
		var p workstation.Page
		var at time.Time
		if _, err := pgx.ForEachRow(rows, []any{&p.URL, &p.Title, &at}, func() error {
			p.At = at.Unix()
			c.Pages = append(c.Pages, p)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("postgres: visitor card: pages: %w", err)
		}
		slices.Reverse(c.Pages)
		if len(c.Pages) > 0 {
			cur := c.Pages[len(c.Pages)-1]
			c.CurrentPage = &cur
		}
	}
	f := workstation.Filter{SiteID: siteID, VisitorID: visitorID, Limit: workstation.MaxCardItems}
	var err2 error
	if c.OfflineRequests, err2 = w.OfflineRequests(ctx, f); err2 != nil {
		return nil, err2
	}
	if c.Callbacks, err2 = w.Callbacks(ctx, f); err2 != nil {
		return nil, err2
	}
	return c, nil
}

// SetContacts stores an edit of the visitor's name and contacts in one
// transaction. Returns ENOTFOUND for a visitor not of the site.
func (w *Workstation) SetContacts(ctx context.Context, siteID, visitorID int64, c workstation.Contacts) error {
	err := pgx.BeginFunc(ctx, w.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE visitors SET name = CASE WHEN $3 THEN NULLIF($4, '') ELSE name END, updated_at = now()
			WHERE id = $1 AND site_id = $2`, visitorID, siteID, c.Name != nil, deref(c.Name))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return &comagic.Error{Code: comagic.ENOTFOUND, Field: "visitor_id", Message: "no such visitor"}
		}
		for kind, list := range map[string][]string{"email": c.Emails, "phone": c.Phones} {
			if list == nil {
				continue
			}
			if _, err := tx.Exec(ctx, `DELETE FROM visitor_contacts WHERE visitor_id = $1 AND kind = $2`, visitorID, kind); err != nil {
				return err
			}
			// The first of the list is the newest: lists show contacts newest first.
			if _, err := tx.Exec(ctx, `INSERT INTO visitor_contacts (site_id, visitor_id, kind, value, created_at)
				SELECT $1, $2, $3, t.value, now() - t.n * interval '1 millisecond'
				FROM unnest($4::text[]) WITH ORDINALITY AS t(value, n)
				ON CONFLICT DO NOTHING`, siteID, visitorID, kind, list); err != nil {
				return err
			}
		}
		return nil
	})
	if comagic.ErrorCode(err) == comagic.ENOTFOUND {
		return err
	}
	if err != nil {
		return fmt.Errorf("postgres: set visitor contacts: %w", err)
	}
	return nil
}

// likePattern is q as an ILIKE pattern matching any text that contains it.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// listWhere builds the conditions of a list of table alias a from f,
// appending to args; search are the columns q looks in.
func listWhere(a string, f workstation.Filter, args []any, search ...string) (string, []any) {
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	conds := []string{a + ".site_id = " + arg(f.SiteID)}
	if f.VisitorID != 0 {
		conds = append(conds, a+".visitor_id = "+arg(f.VisitorID))
	}
	if f.Processed != nil {
		if *f.Processed {
			conds = append(conds, a+".processed_at IS NOT NULL")
		} else {
			conds = append(conds, a+".processed_at IS NULL")
		}
	}
	if f.Before > 0 {
		conds = append(conds, a+".id < "+arg(f.Before))
	}
	if f.Query != "" {
		p := arg(likePattern(f.Query))
		var or []string
		for _, col := range search {
			or = append(or, a+"."+col+" ILIKE "+p)
		}
		conds = append(conds, "("+strings.Join(or, " OR ")+")")
	}
	return strings.Join(conds, " AND "), args
}

const offlineRequestColumns = `r.id, r.site_id, r.created_at, r.name, r.phone, r.email, r.message, r.form_name, r.source,
	r.visitor_id, r.session_id, ` + sessionSource + `, coalesce(h.url, ''), r.processed_at, r.processed_by, pe.name
FROM offline_requests r
LEFT JOIN sessions s ON s.id = r.session_id
LEFT JOIN hits h ON h.id = r.hit_id
LEFT JOIN employees pe ON pe.id = r.processed_by`

func scanOfflineRequests(rows pgx.Rows) ([]workstation.OfflineRequest, error) {
	out := []workstation.OfflineRequest{}
	var r workstation.OfflineRequest
	var created time.Time
	var processedAt *time.Time
	var byID *int64
	var byName *string
	_, err := pgx.ForEachRow(rows, []any{&r.ID, &r.SiteID, &created, &r.Name, &r.Phone, &r.Email, &r.Message, &r.FormName, &r.Channel,
		&r.VisitorID, &r.SessionID, &r.Source, &r.PageURL, &processedAt, &byID, &byName}, func() error {
		x := r
		x.CreatedAt, x.ProcessedAt, x.Processed = created.Unix(), unixPtr(processedAt), processedAt != nil
		x.VisitorID, x.SessionID = clone(r.VisitorID), clone(r.SessionID)
		if byID != nil {
			x.ProcessedBy = &workstation.EmployeeRef{ID: *byID, Name: deref(byName)}
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// OfflineRequests returns the offline requests f selects, newest first.
func (w *Workstation) OfflineRequests(ctx context.Context, f workstation.Filter) ([]workstation.OfflineRequest, error) {
	where, args := listWhere("r", f, nil, "name", "phone", "email", "message")
	args = append(args, f.Limit)
	rows, err := w.db.Query(ctx, `SELECT `+offlineRequestColumns+` WHERE `+where+` ORDER BY r.id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: offline requests: %w", err)
	}
	list, err := scanOfflineRequests(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: offline requests: %w", err)
	}
	return list, nil
}

const callbackColumns = `c.id, c.site_id, c.created_at, c.phone, c.status, c.source, c.group_id, g.name, c.due_at, c.dispatched_at,
	c.attempts, c.last_error, c.visitor_id, c.session_id, ` + sessionSource + `, coalesce(h.url, ''), c.processed_at, c.processed_by, pe.name
FROM callbacks c
LEFT JOIN employee_groups g ON g.id = c.group_id
LEFT JOIN sessions s ON s.id = c.session_id
LEFT JOIN hits h ON h.id = c.hit_id
LEFT JOIN employees pe ON pe.id = c.processed_by`

func scanCallbacks(rows pgx.Rows) ([]workstation.Callback, error) {
	out := []workstation.Callback{}
	var c workstation.Callback
	var created, due time.Time
	var dispatched, processedAt *time.Time
	var groupID, byID *int64
	var groupName, byName *string
	_, err := pgx.ForEachRow(rows, []any{&c.ID, &c.SiteID, &created, &c.Phone, &c.Status, &c.Channel, &groupID, &groupName, &due, &dispatched,
		&c.Attempts, &c.LastError, &c.VisitorID, &c.SessionID, &c.Source, &c.PageURL, &processedAt, &byID, &byName}, func() error {
		x := c
		x.CreatedAt, x.ScheduledAt, x.DispatchedAt = created.Unix(), due.Unix(), unixPtr(dispatched)
		x.ProcessedAt, x.Processed, x.LastError = unixPtr(processedAt), processedAt != nil, clone(c.LastError)
		if groupID != nil {
			x.Group = &workstation.GroupRef{ID: *groupID, Name: deref(groupName)}
		}
		if byID != nil {
			x.ProcessedBy = &workstation.EmployeeRef{ID: *byID, Name: deref(byName)}
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// Callbacks returns the call-back orders f selects, newest first.
func (w *Workstation) Callbacks(ctx context.Context, f workstation.Filter) ([]workstation.Callback, error) {
	where, args := listWhere("c", f, nil, "phone")
	args = append(args, f.Limit)
	rows, err := w.db.Query(ctx, `SELECT `+callbackColumns+` WHERE `+where+` ORDER BY c.id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: callbacks: %w", err)
	}
	list, err := scanCallbacks(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: callbacks: %w", err)
	}
	return list, nil
}

// markSQL sets ($3) or clears the processed mark of row $1 of table %s when
// it belongs to one of the sites $2; a row marked already keeps its first
// mark. It answers whether the mark changed.
const markSQL = `WITH old AS (SELECT id, processed_at FROM %[1]s WHERE id = $1 AND site_id = ANY($2) FOR UPDATE)
UPDATE %[1]s t SET
	processed_at = CASE WHEN NOT $3 THEN NULL WHEN old.processed_at IS NULL THEN now() ELSE t.processed_at END,
	processed_by = CASE WHEN NOT $3 THEN NULL WHEN old.processed_at IS NULL THEN $4 ELSE t.processed_by END
FROM old WHERE t.id = old.id
RETURNING (old.processed_at IS NULL) = $3`

// mark runs markSQL on table; ENOTFOUND when the row is not of the sites.
func (w *Workstation) mark(ctx context.Context, table, what string, sites []int64, id, employeeID int64, processed bool) (bool, error) {
	var changed bool
	err := w.db.QueryRow(ctx, fmt.Sprintf(markSQL, table), id, sites, processed, employeeID).Scan(&changed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, &comagic.Error{Code: comagic.ENOTFOUND, Field: "id", Message: "no such " + what}
	}
	if err != nil {
		return false, fmt.Errorf("postgres: mark %s: %w", what, err)
	}
	return changed, nil
}

// MarkOfflineRequest sets or clears the processed mark of an offline request
// of one of the sites and returns it as it is now, and whether the mark
// changed. Returns ENOTFOUND.
func (w *Workstation) MarkOfflineRequest(ctx context.Context, sites []int64, id, employeeID int64, processed bool) (*workstation.OfflineRequest, bool, error) {
	changed, err := w.mark(ctx, "offline_requests", "offline request", sites, id, employeeID, processed)
	if err != nil {
		return nil, false, err
	}
	rows, err := w.db.Query(ctx, `SELECT `+offlineRequestColumns+` WHERE r.id = $1`, id)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: offline request: %w", err)
	}
	list, err := scanOfflineRequests(rows)
	if err != nil || len(list) == 0 {
		return nil, false, fmt.Errorf("postgres: offline request %d: %w", id, errors.Join(err, pgx.ErrNoRows))
	}
	return &list[0], changed, nil
}

// MarkCallback sets or clears the processed mark of a call-back order of one
// of the sites and returns it as it is now, and whether the mark changed.
// Returns ENOTFOUND.
func (w *Workstation) MarkCallback(ctx context.Context, sites []int64, id, employeeID int64, processed bool) (*workstation.Callback, bool, error) {
	changed, err := w.mark(ctx, "callbacks", "callback", sites, id, employeeID, processed)
	if err != nil {
		return nil, false, err
	}
	rows, err := w.db.Query(ctx, `SELECT `+callbackColumns+` WHERE c.id = $1`, id)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: callback: %w", err)
	}
	list, err := scanCallbacks(rows)
	if err != nil || len(list) == 0 {
		return nil, false, fmt.Errorf("postgres: callback %d: %w", id, errors.Join(err, pgx.ErrNoRows))
	}
	return &list[0], changed, nil
}

// Directory returns the sites (of the account) among sites, the enabled
// employees of the account working on one of them, and the account's groups.
func (w *Workstation) Directory(ctx context.Context, accountID int64, sites []int64) (*workstation.Directory, error) {
	d := &workstation.Directory{Sites: []workstation.DirectorySite{}, Operators: []workstation.DirectoryOperator{}, Groups: []workstation.GroupRef{}}
	b := &pgx.Batch{}
	b.Queue(`SELECT id, site_key, domains FROM sites WHERE id = ANY($1) AND account_id = $2 ORDER BY id`, sites, accountID).
		Query(func(rows pgx.Rows) error {
			var s workstation.DirectorySite
			_, err := pgx.ForEachRow(rows, []any{&s.ID, &s.Key, &s.Domains}, func() error {
				x := s
				x.Domains = append([]string{}, s.Domains...)
				d.Sites = append(d.Sites, x)
				return nil
			})
			return err
		})
	b.Queue(`SELECT e.id, e.name, e.position, e.avatar, e.status, e.can_chat, e.max_chats,
			(SELECT count(*) FROM chats c WHERE c.employee_id = e.id AND c.state = 'active'),
			array(SELECT es.site_id FROM employee_sites es WHERE es.employee_id = e.id AND es.site_id = ANY($2) ORDER BY 1),
			array(SELECT gm.group_id FROM employee_group_members gm WHERE gm.employee_id = e.id ORDER BY 1)
		FROM employees e
		WHERE e.account_id = $1 AND e.disabled_at IS NULL
		  AND EXISTS (SELECT 1 FROM employee_sites es WHERE es.employee_id = e.id AND es.site_id = ANY($2))
		ORDER BY e.name, e.id`, accountID, sites).
		Query(func(rows pgx.Rows) error {
			var o workstation.DirectoryOperator
			_, err := pgx.ForEachRow(rows, []any{&o.ID, &o.Name, &o.Position, &o.Avatar, &o.Status, &o.CanChat, &o.MaxChats,
				&o.OpenChats, &o.SiteIDs, &o.GroupIDs}, func() error {
				x := o
				x.SiteIDs, x.GroupIDs = append([]int64{}, o.SiteIDs...), append([]int64{}, o.GroupIDs...)
				d.Operators = append(d.Operators, x)
				return nil
			})
			return err
		})
	b.Queue(`SELECT id, name FROM employee_groups WHERE account_id = $1 ORDER BY name, id`, accountID).
		Query(func(rows pgx.Rows) error {
			var g workstation.GroupRef
			_, err := pgx.ForEachRow(rows, []any{&g.ID, &g.Name}, func() error {
				d.Groups = append(d.Groups, g)
				return nil
			})
			return err
		})
	if err := w.db.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("postgres: directory: %w", err)
	}
	return d, nil
}
