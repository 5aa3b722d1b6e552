package broker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/proxycred"
	"github.com/ztbroker/ztbroker/internal/store"
)

// TestIssueProxyLease: a proxy purpose issues a broker credential for the
// proxy's URL, records its hash as the lease's, and calls nothing upstream.
func TestIssueProxyLease(t *testing.T) {
	t.Parallel()
	b := setup(t, withSealer(newSealer(t)))
	before := b.emu.Counters()
	resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeProxy, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	l := resp.GetLease()
	type got struct {
		WellFormed       bool
		Base, Scheme     string
		Delivery, Hash   string
		TokenID          string
		State            ztbrokerv1.Lease_State
		UpstreamTokenIDs int
	}
	want := got{true, proxyBaseURL, "Bearer", lease.DeliveryProxy, lease.HashToken(resp.GetToken()), "", ztbrokerv1.Lease_STATE_ACTIVE, 0}
	g := got{
		proxycred.WellFormed(resp.GetToken()), resp.GetApiBaseUrl(), resp.GetAuthScheme(),
		l.GetDelivery(), l.GetTokenSha256(), l.GetUpstreamTokenId(), l.GetState(), len(b.emu.Tokens().Alive()),
	}
	if d := cmp.Diff(want, g); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff(before, b.emu.Counters()); d != "" {
		t.Errorf("issuing a proxy lease called the upstream (-before +after):\n%s", d)
	}
	if stored := b.lease(t, l.GetId()); stored.UpstreamName != "" || !stored.IsProxy() {
		t.Errorf("stored lease: name %q delivery %q", stored.UpstreamName, stored.Delivery)
	}
	events := b.audit(t)
	if len(events) != 1 || events[0].Action != ActionIssue || !strings.HasSuffix(events[0].Reason, "; proxy delivery") {
		t.Errorf("audit: %+v", events)
	}
	if n := b.revoker.Nudges(); len(n) != 1 || !n[0].Equal(l.GetExpireTime().AsTime()) {
		t.Errorf("revoker nudges %v, want the lease's expiry", n)
	}

	// An idempotent retry replays the same credential for the same URL.
	again, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeProxy, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.GetReplayed() || again.GetToken() != resp.GetToken() || again.GetApiBaseUrl() != proxyBaseURL {
		t.Errorf("replay: replayed %v, same token %v, base %q", again.GetReplayed(), again.GetToken() == resp.GetToken(), again.GetApiBaseUrl())
	}

	// Revoking it needs no upstream call either.
	r, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: l.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKED {
		t.Errorf("revoked lease is %s", r.GetLease().GetState())
	}
	if d := cmp.Diff(before, b.emu.Counters()); d != "" {
		t.Errorf("revoking a proxy lease called the upstream (-before +after):\n%s", d)
	}
}

// TestProxyIssueFailures: with nothing upstream, a failure leaves a failed
// lease, a fixed message, and no upstream call.
func TestProxyIssueFailures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opt  benchOption
	}{
		{"no randomness", withConfig(func(c *Config) {
			c.NewCredential = func() (string, error) { return "", errors.New("entropy gone") }
		})},
		{"activation fails", withStore(func(inner store.Store) store.Store {
			return &hookedStore{Store: inner, activate: func(context.Context, store.ActivateParams) (*lease.Lease, error) {
				return nil, errors.New("pgstore: connection refused")
			}}
		})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opt)
			before := b.emu.Counters()
			_, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeProxy})
			wantStatus(t, err, codes.Internal, "internal error")
			ls := b.leases(t)
			if len(ls) != 1 || ls[0].State != lease.StateFailed || ls[0].RevokeReason != lease.ReasonMintFailed {
				t.Fatalf("leases %+v, want one failed", ls)
			}
			if d := cmp.Diff([]string{ActionMintFailed}, b.actions(t)); d != "" {
				t.Errorf("audit (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, b.emu.Counters()); d != "" {
				t.Errorf("a failed proxy issue called the upstream (-before +after):\n%s", d)
			}
		})
	}
}

func TestNewPurposesChecksProxyDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pol := b.svc.cfg.Purposes.All()[0].Policy
	for _, p := range []*Purpose{
		{Name: "p", Issuer: b.nc, Policy: pol, Delivery: lease.DeliveryProxy},
		{Name: "p", Issuer: b.nc, Policy: pol, Delivery: "carrier-pigeon"},
	} {
		if _, err := NewPurposes([]*Purpose{p}); err == nil {
			t.Errorf("delivery %q without URL accepted", p.Delivery)
		}
	}
}
