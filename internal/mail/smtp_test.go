package mail_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/mail"
)

// decoded is a received message with its headers and body decoded.
type decoded struct {
	Header  netmail.Header
	Subject string
	From    string
	Body    string // with LF line ends
}

func decode(t *testing.T, data []byte) decoded {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	var d decoded
	d.Header = msg.Header
	wd := new(mime.WordDecoder)
	if d.Subject, err = wd.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	if d.From, err = wd.DecodeHeader(msg.Header.Get("From")); err != nil {
		t.Fatalf("decode from: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Fatalf("content type %q (%v), want text/plain; charset=UTF-8", msg.Header.Get("Content-Type"), err)
	}
	var body io.Reader = msg.Body
	switch cte := strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "", "7bit", "8bit":
	default:
		t.Fatalf("unexpected transfer encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	d.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	return d
}

const russianBody = "Здравствуйте, Анна!\n\nОператор ответил на ваш вопрос:\n«Да, доставка по Москве бесплатная — с 9:00 до 21:00.»\n\nСпасибо, что выбрали нас. Ёлки-палки, эмодзи тоже: 👍\n" +
	"Очень длинная строка без переносов, которая заведомо длиннее семидесяти шести символов и потому будет разбита кодировщиком на части.\n"

func TestSMTPSenderRussianText(t *testing.T) {
	srv := startSMTP(t, serverOptions{})
	s, err := mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://" + srv.addr, From: "Поддержка <support@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != srv.addr {
		t.Fatalf("Addr() = %q, want %q", s.Addr(), srv.addr)
	}
	m := mail.Message{Kind: "late_answer", To: "anna@example.org", Subject: "Ответ оператора на ваш вопрос — «Доставка»", Body: russianBody}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	got := msgs[0]
	if got.From != "support@example.com" || len(got.To) != 1 || got.To[0] != "anna@example.org" {
		t.Fatalf("envelope from %q to %v", got.From, got.To)
	}
	if got.TLS {
		t.Fatal("plain server reported TLS")
	}
	d := decode(t, got.Data)
	if d.Subject != m.Subject {
		t.Errorf("subject %q, want %q", d.Subject, m.Subject)
	}
	if d.Body != m.Body {
		t.Errorf("body\n%q\nwant\n%q", d.Body, m.Body)
	}
	if d.From != "\"Поддержка\" <support@example.com>" && d.From != "Поддержка <support@example.com>" {
		t.Errorf("From header %q", d.From)
	}
	if to := d.Header.Get("To"); !strings.Contains(to, "anna@example.org") {
		t.Errorf("To header %q", to)
	}
	if d.Header.Get("Auto-Submitted") != "auto-generated" || d.Header.Get("Message-Id") == "" || d.Header.Get("Date") == "" {
		t.Errorf("headers %v", d.Header)
	}
	if strings.Contains(string(got.Data), "Здравствуйте") {
		t.Error("body sent as raw 8-bit text, not encoded")
	}
}

func TestSMTPSenderSTARTTLSWithAuth(t *testing.T) {
	serverTLS, clientTLS := testCert(t)
	srv := startSMTP(t, serverOptions{tls: serverTLS, user: "us@er", pass: "päss:word"})
	s, err := mail.NewSMTPSender(mail.SMTPConfig{
		URL: "smtp://us%40er:p%C3%A4ss%3Aword@" + srv.addr, From: "noreply@example.com", TLSConfig: clientTLS,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), mail.Message{Kind: "transcript", To: "a@example.org", Subject: "Чат", Body: "текст"}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "us@er" {
		t.Fatalf("got %+v, want one message over TLS from us@er", msgs)
	}
	// Wrong password: refused, nothing delivered.
	bad, err := mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://us%40er:wrong@" + srv.addr, From: "noreply@example.com", TLSConfig: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Send(context.Background(), mail.Message{Kind: "transcript", To: "a@example.org", Subject: "x", Body: "y"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	// A certificate the client does not trust fails the delivery (no silent
	// fallback to plain text).
	untrusted, err := mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://us%40er:p%C3%A4ss%3Aword@" + srv.addr, From: "noreply@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := untrusted.Send(context.Background(), mail.Message{Kind: "transcript", To: "a@example.org", Subject: "x", Body: "y"}); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("server holds %d messages, want 1", n)
	}
}

func TestSMTPSenderImplicitTLS(t *testing.T) {
	serverTLS, clientTLS := testCert(t)
	srv := startSMTP(t, serverOptions{tls: serverTLS, implicit: true})
	s, err := mail.NewSMTPSender(mail.SMTPConfig{URL: "smtps://" + srv.addr, From: "noreply@example.com", TLSConfig: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), mail.Message{Kind: "transcript", To: "a@example.org", Subject: "Чат", Body: "текст"}); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.messages(); len(msgs) != 1 || !msgs[0].TLS {
		t.Fatalf("got %+v, want one message over TLS", msgs)
	}
}

func TestSMTPSenderKeepsCredentialsOffPlainConnections(t *testing.T) {
	// The server offers AUTH PLAIN without TLS; the sender must not use it.
	srv := startSMTP(t, serverOptions{insecure: true, user: "user", pass: "secret"})
	s, err := mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://user:secret@" + srv.addr, From: "noreply@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), mail.Message{Kind: "transcript", To: "a@example.org", Subject: "x", Body: "y"}); err == nil {
		t.Fatal("sent with credentials over a plain connection")
	}
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("server holds %d messages", n)
	}
}

func TestSMTPSenderUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s, err := mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://" + addr, From: "noreply@example.com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), mail.Message{Kind: "transcript", To: "a@example.org", Subject: "x", Body: "y"})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("send to a closed port: %v, want an error naming %s", err, addr)
	}
}

func TestNewSMTPSenderConfig(t *testing.T) {
	for _, c := range []struct{ url, addr string }{
		{"smtp://mail.example.com", "mail.example.com:25"},
		{"smtp://mail.example.com:587", "mail.example.com:587"},
		{"smtps://u:p@mail.example.com", "mail.example.com:465"},
		{"smtps://mail.example.com:2465/", "mail.example.com:2465"},
	} {
		s, err := mail.NewSMTPSender(mail.SMTPConfig{URL: c.url, From: "a@example.com"})
		if err != nil || s.Addr() != c.addr {
			t.Errorf("%s: %v, %v; want %s", c.url, s, err, c.addr)
		}
	}
	for _, c := range []struct{ url, from string }{
		{"", "a@example.com"},
		{"mail.example.com:25", "a@example.com"},
		{"http://mail.example.com", "a@example.com"},
		{"smtp://", "a@example.com"},
		{"smtp://mail.example.com:0", "a@example.com"},
		{"smtp://mail.example.com:99999", "a@example.com"},
		{"smtp://mail.example.com:x", "a@example.com"},
		{"smtp://mail.example.com/path", "a@example.com"},
		{"smtp://mail.example.com?tls=no", "a@example.com"},
		{"smtp://mail.example.com", ""},
		{"smtp://mail.example.com", "not an address"},
	} {
		if _, err := mail.NewSMTPSender(mail.SMTPConfig{URL: c.url, From: c.from}); err == nil {
			t.Errorf("NewSMTPSender(%q, %q) succeeded", c.url, c.from)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	good := mail.Message{Kind: "transcript", To: "anna@example.org", Subject: "Переписка с оператором", Body: "Привет\r\nмир"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field string
		edit  func(*mail.Message)
	}{
		{"kind", func(m *mail.Message) { m.Kind = "" }},
		{"kind", func(m *mail.Message) { m.Kind = strings.Repeat("k", 51) }},
		{"to", func(m *mail.Message) { m.To = "" }},
		{"to", func(m *mail.Message) { m.To = "not-an-address" }},
		{"to", func(m *mail.Message) { m.To = "Anna <anna@example.org>" }},
		{"to", func(m *mail.Message) { m.To = "a@example.org, b@example.org" }},
		{"to", func(m *mail.Message) { m.To = "a@example.org\r\nBcc: victim@example.org" }},
		{"to", func(m *mail.Message) { m.To = strings.Repeat("a", 250) + "@example.org" }},
		{"subject", func(m *mail.Message) { m.Subject = "Hi\r\nBcc: victim@example.org" }},
		{"subject", func(m *mail.Message) { m.Subject = "bad \xff utf-8" }},
		{"subject", func(m *mail.Message) { m.Subject = strings.Repeat("ы", 501) }},
		{"body", func(m *mail.Message) { m.Body = "bad \xff utf-8" }},
		{"body", func(m *mail.Message) { m.Body = "nul \x00" }},
		{"body", func(m *mail.Message) { m.Body = strings.Repeat("x", mail.MaxBodyLen+1) }},
	} {
		m := good
		c.edit(&m)
		err := m.Validate()
		if comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) != c.field {
			t.Errorf("%+.60v: %v, want invalid field %s", m, err, c.field)
		}
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{10 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, time.Hour, time.Hour}
	for n, w := range want {
		if got := mail.Backoff(n); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, w)
		}
	}
	if got := mail.Backoff(1000); got != time.Hour {
		t.Errorf("Backoff(1000) = %v", got)
	}
}
