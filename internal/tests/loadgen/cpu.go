package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the kernel's USER_HZ, the unit of /proc/<pid>/stat's CPU
// fields. It is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procStat holds the fields of /proc/<pid>/stat the driver reads.
type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime time.Duration
}

// parseStat reads one /proc/<pid>/stat line. The command name, field 2,
// is in parentheses and may itself hold spaces or parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("no command name in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("short stat line %q", b)
	}
	var s procStat
	var err error
	if s.ppid, err = strconv.Atoi(f[4-3]); err != nil {
		return procStat{}, err
	}
	for j, dst := range []*time.Duration{&s.utime, &s.stime, &s.cutime, &s.cstime} {
		n, err := strconv.ParseInt(f[14-3+j], 10, 64)
		if err != nil {
			return procStat{}, err
		}
		*dst = time.Duration(n) * clockTick
	}
	return s, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// processCPU is the CPU time pid has used itself, every thread included.
func processCPU(pid int) (time.Duration, error) {
	s, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return s.utime + s.stime, nil
}

// pgCPU is PostgreSQL's CPU time split by process kind, so that a
// cost can be told apart from the statements (backends) and the
// maintenance the statements cause later (autovacuum, the WAL writer,
// checkpoints).
type pgCPU struct {
	backends   time.Duration // client connections
	autovacuum time.Duration // live autovacuum workers and launcher
	background time.Duration // WAL writer, checkpointer, bgwriter, ...
	reaped     time.Duration // children that exited (cutime+cstime of the postmaster)
	postmaster time.Duration
}

func (c pgCPU) total() time.Duration {
	return c.backends + c.autovacuum + c.background + c.reaped + c.postmaster
}

func (c pgCPU) sub(o pgCPU) pgCPU {
	return pgCPU{c.backends - o.backends, c.autovacuum - o.autovacuum, c.background - o.background,
		c.reaped - o.reaped, c.postmaster - o.postmaster}
}

// treeCPU reads the CPU time of the postmaster root and its children. A
// child that exited and was reaped has its time in root's cutime and
// cstime, so a backend or autovacuum worker that comes and goes between
// two readings is still counted, once, as reaped. A child reaped while
// the children are being listed would be missed by both, so the listing
// is repeated until root's reaped time is the same before and after it.
func treeCPU(root int) (pgCPU, error) {
	var c pgCPU
	for range 20 {
		r, err := readStat(root)
		if err != nil {
			return pgCPU{}, err
		}
		if c, err = childrenCPU(root); err != nil {
			return pgCPU{}, err
		}
		after, err := readStat(root)
		if err != nil {
			return pgCPU{}, err
		}
		c.postmaster, c.reaped = r.utime+r.stime, r.cutime+r.cstime
		if after.cutime+after.cstime == c.reaped {
			break
		}
	}
	return c, nil
}

// childrenCPU sums the CPU time of root's living (or not yet reaped)
// children by kind.
func childrenCPU(root int) (pgCPU, error) {
	var c pgCPU
	dirs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return pgCPU{}, err
	}
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue // exited since the listing
		}
		s, err := parseStat(b)
		if err != nil || s.ppid != root {
			continue
		}
		t := s.utime + s.stime
		cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(d), "cmdline"))
		switch kind := string(cmd); {
		case strings.Contains(kind, "autovacuum"):
			c.autovacuum += t
		case strings.Contains(kind, "(") || strings.Contains(kind, "[local]"):
			// "postgres: user db host(port) state": a client backend.
			c.backends += t
		default:
			c.background += t
		}
	}
	return c, nil
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// rssBytes is pid's resident set size, from /proc/<pid>/status.
func rssBytes(pid int) (int64, error) { return rssLike(pid, "VmRSS:") }

// rssLike reads a "Field: N kB" line of /proc/<pid>/status in bytes.
func rssLike(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
