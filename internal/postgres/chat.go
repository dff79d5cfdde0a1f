package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/groupcommit"
)

// Chats stores chats, their event logs and timers.
type Chats struct {
	db  *pgxpool.Pool
	ops *groupcommit.Batcher[*op]
}

// NewChats returns the chat store on db; visitors' messages are group
// committed (Close stops that).
func NewChats(db *pgxpool.Pool) *Chats {
	return &Chats{db: db, ops: groupcommit.New("chat", db, flushOps, groupcommit.Options{Atomic: true, Workers: 4})}
}

const chatColumns = `c.id, c.site_id, c.visitor_id, coalesce(c.session_id, 0), coalesce(c.group_id, 0), coalesce(c.employee_id, 0),
	c.state, coalesce(c.closed_by, ''), coalesce(c.rating, 0), c.last_seq, c.visitor_seen_seq, c.visitor_email,
	c.created_at, c.answered_at, c.closed_at, c.last_activity_at`

func scanChat(row pgx.Row) (*chat.Chat, error) {
	c := &chat.Chat{}
	err := row.Scan(&c.ID, &c.SiteID, &c.VisitorID, &c.SessionID, &c.GroupID, &c.EmployeeID,
		&c.State, &c.ClosedBy, &c.Rating, &c.LastSeq, &c.VisitorSeenSeq, &c.VisitorEmail,
		&c.CreatedAt, &c.AnsweredAt, &c.ClosedAt, &c.LastActivityAt)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Chats) chatWhere(ctx context.Context, q pgx.Tx, where string, args ...any) (*chat.Chat, error) {
	sql := `SELECT ` + chatColumns + ` FROM chats c WHERE ` + where
	var row pgx.Row
	if q != nil {
		row = q.QueryRow(ctx, sql, args...)
	} else {
		row = s.db.QueryRow(ctx, sql, args...)
	}
	c, err := scanChat(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return c, err
}

// OpenChat returns the visitor's open chat on the site, or nil.
func (s *Chats) OpenChat(ctx context.Context, siteID, visitorID int64) (*chat.Chat, error) {
	c, err := s.chatWhere(ctx, nil, `c.site_id = $1 AND c.visitor_id = $2 AND c.state <> 'closed'`, siteID, visitorID)
	if err != nil {
		return nil, fmt.Errorf("postgres: open chat: %w", err)
	}
	return c, nil
}

// LastChat returns the visitor's latest chat on the site, open or closed, or nil.
func (s *Chats) LastChat(ctx context.Context, siteID, visitorID int64) (*chat.Chat, error) {
	c, err := s.chatWhere(ctx, nil, `c.visitor_id = $2 AND c.site_id = $1 ORDER BY c.id DESC LIMIT 1`, siteID, visitorID)
	if err != nil {
		return nil, fmt.Errorf("postgres: last chat: %w", err)
	}
	return c, nil
}

// Chat returns the chat with the id, or ENOTFOUND.
func (s *Chats) Chat(ctx context.Context, id int64) (*chat.Chat, error) {
	c, err := s.chatWhere(ctx, nil, `c.id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: chat: %w", err)
	}
	if c == nil {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no such chat")
	}
	return c, nil
}

// Start creates a chat in c.State (queued or invite) for the visitor with the
// change's events and timers, unless the visitor has an open chat on the site:
// then that one is returned with created false and nothing is written.
func (s *Chats) Start(ctx context.Context, c *chat.Chat, ch *chat.Change) (*chat.Chat, []*chat.Event, bool, error) {
	var out *chat.Chat
	var events []*chat.Event
	created := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `INSERT INTO chats AS c (site_id, visitor_id, session_id, group_id, employee_id, state, last_visitor_at)
			VALUES ($1, $2, NULLIF($3, 0), NULLIF($4, 0), NULLIF($5, 0), $6, now())
			ON CONFLICT (site_id, visitor_id) WHERE state <> 'closed' DO NOTHING
			RETURNING `+chatColumns, c.SiteID, c.VisitorID, c.SessionID, c.GroupID, c.EmployeeID, c.State)
		n, err := scanChat(row)
		if errors.Is(err, pgx.ErrNoRows) {
			out, err = s.chatWhere(ctx, tx, `c.site_id = $1 AND c.visitor_id = $2 AND c.state <> 'closed'`, c.SiteID, c.VisitorID)
			if err == nil && out == nil {
				err = comagic.Errorf(comagic.ECONFLICT, "the chat changed meanwhile; retry")
			}
			return err
		}
		if err != nil {
			return err
		}
		created = true
		out, events, err = s.apply(ctx, tx, n, ch)
		return err
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("postgres: start chat: %w", mapChatErr(err))
	}
	return out, events, created, nil
}

// Apply locks the chat, lets decide choose the change from its current row
// and applies it with its events and timers in one transaction. decide may
// return (nil, nil) to change nothing, or an error to refuse. The chat after
// the change and the stored events (or, for a uid already used, the stored
// ones, Replayed) are returned.
func (s *Chats) Apply(ctx context.Context, chatID int64, decide func(c *chat.Chat) (*chat.Change, error)) (*chat.Chat, []*chat.Event, error) {
	var out *chat.Chat
	var events []*chat.Event
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		c, err := s.chatWhere(ctx, tx, `c.id = $1 FOR UPDATE`, chatID)
		if err != nil {
			return err
		}
		if c == nil {
			return comagic.Errorf(comagic.ENOTFOUND, "no such chat")
		}
		ch, err := decide(c)
		if err != nil {
			return err
		}
		if ch == nil {
			out = c
			return nil
		}
		out, events, err = s.apply(ctx, tx, c, ch)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: apply chat change: %w", mapChatErr(err))
	}
	return out, events, nil
}

// apply writes ch to the locked chat c within tx.
func (s *Chats) apply(ctx context.Context, tx pgx.Tx, c *chat.Chat, ch *chat.Change) (*chat.Chat, []*chat.Event, error) {
	seq := c.LastSeq
	var events []*chat.Event
	wrote := false
	for _, ev := range ch.Events {
		if ev.UID != "" {
			old, err := eventWhere(ctx, tx, `e.chat_id = $1 AND e.sender = $2 AND e.uid = $3`, c.ID, ev.Sender, ev.UID)
			if err != nil {
				return nil, nil, err
			}
			if old != nil {
				old.Replayed = true
				events = append(events, old)
				continue
			}
		}
		seq++
		data := ev.Data
		if data == nil {
			data = map[string]any{}
		}
		if ev.FileID != 0 {
			data["file_id"] = ev.FileID
		}
		js, err := json.Marshal(data)
		if err != nil {
			return nil, nil, fmt.Errorf("event data: %w", err)
		}
		var uid *string
		if ev.UID != "" {
			uid = &ev.UID
		}
		if err := tx.QueryRow(ctx, `INSERT INTO chat_events (chat_id, seq, kind, sender, employee_id, text, uid, data)
			VALUES ($1, $2, $3, $4, NULLIF($5, 0), $6, $7, $8) RETURNING id, created_at`,
			c.ID, seq, ev.Kind, ev.Sender, ev.EmployeeID, ev.Text, uid, js).Scan(&ev.ID, &ev.CreatedAt); err != nil {
			return nil, nil, err
		}
		ev.ChatID, ev.Seq = c.ID, seq
		events = append(events, ev)
		wrote = true
	}
	changes := ch.State != "" || ch.EmployeeID != nil || ch.GroupID != nil || ch.Rating != nil || ch.VisitorEmail != "" || ch.Answered || ch.VisitorActive
	if wrote || changes {
		state := ch.State
		var emp, grp, rating *int64
		if ch.EmployeeID != nil {
			emp = ptr64(*ch.EmployeeID)
		}
		if ch.GroupID != nil {
			grp = ptr64(*ch.GroupID)
		}
		if ch.Rating != nil {
			rating = ptr64(int64(*ch.Rating))
		}
		row := tx.QueryRow(ctx, `UPDATE chats c SET
				last_seq = $2,
				state = CASE WHEN $3 = '' THEN state ELSE $3 END,
				employee_id = CASE WHEN $4::bigint IS NULL THEN employee_id ELSE NULLIF($4, 0) END,
				group_id = CASE WHEN $5::bigint IS NULL THEN group_id ELSE NULLIF($5, 0) END,
				rating = CASE WHEN $6::bigint IS NULL THEN rating ELSE NULLIF($6, 0)::smallint END,
				closed_by = CASE WHEN $3 = 'closed' THEN NULLIF($7, '') ELSE closed_by END,
				closed_at = CASE WHEN $3 = 'closed' AND closed_at IS NULL THEN now() ELSE closed_at END,
				accepted_at = CASE WHEN $3 = 'active' AND accepted_at IS NULL THEN now() ELSE accepted_at END,
				visitor_email = CASE WHEN $8 = '' THEN visitor_email ELSE $8 END,
				answered_at = CASE WHEN $9 AND answered_at IS NULL THEN now() ELSE answered_at END,
				last_visitor_at = CASE WHEN $10 THEN now() ELSE last_visitor_at END,
				last_activity_at = now()
			WHERE c.id = $1 RETURNING `+chatColumns,
			c.ID, seq, state, emp, grp, rating, ch.ClosedBy, ch.VisitorEmail, ch.Answered, ch.VisitorActive)
		var err error
		if c, err = scanChat(row); err != nil {
			return nil, nil, err
		}
	}
	if len(ch.DropTimers) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM chat_timers WHERE chat_id = $1 AND kind = ANY($2)`, c.ID, ch.DropTimers); err != nil {
			return nil, nil, err
		}
	}
	for _, t := range ch.AddTimers {
		if t.ChatID == 0 {
			t.ChatID = c.ID
		}
		if err := insertTimer(ctx, tx, t); err != nil {
			return nil, nil, err
		}
	}
	// Events read back with their operator and file.
	for i, ev := range events {
		if ev.Replayed || (ev.EmployeeID == 0 && ev.FileID == 0) {
			continue
		}
		full, err := eventWhere(ctx, tx, `e.id = $1`, ev.ID)
		if err != nil {
			return nil, nil, err
		}
		events[i] = full
	}
	return c, events, nil
}

