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
