package pgstore_test

import (
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

// BenchmarkLeaseCycle measures one lease's whole life in the store:
// CreatePending, Activate, BeginRevoke, CompleteRevoke, each with its audit
// event, as the issue and revoke paths run them.
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
		if _, _, err := s.BeginRevoke(ctx, store.BeginRevokeParams{
			ID: p.ID, Reason: "done", Now: t0, ClaimUntil: t0.Add(time.Minute), Audit: audit("revoke"),
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.CompleteRevoke(ctx, store.CompleteRevokeParams{ID: p.ID, Now: t0, Audit: audit("revoked")}); err != nil {
			b.Fatal(err)
		}
	}
}