func ptr64(v int64) *int64 { return &v }

func insertTimer(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, t chat.Timer) error {
	data := t.Data
	if data == nil {
		data = map[string]any{}
	}
	js, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("timer data: %w", err)
	}
	_, err = q.Exec(ctx, `INSERT INTO chat_timers (kind, chat_id, site_id, visitor_id, due_at, data)
		VALUES ($1, NULLIF($2, 0), NULLIF($3, 0), NULLIF($4, 0), $5, $6)`, t.Kind, t.ChatID, t.SiteID, t.VisitorID, t.DueAt, js)
	return err
}

const eventColumns = `e.chat_id, e.seq, e.id, e.kind, e.sender, coalesce(e.employee_id, 0), e.text, coalesce(e.uid, ''), e.data, e.created_at,
	emp.name, emp.position, emp.avatar, f.id, f.name, f.size, f.content_type`

const eventFrom = ` FROM chat_events e
	LEFT JOIN employees emp ON emp.id = e.employee_id
	LEFT JOIN chat_files f ON f.id = (e.data->>'file_id')::bigint AND f.chat_id = e.chat_id`

func scanEvent(row pgx.Row) (*chat.Event, error) {
	ev := &chat.Event{}
	var data []byte
	var name, position, avatar, fname, ftype *string
	var fid, fsize *int64
	if err := row.Scan(&ev.ChatID, &ev.Seq, &ev.ID, &ev.Kind, &ev.Sender, &ev.EmployeeID, &ev.Text, &ev.UID, &data, &ev.CreatedAt,
		&name, &position, &avatar, &fid, &fname, &fsize, &ftype); err != nil {
		return nil, err
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &ev.Data); err != nil {
			return nil, fmt.Errorf("event data: %w", err)
		}
		delete(ev.Data, "file_id")
	}
	if name != nil {
		ev.Operator = &chat.Vcard{Name: *name, Position: *position, Avatar: *avatar}
	}
	if fid != nil {
		ev.FileID = *fid
		ev.File = &chat.File{ID: *fid, Name: *fname, Size: *fsize, ContentType: *ftype}
	}
	return ev, nil
}

