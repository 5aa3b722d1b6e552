package clientcmd

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func TestAdminRotateUpstreamKey(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	fb := &fakeBroker{rotate: func(_ context.Context, r *ztbrokerv1.RotateUpstreamKeyRequest) (*ztbrokerv1.RotateUpstreamKeyResponse, error) {
		if r.GetUpstream() != "new_central" {
			return nil, status.Error(codes.NotFound, `upstream "`+r.GetUpstream()+`" is not configured`)
		}
		return &ztbrokerv1.RotateUpstreamKeyResponse{Rotation: &ztbrokerv1.UpstreamKeyRotation{
			Id: "r1", Upstream: "new_central", State: "switched", OldKeyId: "k-old", NewKeyId: "k-new",
			NewKeyExpireTime: timestamppb.New(exp), OldKeyDeleteTime: timestamppb.New(exp.Add(-30 * 24 * time.Hour)),
		}}, nil
	}}
	h := newHarness(t, fb)
	if code := Admin(context.Background(), []string{"rotate-upstream-key"}, h.env); code != ExitUsage {
		t.Errorf("without --upstream: exit %d, want %d", code, ExitUsage)
	}
	if code := Admin(context.Background(), []string{"rotate-upstream-key", "--upstream", "new_central", "--reason", "leaked"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	want := "rotated the admin key of new_central: k-new is in use (expires 2026-09-01T12:00:00Z); k-old is deleted after 2026-08-02T12:00:00Z (rotation r1)\n"
	if diff := cmp.Diff(want, h.stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	calls := fb.called("RotateUpstreamKey")
	if len(calls) != 1 || calls[0].req.(*ztbrokerv1.RotateUpstreamKeyRequest).GetReason() != "leaked" {
		t.Errorf("calls = %v", calls)
	}
	if code := Admin(context.Background(), []string{"rotate-upstream-key", "--upstream", "nope"}, h.env); code != ExitNotFound {
		t.Errorf("unknown upstream: exit %d, want %d", code, ExitNotFound)
	}
}

func TestAdminUpstreams(t *testing.T) {
	t.Parallel()
	fb := &fakeBroker{upstreams: func(context.Context, *ztbrokerv1.ListUpstreamsRequest) (*ztbrokerv1.ListUpstreamsResponse, error) {
		return &ztbrokerv1.ListUpstreamsResponse{Upstreams: []*ztbrokerv1.UpstreamCredential{
			{Upstream: "new_central", Kind: "new_central", KeyId: "k1", Account: "sa", Source: "rotated",
				ExpireTime: timestamppb.New(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)), Warning: "expires soon"},
			{Upstream: "legacy", Kind: "legacy", Account: "u", Source: "config"},
		}}, nil
	}}
	h := newHarness(t, fb)
	if code := Admin(context.Background(), []string{"upstreams"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	want := "UPSTREAM     KIND         ADMIN KEY  ACCOUNT  SOURCE   EXPIRES               WARNING\n" +
		"new_central  new_central  k1         sa       rotated  2026-09-01T00:00:00Z  expires soon\n" +
		"legacy       legacy       -          u        config   never                 \n"
	if diff := cmp.Diff(want, h.stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}
