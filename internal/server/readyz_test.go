package server_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/store"
)

// gatedPings counts the store's pings and, while gate holds a channel,
// holds each ping until the channel is closed. It also counts the pings
// under way and those held, so a test can tell when no ping is past the
// gate: the server's health watcher pings on its own schedule, and a
// ping of its that finished after the test moved the clock would make
// the cache fresh for the rest of the test.
type gatedPings struct {
	store.Store
	n, inflight, held *atomic.Int64
	gate              *atomic.Pointer[chan struct{}]
}

func (s gatedPings) Ping(ctx context.Context) error {
	s.n.Add(1)
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	if ch := s.gate.Load(); ch != nil {
		s.held.Add(1)
		<-*ch
	}
	return s.Store.Ping(ctx)
}

// quiet waits until every ping under way is held at the gate (or there
// is none), so none can refresh the cache behind the test's back.
func (s gatedPings) quiet(t *testing.T, ctx context.Context, heldBefore int64) {
	t.Helper()
	for s.inflight.Load() != s.held.Load()-heldBefore {
		waitBriefly(ctx)
		if ctx.Err() != nil {
			t.Fatal("a database ping never finished")
		}
	}
}

// TestReadyzSharesOneCheck floods the running server's /readyz once the
// cached check has aged out: every probe of the flood is answered from a
// single database ping, and the next period's probe pings again. The
// server runs on the test's clock, and the ping is held until the flood
// has started, so no timing decides the outcome.
func TestReadyzSharesOneCheck(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var pings, inflight, held atomic.Int64
	var gate atomic.Pointer[chan struct{}]
	var gp gatedPings
	h := setup(t, withNow(clk.Now), withStore(func(s store.Store) store.Store {
		gp = gatedPings{s, &pings, &inflight, &held, &gate}
		return gp
	}))
	ctx := testContext(t)

	// Whatever the server checked at start is stale one period later.
	hold := make(chan struct{})
	gate.Store(&hold)
	gp.quiet(t, ctx, 0)
	clk.Advance(time.Second)

	const probes = 50
	codes := make(chan int, probes)
	var wg sync.WaitGroup
	for range probes {
		wg.Go(func() {
			st, _ := getStatus(t, ctx, h.base+"/readyz", nil)
			codes <- st
		})
	}
	// One ping is under way and held; probes arriving meanwhile wait for
	// it, and those arriving after it find its answer. (It may be the
	// health watcher's, which the probes then share.)
	for held.Load() == 0 {
		waitBriefly(ctx)
		if ctx.Err() != nil {
			t.Fatal("no probe reached the database")
		}
	}
	close(hold)
	wg.Wait()
	close(codes)
	for st := range codes {
		if st != http.StatusOK {
			t.Errorf("probe answered %d", st)
		}
	}
	if n := held.Load(); n != 1 {
		t.Errorf("%d concurrent probes within one period made %d database checks, want 1", probes, n)
	}

	gate.Store(nil)
	gp.quiet(t, ctx, held.Load())
	before := pings.Load()
	clk.Advance(time.Second)
	if st, body := getStatus(t, ctx, h.base+"/readyz", nil); st != http.StatusOK {
		t.Fatalf("probe in the next period: %d %s", st, body)
	}
	if n := pings.Load() - before; n != 1 {
		t.Errorf("after the period passed: %d checks, want 1", n)
	}
}