func eventWhere(ctx context.Context, q pgx.Tx, where string, args ...any) (*chat.Event, error) {
	ev, err := scanEvent(q.QueryRow(ctx, `SELECT `+eventColumns+eventFrom+` WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return ev, err
}

func (s *Chats) events(ctx context.Context, sql string, args ...any) ([]*chat.Event, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*chat.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// Events returns the chat's events with seq > after, in order, at most limit.
func (s *Chats) Events(ctx context.Context, chatID, after int64, limit int) ([]*chat.Event, error) {
	out, err := s.events(ctx, `SELECT `+eventColumns+eventFrom+` WHERE e.chat_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3`, chatID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: chat events: %w", err)
	}
	return out, nil
}

// historyKinds are the events shown in a chat's history.
var historyKinds = []string{chat.KindMessage, chat.KindFile, chat.KindSystem, chat.KindInvite}

// VisitorHistory returns up to limit of the visitor's history events on the
// site (across chats) with id < before (0: the latest), oldest first, and
// whether there are older ones.
func (s *Chats) VisitorHistory(ctx context.Context, siteID, visitorID, before int64, limit int) ([]*chat.Event, bool, error) {
	out, err := s.events(ctx, `SELECT `+eventColumns+eventFrom+`
		WHERE e.chat_id IN (SELECT id FROM chats WHERE visitor_id = $1 AND site_id = $2)
		  AND ($3 = 0 OR e.id < $3) AND e.kind = ANY($4)
		ORDER BY e.id DESC LIMIT $5`, visitorID, siteID, before, historyKinds, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: visitor history: %w", err)
	}
	return pageOf(out, limit)
}

// ChatHistory returns up to limit history events of the chat with seq <
// before (0: the latest), oldest first, and whether there are older ones.
func (s *Chats) ChatHistory(ctx context.Context, chatID, before int64, limit int) ([]*chat.Event, bool, error) {
	out, err := s.events(ctx, `SELECT `+eventColumns+eventFrom+`
		WHERE e.chat_id = $1 AND ($2 = 0 OR e.seq < $2) ORDER BY e.seq DESC LIMIT $3`, chatID, before, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: chat history: %w", err)
	}
	return pageOf(out, limit)
}

func pageOf(newestFirst []*chat.Event, limit int) ([]*chat.Event, bool, error) {
	more := len(newestFirst) > limit
	if more {
		newestFirst = newestFirst[:limit]
	}
	for i, j := 0, len(newestFirst)-1; i < j; i, j = i+1, j-1 {
		newestFirst[i], newestFirst[j] = newestFirst[j], newestFirst[i]
	}
	return newestFirst, more, nil
}

// HasHistory reports whether the visitor has chat messages on the site.
func (s *Chats) HasHistory(ctx context.Context, siteID, visitorID int64) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chat_events e JOIN chats c ON c.id = e.chat_id
		WHERE c.visitor_id = $1 AND c.site_id = $2 AND e.kind = ANY($3))`, visitorID, siteID, historyKinds).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("postgres: has history: %w", err)
	}
	return ok, nil
}

