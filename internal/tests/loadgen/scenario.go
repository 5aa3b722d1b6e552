package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A Scenario is one kind of client work. A run makes one Client per
// concurrent caller and has each run cycles back to back; a cycle is
// whatever unit the scenario counts (for the lease scenarios, issue then
// revoke). To add one, write a constructor and list it in scenarios().
type Scenario struct {
	// Name selects the scenario with --scenarios and names its rows.
	Name string
	// Ops are the operations a cycle times, in the order they are
	// reported: each gets its own p50 and p99.
	Ops []string
	// NewClient connects one caller to the system under test.
	NewClient func(ctx context.Context, t *Target) (Client, error)
}

// Client is one caller. Its methods are called from one goroutine.
type Client interface {
	// Cycle does one cycle, timing each of the scenario's Ops with rec.
	// An error counts as a failed cycle; the run goes on.
	Cycle(ctx context.Context, rec *Recorder) error
	Close() error
}

// Target is the system under test, as a client reaches it.
type Target struct {
	HTTPAddr string // host:port of the REST gateway
	GRPCAddr string // host:port of the gRPC server
	APIKey   string // admitted to Purpose
	Purpose  string // a New Central purpose on the emulator
	// EmulatorURL and EmulatorAdminToken reach the emulator's admin API,
	// for scenarios that check the upstream's ground truth.
	EmulatorURL        string
	EmulatorAdminToken string
}

// scenarios lists every scenario the driver knows.
func scenarios() []Scenario {
	return []Scenario{restCycle(), grpcCycle()}
}

// pickScenarios resolves a comma-separated list of names.
func pickScenarios(names string) ([]Scenario, error) {
	all := scenarios()
	var out []Scenario
	for name := range strings.SplitSeq(names, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == name })
		if i < 0 {
			known := make([]string, len(all))
			for j, s := range all {
				known[j] = s.Name
			}
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// Recorder keeps one client's latencies by operation. It is not safe for
// concurrent use: each client has its own.
type Recorder struct {
	on  bool
	lat map[string][]time.Duration
}

func newRecorder() *Recorder { return &Recorder{lat: map[string][]time.Duration{}} }

// Time runs fn and records how long it took under op, when recording.
func (r *Recorder) Time(op string, fn func() error) error {
	start := time.Now()
	err := fn()
	if r.on && err == nil {
		r.lat[op] = append(r.lat[op], time.Since(start))
	}
	return err
}
