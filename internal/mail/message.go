// Package mail sends comagicd's mail — chat transcripts and operators' late
// answers — through a durable outbox: a message is stored in the database (in
// the same transaction as the change that causes it), and an Outbox worker on
// some node sends it over SMTP, retrying with a growing delay until the server
// takes it.
package mail

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Limits of a Message.
const (
	MaxKindLen    = 50      // bytes
	MaxToLen      = 254     // bytes, RFC 5321's path limit
	MaxSubjectLen = 500     // characters
	MaxBodyLen    = 4 << 20 // bytes
)

// Message is one mail to send: a plain-text UTF-8 body to one recipient. Kind
// says what the mail is ("transcript", "late_answer", …) for logs and metrics;
// it is not sent.
type Message struct {
	Kind    string
	To      string // a bare address: user@example.com
	Subject string
	Body    string
}

// Validate checks the message before it is queued. It returns EINVALID naming
// the field ("kind", "to", "subject", "body") at fault.
func (m Message) Validate() error {
	switch {
	case m.Kind == "" || len(m.Kind) > MaxKindLen || !printable(m.Kind):
		return comagic.Invalid("kind", "mail kind must be 1..%d printable characters", MaxKindLen)
	case len(m.To) > MaxToLen || !bareAddress(m.To):
		return comagic.Invalid("to", "invalid email address")
	case utf8.RuneCountInString(m.Subject) > MaxSubjectLen || !printable(m.Subject):
		return comagic.Invalid("subject", "subject must be at most %d printable characters on one line", MaxSubjectLen)
	case len(m.Body) > MaxBodyLen || !utf8.ValidString(m.Body) || strings.ContainsRune(m.Body, 0):
		return comagic.Invalid("body", "body must be valid UTF-8 text of at most %d bytes", MaxBodyLen)
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters (so
// no line breaks can reach a header).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// bareAddress reports whether s is exactly one address without a display name.
func bareAddress(s string) bool {
	if s == "" || !printable(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}
