package broker

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/lease"
)

func TestListPurposesVisibility(t *testing.T) {
	t.Parallel()
	all := []string{purposeLegacy, purposeNC, purposeQuotaOwner, purposeQuotaActive, purposeQuotaRate, purposeProxy}
	tests := []struct {
		name string
		id   *auth.Identity
		want []string
	}{
		{"admitted by api key", alice, all},
		{"admitted by subject", carol, []string{purposeNC}},
		{"admitted by rule", ci, []string{purposeNC}},
		{"admitted nowhere", bob, nil},
		{"admin sees every purpose", root, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			resp, err := b.svc.ListPurposes(as(t, tt.id), &ztbrokerv1.ListPurposesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range resp.GetPurposes() {
				got = append(got, p.GetName())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("purposes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAdminRPCsRefuseNonAdmins(t *testing.T) {
	t.Parallel()
	calls := map[string]func(b *bench, ctx context.Context) error{
		"RevokeLeases": func(b *bench, ctx context.Context) error {
			_, err := b.svc.RevokeLeases(ctx, &ztbrokerv1.RevokeLeasesRequest{Filter: &ztbrokerv1.LeaseFilter{All: true}})
			return err
		},
		"ForgetLease": func(b *bench, ctx context.Context) error {
			_, err := b.svc.ForgetLease(ctx, &ztbrokerv1.ForgetLeaseRequest{Id: "x", Reason: "gone"})
			return err
		},
		"ListAuditEvents": func(b *bench, ctx context.Context) error {
			_, err := b.svc.ListAuditEvents(ctx, &ztbrokerv1.ListAuditEventsRequest{})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, call(b, as(t, alice)), codes.PermissionDenied, `caller "api_key:alice" does not have the admin role`)
			if l := b.lease(t, resp.GetLease().GetId()); l.State != lease.StateActive {
				t.Errorf("lease %s after a refused admin call", l.State)
			}
			if diff := cmp.Diff([]string{ActionIssue}, b.actions(t)); diff != "" {
				t.Errorf("audit actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRevokeLeasesFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		filter *ztbrokerv1.LeaseFilter
		batch  int32
		reason string
		msg    string
	}{
		{name: "empty filter", filter: &ztbrokerv1.LeaseFilter{}, msg: "filter needs a purpose, owner or label, or all=true"},
		{name: "no filter", msg: "filter needs a purpose, owner or label, or all=true"},
		{
			name: "all with another filter", filter: &ztbrokerv1.LeaseFilter{All: true, Purpose: purposeNC},
			msg: "all=true cannot be combined with other filters",
		},
		{
			name: "bad label", filter: &ztbrokerv1.LeaseFilter{Label: "nokey"},
			msg: `label filter must be key=value with a valid key, got "nokey"`,
		},
		{name: "negative batch", filter: &ztbrokerv1.LeaseFilter{All: true}, batch: -1, msg: "batch_size must not be negative"},
		{
			name: "reason too long", filter: &ztbrokerv1.LeaseFilter{All: true}, reason: strings.Repeat("r", maxReasonLen+1),
			msg: "reason must be valid UTF-8 of at most 500 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.svc.RevokeLeases(as(t, root), &ztbrokerv1.RevokeLeasesRequest{Filter: tt.filter, BatchSize: tt.batch, Reason: tt.reason})
			wantStatus(t, err, codes.InvalidArgument, tt.msg)
		})
	}
}

// TestRevokeLeasesByLabel checks a bulk revoke moves only the matching
// active leases to revoking, hands them to the worker, and is audited.
func TestRevokeLeasesByLabel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for _, team := range []string{"net", "net", "ops"} {
		resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Labels: map[string]string{"team": team}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.GetLease().GetId())
	}
	req := &ztbrokerv1.RevokeLeasesRequest{Filter: &ztbrokerv1.LeaseFilter{Label: "team=net"}, Reason: "incident 7"}

	req.DryRun = true
	dry, err := b.svc.RevokeLeases(as(t, root), req)
	if err != nil {
		t.Fatal(err)
	}
	if dry.GetDone() != 2 || b.lease(t, ids[0]).State != lease.StateActive {
		t.Errorf("dry run: done %d, first lease %s; want 2 and nothing changed", dry.GetDone(), b.lease(t, ids[0]).State)
	}

	req.DryRun = false
	nudges := len(b.revoker.Nudges())
	resp, err := b.svc.RevokeLeases(as(t, root), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetDone() != 2 || resp.GetRemaining() != 0 {
		t.Errorf("done %d remaining %d, want 2, 0", resp.GetDone(), resp.GetRemaining())
	}
	got := map[string]lease.State{}
	for _, id := range ids {
		got[id] = b.lease(t, id).State
	}
	want := map[string]lease.State{ids[0]: lease.StateRevoking, ids[1]: lease.StateRevoking, ids[2]: lease.StateActive}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if len(b.revoker.Nudges()) != nudges+1 {
		t.Error("the worker was not nudged to finish the revocations")
	}
	audit := b.audit(t)
	last := audit[len(audit)-1]
	if last.Action != ActionAdminRevoke || last.ActorSubject != "root" || !strings.Contains(last.Reason, "incident 7") {
		t.Errorf("last audit event %+v", last)
	}
}
