package retention_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/worker"
	"github.com/ztbroker/ztbroker/internal/worker/retention"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// bench is one database and a clock; each replica gets its own worker,
// metrics and spans on it.
type bench struct {
	store store.Store
	clock *workertest.Clock
}

func newBench(t *testing.T) *bench {
	t.Helper()
	return &bench{store: pgstore.New(pgtest.NewPool(t)), clock: workertest.NewClock()}
}

type replica struct {
	w     *retention.Worker
	reg   *prometheus.Registry
	spans *tracetest.SpanRecorder
}

func (b *bench) replica(t *testing.T, mod func(*retention.Config)) *replica {
	t.Helper()
	reg := prometheus.NewRegistry()
	tp, spans := workertest.Tracing(t)
	cfg := retention.Config{
		Deps: worker.Deps{
			Store: b.store, Registry: upstream.NewRegistry(), Logger: discard, Panics: panics.New(discard),
			Registerer: reg, TracerProvider: tp, Now: b.clock.Now,
		},
		LeaseRetention: 30 * 24 * time.Hour,
		BatchSize:      10,
	}
	if mod != nil {
		mod(&cfg)
	}
	w, err := retention.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &replica{w: w, reg: reg, spans: spans}
}

func (r *replica) metric(t *testing.T, name string) float64 {
	t.Helper()
	return workertest.Metric(t, r.reg, name, nil)
}

// Lease makers: each returns a lease whose last change happened at the
// bench clock's current time.

func (b *bench) pending(t *testing.T, delivery string) *lease.Lease {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	now := b.clock.Now()
	res, err := b.store.CreatePending(context.Background(), store.CreatePendingParams{
		ID: id, Purpose: "deploy", Owner: workertest.Owner, Delivery: delivery,
		Upstream: lease.UpstreamNewCentral, UpstreamAccount: "acct",
		UpstreamName: lease.UpstreamNameFor(workertest.Prefix, "deploy", id),
		Now:          now, ExpireTime: now.Add(time.Minute), MaxExpireTime: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Lease
}

func (b *bench) active(t *testing.T, delivery string) *lease.Lease {
	t.Helper()
	l := b.pending(t, delivery)
	l, err := b.store.Activate(context.Background(), store.ActivateParams{
		ID: l.ID, UpstreamTokenID: "key-" + l.ID, TokenSHA256: lease.HashToken("s-" + l.ID), Now: b.clock.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (b *bench) revoking(t *testing.T, delivery string) *lease.Lease {
	t.Helper()
	l := b.active(t, delivery)
	now := b.clock.Now()
	l, _, err := b.store.BeginRevoke(context.Background(), store.BeginRevokeParams{
		ID: l.ID, Reason: "user", RevokedBy: workertest.Owner, Now: now, ClaimUntil: now.Add(time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (b *bench) revoked(t *testing.T, delivery string) *lease.Lease {
	t.Helper()
	l := b.revoking(t, delivery)
	l, err := b.store.CompleteRevoke(context.Background(), store.CompleteRevokeParams{ID: l.ID, Now: b.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (b *bench) failed(t *testing.T) *lease.Lease {
	t.Helper()
	l, err := b.store.FailPending(context.Background(), store.FailPendingParams{
		ID: b.pending(t, lease.DeliveryToken).ID, Reason: lease.ReasonMintFailed, Now: b.clock.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (b *bench) revokeFailed(t *testing.T, delivery string) *lease.Lease {
	t.Helper()
	l := b.revoking(t, delivery)
	l, err := b.store.RecordRevokeFailure(context.Background(), store.RecordRevokeFailureParams{
		ID: l.ID, Err: "upstream down", NextAttemptAt: b.clock.Now().Add(time.Hour), MarkFailed: true, Now: b.clock.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (b *bench) forgotten(t *testing.T, delivery string) *lease.Lease {
	t.Helper()
	l := b.revokeFailed(t, delivery)
	l, err := b.store.ForgetLease(context.Background(), store.ForgetLeaseParams{
		ID: l.ID, Reason: lease.ReasonForgotten, RevokedBy: "admin:ops", Now: b.clock.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// present returns which of ls the store still holds, by name.
func (b *bench) present(t *testing.T, named map[string]*lease.Lease) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for name, l := range named {
		_, err := b.store.GetLease(context.Background(), store.GetLeaseParams{ID: l.ID})
		out[name] = err == nil
	}
	return out
}
