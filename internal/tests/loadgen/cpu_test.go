package main

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	// A command name with spaces and a ')' of its own, as a PostgreSQL
	// backend's may have after it rewrites its title.
	line := []byte("4242 (postgres: a b) c) S 17 4242 4242 0 -1 4194560 612 0 0 0 150 25 7 3 20 0 1 0 100 0 0\n")
	got, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{ppid: 17, utime: 1500 * time.Millisecond, stime: 250 * time.Millisecond,
		cutime: 70 * time.Millisecond, cstime: 30 * time.Millisecond}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(procStat{})); d != "" {
		t.Errorf("parseStat (-want +got):\n%s", d)
	}
	for _, bad := range []string{"", "1 (x S 1", "1 (x) S notanumber 1 1 1 1 1 1 1 1 1 1 1 1 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted a malformed line", bad)
		}
	}
}

func TestOwnCPU(t *testing.T) {
	t.Parallel()
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Fatalf("reading our own /proc/<pid>/stat: %v", err)
	}
	if rss, err := rssBytes(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("rssBytes = %d, %v", rss, err)
	}
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := quantilesOf(d)
	if want := (quantiles{N: 100, P50: 51 * time.Millisecond, P99: 100 * time.Millisecond}); got != want {
		t.Errorf("quantilesOf(1..100 ms) = %+v, want %+v", got, want)
	}
	if got := quantilesOf(nil); got != (quantiles{}) {
		t.Errorf("quantilesOf(nil) = %+v", got)
	}
}

func TestPickScenarios(t *testing.T) {
	t.Parallel()
	got, err := pickScenarios("grpc, rest")
	if err != nil || len(got) != 2 || got[0].Name != "grpc" || got[1].Name != "rest" {
		t.Fatalf("pickScenarios = %v, %v", got, err)
	}
	if _, err := pickScenarios("rest,proxy"); err == nil {
		t.Error("an unknown scenario was accepted")
	}
}
