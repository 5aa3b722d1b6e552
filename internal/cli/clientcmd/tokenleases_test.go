package clientcmd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// pagedLeases serves leases two per page, filtered by the request's label.
func pagedLeases(leases []*ztbrokerv1.Lease) func(context.Context, *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error) {
	return func(_ context.Context, r *ztbrokerv1.ListLeasesRequest) (*ztbrokerv1.ListLeasesResponse, error) {
		var match []*ztbrokerv1.Lease
		for _, l := range leases {
			k, v, _ := strings.Cut(r.GetLabel(), "=")
			if r.GetLabel() == "" || l.GetLabels()[k] == v {
				match = append(match, l)
			}
		}
		start := 0
		if r.GetPageToken() != "" {
			fmt.Sscanf(r.GetPageToken(), "p%d", &start)
		}
		end := min(start+2, len(match))
		resp := &ztbrokerv1.ListLeasesResponse{Leases: match[start:end]}
		if end < len(match) {
			resp.NextPageToken = fmt.Sprintf("p%d", end)
		}
		return resp, nil
	}
}

func runLeases(now time.Time) []*ztbrokerv1.Lease {
	mk := func(id string, st ztbrokerv1.Lease_State, labels map[string]string) *ztbrokerv1.Lease {
		l := activeLease(now, id)
		l.State, l.Labels = st, labels
		return l
	}
	return []*ztbrokerv1.Lease{
		mk("l1", ztbrokerv1.Lease_STATE_ACTIVE, map[string]string{"run_id": "42", "job": "build"}),
		mk("l2", ztbrokerv1.Lease_STATE_REVOKED, map[string]string{"run_id": "42", "job": "build"}),
		mk("l3", ztbrokerv1.Lease_STATE_PENDING, map[string]string{"run_id": "42", "job": "test"}),
		mk("l4", ztbrokerv1.Lease_STATE_ACTIVE, map[string]string{"run_id": "42", "job": "build"}),
		mk("l5", ztbrokerv1.Lease_STATE_ACTIVE, map[string]string{"run_id": "7"}),
	}
}