// VisitorCard returns the visitor's name and up to 5 latest emails and phones.
func (s *Chats) VisitorCard(ctx context.Context, siteID, visitorID int64) (chat.VisitorCard, error) {
	card := chat.VisitorCard{Email: []string{}, Phone: []string{}}
	var name *string
	err := s.db.QueryRow(ctx, `SELECT v.name,
		coalesce((SELECT array_agg(value ORDER BY created_at DESC) FROM (SELECT value, created_at FROM visitor_contacts
			WHERE visitor_id = v.id AND kind = 'email' ORDER BY created_at DESC LIMIT 5) x), '{}'),
		coalesce((SELECT array_agg(value ORDER BY created_at DESC) FROM (SELECT value, created_at FROM visitor_contacts
			WHERE visitor_id = v.id AND kind = 'phone' ORDER BY created_at DESC LIMIT 5) y), '{}')
		FROM visitors v WHERE v.id = $1 AND v.site_id = $2`, visitorID, siteID).Scan(&name, &card.Email, &card.Phone)
	if errors.Is(err, pgx.ErrNoRows) {
		return card, comagic.Errorf(comagic.ENOTFOUND, "no such visitor")
	}
	if err != nil {
		return card, fmt.Errorf("postgres: visitor card: %w", err)
	}
	if name != nil {
		card.Name = *name
	}
	return card, nil
}

// SetVisitorCard replaces the visitor's name (when not "") and adds the email
// and phone (when not "").
func (s *Chats) SetVisitorCard(ctx context.Context, siteID, visitorID int64, name, email, phone string) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE visitors SET name = CASE WHEN $3 = '' THEN name ELSE $3 END, updated_at = now()
			WHERE id = $1 AND site_id = $2`, visitorID, siteID, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return comagic.Errorf(comagic.ENOTFOUND, "no such visitor")
		}
		for kind, v := range map[string]string{"email": email, "phone": phone} {
			if v == "" {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO visitor_contacts (site_id, visitor_id, kind, value) VALUES ($1, $2, $3, $4)
				ON CONFLICT (visitor_id, kind, value) DO UPDATE SET created_at = now()`, siteID, visitorID, kind, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: set visitor card: %w", err)
	}
	return nil
}

// onlineOperators is the condition of an employee who can take chats of site $1 now.
const onlineOperators = `SELECT e.id FROM employees e JOIN employee_sites es ON es.employee_id = e.id
	WHERE es.site_id = $1 AND e.status = 'online' AND e.can_chat AND e.disabled_at IS NULL`

// SiteAvailable reports whether an operator of the site is online and may chat.
func (s *Chats) SiteAvailable(ctx context.Context, siteID int64) (bool, error) {
	var ok bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (`+onlineOperators+`)`, siteID).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: site available: %w", err)
	}
	return ok, nil
}

// Employee returns the employee with their sites and groups, or ENOTFOUND
// (also when disabled).
func (s *Chats) Employee(ctx context.Context, id int64) (*chat.Employee, error) {
	e := &chat.Employee{}
	err := s.db.QueryRow(ctx, `SELECT e.id, e.account_id, e.name, e.position, e.avatar, e.status, e.max_chats, e.can_chat, e.can_invite,
		coalesce((SELECT array_agg(site_id ORDER BY site_id) FROM employee_sites WHERE employee_id = e.id), '{}'),
		coalesce((SELECT array_agg(group_id ORDER BY group_id) FROM employee_group_members WHERE employee_id = e.id), '{}')
		FROM employees e WHERE e.id = $1 AND e.disabled_at IS NULL`, id).Scan(&e.ID, &e.AccountID, &e.Name, &e.Position, &e.Avatar,
		&e.Status, &e.MaxChats, &e.CanChat, &e.CanInvite, &e.SiteIDs, &e.GroupIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no such employee")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: employee: %w", err)
	}
	return e, nil
}

// SetEmployeeStatus sets the employee's status and returns the sites whose
// availability (an operator online who may chat) changed, with the new value.
func (s *Chats) SetEmployeeStatus(ctx context.Context, id int64, status string) (map[int64]bool, error) {
	changed := map[int64]bool{}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		before, err := siteAvailability(ctx, tx, id)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE employees SET status = $2, status_at = now() WHERE id = $1 AND disabled_at IS NULL`, id, status)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return comagic.Errorf(comagic.ENOTFOUND, "no such employee")
		}
		after, err := siteAvailability(ctx, tx, id)
		if err != nil {
			return err
		}
		for site, now := range after {
			if before[site] != now {
				changed[site] = now
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: set employee status: %w", err)
	}
	return changed, nil
}

