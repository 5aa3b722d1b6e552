package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is what one scenario run measured.
type sample struct {
	calls   int
	errors  int
	elapsed time.Duration
	lat     []time.Duration
	cpu     map[string]time.Duration // per process name, over the run
}

func (s *sample) add(o *sample) {
	s.calls += o.calls
	s.errors += o.errors
	s.elapsed += o.elapsed
	s.lat = append(s.lat, o.lat...)
	for k, v := range o.cpu {
		if s.cpu == nil {
			s.cpu = map[string]time.Duration{}
		}
		s.cpu[k] += v
	}
}

func (s *sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.calls) / s.elapsed.Seconds()
}

func (s *sample) quantile(q float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	slices.Sort(s.lat)
	return s.lat[min(len(s.lat)-1, int(q*float64(len(s.lat))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

// clockTicks is USER_HZ, 100 on Linux everywhere that matters.
const clockTicks = 100

// cpuOf reads a process's user+system CPU time from /proc.
func cpuOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// the 14th and 15th fields of the whole line.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// clusterPIDs lists a PostgreSQL cluster's processes: its postmaster and
// the postmaster's children (backends and helpers), whose CPU a proxied
// call's lookup and audit row cost. Other clusters on the machine are not
// counted.
func clusterPIDs(postmaster int) []int {
	out := []int{postmaster}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if len(f) > 1 && f[1] == strconv.Itoa(postmaster) {
			out = append(out, pid)
		}
	}
	return out
}

// cpuSnapshot reads the CPU time of each watched process; "postgres" is
// the sum over the cluster whose postmaster has that pid. A backend that
// exits between snapshots takes its CPU with it, so the figure is a floor;
// the broker's pool keeps its connections open.
func cpuSnapshot(pids map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range pids {
		if name == "postgres" {
			for _, p := range clusterPIDs(pid) {
				if d, err := cpuOf(p); err == nil {
					out[name] += d
				}
			}
			continue
		}
		if d, err := cpuOf(pid); err == nil {
			out[name] = d
		}
	}
	return out
}

// withSelf adds the load generator itself as "loadgen": on a machine
// whose cores are all busy, its CPU per call is part of what bounds the
// throughput of either path.
func withSelf(pids map[string]int) map[string]int {
	out := make(map[string]int, len(pids)+1)
	for k, v := range pids {
		out[k] = v
	}
	out["loadgen"] = os.Getpid()
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
