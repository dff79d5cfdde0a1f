// Package credentials issues and verifies the per-session `key` of SPEC §3: a
// 32-character token that proves its bearer was handed a (visitor, session) pair
// of a site by this server. It is an HMAC, so verification needs no database read and a
// client cannot forge a key for a visitor id it merely claims.
package credentials

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// KeyLength is the length of a key in characters.
const KeyLength = 32

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Signer issues and verifies keys with one server secret.
type Signer struct {
	secret []byte
}

// NewSigner returns a Signer for the secret, which must be at least 16 bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, errors.New("credentials: secret must be at least 16 bytes")
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

// Key returns the key of the (visitor, session) pair on the site.
func (s *Signer) Key(siteID, visitorID, sessionID int64) string {
	m := hmac.New(sha256.New, s.secret)
	var buf [len("comagicd/session-key/v1") + 24]byte
	n := copy(buf[:], "comagicd/session-key/v1")
	binary.BigEndian.PutUint64(buf[n:], uint64(siteID))
	binary.BigEndian.PutUint64(buf[n+8:], uint64(visitorID))
	binary.BigEndian.PutUint64(buf[n+16:], uint64(sessionID))
	m.Write(buf[:])
	sum := m.Sum(nil) // 32 bytes: one character from each, 62 symbols each
	out := make([]byte, KeyLength)
	for i := range out {
		out[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(out)
}

// Verify reports whether key is the genuine key of the pair on the site, in
// constant time.
func (s *Signer) Verify(siteID, visitorID, sessionID int64, key string) bool {
	if siteID <= 0 || visitorID <= 0 || sessionID <= 0 || len(key) != KeyLength {
		return false
	}
	return hmac.Equal([]byte(s.Key(siteID, visitorID, sessionID)), []byte(key))
}
