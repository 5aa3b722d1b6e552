package server_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// TestAuditedClaimsAreSafeAndBounded sends denied requests whose kept
// claims hold a NUL, a terminal escape and 9 KB: each denial still gets
// its audit row (a NUL used to make the insert fail), with control
// characters escaped and the long value cut to the limit with a marker,
// in the trail and in its log line alike.
func TestAuditedClaimsAreSafeAndBounded(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	h := setup(t, withYAML("", idp.authYAML(), deployPurpose))
	ctx := testContext(t)
	long := strings.Repeat("r", 9000)
	for _, a := range h.apis() {
		t.Run(a.name(), func(t *testing.T) {
			t.Parallel()
			sub := "audit-claims-" + a.name()
			for _, claims := range []map[string]any{
				{"repository": "acme/\x00infra"},
				{"repository": "acme/infra", "ref": "refs/heads/\x1b[31mred"},
				{"ref": long},
			} {
				_, err := a.issue(ctx, idp.token(t, sub, claims), issueWith(purposeDeploy, 0, nil))
				wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
			}
			ev, err := grpcAPI{h}.audit(ctx, h.keyRoot, &ztbrokerv1.ListAuditEventsRequest{
				Action: "deny", Actor: "oidc:" + idpName + "/" + sub, PageSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(ev.GetEvents()); n != 3 {
				t.Fatalf("%d deny events, want 3 (one per denial)", n)
			}
			// Newest first.
			got := []string{ev.GetEvents()[2].GetActorClaims()["repository"], ev.GetEvents()[1].GetActorClaims()["ref"]}
			want := []string{`acme/\u0000infra`, `refs/heads/\u001b[31mred`}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("stored claim = %q, want %q", got[i], want[i])
				}
			}
			cut := ev.GetEvents()[0].GetActorClaims()["ref"]
			if wantCut := strings.Repeat("r", 256) + "…[truncated 8744 bytes]"; cut != wantCut {
				t.Errorf("long claim stored as %d bytes %q…, want 256 bytes and the marker", len(cut), cut[:min(len(cut), 40)])
			}
		})
	}
	t.Cleanup(func() {
		logs := h.logs.String()
		if strings.Contains(logs, long[:1000]) {
			t.Error("the log holds the 9 KB claim uncut")
		}
		// JSON shows a raw ESC as \u001b, and the escaped text as \\u001b.
		if strings.Count(logs, `\u001b[31m`) != strings.Count(logs, `\\u001b[31m`) {
			t.Error("the log holds a raw terminal escape from a claim")
		}
	})
}

// TestRunawayRuleDenies runs the reproduced rule, a replace of a claim by
// itself, against a 9,000-character claim (over the claim cap: no rule is
// evaluated) and a 1,000-character one (under it: the cost limit stops the
// rule). Both are denied, over both transports.
func TestRunawayRuleDenies(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	purpose := `  - name: runaway
    upstream: {kind: new_central, service_account_id: "` + emulator.DefaultServiceAccount + `"}
    allow:
      rules:
        - name: replace
          expr: 'claims.repository.replace("a", claims.repository).size() > 0'
`
	h := setup(t, withYAML("", idp.authYAML(), purpose))
	ctx := testContext(t)
	for _, a := range h.apis() {
		for _, n := range []int{9000, 1000} {
			tok := idp.token(t, "runaway", map[string]any{"repository": strings.Repeat("a", n)})
			_, err := a.issue(ctx, tok, &ztbrokerv1.IssueTokenRequest{Purpose: "runaway"})
			wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
		}
		// The rule does admit an ordinary caller.
		if _, err := a.issue(ctx, idp.token(t, "ordinary", nil), &ztbrokerv1.IssueTokenRequest{Purpose: "runaway"}); err != nil {
			t.Errorf("%s: an ordinary claim: %v", a.name(), err)
		}
	}
}
