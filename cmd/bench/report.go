package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// coreBudget is the DESIGN.md §6 budget of the gzipped embed core, in bytes.
const coreBudget = 15 << 10

// report is everything one run found; it is also the -json output.
type report struct {
	// Hub is the server's hub engine: postgres or the pub/sub URL.
	Hub         string       `json:"hub"`
	Duration    string       `json:"duration"`
	Concurrency int          `json:"concurrency"`
	Scenarios   []*result    `json:"scenarios"`
	Durability  []durability `json:"durability"`
	CoreSize    int          `json:"embed_core_gzip_bytes"`
	CoreBudget  int          `json:"embed_core_budget_bytes"`
	// OK is false when a request failed or a durability check did not add up.
	OK bool `json:"ok"`
}

// evaluate fills in the ratios to bare and the verdicts against the targets.
func (rep *report) evaluate() {
	var bare float64
	for _, r := range rep.Scenarios {
		if r.Name == "bare" {
			bare = r.RPS
		}
	}
	for _, r := range rep.Scenarios {
		if bare > 0 && !r.noRatio {
			r.Ratio = r.RPS / bare
		}
		t := r.target
		switch {
		case r.Errors > 0:
			r.Verdict = "FAIL"
		case t == nil:
			r.Verdict = "-"
		default:
			if t.MinRPS > 0 && r.RPS < t.MinRPS {
				r.Misses = append(r.Misses, "req/s")
			}
			if t.MaxP99 > 0 && r.P99ms >= float64(t.MaxP99)/float64(time.Millisecond) {
				r.Misses = append(r.Misses, "p99")
			}
			if t.MinRatio > 0 && bare > 0 && r.Ratio < t.MinRatio {
				r.Misses = append(r.Misses, "ratio")
			}
			if t.MinHeld > 0 && r.Held < t.MinHeld {
				r.Misses = append(r.Misses, "held")
			}
			if t.MaxKiB > 0 && (r.Held == 0 || r.KiBPerSocket > t.MaxKiB) {
				r.Misses = append(r.Misses, "KiB")
			}
			r.Verdict = "PASS"
			if len(r.Misses) > 0 {
				r.Verdict = "MISS(" + strings.Join(r.Misses, ",") + ")"
			}
		}
	}
}

// ok reports whether no request failed and every durability check added up.
func (rep *report) ok() bool {
	for _, r := range rep.Scenarios {
		if r.Errors > 0 {
			return false
		}
	}
	for _, d := range rep.Durability {
		if !d.OK {
			return false
		}
	}
	return true
}

// print writes the human-readable report.
func (rep *report) print(out io.Writer) {
	fmt.Fprintf(out, "comagicd bench: -d %s -c %d (loopback, server in-process, hub %s)\n", rep.Duration, rep.Concurrency, rep.Hub)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trequests\treq/s\tp50 ms\tp99 ms\terrors\t×bare\treq/tx\tpoolwait\tcpu µs\t target\t verdict\t")
	for _, r := range rep.Scenarios {
		ratio, perTx, poolWait := "-", "-", "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		if r.Batches > 0 {
			perTx = fmt.Sprintf("%.1f", float64(r.Successes+r.Setups)/float64(r.Batches))
		}
		n := r.Successes + r.Setups
		if r.units > 0 {
			n = r.units
		}
		if n > 0 && r.Name != "bare" {
			poolWait = fmt.Sprintf("%.2f", r.PoolWaitMs/float64(n))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t%s\t%s\t%s\t%.0f\t %s\t %s\t\n",
			r.Name, r.Requests, r.RPS, r.P50ms, r.P99ms, r.Errors, ratio, perTx, poolWait, r.CPUus, r.Target, r.Verdict)
	}
	tw.Flush()
	fmt.Fprintln(out, "req/tx: writes per group-commit transaction; poolwait: ms/request waiting for a DB connection; cpu µs: this process (client+server) per request")
	for _, r := range rep.Scenarios {
		switch r.Name {
		case "ws-idle":
			fmt.Fprintln(out, "ws-idle: requests = sockets held, req/s = connects/s, p50/p99 = connect to first state frame; cpu µs and poolwait per socket (server process only)")
		case "chat-latency":
			fmt.Fprintln(out, "chat-latency: requests = measured messages, req/s = achieved msg/s, p50/p99 = visitor send to the operator's event; cpu µs and poolwait per message")
		}
		for _, n := range r.Notes {
			fmt.Fprintf(out, "  %s: %s\n", r.Name, n)
		}
	}
	for _, r := range rep.Scenarios {
		for _, s := range r.ErrorSamples {
			fmt.Fprintf(out, "  %s error: %s\n", r.Name, s)
		}
	}
	var parts []string
	for _, d := range rep.Durability {
		mark := "ok"
		if !d.OK {
			mark = "MISMATCH"
		}
		name := d.Table
		if d.Label != "" {
			name = d.Label
		}
		if d.Unanswered > 0 {
			mark = fmt.Sprintf("(+≤%d unanswered) %s", d.Unanswered, mark)
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d %s", name, d.Rows, d.Expected, mark))
	}
	fmt.Fprintf(out, "durability (rows/acknowledged): %s\n", strings.Join(parts, ", "))
	core := "PASS"
	if rep.CoreSize > rep.CoreBudget {
		core = "MISS"
	}
	fmt.Fprintf(out, "embed core: %d B gzip, budget %d B: %s\n", rep.CoreSize, rep.CoreBudget, core)
	if rep.OK {
		fmt.Fprintln(out, "result: OK (no request errors, all writes durable; MISS marks a performance target not met)")
	} else {
		fmt.Fprintln(out, "result: FAIL (request errors or missing rows)")
	}
}

// writeJSON writes the report to path.
func (rep *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	return nil
}
