package retention_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

const day = 24 * time.Hour

// TestLeaseRetention: ended leases past retention go, ended leases within
// it stay, and no live lease is ever deleted however old it is, nor a
// forgotten token lease.
func TestLeaseRetention(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	r := b.replica(t, nil)

	// Everything below is made 40 days before the pass, except "recent".
	leases := map[string]*lease.Lease{
		"revoked":          b.revoked(t, lease.DeliveryToken),
		"failed":           b.failed(t),
		"proxy revoked":    b.revoked(t, lease.DeliveryProxy),
		"proxy forgotten":  b.forgotten(t, lease.DeliveryProxy),
		"forgotten token":  b.forgotten(t, lease.DeliveryToken),
		"active, expired":  b.active(t, lease.DeliveryToken),
		"active proxy":     b.active(t, lease.DeliveryProxy),
		"pending":          b.pending(t, lease.DeliveryToken),
		"revoking":         b.revoking(t, lease.DeliveryToken),
		"revoke_failed":    b.revokeFailed(t, lease.DeliveryToken),
		"proxy revoking":   b.revoking(t, lease.DeliveryProxy),
		"proxy pending":    b.pending(t, lease.DeliveryProxy),
		"revoked 29d ago":  nil,
		"failed 29d ago":   nil,
		"revoked 30d+1s":   nil,
		"revoked just now": nil,
	}
	b.clock.Advance(10*day - time.Second)
	leases["revoked 30d+1s"] = b.revoked(t, lease.DeliveryToken)
	b.clock.Advance(time.Second + day)
	leases["revoked 29d ago"] = b.revoked(t, lease.DeliveryToken)
	leases["failed 29d ago"] = b.failed(t)
	b.clock.Advance(29 * day)
	leases["revoked just now"] = b.revoked(t, lease.DeliveryToken)

	deleted, batches, err := r.w.DeleteLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"revoked": false, "failed": false, "proxy revoked": false, "proxy forgotten": false, "revoked 30d+1s": false,
		"forgotten token": true, "active, expired": true, "active proxy": true, "pending": true,
		"revoking": true, "revoke_failed": true, "proxy revoking": true, "proxy pending": true,
		"revoked 29d ago": true, "failed 29d ago": true, "revoked just now": true,
	}
	if d := cmp.Diff(want, b.present(t, leases)); d != "" {
		t.Errorf("leases present after the pass (-want +got):\n%s", d)
	}
	if deleted != 5 || batches != 1 {
		t.Errorf("DeleteLeases = %d in %d batches, want 5 in 1", deleted, batches)
	}
	if got := r.metric(t, "ztbroker_retention_leases_deleted_total"); got != 5 {
		t.Errorf("leases deleted metric = %v, want 5", got)
	}
	if d := cmp.Diff([]string{"retention.lease_batch"}, workertest.SpanNames(r.spans)); d != "" {
		t.Errorf("spans (-want +got):\n%s", d)
	}

	// Nothing is left to delete, however often it runs, until time moves.
	if n, _, err := r.w.DeleteLeases(t.Context()); n != 0 || err != nil {
		t.Errorf("second pass deleted %d, %v", n, err)
	}
	b.clock.Advance(31 * day)
	if n, _, err := r.w.DeleteLeases(t.Context()); n != 3 || err != nil {
		t.Errorf("pass 31 days later deleted %d, %v; want the 3 recent ended leases", n, err)
	}
}

// TestLeaseRetentionBatches: a backlog goes in batches of BatchSize, each
// with its own span, until a short one.
func TestLeaseRetentionBatches(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	r := b.replica(t, nil) // BatchSize 10
	for range 25 {
		b.failed(t)
	}
	b.clock.Advance(31 * day)
	deleted, batches, err := r.w.DeleteLeases(t.Context())
	if err != nil || deleted != 25 || batches != 3 {
		t.Fatalf("DeleteLeases = %d in %d batches, %v; want 25 in 3", deleted, batches, err)
	}
	if got := len(workertest.SpanNames(r.spans)); got != 3 {
		t.Errorf("%d spans, want one per batch", got)
	}
}

// TestReplicasDeleteEachRowOnce runs two workers, as two replicas, at
// once on one database: between them they delete every ended lease, and
// their counters add up to exactly that number.
func TestReplicasDeleteEachRowOnce(t *testing.T) {
	t.Parallel()
	const n = 300
	b := newBench(t)
	var live []*lease.Lease
	for i := range n {
		if i%2 == 0 {
			b.failed(t)
		} else {
			b.revoked(t, lease.DeliveryToken)
		}
		if i%30 == 0 {
			live = append(live, b.active(t, lease.DeliveryToken))
		}
	}
	b.clock.Advance(31 * day)
	replicas := []*replica{b.replica(t, nil), b.replica(t, nil)}

	counts := make([]int, len(replicas))
	var g errgroup.Group
	for i, r := range replicas {
		g.Go(func() error {
			// Several passes each, so the replicas' batches interleave
			// until the backlog is gone.
			for {
				d, _, err := r.w.DeleteLeases(t.Context())
				if err != nil || d == 0 {
					return err
				}
				counts[i] += d
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("replica 0 deleted %d, replica 1 deleted %d", counts[0], counts[1])
	if counts[0]+counts[1] != n {
		t.Errorf("replicas report %d deletions between them, want %d", counts[0]+counts[1], n)
	}
	var metric float64
	for _, r := range replicas {
		metric += r.metric(t, "ztbroker_retention_leases_deleted_total")
	}
	if metric != n {
		t.Errorf("deleted counters add up to %v, want %d", metric, n)
	}
	for _, l := range live {
		if l := b.present(t, map[string]*lease.Lease{"live": l}); !l["live"] {
			t.Fatal("an active lease was deleted")
		}
	}
}
