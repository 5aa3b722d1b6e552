package reconcile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

type listPanics struct {
	store.Store
	workertest.PanicOnce
}

func (s *listPanics) ListUpstreamTokens(ctx context.Context, p store.ListUpstreamTokensParams) ([]*lease.Lease, error) {
	s.Trip()
	return s.Store.ListUpstreamTokens(ctx, p)
}

// TestRunPanic panics in the loop's first run: the run fails and is
// counted, and the next one reconciles as usual.
func TestRunPanic(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	reg := prometheus.NewRegistry()
	name := lease.UpstreamNameFor(workertest.Prefix, "deploy", uuid.Must(uuid.NewV7()).String())
	m, err := env.Legacy.Mint(t.Context(), name, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		rep reconcile.Report
		err error
	}
	runs := workertest.NewRecorder[run]()
	deps := env.Deps(reg)
	deps.Store = &listPanics{Store: deps.Store}
	r, err := reconcile.New(reconcile.Config{
		Deps: deps, Prefix: workertest.Prefix, Interval: 10 * time.Millisecond,
		OnRun: func(rep reconcile.Report, err error) { runs.Record(run{rep, err}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)

	if first := runs.Wait(t, func(run) bool { return true }); !errors.Is(first.err, panics.ErrPanic) {
		t.Fatalf("first run: error %v, want a recovered panic", first.err)
	}
	got := runs.Wait(t, func(r run) bool { return r.err == nil })
	if diff := gocmp.Diff([]reconcile.Token{token(env.Legacy, m, name)}, got.rep.Deleted); diff != "" {
		t.Errorf("deleted after recovery (-want +got):\n%s", diff)
	}
	for _, m := range []struct {
		name   string
		labels map[string]string
	}{
		{"ztbroker_panics_total", map[string]string{"where": "reconcile"}},
		{"ztbroker_reconcile_runs_total", map[string]string{"result": "error"}},
	} {
		if v := workertest.Metric(t, reg, m.name, m.labels); v != 1 {
			t.Errorf("%s%v = %v, want 1", m.name, m.labels, v)
		}
	}
}
