package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// system is what a run measures: the processes and the database.
type system struct {
	target   *Target
	broker   *proc
	emulator *proc
	cluster  *pgCluster
	db       string // the broker's database
}

// quantiles of one operation's latency.
type quantiles struct {
	N        int
	P50, P99 time.Duration
}

func quantilesOf(d []time.Duration) quantiles {
	if len(d) == 0 {
		return quantiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return quantiles{N: len(d), P50: at(0.50), P99: at(0.99)}
}

// cpuSnap is the CPU time of each measured process at one instant.
type cpuSnap struct {
	at                       time.Time
	broker, emulator, driver time.Duration
	pg                       pgCPU
}

func (s *system) cpu() (cpuSnap, error) {
	c := cpuSnap{at: time.Now()}
	var err error
	if s.broker != nil {
		if c.broker, err = processCPU(s.broker.pid()); err != nil {
			return c, fmt.Errorf("broker CPU: %w", err)
		}
	}
	if s.emulator != nil {
		if c.emulator, err = processCPU(s.emulator.pid()); err != nil {
			return c, fmt.Errorf("emulator CPU: %w", err)
		}
	}
	if c.pg, err = treeCPU(s.cluster.postmaster); err != nil {
		return c, fmt.Errorf("PostgreSQL CPU: %w", err)
	}
	if c.driver, err = processCPU(os.Getpid()); err != nil {
		return c, err
	}
	return c, nil
}

// runResult is one measured run.
type runResult struct {
	Kind     string // "scenario" or "pgbench"
	Name     string
	Clients  int
	Seconds  float64
	Cycles   int64 // completed cycles (pgbench: transactions)
	Errors   int64
	FirstErr string
	Ops      []string
	Latency  map[string]quantiles

	BrokerCPU, PGCPU, EmulatorCPU, DriverCPU time.Duration
	PGSplit                                  pgCPU
	PG                                       pgSnap
	LoadStart, LoadEnd                       float64
	Statements                               []stmtRow
}

func (r *runResult) perCycle(d time.Duration) float64 {
	if r.Cycles == 0 {
		return 0
	}
	return float64(d) / float64(time.Millisecond) / float64(r.Cycles)
}

func (r *runResult) rate() float64 { return float64(r.Cycles) / r.Seconds }

// runScenario drives sc with n clients: warm-up first, unmeasured, then
// the measured window. Every client runs cycles back to back throughout,
// so the window sees steady load; a cycle counts when it starts inside
// the window.
func runScenario(ctx context.Context, s *system, sc Scenario, n int, warmup, window time.Duration) (*runResult, error) {
	clients := make([]Client, 0, n)
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := sc.NewClient(ctx, s.target)
		if err != nil {
			return nil, fmt.Errorf("%s client: %w", sc.Name, err)
		}
		clients = append(clients, c)
	}

	const (
		warming = iota
		measuring
		stopping
	)
	var phase atomic.Int32
	var cycles, failed atomic.Int64
	var firstErr atomic.Value
	recs := make([]*Recorder, n)
	var wg sync.WaitGroup
	for i, c := range clients {
		recs[i] = newRecorder()
		wg.Go(func() {
			rec := recs[i]
			for {
				ph := phase.Load()
				if ph == stopping || ctx.Err() != nil {
					return
				}
				rec.on = ph == measuring
				err := c.Cycle(ctx, rec)
				switch {
				case !rec.on:
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				default:
					cycles.Add(1)
				}
			}
		})
	}
	stop := func() { phase.Store(stopping); wg.Wait() }

	if err := sleep(ctx, warmup); err != nil {
		stop()
		return nil, err
	}
	if err := s.cluster.resetStatements(ctx); err != nil {
		stop()
		return nil, err
	}
	res := &runResult{Kind: "scenario", Name: sc.Name, Clients: n, Ops: sc.Ops, LoadStart: loadAvg()}
	pg0, err := s.cluster.snapshot(ctx, s.db)
	if err != nil {
		stop()
		return nil, err
	}
	cpu0, err := s.cpu()
	if err != nil {
		stop()
		return nil, err
	}
	phase.Store(measuring)
	serr := sleep(ctx, window)
	phase.Store(stopping)
	cpu1, err := s.cpu()
	if err != nil {
		stop()
		return nil, err
	}
	pg1, err := s.cluster.snapshot(ctx, s.db)
	stop()
	if err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	res.LoadEnd = loadAvg()
	res.Seconds = cpu1.at.Sub(cpu0.at).Seconds()
	res.Cycles, res.Errors = cycles.Load(), failed.Load()
	if v, ok := firstErr.Load().(string); ok {
		res.FirstErr = v
	}
	res.PGSplit = cpu1.pg.sub(cpu0.pg)
	res.BrokerCPU, res.PGCPU = cpu1.broker-cpu0.broker, res.PGSplit.total()
	res.EmulatorCPU, res.DriverCPU = cpu1.emulator-cpu0.emulator, cpu1.driver-cpu0.driver
	res.PG = pg1.sub(pg0)
	res.Latency = map[string]quantiles{}
	for _, op := range sc.Ops {
		var all []time.Duration
		for _, r := range recs {
			all = append(all, r.lat[op]...)
		}
		res.Latency[op] = quantilesOf(all)
	}
	if res.Statements, err = s.cluster.statementReport(ctx, s.db); err != nil {
		return nil, err
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
