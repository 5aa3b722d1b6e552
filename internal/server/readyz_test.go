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
// holds each ping until the channel is closed.
type gatedPings struct {
	store.Store
	n    *atomic.Int64
	gate *atomic.Pointer[chan struct{}]
}

func (s gatedPings) Ping(ctx context.Context) error {
	s.n.Add(1)
	if ch := s.gate.Load(); ch != nil {
		<-*ch
	}
	return s.Store.Ping(ctx)
}

// TestReadyzSharesOneCheck floods the running server's /readyz once the
// cached check has aged out: every probe of the flood is answered from a
// single database ping, and the next period's probe pings again. The
// server runs on the test's clock, and the ping is held until the flood
// has started, so no timing decides the outcome.
func TestReadyzSharesOneCheck(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var pings atomic.Int64
	var gate atomic.Pointer[chan struct{}]
	h := setup(t, withNow(clk.Now), withStore(func(s store.Store) store.Store { return gatedPings{s, &pings, &gate} }))
	ctx := testContext(t)

	// Whatever the server checked at start is stale one period later.
	hold := make(chan struct{})
	gate.Store(&hold)
	clk.Advance(time.Second)
	before := pings.Load()

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
	// it, and those arriving after it find its answer.
	for pings.Load() == before {
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
	if n := pings.Load() - before; n != 1 {
		t.Errorf("%d concurrent probes within one period made %d database checks, want 1", probes, n)
	}

	gate.Store(nil)
	clk.Advance(time.Second)
	if st, body := getStatus(t, ctx, h.base+"/readyz", nil); st != http.StatusOK {
		t.Fatalf("probe in the next period: %d %s", st, body)
	}
	if n := pings.Load() - before; n != 2 {
		t.Errorf("after the period passed: %d checks, want 2", n)
	}
}
