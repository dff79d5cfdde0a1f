package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/captcha"
	"github.com/comagicd/comagicd/internal/comagic"
)

// Captchas is the captcha table. It implements captcha.Store.
type Captchas struct {
	db *pgxpool.Pool
}

// NewCaptchas returns the captcha store on db.
func NewCaptchas(db *pgxpool.Pool) *Captchas { return &Captchas{db: db} }

var _ captcha.Store = (*Captchas)(nil)

// InsertCaptcha stores a new captcha, valid for c.TTL by the database's clock
// (the same for every node). Returns ENOTFOUND when the site is gone.
func (s *Captchas) InsertCaptcha(ctx context.Context, c captcha.Record) error {
	_, err := s.db.Exec(ctx, `INSERT INTO captchas (key, site_id, answer_hash, sealed, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
		c.Key, c.SiteID, c.AnswerHash, c.Sealed, c.TTL.Seconds())
	if err != nil {
		return fmt.Errorf("postgres: insert captcha: %w", notFoundIfGone(err, "site"))
	}
	return nil
}

// CaptchaSealed returns the site and the sealed digits of a captcha that is
// neither used nor expired; ENOTFOUND otherwise.
func (s *Captchas) CaptchaSealed(ctx context.Context, key string) (int64, []byte, error) {
	var siteID int64
	var sealed []byte
	err := s.db.QueryRow(ctx, `SELECT site_id, sealed FROM captchas WHERE key = $1 AND used_at IS NULL AND expires_at > now()`, key).Scan(&siteID, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, comagic.Errorf(comagic.ENOTFOUND, "no such captcha, or it was used or has expired")
	}
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: captcha: %w", err)
	}
	return siteID, sealed, nil
}

// UseCaptcha marks the site's captcha used when it is neither used nor
// expired, and reports whether it was so (found) and whether answerHash is its
// answer (match). One statement: of concurrent checks of one captcha exactly
// one finds it, and a wrong answer uses it up just as a right one does.
func (s *Captchas) UseCaptcha(ctx context.Context, siteID int64, key string, answerHash []byte) (found, match bool, err error) {
	err = s.db.QueryRow(ctx, `UPDATE captchas SET used_at = now()
WHERE key = $1 AND site_id = $2 AND used_at IS NULL AND expires_at > now()
RETURNING answer_hash = $3`, key, siteID, answerHash).Scan(&match)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("postgres: use captcha: %w", err)
	}
	return true, match, nil
}

// PurgeCaptchas deletes captchas that expired before t and returns how many.
func (s *Captchas) PurgeCaptchas(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM captchas WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge captchas: %w", err)
	}
	return tag.RowsAffected(), nil
}
