package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadinessSharesOneCheck floods the readiness check: a hundred
// concurrent probes cost one ping, probes within the period reuse its
// answer (failure included), and the first probe after it pings again.
func TestReadinessSharesOneCheck(t *testing.T) {
	t.Parallel()
	var pings atomic.Int32
	release := make(chan struct{})
	var fail atomic.Bool
	ping := func(context.Context) error {
		pings.Add(1)
		<-release
		if fail.Load() {
			return errors.New("database down")
		}
		return nil
	}
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	r := newReadiness(ping, time.Second, clock)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() { errs <- r.check(context.Background()) })
	}
	// Let the first ping finish only once every probe is waiting on it or
	// has yet to start; either way none may start a second.
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
	}
	if n := pings.Load(); n != 1 {
		t.Errorf("100 concurrent probes pinged %d times, want 1", n)
	}

	fail.Store(true)
	advance(999 * time.Millisecond)
	if err := r.check(context.Background()); err != nil || pings.Load() != 1 {
		t.Errorf("within the period: %v after %d pings; want the cached answer", err, pings.Load())
	}
	advance(time.Millisecond)
	if err := r.check(context.Background()); err == nil || pings.Load() != 2 {
		t.Errorf("after the period: %v after %d pings; want a fresh failing ping", err, pings.Load())
	}
	if err := r.check(context.Background()); err == nil || pings.Load() != 2 {
		t.Errorf("a failure is cached too: %v after %d pings", err, pings.Load())
	}
}
