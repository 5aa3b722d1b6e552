package server_test

import (
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// misroutedDelete points the New Central key delete at a route Central
// does not have, which its catch-all answers 404 with a JSON message: the
// shape a real "no such key" might take.
func misroutedDelete() option {
	return withNewCentralYAML("    paths: {delete_key: \"/api/v2/apikeys/{id}\"}\n")
}

// TestMisroutedDeleteIsNotRevoked follows leases whose key delete hits a
// route-level 404, through an explicit RevokeLease on both transports and
// through the revoker at expiry: none is marked revoked, each records the
// failed attempt, and every key still works upstream.
func TestMisroutedDeleteIsNotRevoked(t *testing.T) {
	t.Parallel()
	h := setup(t, misroutedDelete())
	ctx := testContext(t)

	alive := func(t *testing.T, issued *ztbrokerv1.IssueTokenResponse) {
		t.Helper()
		if code := h.emu.TryToken(ctx, issued.GetAuthScheme(), issued.GetToken()); code != http.StatusOK {
			t.Errorf("the key answers %d; want it alive, since nothing deleted it", code)
		}
	}
	// failed waits until the lease records a failed revocation attempt
	// and checks it is not revoked.
	failed := func(t *testing.T, id string) {
		t.Helper()
		for {
			var state, lastErr string
			var attempts int
			err := h.db.QueryRow(ctx, `SELECT state::text, revoke_attempts, last_error FROM leases WHERE id = $1`, id).Scan(&state, &attempts, &lastErr)
			if err != nil {
				t.Fatal(err)
			}
			if state == "revoked" {
				t.Fatalf("lease %s is revoked although its key was never deleted (last error %q)", id, lastErr)
			}
			if attempts > 0 {
				if state != "revoking" && state != "revoke_failed" {
					t.Errorf("lease %s is %s after a failed attempt, want revoking or revoke_failed", id, state)
				}
				return
			}
			waitBriefly(ctx)
			if ctx.Err() != nil {
				t.Fatalf("lease %s recorded no revocation attempt (state %s)", id, state)
			}
		}
	}

	for _, a := range h.apis() {
		t.Run("explicit/"+a.name(), func(t *testing.T) {
			t.Parallel()
			issued, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			if err != nil {
				t.Fatal(err)
			}
			id := issued.GetLease().GetId()
			rv, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: "done"})
			if err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if st := rv.GetLease().GetState(); st == ztbrokerv1.Lease_STATE_REVOKED || rv.GetAlreadyRevoked() {
				t.Errorf("revoke answered %s (already %t) for a key that was never deleted", st, rv.GetAlreadyRevoked())
			}
			failed(t, id)
			got, err := a.get(ctx, h.keyA, id)
			if err != nil {
				t.Fatal(err)
			}
			if st := got.GetLease().GetState(); st == ztbrokerv1.Lease_STATE_REVOKED {
				t.Errorf("GetLease says %s", st)
			}
			alive(t, issued)
		})
	}
	t.Run("revoker", func(t *testing.T) {
		t.Parallel()
		issued, err := grpcAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Ttl: durationpb.New(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		failed(t, issued.GetLease().GetId())
		alive(t, issued)
	})
	t.Cleanup(func() {
		if n := h.emu.Count(emulator.RouteUnhandled, http.StatusNotFound); n < 3 {
			t.Errorf("the misrouted delete was answered 404 %d times, want at least one per lease", n)
		}
	})
}
