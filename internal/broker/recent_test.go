package broker

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// readCounter counts the lease reads that reach the store.
type readCounter struct {
	store.Store
	reads atomic.Int64
}

func (r *readCounter) GetLease(ctx context.Context, p store.GetLeaseParams) (*lease.Lease, error) {
	r.reads.Add(1)
	return r.Store.GetLease(ctx, p)
}

func setupCounted(t *testing.T) (*bench, *readCounter) {
	t.Helper()
	var rc *readCounter
	b := setup(t, withStore(func(s store.Store) store.Store {
		rc = &readCounter{Store: s}
		return rc
	}))
	return b, rc
}

// TestRevokeAfterIssueReadsNothing: revoking a lease this process just
// issued deletes the token and writes once, without reading the row; a
// second revoke, with nothing remembered, reads it.
func TestRevokeAfterIssueReadsNothing(t *testing.T) {
	t.Parallel()
	b, rc := setupCounted(t)
	ctx := as(t, alice)
	issued, err := b.svc.IssueToken(ctx, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatal(err)
	}
	id := issued.GetLease().GetId()
	before := rc.reads.Load()
	out, err := b.svc.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	if n := rc.reads.Load() - before; n != 0 {
		t.Errorf("revoke after issue read the lease %d times, want 0", n)
	}
	if out.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKED || out.GetAlreadyRevoked() {
		t.Errorf("response: state %s, already %t; want revoked, false", out.GetLease().GetState(), out.GetAlreadyRevoked())
	}
	if l := b.lease(t, id); l.State != lease.StateRevoked || l.RevokedBy != "api_key:alice" {
		t.Errorf("lease %s revoked by %q, want revoked by api_key:alice", l.State, l.RevokedBy)
	}
	if n := len(b.alive()); n != 0 {
		t.Errorf("%d live tokens after the revoke, want 0", n)
	}
	if diff := cmp.Diff([]string{ActionIssue, ActionRevoke, "revoke_complete"}, b.actionsOf(t, id)); diff != "" {
		t.Errorf("audit actions (-want +got):\n%s", diff)
	}

	before = rc.reads.Load()
	again, err := b.svc.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id})
	if err != nil || !again.GetAlreadyRevoked() {
		t.Fatalf("second revoke: already %t, err %v; want true, nil", again.GetAlreadyRevoked(), err)
	}
	if n := rc.reads.Load() - before; n != 1 {
		t.Errorf("second revoke read the lease %d times, want 1", n)
	}
}

// TestRevokeRememberedLeaseMovedOn: when another replica (or the revoker,
// or an operator) has ended a lease since this process issued it, the
// remembered snapshot is stale, and the revoke must answer as it would
// after a read: already revoked, the other revocation's record kept, no
// audit event added.
func TestRevokeRememberedLeaseMovedOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := as(t, alice)
	issued, err := b.svc.IssueToken(ctx, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatal(err)
	}
	id := issued.GetLease().GetId()
	l := b.lease(t, id)
	// Another replica's explicit revoke: the delete upstream, then one write.
	if err := b.nc.Delete(context.Background(), l.UpstreamTokenID); err != nil {
		t.Fatal(err)
	}
	now := b.clock.Now()
	if _, err := b.store.RevokeActive(context.Background(), store.RevokeActiveParams{
		ID: id, Reason: "elsewhere", RevokedBy: "api_key:root", Now: now, DoneAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	events := len(b.audit(t))

	out, err := b.svc.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	if !out.GetAlreadyRevoked() || out.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKED {
		t.Errorf("response: state %s, already %t; want revoked, true", out.GetLease().GetState(), out.GetAlreadyRevoked())
	}
	got := b.lease(t, id)
	if got.RevokeReason != "elsewhere" || got.RevokedBy != "api_key:root" {
		t.Errorf("lease revoked by %q for %q, want the other revocation's api_key:root, elsewhere", got.RevokedBy, got.RevokeReason)
	}
	if n := len(b.audit(t)); n != events {
		t.Errorf("%d audit events after the stale revoke, want %d", n, events)
	}
}

// TestRevokeRememberedLeaseOtherCaller: another caller's revoke of a
// remembered lease is answered from the row (not found) and leaves the
// lease remembered for its owner.
func TestRevokeRememberedLeaseOtherCaller(t *testing.T) {
	t.Parallel()
	b, rc := setupCounted(t)
	issued, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatal(err)
	}
	id := issued.GetLease().GetId()
	_, err = b.svc.RevokeLease(as(t, dave), &ztbrokerv1.RevokeLeaseRequest{Id: id})
	wantStatus(t, err, codes.NotFound, `lease "`+id+`" not found`)
	if l := b.lease(t, id); l.State != lease.StateActive {
		t.Fatalf("dave's refused revoke left the lease %s", l.State)
	}
	if n := len(b.alive()); n != 1 {
		t.Fatalf("%d live tokens after dave's refused revoke, want alice's 1", n)
	}
	before := rc.reads.Load()
	if _, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	if n := rc.reads.Load() - before; n != 0 {
		t.Errorf("the owner's revoke read the lease %d times, want 0", n)
	}
}

// TestRecentLeasesBounded: the oldest remembered lease is forgotten first.
func TestRecentLeasesBounded(t *testing.T) {
	t.Parallel()
	r := newRecentLeases(2)
	for _, id := range []string{"a", "b", "c"} {
		r.add(&lease.Lease{ID: id, Owner: "o", State: lease.StateActive})
	}
	r.add(&lease.Lease{ID: "p", Owner: "o", State: lease.StatePending})
	var got []string
	for _, id := range []string{"a", "b", "c", "p"} {
		if r.take(id, "o") != nil {
			got = append(got, id)
		}
	}
	if diff := cmp.Diff([]string{"b", "c"}, got); diff != "" {
		t.Errorf("remembered (-want +got):\n%s", diff)
	}
	if len(r.byID) != 0 {
		t.Errorf("%d leases still remembered after taking them all", len(r.byID))
	}
}

// actionsOf lists the audit actions recorded for one lease, oldest first.
func (b *bench) actionsOf(t *testing.T, leaseID string) []string {
	t.Helper()
	var out []string
	for _, e := range b.audit(t) {
		if e.LeaseID == leaseID {
			out = append(out, e.Action)
		}
	}
	return out
}
