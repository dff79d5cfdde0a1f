package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/comagicd/comagicd/internal/comagic"
)

// AddVisitorInfo overwrites the visitor's name when given and adds the phone and
// email when the visitor does not have them yet. Returns ENOTFOUND.
func (s *Store) AddVisitorInfo(ctx context.Context, siteID, visitorID int64, info comagic.VisitorInfo) error {
	// The first statement also proves the visitor exists on the site.
	stmts := []stmt{{`UPDATE visitors SET name = COALESCE(NULLIF($3, ''), name), updated_at = now()
	                  WHERE id = $2 AND site_id = $1`, []any{siteID, visitorID, info.Name}}}
	const contact = `INSERT INTO visitor_contacts (site_id, visitor_id, kind, value) VALUES ($1, $2, $3, $4)
	                 ON CONFLICT DO NOTHING`
	if info.Phone != "" {
		stmts = append(stmts, stmt{contact, []any{siteID, visitorID, "phone", info.Phone}})
	}
	if info.Email != "" {
		stmts = append(stmts, stmt{contact, []any{siteID, visitorID, "email", info.Email}})
	}
	n, err := s.exec(ctx, stmts...)
	if err != nil {
		return fmt.Errorf("postgres: add visitor info: %w", notFoundIfGone(err, "visitor"))
	}
	if n[0] == 0 {
		return comagic.Errorf(comagic.ENOTFOUND, "visitor not found")
	}
	return nil
}

// SetProperty sets the property of the visitor (a NULL value for a bare flag).
// Returns ENOTFOUND.
func (s *Store) SetProperty(ctx context.Context, siteID, visitorID int64, p comagic.Property) error {
	var value *string
	if p.HasValue {
		value = &p.Value
	}
	const q = `INSERT INTO visitor_properties (site_id, visitor_id, name, value) VALUES ($1, $2, $3, $4)
	           ON CONFLICT (visitor_id, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
	           WHERE visitor_properties.site_id = EXCLUDED.site_id`
	n, err := s.exec(ctx, stmt{q, []any{siteID, visitorID, p.Name, value}})
	if err != nil {
		return fmt.Errorf("postgres: set property: %w", notFoundIfGone(err, "visitor"))
	}
	if n[0] == 0 {
		return comagic.Errorf(comagic.ENOTFOUND, "visitor not found")
	}
	return nil
}

// GetProperty returns the visitor's property, or nil when it is not set.
func (s *Store) GetProperty(ctx context.Context, siteID, visitorID int64, name string) (*comagic.Property, error) {
	var value *string
	err := s.db.QueryRow(ctx, `SELECT value FROM visitor_properties WHERE site_id = $1 AND visitor_id = $2 AND name = $3`,
		siteID, visitorID, name).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get property: %w", err)
	}
	p := &comagic.Property{Name: name, HasValue: value != nil}
	if value != nil {
		p.Value = *value
	}
	return p, nil
}

// DeleteProperty removes the visitor's property; removing a missing one is fine.
func (s *Store) DeleteProperty(ctx context.Context, siteID, visitorID int64, name string) error {
	if _, err := s.exec(ctx, stmt{`DELETE FROM visitor_properties WHERE site_id = $1 AND visitor_id = $2 AND name = $3`,
		[]any{siteID, visitorID, name}}); err != nil {
		return fmt.Errorf("postgres: delete property: %w", err)
	}
	return nil
}

// SessionByID returns the site, visitor and start of a session. Returns ENOTFOUND.
// These never change, so answers are cached.
func (s *Store) SessionByID(ctx context.Context, sessionID int64) (*comagic.SessionRef, error) {
	s.sessMu.RLock()
	cached, ok := s.sessions[sessionID]
	s.sessMu.RUnlock()
	if ok {
		return &cached, nil
	}
	var r comagic.SessionRef
	err := s.db.QueryRow(ctx, `SELECT site_id, visitor_id, started_at FROM sessions WHERE id = $1`, sessionID).
		Scan(&r.SiteID, &r.VisitorID, &r.StartedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "session not found")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: session by id: %w", err)
	}
	s.sessMu.Lock()
	if len(s.sessions) >= maxCachedSessions {
		clear(s.sessions)
	}
	s.sessions[sessionID] = r
	s.sessMu.Unlock()
	return &r, nil
}
