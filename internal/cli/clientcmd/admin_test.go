package clientcmd

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// batchedRevoker pretends n leases match and revokes batch of them per call.
func batchedRevoker(n, batch int64) func(context.Context, *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error) {
	return func(_ context.Context, r *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error) {
		done := min(n, batch)
		if !r.GetDryRun() {
			n -= done
		}
		return &ztbrokerv1.RevokeLeasesResponse{Done: done, Remaining: n, SampleIds: []string{"l1", "l2"}[:min(2, done)]}, nil
	}
}

func TestAdminRevoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		matching   int64
		batch      int64
		wantCode   int
		wantCalls  int
		wantFilter *ztbrokerv1.LeaseFilter
		wantStdout string
		wantStderr string
	}{
		{
			name:     "loops until nothing remains",
			args:     []string{"--purpose", "deploy", "--reason", "incident 7"},
			matching: 5, batch: 2,
			wantCode:   ExitOK,
			wantCalls:  3,
			wantFilter: &ztbrokerv1.LeaseFilter{Purpose: "deploy"},
			wantStdout: "revoked 2, 3 remaining\nrevoked 2, 1 remaining\nrevoked 1, 0 remaining\n" +
				"revoked 5 leases matching purpose=\"deploy\"\n",
		},
		{
			name:     "dry run asks once",
			args:     []string{"--label", "run_id=42", "--dry-run"},
			matching: 5, batch: 2,
			wantCode:   ExitOK,
			wantCalls:  1,
			wantFilter: &ztbrokerv1.LeaseFilter{Label: "run_id=42"},
			wantStdout: "dry run: the first batch would revoke 2 leases matching label=\"run_id=42\"; 5 remaining\n  l1\n  l2\n",
		},
		{
			name:     "stalled broker",
			args:     []string{"--all"},
			matching: 3, batch: 0,
			wantCode:   ExitFailure,
			wantCalls:  1,
			wantFilter: &ztbrokerv1.LeaseFilter{All: true},
			wantStdout: "revoked 0, 3 remaining\n",
			wantStderr: "broker: revoke leases matching all: the broker made no progress with 3 remaining (0 revoked)\n",
		},
		{
			name:       "no filter",
			args:       []string{"--reason", "x"},
			wantCode:   ExitUsage,
			wantStderr: "broker: admin revoke: give --purpose, --owner, --label or --all\n",
		},
		{
			name:       "all with a filter",
			args:       []string{"--all", "--owner", "api_key:ci"},
			wantCode:   ExitUsage,
			wantStderr: "broker: admin revoke: --all cannot be combined with a filter\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fb := &fakeBroker{revokeLeases: batchedRevoker(tc.matching, tc.batch)}
			h := newHarness(t, fb)
			if code := Admin(context.Background(), append([]string{"revoke"}, tc.args...), h.env); code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantStdout, h.stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStderr, h.stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			calls := fb.called("RevokeLeases")
			if len(calls) != tc.wantCalls {
				t.Fatalf("RevokeLeases called %d times, want %d", len(calls), tc.wantCalls)
			}
			for _, c := range calls {
				if diff := cmp.Diff(tc.wantFilter, c.req.(*ztbrokerv1.RevokeLeasesRequest).GetFilter(), protocmp.Transform()); diff != "" {
					t.Errorf("filter (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestAdminForget(t *testing.T) {
	t.Parallel()
	fb := &fakeBroker{forget: func(_ context.Context, r *ztbrokerv1.ForgetLeaseRequest) (*ztbrokerv1.ForgetLeaseResponse, error) {
		return &ztbrokerv1.ForgetLeaseResponse{Lease: &ztbrokerv1.Lease{Id: r.GetId(), State: ztbrokerv1.Lease_STATE_REVOKED}}, nil
	}}
	h := newHarness(t, fb)
	if code := Admin(context.Background(), []string{"forget", "--id", "l9"}, h.env); code != ExitUsage {
		t.Errorf("without --reason: exit %d, want %d", code, ExitUsage)
	}
	if code := Admin(context.Background(), []string{"forget", "--id", "l9", "--reason", "deleted in Central by hand"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	if diff := cmp.Diff("forgot lease l9 (now revoked)\n", h.stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	calls := fb.called("ForgetLease")
	if len(calls) != 1 || calls[0].req.(*ztbrokerv1.ForgetLeaseRequest).GetReason() != "deleted in Central by hand" {
		t.Errorf("ForgetLease calls = %v", calls)
	}
}

func TestAdminAuditStopsAtTheLimit(t *testing.T) {
	t.Parallel()
	fb := &fakeBroker{audit: func(_ context.Context, r *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error) {
		var start int64
		fmt.Sscanf(r.GetPageToken(), "p%d", &start)
		resp := &ztbrokerv1.ListAuditEventsResponse{NextPageToken: fmt.Sprintf("p%d", start+int64(r.GetPageSize()))}
		for i := start; i < start+int64(r.GetPageSize()); i++ {
			resp.Events = append(resp.Events, &ztbrokerv1.AuditEvent{Id: i, Action: "issue", ActorKind: "oidc",
				ActorSubject: "repo:o/r", Purpose: r.GetPurpose(), Result: "ok"})
		}
		return resp, nil
	}}
	h := newHarness(t, fb)
	if code := Admin(context.Background(), []string{"audit", "--purpose", "deploy", "--limit", "1500"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	var sizes []int32
	for _, c := range fb.called("ListAuditEvents") {
		sizes = append(sizes, c.req.(*ztbrokerv1.ListAuditEventsRequest).GetPageSize())
	}
	if diff := cmp.Diff([]int32{1000, 500}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	lines := strings.Split(strings.TrimSuffix(h.stdout.String(), "\n"), "\n")
	if len(lines) != 1501 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1500], "oidc:repo:o/r") {
		t.Errorf("got %d lines, first %q; want a header and 1500 events", len(lines), lines[0])
	}
}

func TestAdminAuditSendsEveryFilter(t *testing.T) {
	t.Parallel()
	fb := &fakeBroker{audit: func(context.Context, *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error) {
		return &ztbrokerv1.ListAuditEventsResponse{}, nil
	}}
	h := newHarness(t, fb)
	args := []string{"audit", "--purpose", "deploy", "--lease", "l1", "--actor", "api_key:ci", "--action", "issue", "--upstream", "staging"}
	if code := Admin(context.Background(), args, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	calls := fb.called("ListAuditEvents")
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	got := calls[0].req.(*ztbrokerv1.ListAuditEventsRequest)
	want := &ztbrokerv1.ListAuditEventsRequest{Purpose: "deploy", LeaseId: "l1", Actor: "api_key:ci", Action: "issue", Upstream: "staging", PageSize: 100}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}
