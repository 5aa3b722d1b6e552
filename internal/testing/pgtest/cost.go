package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Cost is what PostgreSQL spent between two readings: CPU time of the
// whole server (the postmaster, every backend and background process,
// and children that exited meanwhile) and WAL bytes written. Benchmarks
// report it because, unlike wall time, it holds on a busy machine.
type Cost struct {
	CPU      time.Duration
	WALBytes int64
}

// Meter reads the server's costs. It needs a server on this machine
// whose data directory it may read (a superuser connection, as the test
// clusters give).
type Meter struct {
	pool *pgxpool.Pool
	pid  int
}

// NewMeter finds the server behind pool.
func NewMeter(ctx context.Context, pool *pgxpool.Pool) (*Meter, error) {
	var dir string
	if err := pool.QueryRow(ctx, `SELECT current_setting('data_directory')`).Scan(&dir); err != nil {
		return nil, fmt.Errorf("pgtest: data directory: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return nil, fmt.Errorf("pgtest: server not on this machine: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return nil, fmt.Errorf("pgtest: postmaster.pid: %w", err)
	}
	return &Meter{pool: pool, pid: pid}, nil
}

// Reading is one point to measure from.
type Reading struct {
	cpu time.Duration
	lsn string
}

// Read takes a reading.
func (m *Meter) Read(ctx context.Context) (Reading, error) {
	var r Reading
	if err := m.pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&r.lsn); err != nil {
		return r, err
	}
	cpu, err := treeCPU(m.pid)
	r.cpu = cpu
	return r, err
}

// Since is the cost from r to now.
func (m *Meter) Since(ctx context.Context, r Reading) (Cost, error) {
	now, err := m.Read(ctx)
	if err != nil {
		return Cost{}, err
	}
	var wal int64
	if err := m.pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint`, now.lsn, r.lsn).Scan(&wal); err != nil {
		return Cost{}, err
	}
	return Cost{CPU: now.cpu - r.cpu, WALBytes: wal}, nil
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's CPU fields.
const clockTick = 10 * time.Millisecond

// treeCPU is root's CPU time, its reaped children's, and that of its
// live children.
func treeCPU(root int) (time.Duration, error) {
	_, own, reaped, err := stat(root)
	if err != nil {
		return 0, err
	}
	total := own + reaped
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		pp, t, _, err := stat(pid)
		if err == nil && pp == root {
			total += t
		}
	}
	return total, nil
}

func stat(pid int) (ppid int, own, reaped time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name may hold spaces; count fields from the last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 15 {
		return 0, 0, 0, fmt.Errorf("short stat line for %d", pid)
	}
	ppid, _ = strconv.Atoi(f[1])
	n := make([]int64, 4)
	for i := range n {
		n[i], _ = strconv.ParseInt(f[11+i], 10, 64)
	}
	return ppid, time.Duration(n[0]+n[1]) * clockTick, time.Duration(n[2]+n[3]) * clockTick, nil
}
