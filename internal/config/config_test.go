package config

import (
	"io"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	env := map[string]string{"COMAGICD_LISTEN_ADDR": ":9090", "COMAGICD_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"}
	c, err := Load([]string{"-log-level", "debug"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != ":9090" || c.BaseURL != "http://localhost:9090/" || len(c.TrustedProxies) != 2 || c.LogLevel.String() != "DEBUG" {
		t.Fatalf("%+v", c)
	}
	c, err = Load([]string{"-base-url", "https://t.example.com"}, func(string) string { return "" }, io.Discard)
	if err != nil || c.BaseURL != "https://t.example.com/" || c.DatabaseURL != DefaultDatabaseURL || c.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("%+v %v", c, err)
	}
	// Metrics listen apart from the public listener, or not at all.
	c, err = Load(nil, func(k string) string { return map[string]string{"COMAGICD_METRICS_ADDR": "off"}[k] }, io.Discard)
	if err != nil || c.MetricsAddr != "" {
		t.Fatalf("metrics off: %+v %v", c, err)
	}
	c, err = Load([]string{"-metrics-listen", ":9191"}, func(string) string { return "" }, io.Discard)
	if err != nil || c.MetricsAddr != ":9191" {
		t.Fatalf("metrics flag: %+v %v", c, err)
	}
	for _, bad := range [][]string{
		{"-base-url", "ftp://x"}, {"-secret", "short"}, {"-trusted-proxies", "nope"},
		{"-log-format", "xml"}, {"-log-level", "loud"}, {"-rate-limit", "-1"}, {"stray"},
		{"-metrics-listen", "9090"}, {"-metrics-listen", ":8080", "-listen", ":8080"},
	} {
		_, err := Load(bad, func(string) string { return "" }, io.Discard)
		if err == nil {
			t.Errorf("Load(%v) accepted", bad)
		} else if !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "-")) && bad[0] != "stray" {
			t.Errorf("Load(%v) error %q does not name the flag", bad, err)
		}
	}
}

func TestLoadChatSettings(t *testing.T) {
	none := func(string) string { return "" }
	c, err := Load(nil, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PubSubURL != "" || c.SMTPURL != "" || c.MailFrom != "comagicd@localhost" || c.FilesDir != "./data/files" {
		t.Fatalf("defaults: %+v", c)
	}
	env := map[string]string{
		"COMAGICD_PUBSUB_URL": "nats://127.0.0.1:4222",
		"COMAGICD_SMTP_URL":   "smtp://user:pass@mail.example.com:587",
		"COMAGICD_MAIL_FROM":  "Support <support@example.com>",
		"COMAGICD_FILES_DIR":  "/var/lib/comagicd/files",
	}
	c, err = Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PubSubURL != "nats://127.0.0.1:4222" || c.SMTPURL != "smtp://user:pass@mail.example.com:587" ||
		c.MailFrom != "Support <support@example.com>" || c.FilesDir != "/var/lib/comagicd/files" {
		t.Fatalf("from the environment: %+v", c)
	}
	// Flags win over the environment.
	c, err = Load([]string{"-pubsub-url", "tls://a:4222, tls://b:4222", "-smtp-url", "smtps://mail.example.com",
		"-mail-from", "bot@example.com", "-files-dir", "files"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PubSubURL != "tls://a:4222, tls://b:4222" || c.SMTPURL != "smtps://mail.example.com" || c.MailFrom != "bot@example.com" || c.FilesDir != "files" {
		t.Fatalf("flags: %+v", c)
	}
	for _, ok := range []string{"smtp://host:25", "smtp://host", "smtp://u:p@host:587/"} {
		if _, err := Load([]string{"-smtp-url", ok}, none, io.Discard); err != nil {
			t.Errorf("-smtp-url %s: %v", ok, err)
		}
	}
	for _, bad := range [][]string{
		{"-pubsub-url", "postgres://x"}, {"-pubsub-url", "nats://"}, {"-pubsub-url", "127.0.0.1:4222"},
		{"-pubsub-url", "nats://a:4222,redis://b"},
		{"-smtp-url", "http://mail.example.com"}, {"-smtp-url", "smtp://"}, {"-smtp-url", "smtp://host/path"},
		{"-smtp-url", "smtp://host:99999"}, {"-smtp-url", "smtp://host?x=1"},
		{"-mail-from", "not an address"}, {"-mail-from", ""},
		{"-files-dir", " "},
	} {
		_, err := Load(bad, none, io.Discard)
		if err == nil {
			t.Errorf("Load(%v) accepted", bad)
		} else if !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("Load(%v) error %q does not name the flag", bad, err)
		}
	}
	// The SMTP URL's password stays out of the error.
	if _, err := Load([]string{"-smtp-url", "smtp://u:secret@host/x"}, none, io.Discard); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v", err)
	}
}
