// Package config reads comagicd's configuration from the environment and from
// command-line flags (a flag wins over its variable) into one Config.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the configuration of the server.
type Config struct {
	// DatabaseURL is the PostgreSQL connection string (DATABASE_URL).
	DatabaseURL string
	// ListenAddr is the HTTP listen address (COMAGICD_LISTEN_ADDR, default ":8080").
	ListenAddr string
	// MetricsAddr is the listen address of the Prometheus metrics
	// (COMAGICD_METRICS_ADDR, default "127.0.0.1:9090"); "" turns them off.
	MetricsAddr string
	// BaseURL is the public URL of this server, ending with "/" (COMAGICD_BASE_URL).
	BaseURL string
	// Secret signs visitor credentials (COMAGICD_SECRET); when empty the server
	// generates one on first start and keeps it in the database.
	Secret string
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (COMAGICD_TRUSTED_PROXIES, comma-separated CIDRs or addresses).
	TrustedProxies []netip.Prefix
	// LogFormat is "text" or "json" (COMAGICD_LOG_FORMAT).
	LogFormat string
	// LogLevel is debug, info, warn or error (COMAGICD_LOG_LEVEL).
	LogLevel slog.Level
	// RateLimit is the number of requests per minute one client IP may make to
	// the public endpoints; 0 disables the limit (COMAGICD_RATE_LIMIT).
	RateLimit int
	// ShutdownTimeout bounds the graceful shutdown (COMAGICD_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// PubSubURL selects the hub engine that carries wake-ups between nodes
	// (COMAGICD_PUBSUB_URL): "" is PostgreSQL LISTEN/NOTIFY on DatabaseURL,
	// nats://host:port or tls://host:port (several separated by commas) is NATS.
	PubSubURL string
	// SMTPURL is the mail server, smtp://[user:pass@]host[:port] or smtps://…
	// (COMAGICD_SMTP_URL); "" turns mail off.
	SMTPURL string
	// MailFrom is the sender address of outgoing mail (COMAGICD_MAIL_FROM,
	// default "comagicd@localhost").
	MailFrom string
	// FilesDir is where chat files are stored (COMAGICD_FILES_DIR, default
	// "./data/files").
	FilesDir string
	// ChatLateAnswer is how long an operator's answer may stay unseen by the
	// visitor's pages before it is emailed to them (COMAGICD_CHAT_LATE_ANSWER,
	// default 1m).
	ChatLateAnswer time.Duration
}

// DefaultMetricsAddr is where metrics are served unless configured: loopback
// only, away from the public listener.
const DefaultMetricsAddr = "127.0.0.1:9090"

// DefaultDatabaseURL is used when DATABASE_URL is not set: the local server.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/comagicd?sslmode=disable"

