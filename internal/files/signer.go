package files

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
)

// Signer signs download URLs of chat files: a signature binds a file to its
// chat, so only those the server gave the URL to (the chat's participants) can
// fetch the file, and a signature for one file or chat is worthless for any
// other. Signatures do not expire; they are revoked with the secret.
type Signer struct {
	key []byte
}

// minSecretLen is the shortest secret NewSigner accepts.
const minSecretLen = 16

// NewSigner returns a signer keyed by secret (the server secret; at least 16
// bytes). The signing key is derived from it, so the secret's other uses
// cannot be confused with file signatures.
func NewSigner(secret string) (*Signer, error) {
	if len(secret) < minSecretLen {
		return nil, fmt.Errorf("files: signing secret shorter than %d bytes", minSecretLen)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("comagicd chat file url v1"))
	return &Signer{key: m.Sum(nil)}, nil
}

func (s *Signer) mac(fileID, chatID int64) []byte {
	m := hmac.New(sha256.New, s.key)
	var buf []byte
	buf = strconv.AppendInt(buf, fileID, 10)
	buf = append(buf, ':')
	buf = strconv.AppendInt(buf, chatID, 10)
	m.Write(buf)
	return m.Sum(nil)
}

// Sign returns the signature of file fileID of chat chatID: 43 URL-safe
// characters (base64url of HMAC-SHA256), to put in the file's URL.
func (s *Signer) Sign(fileID, chatID int64) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(fileID, chatID))
}

// Verify reports whether sig is the signature of file fileID of chat chatID.
// It takes constant time in the signature's content.
func (s *Signer) Verify(fileID, chatID int64, sig string) bool {
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.mac(fileID, chatID))
}
