package main

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestParseFlags(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	o, err := parseFlags([]string{"-d", "2s", "-c", "8", "-only", "bare, event"}, env(map[string]string{"TEST_DATABASE_URL": "postgres://x@h/db"}), &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 2*time.Second || o.concurrency != 8 || strings.Join(o.only, ",") != "bare,event" || o.databaseURL != "postgres://x@h/db" {
		t.Errorf("options %+v", o)
	}
	o, err = parseFlags(nil, env(map[string]string{"BENCH_DATABASE_URL": "postgres://b@h/db", "TEST_DATABASE_URL": "postgres://t@h/db"}), &strings.Builder{})
	if err != nil || o.databaseURL != "postgres://b@h/db" || o.duration != 5*time.Second || o.concurrency != 64 || o.warmup != time.Second {
		t.Errorf("defaults %+v %v", o, err)
	}
	if o.wsIdle != 19000 || o.chatRate != 2000 || o.chatVisitors != 200 {
		t.Errorf("chat defaults %+v", o)
	}
	if o, err := parseFlags([]string{"-only", "ws-idle,chat-latency", "-ws-idle", "100", "-chat-rate", "300", "-chat-visitors", "20"}, env(nil), &strings.Builder{}); err != nil ||
		o.wsIdle != 100 || o.chatRate != 300 || o.chatVisitors != 20 || strings.Join(o.only, ",") != "ws-idle,chat-latency" {
		t.Errorf("chat flags %+v %v", o, err)
	}
	for _, args := range [][]string{{"-only", "nope"}, {"-c", "0"}, {"extra"}, {"-ws-idle", "0"}, {"-chat-rate", "0"},
		{"-chat-rate", "2000", "-chat-visitors", "100"}} {
		if _, err := parseFlags(args, env(nil), &strings.Builder{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestDatabaseURL(t *testing.T) {
	admin := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&pool_max_conns=8"
	cfg, err := pgx.ParseConfig("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := databaseURL(admin, cfg, "comagicd_bench_x"), "postgres://postgres@127.0.0.1:5432/comagicd_bench_x?sslmode=disable&pool_max_conns=8"; got != want {
		t.Errorf("url form: %s, want %s", got, want)
	}
	if got, want := databaseURL("host=127.0.0.1 user=postgres", cfg, "b"), "postgres://postgres@127.0.0.1:5432/b?sslmode=disable"; got != want {
		t.Errorf("keyword form: %s, want %s", got, want)
	}
}

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(lat, 0.5); p != 50 {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(lat, 0.99); p != 99 {
		t.Errorf("p99 %v", p)
	}
	if p := percentile(nil, 0.99); p != 0 {
		t.Errorf("empty %v", p)
	}
}

func TestEvaluate(t *testing.T) {
	tg := &target{MinRPS: 15000, MaxP99: 25 * time.Millisecond, MinRatio: 0.25}
	rep := &report{Scenarios: []*result{
		{Name: "bare", RPS: 40000},
		{Name: "fast", RPS: 16000, P99ms: 10, target: tg},
		{Name: "slow", RPS: 9000, P99ms: 30, target: tg},
		{Name: "broken", RPS: 20000, Errors: 1, target: tg},
	}}
	rep.evaluate()
	got := []string{}
	for _, r := range rep.Scenarios {
		got = append(got, r.Verdict)
	}
	if want := "-|PASS|MISS(req/s,p99,ratio)|FAIL"; strings.Join(got, "|") != want {
		t.Errorf("verdicts %v, want %s", got, want)
	}
	if rep.ok() {
		t.Error("a scenario with errors passed")
	}
	if s := tg.String(); s != "≥15000/s p99<25ms ≥0.25×bare" {
		t.Errorf("target %q", s)
	}
}

func TestEvaluateSockets(t *testing.T) {
	tg := &target{MinHeld: 19000, MaxKiB: 20}
	rep := &report{Scenarios: []*result{
		{Name: "bare", RPS: 40000},
		{Name: "held", Held: 19000, KiBPerSocket: 17.5, RPS: 900, target: tg, noRatio: true},
		{Name: "fat", Held: 19000, KiBPerSocket: 36, target: tg},
		{Name: "few", Held: 12000, KiBPerSocket: 10, target: tg},
		{Name: "none", target: tg},
	}}
	rep.evaluate()
	var got []string
	for _, r := range rep.Scenarios {
		got = append(got, r.Verdict)
	}
	if want := "-|PASS|MISS(KiB)|MISS(held)|MISS(held,KiB)"; strings.Join(got, "|") != want {
		t.Errorf("verdicts %v, want %s", got, want)
	}
	if rep.Scenarios[1].Ratio != 0 {
		t.Errorf("a socket scenario got a ratio to bare: %v", rep.Scenarios[1].Ratio)
	}
	if s := tg.String(); s != "≥19000 held ≤20KiB/socket" {
		t.Errorf("target %q", s)
	}
}

func TestChatOperators(t *testing.T) {
	for _, c := range []struct{ k, ops, maxChats int }{{200, 4, 50}, {1, 4, 1}, {450, 5, 90}, {1000, 10, 100}} {
		if ops, m := chatOperators(c.k); ops != c.ops || m != c.maxChats || ops*m < c.k || m > 100 {
			t.Errorf("chatOperators(%d) = %d, %d; want %d, %d", c.k, ops, m, c.ops, c.maxChats)
		}
	}
}

func TestReadRSS(t *testing.T) {
	before, err := settledMemory()
	if err != nil {
		t.Fatal(err)
	}
	if before.rss <= 0 || before.heap <= 0 || before.stacks <= 0 {
		t.Fatalf("memory %+v", before)
	}
	n, err := openFiles()
	if err != nil || n < 3 {
		t.Fatalf("open files %d %v", n, err)
	}
}
