// Package captcha issues and checks the sitephone's digit captchas (SPEC §8):
// Comagic.getCaptcha gets a key and the URL of a PNG showing 4 digits; a
// callback order sends the key back with what the visitor read. Captchas live
// in PostgreSQL so that any node can serve the image and check the answer. The
// digits are stored only as an HMAC (to check) and sealed with AES-GCM (to draw
// the image), both keyed by the server's secret.
package captcha

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"

	"github.com/comagicd/comagicd/internal/comagic"
)

// DefaultTTL is how long a captcha can be answered.
const DefaultTTL = 10 * time.Minute

// Length is the number of digits of a captcha.
const Length = 4

// Record is a stored captcha.
type Record struct {
	Key    string
	SiteID int64
	// AnswerHash is the HMAC of the site, the key and the digits.
	AnswerHash []byte
	// Sealed is the digits encrypted with AES-GCM (nonce first).
	Sealed []byte
	// TTL is how long from now (the database's clock) the captcha is valid.
	TTL time.Duration
}

// Store is what the service needs of the captcha table.
type Store interface {
	// InsertCaptcha stores a new captcha.
	InsertCaptcha(ctx context.Context, c Record) error
	// CaptchaSealed returns the site and the sealed digits of a captcha that
	// is neither used nor expired; ENOTFOUND otherwise.
	CaptchaSealed(ctx context.Context, key string) (siteID int64, sealed []byte, err error)
	// UseCaptcha marks the site's captcha used, in one statement, when it is
	// neither used nor expired, and reports whether it existed so and whether
	// answerHash was its answer. Whatever the answer, the captcha is used.
	UseCaptcha(ctx context.Context, siteID int64, key string, answerHash []byte) (found, match bool, err error)
	// PurgeCaptchas deletes captchas that expired before t and returns how many.
	PurgeCaptchas(ctx context.Context, before time.Time) (int64, error)
}

// Options configure a Service.
type Options struct {
	// Secret keys the answer hashes and the sealing of the digits; every node
	// must use the same. At least 16 bytes.
	Secret []byte
	// TTL is the lifetime of a captcha; DefaultTTL when zero.
	TTL time.Duration
	// Digits, when set, makes the digits of new captchas (tests use it to know
	// the answer); it must return Length decimal digits. Production leaves it
	// nil: the digits come from crypto/rand.
	Digits func() string
}

// Service issues, draws and checks captchas. It holds no mutable state: one
// value serves every request.
type Service struct {
	store  Store
	ttl    time.Duration
	digits func() string
	mac    []byte // HMAC key of the answer hashes
	render []byte // HMAC key of the per-captcha drawing seed
	aead   cipher.AEAD
	font   *opentype.Font
}

// NewService returns a captcha service on store.
func NewService(store Store, o Options) (*Service, error) {
	if len(o.Secret) < 16 {
		return nil, fmt.Errorf("captcha: the secret must be at least 16 bytes")
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, o.Secret)
		m.Write([]byte("comagicd captcha " + label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("seal"))
	if err != nil {
		return nil, fmt.Errorf("captcha: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("captcha: %w", err)
	}
	f, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("captcha: font: %w", err)
	}
	s := &Service{store: store, ttl: o.TTL, digits: o.Digits, mac: derive("answer"), render: derive("render"), aead: aead, font: f}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.digits == nil {
		s.digits = randomDigits
	}
	return s, nil
}

var (
	keyRE    = regexp.MustCompile(`^[0-9a-f]{32}$`)
	digitsRE = regexp.MustCompile(`^[0-9]{4}$`)
)

// ValidKey reports whether key has the form of a captcha key (32 lowercase
// hexadecimal characters).
func ValidKey(key string) bool { return keyRE.MatchString(key) }

// randomDigits returns Length uniformly random digits from crypto/rand.
func randomDigits() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return fmt.Sprintf("%04d", binary.LittleEndian.Uint64(b[:])%10000)
}

// New issues a captcha of the site and returns its key.
func (s *Service) New(ctx context.Context, siteID int64) (string, error) {
	d := s.digits()
	if !digitsRE.MatchString(d) {
		return "", fmt.Errorf("captcha: new: the digits source gave %q, not %d digits", d, Length)
	}
	var kb [16]byte
	_, _ = rand.Read(kb[:])
	key := hex.EncodeToString(kb[:])
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := s.aead.Seal(nonce, nonce, []byte(d), []byte(key))
	err := s.store.InsertCaptcha(ctx, Record{Key: key, SiteID: siteID, AnswerHash: s.answerHash(siteID, key, d), Sealed: sealed, TTL: s.ttl})
	if err != nil {
		return "", fmt.Errorf("captcha: new: %w", err)
	}
	return key, nil
}

func (s *Service) answerHash(siteID int64, key, digits string) []byte {
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(strconv.FormatInt(siteID, 10) + "\x00" + key + "\x00" + digits))
	return m.Sum(nil)
}

// Image draws the captcha of key as a PNG on the background colour bg (six
// hexadecimal digits RRGGBB, optionally after "#"; "" for the default). The
// same captcha is always drawn the same way. Returns ENOTFOUND for a key that
// is unknown, used or expired, EINVALID (field "bg") for a bad colour.
func (s *Service) Image(ctx context.Context, key, bg string) ([]byte, error) {
	back, err := ParseColor(bg)
	if err != nil {
		return nil, err
	}
	if !ValidKey(key) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no such captcha")
	}
	_, sealed, err := s.store.CaptchaSealed(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("captcha: image: %w", err)
	}
	ns := s.aead.NonceSize()
	if len(sealed) < ns {
		return nil, fmt.Errorf("captcha: image: sealed digits too short")
	}
	d, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("captcha: image: open sealed digits (was the secret changed?): %w", err)
	}
	m := hmac.New(sha256.New, s.render)
	m.Write([]byte(key))
	seed := m.Sum(nil)
	png, err := draw(s.font, string(d), back, seed)
	if err != nil {
		return nil, fmt.Errorf("captcha: image: %w", err)
	}
	return png, nil
}

// Check tells whether value is the answer of the site's captcha key, and uses
// the captcha up in the same statement: a captcha is single use, so a wrong
// value consumes it just as a right one does, and a second check of the same
// key is refused whatever the value. An unknown, expired or used key, or a
// key of another site, is refused (and another site's key is not consumed).
// Spaces around value are ignored.
func (s *Service) Check(ctx context.Context, siteID int64, key, value string) (bool, error) {
	if !ValidKey(key) {
		return false, nil
	}
	_, match, err := s.store.UseCaptcha(ctx, siteID, key, s.answerHash(siteID, key, strings.TrimSpace(value)))
	if err != nil {
		return false, fmt.Errorf("captcha: check: %w", err)
	}
	return match, nil
}

// Purge deletes captchas that expired more than an hour ago and returns how
// many; the app's purge worker calls it now and then.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	n, err := s.store.PurgeCaptchas(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		return 0, fmt.Errorf("captcha: purge: %w", err)
	}
	return n, nil
}
