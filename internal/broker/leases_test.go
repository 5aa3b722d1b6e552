package broker

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// visibility issues one lease to alice and one to carol.
type visibility struct {
	*bench
	aliceLease, carolLease string
}

func setupVisibility(t *testing.T) visibility {
	t.Helper()
	b := setup(t)
	v := visibility{bench: b}
	for _, c := range []struct {
		id  *auth.Identity
		dst *string
	}{{alice, &v.aliceLease}, {carol, &v.carolLease}} {
		resp, err := b.svc.IssueToken(as(t, c.id), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
		if err != nil {
			t.Fatal(err)
		}
		*c.dst = resp.GetLease().GetId()
	}
	return v
}

func TestGetLeaseVisibility(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		caller *auth.Identity
		carols bool // ask for carol's lease rather than alice's
		code   codes.Code
	}{
		{name: "own lease", caller: alice},
		{name: "someone else's lease", caller: alice, carols: true, code: codes.NotFound},
		{name: "admin, someone else's lease", caller: root, carols: true},
		{name: "stranger", caller: bob, code: codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := setupVisibility(t)
			id := v.aliceLease
			if tt.carols {
				id = v.carolLease
			}
			resp, err := v.svc.GetLease(as(t, tt.caller), &ztbrokerv1.GetLeaseRequest{Id: id})
			if tt.code != codes.OK {
				// The same answer as for a lease that does not exist, so
				// ids cannot be probed.
				wantStatus(t, err, tt.code, `lease "`+id+`" not found`)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetLease().GetId() != id {
				t.Errorf("got lease %s, want %s", resp.GetLease().GetId(), id)
			}
		})
	}
}

func TestListLeasesVisibility(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		caller *auth.Identity
		want   func(v visibility) []string
	}{
		{"own leases only", alice, func(v visibility) []string { return []string{v.aliceLease} }},
		{"other owner's only", carol, func(v visibility) []string { return []string{v.carolLease} }},
		{"admin sees every lease", root, func(v visibility) []string { return []string{v.carolLease, v.aliceLease} }},
		{"stranger sees none", bob, func(visibility) []string { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := setupVisibility(t)
			resp, err := v.svc.ListLeases(as(t, tt.caller), &ztbrokerv1.ListLeasesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want(v), leaseIDs(resp.GetLeases())); diff != "" {
				t.Errorf("leases (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRevokeLeaseVisibility(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		caller *auth.Identity
		carols bool
		code   codes.Code
		// revokedBy is who the lease records, when revoked.
		revokedBy string
	}{
		{name: "own lease", caller: alice, revokedBy: "api_key:alice"},
		{name: "someone else's lease", caller: alice, carols: true, code: codes.NotFound},
		{name: "admin, someone else's lease", caller: root, carols: true, revokedBy: "api_key:root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := setupVisibility(t)
			id := v.aliceLease
			if tt.carols {
				id = v.carolLease
			}
			resp, err := v.svc.RevokeLease(as(t, tt.caller), &ztbrokerv1.RevokeLeaseRequest{Id: id})
			if tt.code != codes.OK {
				wantStatus(t, err, tt.code, `lease "`+id+`" not found`)
				if l := v.lease(t, id); l.State != lease.StateActive {
					t.Errorf("a refused revoke left the lease %s", l.State)
				}
				if n := len(v.alive()); n != 2 {
					t.Errorf("%d live tokens after a refused revoke, want 2", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l := v.lease(t, id)
			got := [3]string{string(l.State), l.RevokedBy, l.RevokeReason}
			want := [3]string{string(lease.StateRevoked), tt.revokedBy, "revoked by " + tt.revokedBy}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("[state, revoked by, reason] (-want +got):\n%s", diff)
			}
			if resp.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKED || resp.GetAlreadyRevoked() {
				t.Errorf("response: state %s, already %t", resp.GetLease().GetState(), resp.GetAlreadyRevoked())
			}
			// The token is gone upstream; the other lease's is not.
			var aliveNames []string
			for _, tok := range v.alive() {
				aliveNames = append(aliveNames, tok.Name)
			}
			if slices.Contains(aliveNames, l.UpstreamName) || len(aliveNames) != 1 {
				t.Errorf("live tokens %v after revoking %s", aliveNames, l.UpstreamName)
			}

			// A second revoke reports the lease already ended.
			again, err := v.svc.RevokeLease(as(t, tt.caller), &ztbrokerv1.RevokeLeaseRequest{Id: id})
			if err != nil || !again.GetAlreadyRevoked() {
				t.Errorf("second revoke: already %t, err %v; want true, nil", again.GetAlreadyRevoked(), err)
			}
		})
	}
}

// TestRevokeLeaseUpstreamFailure checks that when ZeroTier fails the
// revocation is still durable: the caller sees the lease revoking and the
// worker is left to retry.
func TestRevokeLeaseUpstreamFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.emu.SetFault(emulator.RouteV2DeleteKey, emulator.Fault{Status: 503}); err != nil {
		t.Fatal(err)
	}
	out, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: resp.GetLease().GetId(), Reason: "rotating"})
	if err != nil {
		t.Fatalf("RevokeLease: %v", err)
	}
	l := b.lease(t, resp.GetLease().GetId())
	if out.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKING || l.State != lease.StateRevoking {
		t.Errorf("state: response %s, store %s; want revoking", out.GetLease().GetState(), l.State)
	}
	if l.RevokeAttempts != 1 || l.RevokeReason != "rotating" {
		t.Errorf("lease attempts %d reason %q, want 1, \"rotating\"", l.RevokeAttempts, l.RevokeReason)
	}
	if n := len(b.alive()); n != 1 {
		t.Errorf("%d live tokens, want the one the worker will retry", n)
	}
}

func TestRevokePendingLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.pending(t, alice, purposeNC, "")
	_, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: id})
	wantStatus(t, err, codes.FailedPrecondition, `lease "`+id+`" is still being issued; retry`)
}

