package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

const purposeRelease = "release"

// releasePurpose admits OIDC callers whose ref is ref.
func releasePurpose(ref string) string {
	return fmt.Sprintf(`  - name: %s
    upstream: {kind: new_central, service_account_id: %q}
    allow:
      rules:
        - name: branch
          expr: 'claims.ref == "%s"'
`, purposeRelease, emulator.DefaultServiceAccount, ref)
}

// TestNoLongerAdmitted issues leases under one policy, then restarts the
// broker on the same database with a policy that no longer admits the
// caller: its replay, read, renewal and revocation are all refused with
// PERMISSION_DENIED, and the leases stay active.
func TestNoLongerAdmitted(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	ctx := testContext(t)
	tok := idp.token(t, "repo:acme/infra:ref:refs/heads/main", nil)

	before := setup(t, withYAML("", idp.authYAML(), releasePurpose("refs/heads/main")))
	issued := map[string]*ztbrokerv1.IssueTokenResponse{}
	for _, api := range before.apis() {
		res, err := api.issue(ctx, tok, &ztbrokerv1.IssueTokenRequest{Purpose: purposeRelease, IdempotencyKey: "readmit-" + api.name()})
		if err != nil {
			t.Fatalf("%s: issue under the first policy: %v", api.name(), err)
		}
		issued[api.name()] = res
	}
	if err := before.stop(); err != nil {
		t.Fatal(err)
	}

	after := setup(t, takingOver(before), withYAML("", idp.authYAML(), releasePurpose("refs/heads/release")))
	for _, api := range after.apis() {
		t.Run(api.name(), func(t *testing.T) {
			t.Parallel()
			first := issued[api.name()]
			id := first.GetLease().GetId()
			res, err := api.issue(ctx, tok, &ztbrokerv1.IssueTokenRequest{Purpose: purposeRelease, IdempotencyKey: "readmit-" + api.name()})
			if err == nil {
				t.Fatalf("replay by a caller no longer admitted answered lease %s (replayed %t)", res.GetLease().GetId(), res.GetReplayed())
			}
			wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
			_, err = api.get(ctx, tok, id)
			wantErrNoFatal(t, "get", err, codes.PermissionDenied, http.StatusForbidden)
			_, err = api.renew(ctx, tok, &ztbrokerv1.RenewLeaseRequest{Id: id})
			wantErrNoFatal(t, "renew", err, codes.PermissionDenied, http.StatusForbidden)
			_, err = api.revoke(ctx, tok, &ztbrokerv1.RevokeLeaseRequest{Id: id})
			wantErrNoFatal(t, "revoke", err, codes.PermissionDenied, http.StatusForbidden)
			// An admin sees it as it was: active, not renewed.
			now, err := grpcAPI{after}.get(ctx, after.keyRoot, id)
			if err != nil {
				t.Fatal(err)
			}
			if l := now.GetLease(); l.GetState() != ztbrokerv1.Lease_STATE_ACTIVE || !l.GetExpireTime().AsTime().Equal(first.GetLease().GetExpireTime().AsTime()) {
				t.Errorf("after the refused calls the lease is %v expiring %v; want active, expiring %v",
					l.GetState(), l.GetExpireTime().AsTime(), first.GetLease().GetExpireTime().AsTime())
			}
			if ll := after.logs.String(); strings.Contains(ll, first.GetToken()) {
				t.Error("the token appears in the log")
			}
		})
	}
}
