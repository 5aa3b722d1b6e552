package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// asProxy makes the lease a proxy lease: no upstream token, no name.
func asProxy(p *store.CreatePendingParams) {
	p.Delivery = lease.DeliveryProxy
	p.UpstreamName = ""
}

// activeProxy creates and activates a proxy lease whose credential hashes
// to the returned hash.
func activeProxy(t *testing.T, s store.Store, mods ...func(*store.CreatePendingParams)) (*lease.Lease, string) {
	t.Helper()
	l := pending(t, s, append([]func(*store.CreatePendingParams){asProxy}, mods...)...)
	hash := lease.HashToken("ztbp_credential-" + l.ID)
	a, err := s.Activate(ctx(t), store.ActivateParams{ID: l.ID, TokenSHA256: hash, Now: l.CreatedAt})
	if err != nil {
		t.Fatalf("Activate: %v", err)
	}
	return a, hash
}

func testProxyLease(t *testing.T, newStore NewStore) {
	s := newStore(t)
	tok := active(t, s)
	if tok.Delivery != lease.DeliveryToken {
		t.Errorf("a lease created without a delivery has delivery %q, want %q", tok.Delivery, lease.DeliveryToken)
	}
	pend := pending(t, s, asProxy)
	if pend.Delivery != lease.DeliveryProxy {
		t.Errorf("pending proxy lease has delivery %q", pend.Delivery)
	}
	live, liveHash := activeProxy(t, s, withLabels("env", "ci"))
	ended, endedHash := activeProxy(t, s)
	if _, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{
		ID: ended.ID, Reason: "done", RevokedBy: owner, Now: t0.Add(2e9), ClaimUntil: t0.Add(2e9),
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("found by credential hash in any state", func(t *testing.T) {
		got, err := s.GetProxyLease(ctx(t), store.GetProxyLeaseParams{CredentialSHA256: liveHash})
		if err != nil {
			t.Fatal(err)
		}
		want := get(t, s, live.ID)
		if d := cmp.Diff(&store.ProxyLease{
			ID: want.ID, Purpose: want.Purpose, Owner: want.Owner, State: want.State,
			ExpireTime: want.ExpireTime, Labels: want.Labels, TokenSHA256: want.TokenSHA256,
		}, got); d != "" {
			t.Errorf("GetProxyLease (-want +got):\n%s", d)
		}
		got, err = s.GetProxyLease(ctx(t), store.GetProxyLeaseParams{CredentialSHA256: endedHash})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != ended.ID || got.State != lease.StateRevoking {
			t.Errorf("revoked proxy lease read back as %s in state %s", got.ID, got.State)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for name, hash := range map[string]string{
			"unknown hash":             lease.HashToken("nobody"),
			"token lease's hash":       tok.TokenSHA256,
			"empty hash of a pending":  "",
			"upper-case of a good one": "X" + liveHash[1:],
		} {
			_, err := s.GetProxyLease(ctx(t), store.GetProxyLeaseParams{CredentialSHA256: hash})
			wantErr(t, name, err, errs.NotFound)
		}
	})
	t.Run("reconciliation never sees proxy leases", func(t *testing.T) {
		got, err := s.ListUpstreamTokens(ctx(t), store.ListUpstreamTokensParams{Upstream: upstream, UpstreamAccount: account})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{tok.ID}, ids(got)); d != "" {
			t.Errorf("ListUpstreamTokens (-want +got):\n%s", d)
		}
	})
}
