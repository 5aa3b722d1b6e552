package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usage = `usage:
  loadgen cycles --pg-url URL [flags]   lease cycles against the real binaries, beside pgbench
  loadgen scale  --pg-url URL [flags]   memory, start-up and expiry storm over many leases
  loadgen relay  --db-url URL --upstream URL   (run by cycles) the cycle with none of the broker in it
Run "loadgen COMMAND -h" for the flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "cycles":
		err = cyclesCmd(ctx, args[1:], stdout, stderr)
	case "scale":
		err = scaleCmd(ctx, args[1:], stdout, stderr)
	case "relay":
		err = relayCmd(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	return 0
}

// common are the flags both commands take.
type common struct {
	pgURL  string
	broker string
	keep   bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.pgURL, "pg-url", os.Getenv("LOADGEN_PG_URL"),
		"superuser URL of a PostgreSQL cluster on this machine; the driver creates its own databases (env LOADGEN_PG_URL)")
	fs.StringVar(&c.broker, "broker", "", "broker binary (default: go build ./cmd/broker)")
	fs.BoolVar(&c.keep, "keep", false, "keep the working directory (config, logs, profiles)")
}

// prepare checks the flags, makes the working directory and the binary.
func (c *common) prepare(ctx context.Context, stderr io.Writer) (dir, bin string, cleanup func(), err error) {
	if c.pgURL == "" {
		return "", "", nil, errors.New("--pg-url (or LOADGEN_PG_URL) is required")
	}
	dir, err = os.MkdirTemp("", "loadgen-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() {
		if c.keep {
			fmt.Fprintf(stderr, "loadgen: kept %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}
	bin = c.broker
	if bin == "" {
		if bin, err = buildBroker(ctx, dir); err != nil {
			cleanup()
			return "", "", nil, err
		}
	}
	return dir, bin, cleanup, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseEnv splits "K=V,K2=V2" into environment entries.
func parseEnv(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for kv := range strings.SplitSeq(s, ",") {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("bad environment entry %q: want KEY=VALUE", kv)
		}
		out = append(out, kv)
	}
	return out, nil
}

func findPgbench() string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(m) > 0 {
		return m[len(m)-1]
	}
	return ""
}

func cyclesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cycles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	names := fs.String("scenarios", "rest,grpc", "scenarios to run, comma-separated")
	counts := fs.String("clients", "1,8", "concurrent clients per run, comma-separated")
	warmup := fs.Duration("warmup", 3*time.Second, "unmeasured load before each window")
	window := fs.Duration("duration", 10*time.Second, "measured window per run")
	rounds := fs.Int("rounds", 1, "repeat every run this many times, interleaved")
	pgbench := fs.String("pgbench", findPgbench(), "pgbench binary; empty skips the baseline")
	stmts := fs.Bool("statements", false, "print each run's statements from pg_stat_statements")
	profile := fs.String("cpuprofile", "", "write the broker's CPU profile over its whole life to this file (and the relay's to this file.relay)")
	jsonOut := fs.String("json", "", "also write the runs as JSON to this file")
	withRelay := fs.Bool("relay", true, "also run the relay, the REST cycle on the stack with none of the broker in it")
	brokerEnv := fs.String("broker-env", "", "extra environment for broker serve and the relay, comma-separated KEY=VALUE (e.g. GOMAXPROCS=1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	extraEnv, err := parseEnv(*brokerEnv)
	if err != nil {
		return err
	}
	scs, err := pickScenarios(*names)
	if err != nil {
		return err
	}
	ns, err := parseInts(*counts)
	if err != nil {
		return err
	}
	dir, bin, cleanup, err := c.prepare(ctx, stderr)
	if err != nil {
		return err
	}
	defer cleanup()

	cl, err := openCluster(ctx, c.pgURL)
	if err != nil {
		return err
	}
	defer cl.close()
	const db, benchDB = "loadgen_broker", "loadgen_pgbench"
	dbURL, err := cl.freshDatabase(ctx, db)
	if err != nil {
		return err
	}
	benchURL, err := cl.freshDatabase(ctx, benchDB)
	if err != nil {
		return err
	}

	emu, target, err := startEmulator(ctx, bin, dir)
	if err != nil {
		return err
	}
	defer emu.kill()
	if *profile != "" {
		if *profile, err = filepath.Abs(*profile); err != nil {
			return err
		}
	}
	setup := brokerSetup{dir: dir, dbURL: dbURL, cpuProfile: *profile, env: extraEnv}
	broker, startup, err := startBroker(ctx, bin, setup, target, "broker.log")
	if err != nil {
		return err
	}
	defer func() {
		if err := broker.stop(30 * time.Second); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
		}
	}()
	sys := &system{target: target, broker: broker, emulator: emu, cluster: cl, db: db}
	var relaySys *system
	if *withRelay {
		const relayDB = "loadgen_relay"
		relayURL, err := cl.freshDatabase(ctx, relayDB)
		if err != nil {
			return err
		}
		relayProfile := ""
		if *profile != "" {
			relayProfile = *profile + ".relay"
		}
		rp, rt, err := startRelay(ctx, dir, relayURL, target, extraEnv, relayProfile)
		if err != nil {
			return err
		}
		defer func() {
			if err := rp.stop(30 * time.Second); err != nil {
				fmt.Fprintf(stderr, "loadgen: %v\n", err)
			}
		}()
		relaySys = &system{target: rt, broker: rp, emulator: emu, cluster: cl, db: relayDB}
	}

	fmt.Fprintf(stdout, "machine: %s\n", describeMachine())
	fmt.Fprintf(stdout, "PostgreSQL: %s; pg_stat_statements: %v; broker ready %s after exec\n",
		serverVersion(ctx, cl), cl.statements, startup.Round(time.Millisecond))
	fmt.Fprintf(stdout, "each run: %s warm-up, %s measured; CPU from /proc/<pid>/stat (10 ms ticks)\n\n", *warmup, *window)

	var runs []*runResult
	for round := range *rounds {
		for _, n := range ns {
			if *pgbench != "" {
				for _, b := range []baseline{baselineInsert, baselineFloor} {
					r, err := runPgbench(ctx, sys, b, *pgbench, dir, benchURL, benchDB, n, *window)
					if err != nil {
						return err
					}
					runs = append(runs, r)
				}
			}
			if relaySys != nil {
				sc := relayCycle()
				fmt.Fprintf(stderr, "loadgen: round %d: %s with %d clients\n", round+1, sc.Name, n)
				r, err := runScenario(ctx, relaySys, sc, n, *warmup, *window)
				if err != nil {
					return err
				}
				runs = append(runs, r)
			}
			for _, sc := range scs {
				fmt.Fprintf(stderr, "loadgen: round %d: %s with %d clients\n", round+1, sc.Name, n)
				r, err := runScenario(ctx, sys, sc, n, *warmup, *window)
				if err != nil {
					return err
				}
				runs = append(runs, r)
			}
		}
	}
	printRuns(stdout, runs)
	if *stmts {
		for _, r := range runs {
			printStatements(stdout, r)
		}
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, runs); err != nil {
			return err
		}
	}
	return nil
}

func serverVersion(ctx context.Context, cl *pgCluster) string {
	var v string
	if err := cl.conn.QueryRow(ctx, `SHOW server_version`).Scan(&v); err != nil {
		return "unknown"
	}
	var fsync string
	_ = cl.conn.QueryRow(ctx, `SHOW fsync`).Scan(&fsync)
	return v + " (fsync " + fsync + ")"
}

// jsonRun is a run as written by --json, in milliseconds per cycle.
type jsonRun struct {
	Name            string             `json:"name"`
	Clients         int                `json:"clients"`
	CyclesPerSecond float64            `json:"cycles_per_second"`
	P50ms           map[string]float64 `json:"p50_ms,omitempty"`
	P99ms           map[string]float64 `json:"p99_ms,omitempty"`
	BrokerCPUms     float64            `json:"broker_cpu_ms_per_cycle"`
	PGCPUms         float64            `json:"pg_cpu_ms_per_cycle"`
	EmulatorCPUms   float64            `json:"emulator_cpu_ms_per_cycle"`
	Statements      float64            `json:"statements_per_cycle"`
	Writes          float64            `json:"writes_per_cycle"`
	Commits         float64            `json:"commits_per_cycle"`
	WALBytes        float64            `json:"wal_bytes_per_cycle"`
	Errors          int64              `json:"errors"`
	LoadAvg         [2]float64         `json:"load_avg"`
}

func writeJSON(path string, runs []*runResult) error {
	var out []jsonRun
	for _, r := range runs {
		j := jsonRun{
			Name: r.Name, Clients: r.Clients, CyclesPerSecond: r.rate(),
			BrokerCPUms: r.perCycle(r.BrokerCPU), PGCPUms: r.perCycle(r.PGCPU), EmulatorCPUms: r.perCycle(r.EmulatorCPU),
			Errors: r.Errors, LoadAvg: [2]float64{r.LoadStart, r.LoadEnd},
		}
		if r.Cycles > 0 {
			n := float64(r.Cycles)
			j.Statements, j.Writes = float64(r.PG.statements)/n, float64(r.PG.writes)/n
			j.Commits, j.WALBytes = float64(r.PG.commits)/n, float64(r.PG.walBytes)/n
		}
		for op, q := range r.Latency {
			if j.P50ms == nil {
				j.P50ms, j.P99ms = map[string]float64{}, map[string]float64{}
			}
			j.P50ms[op] = float64(q.P50) / float64(time.Millisecond)
			j.P99ms[op] = float64(q.P99) / float64(time.Millisecond)
		}
		out = append(out, j)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