// siteAvailability returns, for each site of the employee, whether some
// operator is online there.
func siteAvailability(ctx context.Context, tx pgx.Tx, employeeID int64) (map[int64]bool, error) {
	rows, err := tx.Query(ctx, `SELECT es.site_id, EXISTS (SELECT 1 FROM employees e JOIN employee_sites x ON x.employee_id = e.id
			WHERE x.site_id = es.site_id AND e.status = 'online' AND e.can_chat AND e.disabled_at IS NULL)
		FROM employee_sites es WHERE es.employee_id = $1`, employeeID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var site int64
		var ok bool
		if err := rows.Scan(&site, &ok); err != nil {
			return nil, err
		}
		out[site] = ok
	}
	return out, rows.Err()
}

// Route assigns the site's queued chats, oldest first, to the least busy
// online operators of the site (and the chat's group) with free capacity,
// while there are such. Routing of a site is serialised by an advisory lock;
// the chosen employee's row is locked, so capacity holds across sites too.
func (s *Chats) Route(ctx context.Context, siteID int64, join func(c *chat.Chat, e *chat.Employee) *chat.Change) ([]chat.Routed, error) {
	var out []chat.Routed
	for {
		var routed *chat.Routed
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7368, $1::int)`, siteID); err != nil {
				return err
			}
			c, err := s.chatWhere(ctx, tx, `c.site_id = $1 AND c.state = 'queued' ORDER BY c.created_at, c.id LIMIT 1 FOR UPDATE SKIP LOCKED`, siteID)
			if err != nil || c == nil {
				return err
			}
			var empID int64
			err = tx.QueryRow(ctx, `SELECT e.id FROM employees e JOIN employee_sites es ON es.employee_id = e.id AND es.site_id = $1
				WHERE e.status = 'online' AND e.can_chat AND e.disabled_at IS NULL
				  AND ($2 = 0 OR EXISTS (SELECT 1 FROM employee_group_members m WHERE m.employee_id = e.id AND m.group_id = $2))
				  AND (SELECT count(*) FROM chats x WHERE x.employee_id = e.id AND x.state = 'active') < e.max_chats
				ORDER BY (SELECT count(*) FROM chats x WHERE x.employee_id = e.id AND x.state = 'active'),
				         (SELECT max(accepted_at) FROM chats x WHERE x.employee_id = e.id) NULLS FIRST, e.id
				LIMIT 1 FOR UPDATE OF e`, siteID, c.GroupID).Scan(&empID)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			emp, err := employeeTx(ctx, tx, empID)
			if err != nil {
				return err
			}
			nc, events, err := s.apply(ctx, tx, c, join(c, emp))
			if err != nil {
				return err
			}
			routed = &chat.Routed{Chat: nc, Events: events}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("postgres: route chats: %w", err)
		}
		if routed == nil {
			return out, nil
		}
		out = append(out, *routed)
	}
}

func employeeTx(ctx context.Context, tx pgx.Tx, id int64) (*chat.Employee, error) {
	e := &chat.Employee{}
	err := tx.QueryRow(ctx, `SELECT id, account_id, name, position, avatar, status, max_chats, can_chat, can_invite
		FROM employees WHERE id = $1`, id).Scan(&e.ID, &e.AccountID, &e.Name, &e.Position, &e.Avatar, &e.Status, &e.MaxChats, &e.CanChat, &e.CanInvite)
	return e, err
}

// SitesWithQueue returns the sites of the employee that have queued chats.
func (s *Chats) SitesWithQueue(ctx context.Context, employeeID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT es.site_id FROM employee_sites es
		WHERE es.employee_id = $1 AND EXISTS (SELECT 1 FROM chats c WHERE c.site_id = es.site_id AND c.state = 'queued')`, employeeID)
	if err != nil {
		return nil, fmt.Errorf("postgres: sites with queue: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("postgres: sites with queue: %w", err)
	}
	return ids, nil
}

