package server_test

import (
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// TestExpiry lets the revocation worker end short leases on both
// upstreams. The wait is bounded and ends as soon as the worker acts.
func TestExpiry(t *testing.T) {
	t.Parallel()
	h := setup(t)
	for _, purpose := range []string{purposeNC, purposeLegacy} {
		t.Run(purpose, func(t *testing.T) {
			t.Parallel()
			// Its own deadline: a parallel subtest may wait a while for a slot.
			ctx := testContext(t)
			issued, err := grpcAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purpose, Ttl: durationpb.New(time.Second)})
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			id := issued.GetLease().GetId()
			deadline := time.Now().Add(15 * time.Second)
			var state, reason string
			for {
				state, reason, _ = h.dbLease(t, id)
				if state == "revoked" || time.Now().After(deadline) {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
			if state != "revoked" || reason != "expired" {
				t.Fatalf("lease is %s (reason %q), want revoked (expired)", state, reason)
			}
			if code := h.emu.TryToken(ctx, issued.GetAuthScheme(), issued.GetToken()); code != http.StatusUnauthorized {
				t.Errorf("expired token: emulator answered %d, want 401", code)
			}
			got, err := grpcAPI{h}.get(ctx, h.keyA, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKED || got.GetLease().GetRevokeReason() != "expired" {
				t.Errorf("GetLease: state %s reason %q", got.GetLease().GetState(), got.GetLease().GetRevokeReason())
			}
		})
	}
}
