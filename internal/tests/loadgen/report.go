package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// describeMachine is the line every report starts with, so numbers are
// never quoted without the machine that made them.
func describeMachine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s/%s, load average %.2f at start", runtime.NumCPU(), model, mem,
		runtime.GOOS, runtime.GOARCH, loadAvg())
}

// printRuns writes the table of runs. A pgbench row's "cycles" are its
// transactions; the ratio column compares each scenario's commits per
// second with pgbench's transactions per second at the same client
// count.
func printRuns(w io.Writer, runs []*runResult) {
	tps := map[int]float64{}
	for _, r := range runs {
		if r.Name == baselineInsert.name {
			tps[r.Clients] = r.rate()
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tclients\tcycles/s\tissue p50\tp99\trevoke p50\tp99\tCPU ms/cycle: broker\tPostgreSQL\temulator\tdriver\tstmts/cycle\twrites/cycle\tcommits/cycle\tWAL B/cycle\tWAL FPI/cycle\tcommits/s ÷ pgbench tps\terrors\tload avg\t")
	for _, r := range runs {
		lat := func(op string, p99 bool) string {
			q, ok := r.Latency[op]
			if !ok || q.N == 0 {
				return "-"
			}
			if p99 {
				return ms(q.P99)
			}
			return ms(q.P50)
		}
		per := func(n int64) string {
			if r.Cycles == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", float64(n)/float64(r.Cycles))
		}
		stmts, writes := "-", "-"
		if r.PG.statements > 0 {
			stmts, writes = per(r.PG.statements), per(r.PG.writes)
		}
		ratio := "-"
		if t := tps[r.Clients]; t > 0 && r.Kind == "scenario" {
			ratio = fmt.Sprintf("%.2f", float64(r.PG.commits)/r.Seconds/t)
		}
		cpu := func(d time.Duration) string {
			if r.Kind == "pgbench" && d == 0 {
				return "-"
			}
			return fmt.Sprintf("%.3f", r.perCycle(d))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.1f→%.1f\t\n",
			r.Name, r.Clients, r.rate(),
			lat("issue", false), lat("issue", true), lat("revoke", false), lat("revoke", true),
			cpu(r.BrokerCPU), cpu(r.PGCPU), cpu(r.EmulatorCPU), cpu(r.DriverCPU),
			stmts, writes, per(r.PG.commits), per(r.PG.walBytes), fmt.Sprintf("%.2f", float64(r.PG.walFPI)/float64(max(r.Cycles, 1))), ratio, r.Errors, r.LoadStart, r.LoadEnd)
	}
	_ = tw.Flush()
	for _, r := range runs {
		if r.FirstErr != "" {
			fmt.Fprintf(w, "%s c=%d: first error: %s\n", r.Name, r.Clients, r.FirstErr)
		}
	}
}

// printStatements writes the statements of one run, per cycle.
func printStatements(w io.Writer, r *runResult) {
	if r.Cycles == 0 {
		return
	}
	sp := r.PGSplit
	fmt.Fprintf(w, "\n%s c=%d: PostgreSQL CPU ms/cycle: backends %.3f, autovacuum %.3f, reaped children %.3f, background %.3f, postmaster %.3f\n",
		r.Name, r.Clients, r.perCycle(sp.backends), r.perCycle(sp.autovacuum), r.perCycle(sp.reaped), r.perCycle(sp.background), r.perCycle(sp.postmaster))
	fmt.Fprintf(w, "statements of %s c=%d (pg_stat_statements; per cycle over %d cycles, incl. warm-up tail):\n", r.Name, r.Clients, r.Cycles)
	if len(r.Statements) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "calls/cycle\texec µs/call\tplan µs/call\tWAL B/call\tquery")
	for _, s := range r.Statements {
		q := s.query
		if len(q) > 110 {
			q = q[:110] + "…"
		}
		fmt.Fprintf(tw, "%.2f\t%.1f\t%.1f\t%.0f\t%s\n", float64(s.calls)/float64(r.Cycles),
			1000*s.execMs/float64(s.calls), 1000*s.planMs/float64(s.calls), float64(s.walBytes)/float64(s.calls), q)
	}
	_ = tw.Flush()
}
