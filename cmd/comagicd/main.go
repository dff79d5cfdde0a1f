// Command comagicd is the self-hosted backend for the Comagic/UIS website
// widgets. Commands: serve (default), migrate, admin, operator, version.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/comagicd/comagicd/web"
)

// coreBudget is the gzip size budget of the embed script core (DESIGN.md §6).
const coreBudget = 15 << 10

// consultantBudget is the gzip budget of the lazily loaded consultant widget.
const consultantBudget = 40 << 10

// version is set with -ldflags "-X main.version=..." by make build.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "comagicd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args, stdout, stderr)
	case "admin":
		return admin(ctx, args, os.Stdin, stdout, stderr)
	case "operator":
		return operatorConsole(ctx, args, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "comagicd", versionString())
		assets, err := web.New()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "embed script core: %d bytes gzip (budget %d)\n", assets.CoreSize(), coreBudget)
		fmt.Fprintf(stdout, "consultant widget: %d bytes gzip, loaded when enabled (budget %d)\n", assets.WidgetSize("consultant"), consultantBudget)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return errors.New("unknown command " + cmd)
}

const usage = `usage: comagicd [command] [flags]

commands:
  serve     run the server (default); flags: comagicd serve -h
  migrate   apply database migrations and exit
  admin     manage accounts and sites: comagicd admin help
  operator  answer chats as an operator from a terminal: comagicd operator -h
  version   print the version
`

func versionString() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return version
}
