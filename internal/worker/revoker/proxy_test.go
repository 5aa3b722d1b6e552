package revoker_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// TestProxyLeasesEndWithoutAnUpstreamCall: a proxy lease has no token
// upstream, so expiring or revoking it must not call ZeroTier at all, and
// must not leave the lease stuck waiting for an issuer.
func TestProxyLeasesEndWithoutAnUpstreamCall(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.NewEnv(t))
	expire := b.Clock.Now().Add(time.Minute)
	expiring := b.ActiveProxy(t, b.NewCentral.Kind(), b.NewCentral.Account(), "scoped", expire, true)
	// An account no issuer serves any more: nothing to ask it anyway.
	explicit := b.ActiveProxy(t, lease.UpstreamLegacy, "user-gone", "scoped", expire.Add(time.Hour), true)
	b.start(t)
	b.batches.Wait(t, idle)
	before := b.Emu.Counters()

	b.advanceTo(expire)
	b.batches.Wait(t, revokedN(1))
	got := b.Lease(t, expiring.ID)
	if got.State != lease.StateRevoked || got.RevokeReason != lease.ReasonExpired {
		t.Errorf("expired proxy lease is %s (%q), want revoked (expired)", got.State, got.RevokeReason)
	}

	now := b.Clock.Now()
	l, _, err := b.Store.BeginRevoke(t.Context(), store.BeginRevokeParams{
		ID: explicit.ID, Reason: "done", RevokedBy: workertest.Owner, Now: now, ClaimUntil: now.Add(time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := b.w.RevokeNow(t.Context(), l)
	if err != nil {
		t.Fatalf("RevokeNow: %v", err)
	}
	if cur.State != lease.StateRevoked {
		t.Errorf("RevokeNow left the proxy lease %s", cur.State)
	}
	if d := cmp.Diff(before, b.Emu.Counters()); d != "" {
		t.Errorf("ending proxy leases called the upstream (-before +after):\n%s", d)
	}
	if d := cmp.Diff([]string{"expired_without_revoke", "expire_revoke"}, b.Actions(t, expiring.ID)); d != "" {
		t.Errorf("audit actions (-want +got):\n%s", d)
	}
}