func leaseIDs(ls []*ztbrokerv1.Lease) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.GetId())
	}
	return out
}

// TestEveryRPCNeedsAnIdentity calls each RPC without an identity, as a
// wiring bug would: every one must fail closed.
func TestEveryRPCNeedsAnIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	calls := map[string]func() error{
		"IssueToken": func() error {
			_, err := b.svc.IssueToken(ctx, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			return err
		},
		"GetLease": func() error {
			_, err := b.svc.GetLease(ctx, &ztbrokerv1.GetLeaseRequest{Id: "x"})
			return err
		},
		"ListLeases": func() error { _, err := b.svc.ListLeases(ctx, &ztbrokerv1.ListLeasesRequest{}); return err },
		"RenewLease": func() error {
			_, err := b.svc.RenewLease(ctx, &ztbrokerv1.RenewLeaseRequest{Id: "x"})
			return err
		},
		"RevokeLease": func() error {
			_, err := b.svc.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: "x"})
			return err
		},
		"ListPurposes": func() error { _, err := b.svc.ListPurposes(ctx, &ztbrokerv1.ListPurposesRequest{}); return err },
		"WhoAmI":       func() error { _, err := b.svc.WhoAmI(ctx, &ztbrokerv1.WhoAmIRequest{}); return err },
		"RevokeLeases": func() error {
			_, err := b.svc.RevokeLeases(ctx, &ztbrokerv1.RevokeLeasesRequest{Filter: &ztbrokerv1.LeaseFilter{All: true}})
			return err
		},
		"ForgetLease": func() error {
			_, err := b.svc.ForgetLease(ctx, &ztbrokerv1.ForgetLeaseRequest{Id: "x", Reason: "r"})
			return err
		},
		"ListAuditEvents": func() error {
			_, err := b.svc.ListAuditEvents(ctx, &ztbrokerv1.ListAuditEventsRequest{})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wantStatus(t, call(), codes.Unauthenticated, "missing or invalid credentials")
		})
	}
}
