package sweeper_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/sweeper"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// TestNeverDeletesTheAdminKey names the broker's own admin credential
// exactly as a stale pending lease's token would be named
// (<prefix>-<purpose>-<uuid>), on both upstreams. The sweeper fails the
// lease and, on New Central, deletes the token a mint made under that
// name, but never the admin credential.
func TestNeverDeletesTheAdminKey(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{lease.UpstreamNewCentral, lease.UpstreamLegacy} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			id := uuid.Must(uuid.NewV7()).String()
			name := lease.UpstreamNameFor(workertest.Prefix, "deploy", id)
			b := setup(t, workertest.NewEnv(t, emulator.WithAdminKeyDescription(name), emulator.WithLegacyAdminTokenName(name)))
			is := b.NewCentral
			if kind == lease.UpstreamLegacy {
				is = b.Legacy
			}
			now := b.Clock.Now()
			res, err := b.Store.CreatePending(t.Context(), store.CreatePendingParams{
				ID: id, Purpose: "deploy", Owner: workertest.Owner,
				Upstream: is.Kind(), UpstreamAccount: is.Account(), UpstreamName: name,
				Now: now, ExpireTime: now.Add(time.Hour), MaxExpireTime: now.Add(2 * time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			l := res.Lease
			// New Central holds several keys under one name: the crashed
			// mint made one beside the admin key. Legacy names are unique,
			// so there only the admin token bears the name.
			var minted *upstream.Minted
			if kind == lease.UpstreamNewCentral {
				minted = b.MintUpstream(t, is, l)
			}
			named := 0
			tokens, err := is.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range tokens {
				if tok.Name == name {
					named++
				}
			}
			if want := map[bool]int{true: 2, false: 1}[minted != nil]; named != want {
				t.Fatalf("%d tokens named %s upstream, want %d (the admin credential's name is the lease's)", named, name, want)
			}

			b.Clock.Advance(pendingTimeout + time.Second)
			pass, err := b.s.RunOnce(t.Context())
			if err != nil {
				t.Fatalf("pass: %v", err)
			}
			want := sweeper.PassResult{Claimed: 1, Swept: 1}
			if minted != nil {
				want.TokensDeleted = 1
			}
			if d := cmp.Diff(want, pass, ignoreErr); d != "" {
				t.Errorf("pass (-want +got):\n%s", d)
			}
			if !b.TokenWorks(t, is, b.Emu.AdminToken) {
				t.Fatal("the sweeper deleted the broker's admin credential")
			}
			if minted != nil && b.TokenWorks(t, is, minted.Secret) {
				t.Error("the crashed mint's token still works")
			}
			if got := b.Lease(t, id); got.State != lease.StateFailed {
				t.Errorf("lease is %s, want failed", got.State)
			}
		})
	}
}
