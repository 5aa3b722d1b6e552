package retention_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/worker"
	"github.com/ztbroker/ztbroker/internal/worker/retention"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// TestLoop: a started worker passes at once, leases and audit together,
// reports the pass, and stops.
func TestLoop(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	for range 3 {
		b.failed(t)
	}
	b.clock.Advance(31 * day)
	passes := workertest.NewRecorder[retention.PassResult]()
	r := b.replica(t, func(c *retention.Config) { c.OnPass = passes.Record; c.Interval = time.Hour })
	if err := r.w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := passes.Wait(t, func(retention.PassResult) bool { return true })
	if p.Err != nil || p.LeasesDeleted != 3 || p.Audit == nil {
		t.Errorf("first pass = %+v; want 3 leases deleted and an audit pass", p)
	}
	r.w.Stop()
	r.w.Stop()
	if b.present(t, map[string]*lease.Lease{"x": b.failed(t)})["x"] != true {
		t.Error("a lease that just ended is gone")
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	deps := worker.Deps{Store: memstore.New(), Registry: upstream.NewRegistry(), Logger: discard, Panics: panics.New(discard)}
	for name, mod := range map[string]func(*retention.Config){
		"AuditRetention must be at least 744h0m0s, got 720h0m0s": func(c *retention.Config) { c.AuditRetention = 720 * time.Hour },
		"BatchSize must be at least 1, got -1":                   func(c *retention.Config) { c.BatchSize = -1 },
		"AuditMonthsAhead must be between 1 and 24, got 25":      func(c *retention.Config) { c.AuditMonthsAhead = 25 },
		"LeaseRetention must be positive, got -1h0m0s":           func(c *retention.Config) { c.LeaseRetention = -time.Hour },
	} {
		cfg := retention.Config{Deps: deps}
		mod(&cfg)
		_, err := retention.New(cfg)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("New with a bad config: %v; want an error saying %q", err, name)
		}
	}
}
