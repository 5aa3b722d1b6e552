package pgstore_test

import (
	"testing"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

// BenchmarkLeaseCycle measures one lease's whole life in the store:
// CreatePending, Activate and RevokeActive, with their audit events, as
// the issue path and an explicit revoke whose upstream delete succeeds
// run them.
func BenchmarkLeaseCycle(b *testing.B) {
	s := pgstore.New(pgtest.NewPool(b))
	ctx := b.Context()
	audit := func(action string) *store.AuditEvent {
		return &store.AuditEvent{Action: action, ActorKind: "user", ActorSubject: "alice", Result: "ok"}
	}
	for b.Loop() {
		p := pendingParams()
		p.Audit = audit("issue")
		if _, err := s.CreatePending(ctx, p); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Activate(ctx, store.ActivateParams{
			ID: p.ID, UpstreamTokenID: "key", TokenSHA256: lease.HashToken(p.ID), Now: t0, Audit: audit("activate"),
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.RevokeActive(ctx, store.RevokeActiveParams{
			ID: p.ID, Reason: "done", Now: t0, DoneAt: t0, Audit: audit("revoke"), Completion: audit("revoke_complete"),
		}); err != nil {
			b.Fatal(err)
		}
	}
}
