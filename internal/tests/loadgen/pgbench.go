package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// A baseline is a pgbench script run on the same cluster as the broker.
type baseline struct {
	name   string
	script string
}

var (
	// baselineInsert: a single-row INSERT into a table shaped like a
	// small lease row, one transaction per statement, as the broker's
	// statements are. Its tps is what the ratio column compares with.
	baselineInsert = baseline{"pgbench-insert",
		`INSERT INTO bench_insert (purpose, owner) VALUES ('netops', 'api_key:ci');`}
	// baselineFloor has a lease cycle's shape and none of its work: three
	// single-row INSERTs, each its own durable commit (pending, active,
	// revoked), and one read by primary key (the revoke's), so its cycle
	// is what four round trips and three commits cost PostgreSQL on this
	// machine whatever the schema.
	baselineFloor = baseline{"pgbench-floor", `INSERT INTO bench_insert (purpose, owner) VALUES ('netops', 'api_key:ci');
INSERT INTO bench_insert (purpose, owner) VALUES ('netops', 'api_key:ci');
SELECT purpose, owner FROM bench_insert WHERE id = 1;
INSERT INTO bench_insert (purpose, owner) VALUES ('netops', 'api_key:ci');`}
)

var tpsLine = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

// runPgbench runs baseline b with pgbench, n clients for window on
// database dbURL (named db), and measures the cluster's CPU and WAL as for
// a scenario; a "cycle" is one run of b's script.
func runPgbench(ctx context.Context, s *system, b baseline, pgbench, dir, dbURL, db string, n int, window time.Duration) (*runResult, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, `DROP TABLE IF EXISTS bench_insert;
		CREATE TABLE bench_insert (id bigserial PRIMARY KEY, purpose text, owner text, created_at timestamptz DEFAULT now())`)
	_ = conn.Close(ctx)
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, b.name+".sql")
	if err := os.WriteFile(script, []byte(b.script+"\n"), 0o600); err != nil {
		return nil, err
	}
	res := &runResult{Kind: "pgbench", Name: b.name, Clients: n, LoadStart: loadAvg()}
	if err := s.cluster.resetStatements(ctx); err != nil {
		return nil, err
	}
	pg0, err := s.cluster.snapshot(ctx, db)
	if err != nil {
		return nil, err
	}
	cpu0, err := s.cpu()
	if err != nil {
		return nil, err
	}
	secs := max(1, int(window/time.Second))
	cmd := exec.CommandContext(ctx, pgbench, "-n", "-c", strconv.Itoa(n), "-j", strconv.Itoa(min(n, 2)),
		"-T", strconv.Itoa(secs), "-f", script, dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	// Let the postmaster reap pgbench's backends, so that their time has
	// moved to its cutime when it is read.
	if err := sleep(ctx, 300*time.Millisecond); err != nil {
		return nil, err
	}
	cpu1, err := s.cpu()
	if err != nil {
		return nil, err
	}
	pg1, err := s.cluster.snapshot(ctx, db)
	if err != nil {
		return nil, err
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("pgbench printed no tps line:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	res.LoadEnd = loadAvg()
	// pgbench's own tps excludes connection set-up; the CPU window does
	// not, which slightly overstates the cost per insert.
	res.Seconds = float64(secs)
	res.Cycles = int64(tps * float64(secs))
	res.PGSplit = cpu1.pg.sub(cpu0.pg)
	res.PGCPU = res.PGSplit.total()
	res.PG = pg1.sub(pg0)
	return res, nil
}
