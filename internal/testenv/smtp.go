package testenv

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTP is a real SMTP server on a loopback port that keeps what it receives.
type SMTP struct {
	addr string
	mu   sync.Mutex
	msgs []Mail
}

// Mail is a received message, decoded.
type Mail struct {
	From, To, Subject, Body string
}

// StartSMTP starts an SMTP server for the test.
func StartSMTP(t testing.TB) *SMTP {
	t.Helper()
	s := &SMTP{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// URL is the server's address as COMAGICD_SMTP_URL takes it.
func (s *SMTP) URL() string { return "smtp://" + s.addr }

// Messages returns what was received so far.
func (s *SMTP) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.msgs...)
}

// WaitFor returns the first message to the address, failing after 15 s.
func (s *SMTP) WaitFor(t testing.TB, to string) Mail {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range s.Messages() {
			if strings.EqualFold(m.To, to) {
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no mail to %s in 15 s; got %v", to, s.Messages())
	return Mail{}
}

type smtpSession struct {
	s    *SMTP
	from string
	to   []string
}

func (se *smtpSession) Mail(from string, _ *smtp.MailOptions) error { se.from = from; return nil }
func (se *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}
func (se *smtpSession) Reset()        { se.from, se.to = "", nil }
func (se *smtpSession) Logout() error { return nil }

func (se *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Mail{From: se.from, To: strings.Join(se.to, ",")}
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		dec := new(mime.WordDecoder)
		m.Subject, _ = dec.DecodeHeader(msg.Header.Get("Subject"))
		var body io.Reader = msg.Body
		switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			body = quotedprintable.NewReader(body)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, _ := io.ReadAll(body)
		m.Body = string(b)
	} else {
		m.Body = string(raw)
	}
	se.s.mu.Lock()
	se.s.msgs = append(se.s.msgs, m)
	se.s.mu.Unlock()
	return nil
}
