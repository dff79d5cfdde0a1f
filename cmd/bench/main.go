// Command bench is the load generator behind `make bench`: it starts the real
// comagicd server in-process on a fresh PostgreSQL database, drives the tracking
// and lead endpoints over loopback HTTP next to a bare net/http baseline,
// holds idle visitor websockets (from a child process of itself, so that the
// server process holds only the server side) and times chat messages from
// visitors to operators, prints throughput, latency and memory against the
// performance targets of DESIGN.md §6 and verifies that every acknowledged
// write is committed.
//
// The process exits non-zero when a request fails or a durability check does not
// add up; a missed performance target is reported but is not a failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// maxVisitorRate is the most messages per second one chat-latency visitor
// sends (the server allows 20 frames/s per socket).
const maxVisitorRate = 15

// options are the command-line settings of one benchmark run.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	only        []string
	jsonPath    string
	cpuProfile  string
	databaseURL string
	// wsIdle is how many idle visitor sockets the ws-idle scenario opens.
	wsIdle int
	// chatRate is the chat-latency scenario's visitor messages per second in
	// total, spread over chatVisitors visitors.
	chatRate     float64
	chatVisitors int
	// memProfile, when set, receives a heap profile taken while the ws-idle
	// sockets are held.
	memProfile string
	// pubsubURL selects the server's hub engine (COMAGICD_PUBSUB_URL); ""
	// is PostgreSQL LISTEN/NOTIFY.
	pubsubURL string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == wsClientArg {
		os.Exit(wsClientMain(os.Stdin, os.Stdout))
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The ws-idle scenario holds thousands of sockets.
	if _, err := raiseFileLimit(); err != nil {
		logger.Warn("bench: raise the open-file limit", "err", err)
	}
	opts, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		logger.Error("bench: bad arguments", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ok, err := run(ctx, opts, logger, os.Stdout)
	stop()
	if err != nil {
		logger.Error("bench failed", "err", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// parseFlags reads the options from args; getenv supplies the database URL
// (BENCH_DATABASE_URL, then TEST_DATABASE_URL).
func parseFlags(args []string, getenv func(string) string, output io.Writer) (options, error) {
	var o options
	var only string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.DurationVar(&o.duration, "d", 5*time.Second, "measured duration of each scenario")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each scenario's measurement (not counted)")
	fs.IntVar(&o.concurrency, "c", 64, "concurrent client workers")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames(), ","))
	fs.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (client and server) to this file")
	fs.IntVar(&o.wsIdle, "ws-idle", 19000, "idle visitor websockets the ws-idle scenario opens (from a child process)")
	fs.Float64Var(&o.chatRate, "chat-rate", 2000, "visitor messages per second, in total, of the chat-latency scenario")
	fs.IntVar(&o.chatVisitors, "chat-visitors", 200, "visitors in chats sending the chat-latency scenario's messages")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile of the process to this file while the ws-idle sockets are held")
	fs.StringVar(&o.pubsubURL, "pubsub", "", "the server's hub engine, as COMAGICD_PUBSUB_URL (e.g. nats://127.0.0.1:4222); default PostgreSQL LISTEN/NOTIFY")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.duration <= 0 || o.warmup < 0 || o.concurrency <= 0 {
		return o, errors.New("-d and -c must be positive and -warmup not negative")
	}
	if o.wsIdle <= 0 || o.chatVisitors <= 0 || o.chatVisitors > 10000 || !(o.chatRate > 0) {
		return o, errors.New("-ws-idle, -chat-rate and -chat-visitors must be positive (-chat-visitors at most 10000)")
	}
	// Each visitor socket may send 20 frames/s sustained; stay well under it.
	if o.chatRate/float64(o.chatVisitors) > maxVisitorRate {
		return o, fmt.Errorf("-chat-rate %.0f over %d visitors is more than %d messages/s per socket: raise -chat-visitors", o.chatRate, o.chatVisitors, maxVisitorRate)
	}
	if only != "" {
		known := scenarioNames()
		for _, name := range strings.Split(only, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(known, name) {
				return o, fmt.Errorf("-only: unknown scenario %q (known: %s)", name, strings.Join(known, ", "))
			}
			o.only = append(o.only, name)
		}
	}
	o.databaseURL = getenv("BENCH_DATABASE_URL")
	if o.databaseURL == "" {
		o.databaseURL = getenv("TEST_DATABASE_URL")
	}
	if o.databaseURL == "" {
		o.databaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	return o, nil
}

// run performs the whole benchmark and reports whether everything that must hold
// (no request errors, durable rows) held. err is an environment failure.
func run(ctx context.Context, opts options, logger *slog.Logger, out io.Writer) (ok bool, err error) {
	env, err := startEnv(ctx, opts, logger)
	if err != nil {
		return false, err
	}
	defer func() {
		if cerr := env.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			return false, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return false, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	hubEngine := "postgres"
	if opts.pubsubURL != "" {
		hubEngine = opts.pubsubURL
	}
	rep := &report{
		Hub:         hubEngine,
		Duration:    opts.duration.String(),
		Concurrency: opts.concurrency,
		CoreSize:    env.assets.CoreSize(),
		CoreBudget:  coreBudget,
	}
	for _, sc := range scenarios() {
		if len(opts.only) > 0 && !slices.Contains(opts.only, sc.name) {
			continue
		}
		logger.Info("bench: running", "scenario", sc.name, "duration", opts.duration, "concurrency", opts.concurrency)
		res, err := env.runScenario(ctx, sc, opts)
		if err != nil {
			return false, err
		}
		if ctx.Err() != nil {
			return false, fmt.Errorf("bench: interrupted during %s: %w", sc.name, context.Cause(ctx))
		}
		rep.Scenarios = append(rep.Scenarios, res)
	}
	rep.evaluate()
	rep.Durability, err = env.checkDurability(ctx, rep.Scenarios)
	if err != nil {
		return false, err
	}
	rep.OK = rep.ok()
	rep.print(out)
	if opts.jsonPath != "" {
		if err := rep.writeJSON(opts.jsonPath); err != nil {
			return false, err
		}
	}
	return rep.OK, nil
}