// OperatorChats returns the open chats the employee holds.
func (s *Chats) OperatorChats(ctx context.Context, employeeID int64) ([]*chat.QueueItem, error) {
	return s.items(ctx, `c.employee_id = $1 AND c.state IN ('active', 'invite') ORDER BY c.id`, employeeID)
}

// Queue returns the queued chats of the sites, oldest first.
func (s *Chats) Queue(ctx context.Context, siteIDs []int64) ([]*chat.QueueItem, error) {
	return s.items(ctx, `c.site_id = ANY($1) AND c.state = 'queued' ORDER BY c.created_at, c.id LIMIT 500`, siteIDs)
}

// Item returns the chat as operators list it.
func (s *Chats) Item(ctx context.Context, chatID int64) (*chat.QueueItem, error) {
	items, err := s.items(ctx, `c.id = $1`, chatID)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no such chat")
	}
	return items[0], nil
}

func (s *Chats) items(ctx context.Context, where string, args ...any) ([]*chat.QueueItem, error) {
	rows, err := s.db.Query(ctx, `SELECT `+chatColumns+`, coalesce(v.name, ''),
		coalesce((SELECT array_agg(value) FROM (SELECT value FROM visitor_contacts WHERE visitor_id = c.visitor_id AND kind = 'email' ORDER BY created_at DESC LIMIT 5) x), '{}'),
		coalesce((SELECT array_agg(value) FROM (SELECT value FROM visitor_contacts WHERE visitor_id = c.visitor_id AND kind = 'phone' ORDER BY created_at DESC LIMIT 5) y), '{}'),
		coalesce((SELECT text FROM chat_events e WHERE e.chat_id = c.id AND e.kind IN ('message', 'invite') ORDER BY e.seq DESC LIMIT 1), '')
		FROM chats c LEFT JOIN visitors v ON v.id = c.visitor_id WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: chat list: %w", err)
	}
	defer rows.Close()
	var out []*chat.QueueItem
	for rows.Next() {
		c := &chat.Chat{}
		it := &chat.QueueItem{Chat: c}
		if err := rows.Scan(&c.ID, &c.SiteID, &c.VisitorID, &c.SessionID, &c.GroupID, &c.EmployeeID,
			&c.State, &c.ClosedBy, &c.Rating, &c.LastSeq, &c.VisitorSeenSeq, &c.VisitorEmail,
			&c.CreatedAt, &c.AnsweredAt, &c.ClosedAt, &c.LastActivityAt,
			&it.Card.Name, &it.Card.Email, &it.Card.Phone, &it.LastText); err != nil {
			return nil, fmt.Errorf("postgres: chat list: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: chat list: %w", err)
	}
	return out, nil
}

// PickInviter returns the least busy online employee of the site who may
// invite, or nil.
func (s *Chats) PickInviter(ctx context.Context, siteID int64) (*chat.Employee, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT e.id FROM employees e JOIN employee_sites es ON es.employee_id = e.id AND es.site_id = $1
		WHERE e.status = 'online' AND e.can_chat AND e.can_invite AND e.disabled_at IS NULL
		ORDER BY (SELECT count(*) FROM chats x WHERE x.employee_id = e.id AND x.state = 'active'), e.id LIMIT 1`, siteID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: pick inviter: %w", err)
	}
	return s.Employee(ctx, id)
}

// MarkSeen records that the visitor's page received the chat's events up to seq.
func (s *Chats) MarkSeen(ctx context.Context, chatID, seq int64) error {
	if _, err := s.db.Exec(ctx, `UPDATE chats SET visitor_seen_seq = $2 WHERE id = $1 AND visitor_seen_seq < $2`, chatID, seq); err != nil {
		return fmt.Errorf("postgres: mark seen: %w", err)
	}
	return nil
}

// AddTimer schedules a timer.
func (s *Chats) AddTimer(ctx context.Context, t chat.Timer) error {
	if err := insertTimer(ctx, s.db, t); err != nil {
		return fmt.Errorf("postgres: add timer: %w", err)
	}
	return nil
}

