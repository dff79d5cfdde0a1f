package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/comagicd/comagicd/internal/app"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/widgets"
	"github.com/comagicd/comagicd/web"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// -demo is serve's own flag; the rest is the shared configuration.
	demo := false
	rest := args[:0:0]
	for _, a := range args {
		if a == "-demo" || a == "--demo" {
			demo = true
			continue
		}
		rest = append(rest, a)
	}
	cfg, err := config.Load(rest, config.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "  -demo\n    \tseed a demo account and site when the database has none, and print its URLs")
		return nil
	}
	if err != nil {
		return err
	}
	logger := cfg.Logger(stderr)
	assets, err := web.New()
	if err != nil {
		return fmt.Errorf("build embed script: %w", err)
	}
	a, err := app.New(ctx, cfg, logger, assets)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	if demo {
		if err := seedDemo(ctx, a.Sites, a.Employees, cfg.BaseURL, cfg.MetricsAddr, stdout); err != nil {
			ln.Close()
			return err
		}
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	logger.Info("comagicd listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL,
		"database", postgres.RedactURL(cfg.DatabaseURL), "version", versionString(), "embed_core_gzip_bytes", assets.CoreSize())
	// The workers run beside the listeners and stop after them: requests
	// under way may still publish on the hub.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(runCtx) }()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("listen on %s (metrics): %w", cfg.MetricsAddr, err)
		}
		msrv := &http.Server{Handler: a.Metrics.Handler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
		defer msrv.Close()
		logger.Info("metrics listening", "addr", mln.Addr().String()+"/metrics")
		go func() { errc <- msrv.Serve(mln) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case err := <-runErr: // only if Run could not start
		return errors.Join(errors.New("serve: workers stopped"), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// HTTP first, then the workers (Run waits for them at most
	// ShutdownTimeout and names those it left running), then (deferred) the pool.
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	stopRun()
	if err := <-runErr; err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	return errors.Join(errs...)
}

// seedDemo creates the demo account and site on an empty database and prints
// where to look.
func seedDemo(ctx context.Context, sites *postgres.Sites, employees *postgres.Employees, baseURL, metricsAddr string, out io.Writer) error {
	const account = "Demo"
	n, err := sites.CountSites(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		acc, err := sites.EnsureAccount(ctx, account)
		if err != nil {
			return err
		}
		site, err := sites.CreateSite(ctx, acc.ID, []string{"localhost", "127.0.0.1"})
		if err != nil {
			return err
		}
		// The consultant's request form is on for every device of the demo site.
		settings, err := widgets.Validate("consultant", []byte(demoConsultant))
		if err != nil {
			return fmt.Errorf("demo consultant settings: %w", err)
		}
		for _, device := range comagic.DeviceTypes {
			if _, err := sites.SetWidgetSettings(ctx, site.Key, "consultant", device, settings); err != nil {
				return err
			}
		}
		// The demo operator answers the demo site's chats.
		hash, err := operators.HashPassword(demoOperatorPassword)
		if err != nil {
			return err
		}
		if _, err := employees.CreateEmployee(ctx, postgres.EmployeeInput{Account: account, Login: demoOperatorLogin,
			Name: "Анна (демо)", Position: "Консультант", PasswordHash: hash, Sites: []string{site.Key}}); err != nil {
			return fmt.Errorf("demo operator: %w", err)
		}
	}
	all, accounts, err := sites.ListSites(ctx)
	if err != nil {
		return err
	}
	for i, s := range all {
		if accounts[i] != account {
			continue
		}
		fmt.Fprintf(out, "\ncomagicd is running at %s\n\n", baseURL)
		fmt.Fprintf(out, "  demo page:   %sdemo/?k=%s\n", baseURL, s.Key)
		metrics := "off (COMAGICD_METRICS_ADDR)"
		if metricsAddr != "" {
			metrics = "http://" + metricsAddr + "/metrics"
		}
		fmt.Fprintf(out, "  health:      %shealthz   metrics: %s\n", baseURL, metrics)
		fmt.Fprintf(out, "  site_key: %s\n", s.Key)
		if e, err := employees.EmployeeByLogin(ctx, demoOperatorLogin); err == nil && e.DisabledAt == nil {
			fmt.Fprintf(out, "  workstation: %soperator/   (sign in as %s / %s)\n", baseURL, demoOperatorLogin, demoOperatorPassword)
			fmt.Fprintf(out, "  operator:    login %s, password %s (demo only; change it: comagicd admin employee update --login %s --password-stdin)\n",
				demoOperatorLogin, demoOperatorPassword, demoOperatorLogin)
			fmt.Fprintf(out, "               answer chats in a terminal: echo %s | go run ./cmd/comagicd operator -url %s -login %s -password-stdin\n",
				demoOperatorPassword, baseURL, demoOperatorLogin)
		}
		fmt.Fprintln(out)
		fmt.Fprintf(out, "Embed code for the demo site:\n\n%s\n", snippet(baseURL, s.Key))
		return nil
	}
	fmt.Fprintf(out, "\ncomagicd is running at %s (the database already has sites; no demo site was created)\n", baseURL)
	return nil
}

// The demo operator's login and password: the demo runs on localhost only.
const (
	demoOperatorLogin    = "demo"
	demoOperatorPassword = "demo-operator"
)

// demoConsultant enables the consultant's chat and offline-request form on
// the demo site.
const demoConsultant = `{
  "common": {"banner_color": "2E7D32"},
  "chat": {
    "title": "Задать вопрос в чат",
    "is_visible": true,
    "is_animation_enabled": true,
    "h_position": "right",
    "v_position": "bottom",
    "is_file_transfer": true,
    "is_consultant_operator_rating": true,
    "group_title": null,
    "allowed_groups": null,
    "fields": null,
    "retention": {
      "is_alternate_communication_way_enabled": true,
      "alternate_communication_way_timeout": 60,
      "alternate_communication_way": "offline_message",
      "messages": [
        {"timeout": 15, "text": "Оператор ответит вам через несколько секунд."},
        {"timeout": 30, "text": "Пожалуйста, не закрывайте чат: операторы скоро ответят."}
      ]
    }
  },
  "offline_message": {
    "title": "Напишите нам",
    "is_visible": true,
    "is_animation_enabled": true,
    "h_position": "right",
    "v_position": "bottom",
    "is_groups_enabled": true,
    "group_title": "Отдел",
    "allowed_groups": [{"id": 1, "name": "Продажи"}, {"id": 2, "name": "Доставка"}],
    "fields": [
      {"name": "name", "title": "Как к вам обращаться", "is_required": false},
      {"name": "phone", "title": "Телефон", "is_required": true},
      {"name": "message", "title": "Сообщение", "is_required": false}
    ]
  }
}`

// snippet is the classic embed code for a site.
func snippet(baseURL, siteKey string) string {
	return fmt.Sprintf(`<script type="text/javascript">
  var __cs = __cs || [];
  __cs.push(["setCsAccount", "%s"]);
</script>
<script type="text/javascript" async src="%sstatic/cs.min.js"></script>
`, siteKey, baseURL)
}
