package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// testRevokeActive checks the explicit revoke's one-write path: the row
// it leaves is the row BeginRevoke then CompleteRevoke leave, and so is
// the audit trail, in the same order.
func testRevokeActive(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now, done := t0.Add(time.Minute), t0.Add(time.Minute+time.Millisecond)
	ev := func(action string, at time.Time) *store.AuditEvent {
		return &store.AuditEvent{Time: at, Action: action, ActorKind: "user", ActorSubject: "alice", Result: "ok", Reason: "done"}
	}

	fast := active(t, s)
	got, err := s.RevokeActive(ctx(t), store.RevokeActiveParams{
		ID: fast.ID, Owner: owner, Reason: "done", RevokedBy: owner, Now: now, DoneAt: done,
		Audit: ev("revoke", now), Completion: ev("revoke_complete", done),
	})
	if err != nil {
		t.Fatalf("RevokeActive: %v", err)
	}

	slow := active(t, s)
	if _, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{
		ID: slow.ID, Owner: owner, Reason: "done", RevokedBy: owner, Now: now, ClaimUntil: now.Add(time.Minute),
		Audit: ev("revoke", now),
	}); err != nil {
		t.Fatal(err)
	}
	twoStep, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: slow.ID, Now: done, Audit: ev("revoke_complete", done)})
	if err != nil {
		t.Fatal(err)
	}
	revoked := func(l *lease.Lease) *lease.Lease {
		w := *l
		w.State, w.RevokeReason, w.RevokedBy = lease.StateRevoked, "done", owner
		w.RevokeTime, w.NextAttemptAt, w.UpdatedAt = now, time.Time{}, done
		return &w
	}
	diffLease(t, "BeginRevoke+CompleteRevoke result", twoStep, revoked(slow))
	diffLease(t, "RevokeActive result, as the two steps leave it", got, revoked(fast))
	diffLease(t, "RevokeActive stored row", get(t, s, fast.ID), got)

	trail := func(id string) []string {
		res, err := s.ListAudit(ctx(t), store.ListAuditParams{LeaseID: id, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i := len(res.Events) - 1; i >= 0; i-- { // oldest first
			e := res.Events[i]
			out = append(out, e.Action+" "+e.Purpose+" "+e.Time.Format(time.RFC3339Nano))
		}
		return out
	}
	if d := cmp.Diff(trail(slow.ID), trail(fast.ID)); d != "" {
		t.Errorf("audit trail of RevokeActive against the two-step revoke (-two-step +fast):\n%s", d)
	}

	for _, l := range []*lease.Lease{pending(t, s), revoking(t, s, t0), get(t, s, fast.ID)} {
		_, err := s.RevokeActive(ctx(t), store.RevokeActiveParams{ID: l.ID, Now: now, DoneAt: done, Audit: ev("revoke", now)})
		wantErr(t, "RevokeActive of a "+string(l.State)+" lease", err, errs.Conflict)
		if got := trail(l.ID); len(got) > 0 && l.State != lease.StateRevoked {
			t.Errorf("RevokeActive of a %s lease wrote audit events %v", l.State, got)
		}
	}
	other := active(t, s, withOwner("user:bob"))
	_, err = s.RevokeActive(ctx(t), store.RevokeActiveParams{ID: other.ID, Owner: owner, Now: now, DoneAt: done})
	wantErr(t, "RevokeActive of another owner's lease", err, errs.NotFound)
	if l := get(t, s, other.ID); l.State != lease.StateActive {
		t.Errorf("another owner's lease is %s after a refused RevokeActive, want active", l.State)
	}
	_, err = s.RevokeActive(ctx(t), store.RevokeActiveParams{ID: newID(), Now: now, DoneAt: done})
	wantErr(t, "RevokeActive of an unknown lease", err, errs.NotFound)
}
