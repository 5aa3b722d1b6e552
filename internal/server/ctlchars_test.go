package server_test

import (
	"testing"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// TestTabInReason: a reason is text for people, where a tab is harmless,
// so a revocation with one is accepted and its reason kept as written.
func TestTabInReason(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	for _, a := range h.apis() {
		t.Run(a.name(), func(t *testing.T) {
			t.Parallel()
			res, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			if err != nil {
				t.Fatal(err)
			}
			id := res.GetLease().GetId()
			reason := "done\tby " + a.name()
			if _, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: reason}); err != nil {
				t.Fatalf("revoke with a tab in the reason: %v", err)
			}
			if st, got, _ := h.dbLease(t, id); st != "revoked" || got != reason {
				t.Errorf("lease is %s with reason %q, want revoked with %q", st, got, reason)
			}
		})
	}
}