// ClaimTimers leases up to limit due timers for lease: they are claimed with
// FOR UPDATE SKIP LOCKED and pushed lease into the future, so no other node
// takes them while this one works; DeleteTimer ends a handled one. A node
// that dies leaves them to be claimed again after the lease.
func (s *Chats) ClaimTimers(ctx context.Context, limit int, lease time.Duration) ([]chat.Timer, error) {
	rows, err := s.db.Query(ctx, `UPDATE chat_timers t SET due_at = now() + $2::interval
		WHERE t.id IN (SELECT id FROM chat_timers WHERE due_at <= now() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING t.id, t.kind, coalesce(t.chat_id, 0), coalesce(t.site_id, 0), coalesce(t.visitor_id, 0), t.due_at, t.data`,
		limit, lease.String())
	if err != nil {
		return nil, fmt.Errorf("postgres: claim timers: %w", err)
	}
	defer rows.Close()
	var out []chat.Timer
	for rows.Next() {
		var t chat.Timer
		var data []byte
		if err := rows.Scan(&t.ID, &t.Kind, &t.ChatID, &t.SiteID, &t.VisitorID, &t.DueAt, &data); err != nil {
			return nil, fmt.Errorf("postgres: claim timers: %w", err)
		}
		if err := json.Unmarshal(data, &t.Data); err != nil {
			return nil, fmt.Errorf("postgres: claim timers: data: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: claim timers: %w", err)
	}
	return out, nil
}

// DeleteTimer removes a handled timer.
func (s *Chats) DeleteTimer(ctx context.Context, id int64) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM chat_timers WHERE id = $1`, id); err != nil {
		return fmt.Errorf("postgres: delete timer: %w", err)
	}
	return nil
}

// NextTimer returns when the next timer is due, or nil when none is.
func (s *Chats) NextTimer(ctx context.Context) (*time.Time, error) {
	var at *time.Time
	if err := s.db.QueryRow(ctx, `SELECT min(due_at) FROM chat_timers`).Scan(&at); err != nil {
		return nil, fmt.Errorf("postgres: next timer: %w", err)
	}
	return at, nil
}

// AutoInviteRules returns the site's auto-invite rules.
func (s *Chats) AutoInviteRules(ctx context.Context, siteID int64) ([]chat.AutoInviteRule, error) {
	rows, err := s.db.Query(ctx, `SELECT id, message, min_time_on_site_s, min_page_views, url_pattern, source
		FROM auto_invite_rules WHERE site_id = $1 ORDER BY id`, siteID)
	if err != nil {
		return nil, fmt.Errorf("postgres: auto-invite rules: %w", err)
	}
	defer rows.Close()
	var out []chat.AutoInviteRule
	for rows.Next() {
		var r chat.AutoInviteRule
		var secs int
		if err := rows.Scan(&r.ID, &r.Message, &secs, &r.MinPageViews, &r.URLPattern, &r.Source); err != nil {
			return nil, fmt.Errorf("postgres: auto-invite rules: %w", err)
		}
		r.MinTimeOnSite = time.Duration(secs) * time.Second
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddAutoInviteRule stores a rule for the site and returns its id.
func (s *Chats) AddAutoInviteRule(ctx context.Context, siteID int64, r chat.AutoInviteRule) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO auto_invite_rules (site_id, message, min_time_on_site_s, min_page_views, url_pattern, source)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, siteID, r.Message, int(r.MinTimeOnSite/time.Second), r.MinPageViews, r.URLPattern, r.Source).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("postgres: add auto-invite rule: %w", mapChatErr(err))
	}
	return id, nil
}

// SessionStats returns what auto-invite rules look at: when the session
// started, how many pages it viewed, the latest page and its source.
func (s *Chats) SessionStats(ctx context.Context, siteID, sessionID int64) (chat.SessionStats, error) {
	var st chat.SessionStats
	err := s.db.QueryRow(ctx, `SELECT s.started_at, s.last_hit_at,
			(SELECT count(*) FROM hits h WHERE h.session_id = s.id),
			coalesce((SELECT url FROM hits h WHERE h.session_id = s.id ORDER BY h.created_at DESC, h.id DESC LIMIT 1), ''),
			s.utm_source, s.referrer_domain
		FROM sessions s WHERE s.id = $1 AND s.site_id = $2`, sessionID, siteID).Scan(&st.StartedAt, &st.LastHitAt, &st.PageViews, &st.URL, &st.UTMSource, &st.ReferrerDomain)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, comagic.Errorf(comagic.ENOTFOUND, "no such session")
	}
	if err != nil {
		return st, fmt.Errorf("postgres: session stats: %w", err)
	}
	return st, nil
}

// AddFile records a stored file of a chat and returns its id.
func (s *Chats) AddFile(ctx context.Context, chatID int64, sender, name, contentType string, size int64, storageKey string) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO chat_files (chat_id, sender, name, content_type, size, storage_key)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, chatID, sender, name, contentType, size, storageKey).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("postgres: add chat file: %w", err)
	}
	return id, nil
}

// ChatFile returns a file's chat, name, type and storage key.
func (s *Chats) ChatFile(ctx context.Context, id int64) (chatID int64, name, contentType, storageKey string, err error) {
	err = s.db.QueryRow(ctx, `SELECT chat_id, name, content_type, storage_key FROM chat_files WHERE id = $1`, id).Scan(&chatID, &name, &contentType, &storageKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", "", "", comagic.Errorf(comagic.ENOTFOUND, "no such file")
	}
	if err != nil {
		return 0, "", "", "", fmt.Errorf("postgres: chat file: %w", err)
	}
	return chatID, name, contentType, storageKey, nil
}

// mapChatErr turns constraint violations into application errors.
func mapChatErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // a concurrent start of the visitor's chat, or the same uid
			return &comagic.Error{Code: comagic.ECONFLICT, Message: "the chat changed meanwhile; retry"}
		case "23503":
			return &comagic.Error{Code: comagic.ENOTFOUND, Message: "the visitor, site or employee no longer exists"}
		case "23514", "22001":
			return &comagic.Error{Code: comagic.EINVALID, Message: "a value is out of range: " + pgErr.ConstraintName}
		}
	}
	return err
}

// TouchEmployee records when the employee's workstation was last seen.
func (s *Chats) TouchEmployee(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.db.Exec(ctx, `UPDATE employees SET seen_at = $2 WHERE id = $1`, id, at); err != nil {
		return fmt.Errorf("postgres: touch employee: %w", err)
	}
	return nil
}

// StaleOnline returns the employees who are online but whose workstation has
// not been seen since before.
func (s *Chats) StaleOnline(ctx context.Context, before time.Time) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM employees WHERE status = 'online' AND (seen_at IS NULL OR seen_at < $1) LIMIT 1000`, before)
	if err != nil {
		return nil, fmt.Errorf("postgres: stale operators: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("postgres: stale operators: %w", err)
	}
	return ids, nil
}

