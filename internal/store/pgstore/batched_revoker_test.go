package pgstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

func TestBatchedCompleteRevoke(t *testing.T) {
	t.Parallel()
	s := New(pgtest.NewPool(t))
	ctx := t.Context()
	ls := created(t, s, 5)
	for i, l := range ls {
		if _, err := s.Activate(ctx, activation(l)); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			break // stays active
		}
		if _, _, err := s.BeginRevoke(ctx, store.BeginRevokeParams{
			ID: l.ID, Reason: lease.ReasonExpired, RevokedBy: "system:revoker",
			Now: bt0.Add(time.Minute), ClaimUntil: bt0.Add(2 * time.Minute),
		}); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(l *lease.Lease) store.CompleteRevokeParams {
		return store.CompleteRevokeParams{ID: l.ID, Now: bt0.Add(90 * time.Second),
			Audit: &store.AuditEvent{Action: "revoke_complete", ActorKind: "system", ActorSubject: "revoker", Result: "ok"}}
	}
	params := []store.CompleteRevokeParams{complete(ls[1]), complete(ls[2]), complete(ls[3]), complete(ls[4]), {ID: "no-such-lease"}}
	p := probe(s.completions)
	var calls []func() result
	for _, c := range params {
		calls = append(calls, func() result { l, err := s.CompleteRevoke(ctx, c); return result{l, err} })
	}
	head, res := inBatch(t, p, lockRow(t, s, ls[0].ID),
		func() result { l, err := s.CompleteRevoke(ctx, complete(ls[0])); return result{l, err} }, calls)
	if got := p.statementSizes(); !slices.Equal(got, []int{1, len(params)}) {
		t.Errorf("statement sizes = %v, want [1 %d]", got, len(params))
	}
	if head.err != nil {
		t.Fatal(head.err)
	}
	for i := range 3 {
		r, c := res[i], params[i]
		if r.err != nil {
			t.Fatalf("complete %s: %v", c.ID, r.err)
		}
		// The revoke time stays the one BeginRevoke recorded.
		if r.l.ID != c.ID || r.l.State != lease.StateRevoked || !r.l.RevokeTime.Equal(bt0.Add(time.Minute)) || !r.l.UpdatedAt.Equal(c.Now) || !r.l.NextAttemptAt.IsZero() {
			t.Errorf("complete %s returned %+v", c.ID, r.l)
		}
		if got := auditFor(t, s, c.ID); len(got) != 3 || got[2] != "revoke_complete:deploy:prod" {
			t.Errorf("audit of %s = %v, want issue, activate, revoke_complete", c.ID, got)
		}
	}
	if !errors.Is(res[3].err, errs.Conflict) {
		t.Errorf("completing an active lease's revoke: %v, want Conflict", res[3].err)
	}
	if !errors.Is(res[4].err, errs.NotFound) {
		t.Errorf("completing an unknown lease's revoke: %v, want NotFound", res[4].err)
	}
}

func TestBatchedAppendAudit(t *testing.T) {
	t.Parallel()
	s := New(pgtest.NewPool(t))
	ctx := t.Context()
	release := lockAudit(t, s)
	event := func(action string) *store.AuditEvent {
		return &store.AuditEvent{Time: bt0, Action: action, ActorKind: "system", ActorSubject: "revoker",
			LeaseID: "lease-" + action, Purpose: "deploy", Result: "ok"}
	}
	events := []*store.AuditEvent{event("a"), event("b"), event("c"), event("bad\x00"), event("d")}
	p := probe(s.appends)
	errsOf := make([]error, len(events))
	var calls []func() result
	for i, e := range events {
		calls = append(calls, func() result { errsOf[i] = s.AppendAudit(ctx, e); return result{} })
	}
	first := event("first")
	inBatch(t, p, release, func() result { return result{err: s.AppendAudit(ctx, first)} }, calls)
	// A NUL cannot be stored, which fails the batch; each event is then
	// appended alone and only that one fails.
	if got := p.statementSizes(); !slices.Equal(got, []int{1, len(events)}) {
		t.Errorf("statement sizes = %v, want [1 %d]", got, len(events))
	}
	seen := map[int64]bool{first.ID: true}
	for i, e := range events {
		if i == 3 {
			if errsOf[i] == nil {
				t.Errorf("appending an event with a NUL succeeded")
			}
			continue
		}
		if errsOf[i] != nil || e.ID == 0 || seen[e.ID] {
			t.Fatalf("append %q: err %v, id %d (ids so far %v)", e.Action, errsOf[i], e.ID, seen)
		}
		seen[e.ID] = true
		var action string
		if err := s.pool.QueryRow(ctx, `SELECT action FROM audit_events WHERE id = $1 AND lease_id = $2`, e.ID, e.LeaseID).Scan(&action); err != nil || action != e.Action {
			t.Errorf("event %d: action %q (%v), want %q", e.ID, action, err, e.Action)
		}
	}
}

func TestBatchedAppendAuditWithoutErrors(t *testing.T) {
	t.Parallel()
	s := New(pgtest.NewPool(t))
	ctx := t.Context()
	release := lockAudit(t, s)
	events := make([]*store.AuditEvent, 6)
	for i := range events {
		events[i] = &store.AuditEvent{Time: bt0, Action: "note", ActorKind: "system", ActorSubject: "revoker",
			LeaseID: uuid.NewString(), Purpose: "deploy", Result: "ok"}
	}
	p := probe(s.appends)
	errsOf := make([]error, len(events))
	var calls []func() result
	for i, e := range events {
		calls = append(calls, func() result { errsOf[i] = s.AppendAudit(ctx, e); return result{} })
	}
	inBatch(t, p, release, func() result { return result{err: s.AppendAudit(ctx, &store.AuditEvent{Time: bt0, Action: "first"})} }, calls)
	if got := p.statementSizes(); !slices.Equal(got, []int{1, len(events)}) {
		t.Errorf("statement sizes = %v, want [1 %d]", got, len(events))
	}
	for i, e := range events {
		var lid string
		if errsOf[i] != nil {
			t.Fatalf("append %d: %v", i, errsOf[i])
		}
		if err := s.pool.QueryRow(ctx, `SELECT lease_id FROM audit_events WHERE id = $1`, e.ID).Scan(&lid); err != nil || lid != e.LeaseID {
			t.Errorf("event %d has id %d, whose row names lease %q (%v), want %q", i, e.ID, lid, err, e.LeaseID)
		}
	}
}

// lockAudit locks the audit trail against inserts in a transaction of the
// test's, so that an append waits until release commits it.
func lockAudit(t *testing.T, s *Store) (release func()) {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(t.Context(), `LOCK TABLE audit_events IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(context.Background()); err != nil {
			t.Error(err)
		}
	}
}