func TestListFollowsPages(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	leases := runLeases(now)
	h := newHarness(t, &fakeBroker{listLeases: pagedLeases(leases)})
	code := Token(context.Background(), []string{"list", "--format", "json", "--state", "active"}, h.env)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	var got ztbrokerv1.ListLeasesResponse
	if err := protojson.Unmarshal([]byte(h.stdout.String()), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(leases, got.GetLeases(), protocmp.Transform()); diff != "" {
		t.Errorf("leases (-want +got):\n%s", diff)
	}
	calls := h.fake.called("ListLeases")
	if len(calls) != 3 {
		t.Fatalf("ListLeases called %d times, want 3 pages", len(calls))
	}
	if st := calls[2].req.(*ztbrokerv1.ListLeasesRequest).GetState(); st != ztbrokerv1.Lease_STATE_ACTIVE {
		t.Errorf("state filter on the last page = %v, want active", st)
	}
}

func TestListTable(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, &fakeBroker{listLeases: pagedLeases(runLeases(now)[:2])})
	if code := Token(context.Background(), []string{"list"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	want := "" +
		"ID  PURPOSE  STATE    OWNER       EXPIRES               LABELS\n" +
		"l1  deploy   active   api_key:ci  2026-03-01T12:30:00Z  job=build,run_id=42\n" +
		"l2  deploy   revoked  api_key:ci  2026-03-01T12:30:00Z  job=build,run_id=42\n"
	if diff := cmp.Diff(want, h.stdout.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestRevokeByLabelRevokesOnlyLiveMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantIDs []string
	}{
		{name: "run", args: []string{"--label", "run_id=42"}, wantIDs: []string{"l1", "l3", "l4"}},
		{name: "run and job", args: []string{"--label", "run_id=42", "--label", "job=build"}, wantIDs: []string{"l1", "l4"}},
		{name: "nothing", args: []string{"--label", "run_id=999"}, wantIDs: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			h := newHarness(t, &fakeBroker{listLeases: pagedLeases(runLeases(now)), revoke: okRevoke})
			args := append([]string{"revoke", "--reason", "job done"}, tc.args...)
			if code := Token(context.Background(), args, h.env); code != ExitOK {
				t.Fatalf("exit %d, stderr %q", code, h.stderr)
			}
			var gotIDs []string
			for _, c := range h.fake.called("RevokeLease") {
				r := c.req.(*ztbrokerv1.RevokeLeaseRequest)
				if r.GetReason() != "job done" {
					t.Errorf("reason = %q", r.GetReason())
				}
				gotIDs = append(gotIDs, r.GetId())
			}
			if diff := cmp.Diff(tc.wantIDs, gotIDs); diff != "" {
				t.Errorf("revoked (-want +got):\n%s", diff)
			}
			if !strings.Contains(h.stdout.String(), fmt.Sprintf("revoked %d leases labelled", len(tc.wantIDs))) {
				t.Errorf("stdout %q lacks the summary", h.stdout)
			}
		})
	}
}

func TestRevokeByLabelReportsPartialFailure(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fb := &fakeBroker{listLeases: pagedLeases(runLeases(now))}
	fb.revoke = func(ctx context.Context, r *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
		if r.GetId() == "l3" {
			return nil, status.Error(codes.FailedPrecondition, "the lease is not in a state that allows this")
		}
		return okRevoke(ctx, r)
	}
	h := newHarness(t, fb)
	code := Token(context.Background(), []string{"revoke", "--label", "run_id=42"}, h.env)
	if code != ExitRejected {
		t.Errorf("exit %d, want %d", code, ExitRejected)
	}
	want := "broker: 1 of 3 matching leases not revoked; first failure: revoke lease l3: " +
		"failed precondition: the lease is not in a state that allows this\n"
	if diff := cmp.Diff(want, h.stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if n := len(fb.called("RevokeLease")); n != 3 {
		t.Errorf("RevokeLease called %d times; one failure must not stop the rest", n)
	}
}

func TestLeaseCommands(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fb := &fakeBroker{
		getLease: func(_ context.Context, r *ztbrokerv1.GetLeaseRequest) (*ztbrokerv1.GetLeaseResponse, error) {
			if r.GetId() != "l1" {
				return nil, status.Error(codes.NotFound, "lease not found")
			}
			return &ztbrokerv1.GetLeaseResponse{Lease: runLeases(now)[0]}, nil
		},
		renew: func(_ context.Context, r *ztbrokerv1.RenewLeaseRequest) (*ztbrokerv1.RenewLeaseResponse, error) {
			l := activeLease(now, r.GetId())
			l.ExpireTime.Seconds += int64(r.GetTtl().AsDuration().Seconds())
			return &ztbrokerv1.RenewLeaseResponse{Lease: l}, nil
		},
		revoke: func(_ context.Context, r *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
			return &ztbrokerv1.RevokeLeaseResponse{Lease: &ztbrokerv1.Lease{Id: r.GetId(), State: ztbrokerv1.Lease_STATE_REVOKED},
				AlreadyRevoked: r.GetId() == "old"}, nil
		},
	}
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			args:     []string{"get", "--id", "l1"},
			wantCode: ExitOK,
			wantStdout: "id:          l1\npurpose:     deploy\nowner:       api_key:ci\nstate:       active\n" +
				"labels:      job=build,run_id=42\nissued:      2026-03-01T12:00:00Z\nexpires:     2026-03-01T12:30:00Z\n" +
				"max expires: 2026-03-01T14:00:00Z\n",
		},
		{
			args:       []string{"get", "--id", "nope"},
			wantCode:   ExitNotFound,
			wantStderr: "broker: get lease nope: not found: lease not found\n",
		},
		{
			args:       []string{"renew", "--id", "l1", "--ttl", "1h"},
			wantCode:   ExitOK,
			wantStdout: "lease l1 expires at 2026-03-01T13:30:00Z (at the latest 2026-03-01T14:00:00Z)\n",
		},
		{args: []string{"revoke", "--id", "l1"}, wantCode: ExitOK, wantStdout: "revoked lease l1\n"},
		{args: []string{"revoke", "--id", "old"}, wantCode: ExitOK, wantStdout: "lease old had already ended (revoked)\n"},
		{
			args:       []string{"revoke"},
			wantCode:   ExitUsage,
			wantStderr: "broker: token revoke: give exactly one of --id or --label\n",
		},
		{
			args:       []string{"list", "--state", "gone"},
			wantCode:   ExitUsage,
			wantStderr: `broker: token list: --state "gone" is not one of pending, active, revoking, revoked, failed, revoke_failed` + "\n",
		},
		{
			args:       []string{"frobnicate"},
			wantCode:   ExitUsage,
			wantStderr: `broker: token: unknown command "frobnicate" (see broker token --help)` + "\n",
		},
		{
			args:       []string{"get", "--id", "l1", "extra"},
			wantCode:   ExitUsage,
			wantStderr: `broker: token get: unexpected argument "extra" (see --help)` + "\n",
		},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, fb)
			if code := Token(context.Background(), tc.args, h.env); code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantStdout, h.stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStderr, h.stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}