// Load parses args (without the program and command names) over the environment
// read through getenv. Errors name the flag or variable at fault.
func Load(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var c Config
	var proxies, level, rate, shutdown, metricsAddr, lateAnswer string
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", DefaultDatabaseURL), "PostgreSQL URL (DATABASE_URL)")
	fs.StringVar(&c.ListenAddr, "listen", env("COMAGICD_LISTEN_ADDR", ":8080"), "listen address (COMAGICD_LISTEN_ADDR)")
	fs.StringVar(&metricsAddr, "metrics-listen", env("COMAGICD_METRICS_ADDR", DefaultMetricsAddr), "listen address of /metrics, off = none (COMAGICD_METRICS_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", env("COMAGICD_BASE_URL", ""), "public base URL, e.g. https://track.example.com/ (COMAGICD_BASE_URL; default http://localhost<listen port>/)")
	fs.StringVar(&c.Secret, "secret", env("COMAGICD_SECRET", ""), "credential-key secret, ≥16 bytes (COMAGICD_SECRET; generated and stored in the database when empty)")
	fs.StringVar(&proxies, "trusted-proxies", env("COMAGICD_TRUSTED_PROXIES", ""), "comma-separated CIDRs whose X-Forwarded-For is trusted (COMAGICD_TRUSTED_PROXIES)")
	fs.StringVar(&c.LogFormat, "log-format", env("COMAGICD_LOG_FORMAT", "text"), "log format: text or json (COMAGICD_LOG_FORMAT)")
	fs.StringVar(&level, "log-level", env("COMAGICD_LOG_LEVEL", "info"), "log level: debug, info, warn, error (COMAGICD_LOG_LEVEL)")
	fs.StringVar(&rate, "rate-limit", env("COMAGICD_RATE_LIMIT", "6000"), "requests per minute per client IP on public endpoints, 0 = off (COMAGICD_RATE_LIMIT)")
	fs.StringVar(&shutdown, "shutdown-timeout", env("COMAGICD_SHUTDOWN_TIMEOUT", "15s"), "graceful shutdown limit (COMAGICD_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.PubSubURL, "pubsub-url", env("COMAGICD_PUBSUB_URL", ""), "wake-ups between nodes: empty = PostgreSQL LISTEN/NOTIFY, nats://host:4222 = NATS (COMAGICD_PUBSUB_URL)")
	fs.StringVar(&c.SMTPURL, "smtp-url", env("COMAGICD_SMTP_URL", ""), "mail server, smtp://[user:pass@]host[:port] or smtps://…; empty = no mail (COMAGICD_SMTP_URL)")
	fs.StringVar(&c.MailFrom, "mail-from", env("COMAGICD_MAIL_FROM", DefaultMailFrom), "sender address of outgoing mail (COMAGICD_MAIL_FROM)")
	fs.StringVar(&c.FilesDir, "files-dir", env("COMAGICD_FILES_DIR", DefaultFilesDir), "directory of chat files (COMAGICD_FILES_DIR)")
	fs.StringVar(&lateAnswer, "chat-late-answer", env("COMAGICD_CHAT_LATE_ANSWER", "1m"), "how long an operator answer may stay unseen before it is emailed to the visitor (COMAGICD_CHAT_LATE_ANSWER)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	if c.DatabaseURL == "" {
		return c, errors.New("config: DATABASE_URL (-database-url) is empty")
	}
	if metricsAddr != "off" {
		if _, _, err := net.SplitHostPort(metricsAddr); err != nil {
			return c, fmt.Errorf("config: COMAGICD_METRICS_ADDR (-metrics-listen) must be host:port or off, got %q", metricsAddr)
		}
		if metricsAddr == c.ListenAddr {
			return c, errors.New("config: COMAGICD_METRICS_ADDR (-metrics-listen) must differ from COMAGICD_LISTEN_ADDR: metrics are not public")
		}
		c.MetricsAddr = metricsAddr
	}
	if c.BaseURL == "" {
		port := c.ListenAddr[strings.LastIndexByte(c.ListenAddr, ':')+1:]
		c.BaseURL = "http://localhost:" + port + "/"
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("config: COMAGICD_BASE_URL (-base-url) %q must be an absolute http(s) URL", c.BaseURL)
	}
	if !strings.HasSuffix(c.BaseURL, "/") {
		c.BaseURL += "/"
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		return c, errors.New("config: COMAGICD_SECRET (-secret) must be at least 16 bytes")
	}
	for _, p := range strings.Split(proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return c, fmt.Errorf("config: COMAGICD_TRUSTED_PROXIES (-trusted-proxies): %q is not a CIDR or address", p)
			}
			prefix = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("config: COMAGICD_LOG_FORMAT (-log-format) must be text or json, got %q", c.LogFormat)
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("config: COMAGICD_LOG_LEVEL (-log-level): %w", err)
	}
	if c.RateLimit, err = strconv.Atoi(rate); err != nil || c.RateLimit < 0 {
		return c, fmt.Errorf("config: COMAGICD_RATE_LIMIT (-rate-limit) must be a non-negative integer, got %q", rate)
	}
	if c.ShutdownTimeout, err = time.ParseDuration(shutdown); err != nil || c.ShutdownTimeout <= 0 {
		return c, fmt.Errorf("config: COMAGICD_SHUTDOWN_TIMEOUT (-shutdown-timeout) must be a positive duration, got %q", shutdown)
	}
	if c.ChatLateAnswer, err = time.ParseDuration(lateAnswer); err != nil || c.ChatLateAnswer <= 0 {
		return c, fmt.Errorf("config: COMAGICD_CHAT_LATE_ANSWER (-chat-late-answer) must be a positive duration, got %q", lateAnswer)
	}
	if err := checkPubSubURL(c.PubSubURL); err != nil {
		return c, err
	}
	if err := checkSMTPURL(c.SMTPURL); err != nil {
		return c, err
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return c, fmt.Errorf("config: COMAGICD_MAIL_FROM (-mail-from) %q is not a mail address: %w", c.MailFrom, err)
	}
	if strings.TrimSpace(c.FilesDir) == "" {
		return c, errors.New("config: COMAGICD_FILES_DIR (-files-dir) is empty")
	}
	return c, nil
}

// DefaultMailFrom is the sender of outgoing mail unless configured.
const DefaultMailFrom = "comagicd@localhost"

// DefaultFilesDir is where chat files are stored unless configured.
const DefaultFilesDir = "./data/files"

// checkPubSubURL accepts "" and a comma-separated list of nats:// or tls://
// server URLs with a host.
func checkPubSubURL(s string) error {
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return fmt.Errorf("config: COMAGICD_PUBSUB_URL (-pubsub-url) %q must be empty (PostgreSQL) or nats://host:port or tls://host:port", part)
		}
	}
	return nil
}

// checkSMTPURL accepts "" and smtp:// or smtps:// URLs with a host and nothing
// after it.
func checkSMTPURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		// The URL may hold a password: the message does not repeat it.
		return errors.New("config: COMAGICD_SMTP_URL (-smtp-url) must be empty (no mail) or smtp://[user:pass@]host[:port] or smtps://…")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("config: COMAGICD_SMTP_URL (-smtp-url): bad port %q", p)
		}
	}
	return nil
}

// Logger returns the slog logger the configuration asks for, writing to w.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Getenv is os.Getenv, for callers of Load.
func Getenv(name string) string { return os.Getenv(name) }
