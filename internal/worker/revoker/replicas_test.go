package revoker_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// TestReplicasShareWithoutDoubleDeletes runs two workers, each with its own
// clients as separate replicas would have, on one database. Every token
// must be deleted exactly once: a second delete of the same token would
// show up at the emulator as a 404.
func TestReplicasShareWithoutDoubleDeletes(t *testing.T) {
	t.Parallel()
	const n = 200
	env := workertest.NewEnv(t)
	expire := env.Clock.Now().Add(time.Minute)
	for i := range n {
		is := env.NewCentral
		if i%2 == 1 {
			is = env.Legacy
		}
		env.Active(t, is, "deploy", expire)
	}

	type tagged struct {
		replica int
		res     revoker.BatchResult
	}
	batches := workertest.NewRecorder[tagged]()
	var workers []*revoker.Worker
	for r := range 2 {
		deps := env.Deps(prometheus.NewRegistry())
		deps.Registry = upstream.NewRegistry(env.Emu.NewCentralIssuer(t), env.Emu.LegacyIssuer(t))
		w, err := revoker.New(revoker.Config{
			Deps: deps,
			// Small batches and a little parallelism make the replicas'
			// claims interleave many times.
			BatchSize: 10, Concurrency: 4, MaxIdle: time.Hour,
			OnBatch: func(res revoker.BatchResult) { batches.Record(tagged{r, res}) },
		})
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
	}
	for _, w := range workers {
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
	env.Clock.Set(expire)
	for _, w := range workers {
		w.Nudge(expire)
	}

	revoked := [2]int{}
	batches.Wait(t, func(b tagged) bool {
		if b.res.Err != nil || b.res.Retrying+b.res.Failed > 0 {
			t.Errorf("replica %d: unexpected batch %+v", b.replica, b.res)
		}
		revoked[b.replica] += b.res.Revoked
		return revoked[0]+revoked[1] >= n
	})
	t.Logf("replica 0 revoked %d, replica 1 revoked %d", revoked[0], revoked[1])
	if revoked[0]+revoked[1] != n {
		t.Errorf("replicas revoked %d leases in total, want %d", revoked[0]+revoked[1], n)
	}

	counters := env.Emu.Counters()
	for _, route := range []string{emulator.RouteV2DeleteKey, emulator.RouteV1DeleteToken} {
		if diff := cmp.Diff(map[int]int{200: n / 2}, counters[route]); diff != "" {
			t.Errorf("%s requests by status (-want +got):\n%s", route, diff)
		}
	}
	res, err := env.Store.ListLeases(context.Background(), store.ListLeasesParams{State: lease.StateRevoked, PageSize: n + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Leases) != n {
		t.Errorf("%d leases revoked in the store, want %d", len(res.Leases), n)
	}
}
