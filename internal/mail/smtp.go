package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sender delivers one message.
type Sender interface {
	// Send hands m to the mail server. An error means the server did not take
	// it (the outbox retries later); nil means it did.
	Send(ctx context.Context, m Message) error
}

// SMTPConfig configures an SMTPSender.
type SMTPConfig struct {
	// URL is the server: smtp://[user:pass@]host[:port] (port 25 by default;
	// STARTTLS is used when the server offers it) or smtps://… (implicit TLS,
	// port 465 by default). User and password are percent-encoded.
	URL string
	// From is the sender address, with or without a display name:
	// "Поддержка <support@example.com>".
	From string
	// TLSConfig, when set, replaces the default TLS settings (system roots,
	// server name from the URL); tests use it to trust their own server.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each SMTP command; 30 s when zero.
	Timeout time.Duration
}

// SMTPSender sends mail over SMTP with go-mail. Credentials are only sent over
// an encrypted connection (STARTTLS or smtps) unless the server offers a
// challenge-response mechanism.
type SMTPSender struct {
	from     string
	host     string
	addr     string // host:port, for errors and logs
	implicit bool   // smtps: TLS from the first byte
	tls      *tls.Config
	opts     []gomail.Option
}

// NewSMTPSender checks the configuration and returns a sender. It does not
// connect.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("mail: parse smtp url: %w", err)
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mail: smtp url: want smtp://[user:pass@]host[:port] or smtps://…")
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("mail: smtp url: no host")
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	// The sender dials itself (see Send); go-mail upgrades with STARTTLS when
	// offered and sees the TLS of an smtps connection.
	opts := []gomail.Option{gomail.WithTimeout(timeout), gomail.WithTLSPolicy(gomail.TLSOpportunistic)}
	port, implicit := 25, false
	switch u.Scheme {
	case "smtp":
	case "smtps":
		port, implicit = 465, true
	default:
		return nil, fmt.Errorf("mail: smtp url: scheme %q: want smtp or smtps", u.Scheme)
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("mail: smtp url: bad port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
		if tlsConfig.ServerName == "" {
			tlsConfig.ServerName = host
		}
	}
	opts = append(opts, gomail.WithTLSConfig(tlsConfig))
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	return &SMTPSender{from: cfg.From, host: host, addr: addr, implicit: implicit, tls: tlsConfig, opts: opts}, nil
}

// Addr returns the server's host:port as configured, for logs.
func (s *SMTPSender) Addr() string { return s.addr }

// Send connects, sends m and disconnects. Each call uses a connection of its
// own, so concurrent calls are safe. When ctx ends the connection is closed at
// once, whatever command is under way; the error then wraps ctx's error.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetUserAgent("comagicd")
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)

	var mu sync.Mutex
	var stops []func() bool
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, stop := range stops {
			stop()
		}
	}()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		stops = append(stops, context.AfterFunc(ctx, func() { _ = conn.Close() }))
		mu.Unlock()
		if !s.implicit {
			return conn, nil
		}
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		return tc, nil
	}
	c, err := gomail.NewClient(s.host, append(s.opts[:len(s.opts):len(s.opts)], gomail.WithDialContextFunc(dial))...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("mail: send to %s via %s: %w (%w)", m.To, s.addr, cerr, err)
		}
		return fmt.Errorf("mail: send to %s via %s: %w", m.To, s.addr, err)
	}
	return nil
}
