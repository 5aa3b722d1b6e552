package sweeper_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker/sweeper"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

type claimPanics struct {
	store.Store
	workertest.PanicOnce
}

func (s *claimPanics) ClaimStalePending(ctx context.Context, p store.ClaimStalePendingParams) ([]*lease.Lease, error) {
	s.Trip()
	return s.Store.ClaimStalePending(ctx, p)
}

// TestPassPanic panics in the loop's first pass: the pass fails and is
// counted, and the next one sweeps as usual.
func TestPassPanic(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	b := setup(t, env, func(c *sweeper.Config) {
		c.Store = &claimPanics{Store: c.Store}
		c.Interval = 10 * time.Millisecond
	})
	l := b.Pending(t, b.NewCentral, "deploy", b.Clock.Now().Add(time.Hour))
	m := b.MintUpstream(t, b.NewCentral, l)
	b.Clock.Advance(pendingTimeout + time.Second)
	if err := b.s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.s.Stop)

	if res := b.passes.Wait(t, func(sweeper.PassResult) bool { return true }); !errors.Is(res.Err, panics.ErrPanic) {
		t.Fatalf("first pass: error %v, want a recovered panic", res.Err)
	}
	b.passes.Wait(t, func(r sweeper.PassResult) bool { return r.Swept == 1 })
	if b.TokenWorks(t, b.NewCentral, m.Secret) {
		t.Error("token still works after the sweeper recovered")
	}
	for _, m := range []struct {
		name   string
		labels map[string]string
	}{
		{"ztbroker_panics_total", map[string]string{"where": "sweeper"}},
		{"ztbroker_sweeper_runs_total", map[string]string{"result": "error"}},
	} {
		if v := workertest.Metric(t, b.reg, m.name, m.labels); v != 1 {
			t.Errorf("%s%v = %v, want 1", m.name, m.labels, v)
		}
	}
}
