package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

// TestCyclesSmoke runs the driver for a moment against the real binaries
// on a cluster of its own, so that a change to the API or the wiring that
// breaks the benchmark fails here rather than at the next measurement.
func TestCyclesSmoke(t *testing.T) {
	t.Parallel()
	c := pgtest.StartCluster(t)
	out := filepath.Join(t.TempDir(), "runs.json")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"cycles", "--pg-url", c.DSN(), "--duration", "1s", "--warmup", "300ms",
		"--clients", "2", "--pgbench", "", "--json", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("loadgen cycles exited %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var runs []jsonRun
	if err := json.Unmarshal(b, &runs); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	if want := []string{"relay", "rest", "grpc"}; !slices.Equal(names, want) {
		t.Fatalf("runs %q, want %q:\n%s", names, want, stdout.String())
	}
	for _, r := range runs {
		if r.Errors != 0 || r.CyclesPerSecond <= 0 || r.BrokerCPUms <= 0 || r.PGCPUms <= 0 {
			t.Errorf("run %s: %d errors, %.1f cycles/s, CPU ms/cycle broker %.3f PostgreSQL %.3f; want no errors and all positive",
				r.Name, r.Errors, r.CyclesPerSecond, r.BrokerCPUms, r.PGCPUms)
		}
	}
}

// TestScaleSmoke runs the scale measurement on a small table.
func TestScaleSmoke(t *testing.T) {
	t.Parallel()
	c := pgtest.StartCluster(t)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"scale", "--pg-url", c.DSN(), "--rows", "2000", "--active", "200",
		"--storm", "20", "--lead", "2s"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("loadgen scale exited %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"start-up over 2000 rows", "storm: 20 leases expiring at one instant"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in the output:\n%s", want, stdout.String())
		}
	}
}