// RemoveAutoInviteRule deletes a rule of the site; ENOTFOUND when the site
// has no such rule.
func (s *Chats) RemoveAutoInviteRule(ctx context.Context, siteID, id int64) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM auto_invite_rules WHERE id = $1 AND site_id = $2`, id, siteID)
	if err != nil {
		return fmt.Errorf("postgres: remove auto-invite rule: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return comagic.Errorf(comagic.ENOTFOUND, "the site has no auto-invite rule %d", id)
	}
	return nil
}

// GroupOfAccount reports whether the group exists in the account.
func (s *Chats) GroupOfAccount(ctx context.Context, accountID, groupID int64) (bool, error) {
	var ok bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM employee_groups WHERE id = $1 AND account_id = $2)`, groupID, accountID).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: group of account: %w", err)
	}
	return ok, nil
}

// appendVisitorMessageSQL appends a visitor's message to their open chat
// (queued or active) in one statement, unless the chat has the uid already:
// $1 site, $2 visitor, $3 uid, $4 text.
const appendVisitorMessageSQL = `WITH c AS (
	UPDATE chats SET last_seq = last_seq + 1, last_activity_at = now(), last_visitor_at = now()
	WHERE site_id = $1 AND visitor_id = $2 AND state IN ('queued', 'active')
	  AND NOT EXISTS (SELECT 1 FROM chat_events e WHERE e.chat_id = chats.id AND e.sender = 'visitor' AND e.uid = $3)
	RETURNING id, site_id, visitor_id, coalesce(employee_id, 0) AS employee_id, state, last_seq)
INSERT INTO chat_events (chat_id, seq, kind, sender, text, uid)
SELECT c.id, c.last_seq, 'message', 'visitor', $4, $3 FROM c
RETURNING chat_id, seq, id, created_at, (SELECT employee_id FROM c), (SELECT state FROM c), (SELECT site_id FROM c), (SELECT visitor_id FROM c)`

// AppendVisitorMessage is the common case of a visitor's message, group
// committed with other writes: it appends to the visitor's open, queued or
// active chat. It returns nil, nil when that does not apply (no open chat, a
// pending invite, or the uid already used): the caller takes the general path.
func (s *Chats) AppendVisitorMessage(ctx context.Context, siteID, visitorID int64, uid, text string) (*chat.Chat, *chat.Event, error) {
	var c *chat.Chat
	var ev *chat.Event
	o := &op{
		queue: func(b *pgx.Batch) { b.Queue(appendVisitorMessageSQL, siteID, visitorID, uid, text) },
		read: func(br pgx.BatchResults) error {
			n := &chat.Chat{}
			e := &chat.Event{Kind: chat.KindMessage, Sender: chat.SenderVisitor, Text: text, UID: uid}
			err := br.QueryRow().Scan(&e.ChatID, &e.Seq, &e.ID, &e.CreatedAt, &n.EmployeeID, &n.State, &n.SiteID, &n.VisitorID)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			n.ID, n.LastSeq = e.ChatID, e.Seq
			c, ev = n, e
			return nil
		},
	}
	if err := s.ops.Do(ctx, o); err != nil {
		return nil, nil, fmt.Errorf("postgres: append visitor message: %w", mapChatErr(err))
	}
	return c, ev, nil
}

// Close stops the chat store's group commit after writing what was submitted.
func (s *Chats) Close() { s.ops.Close() }
