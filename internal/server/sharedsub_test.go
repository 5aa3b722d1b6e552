package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// The shared-subject tests reproduce three workflows of one GitHub branch:
// A's rule grants two hours, B's five minutes, C has none. They share the
// token's sub, as every workflow of a branch does.
const (
	purposeShared = "shared"
	sharedSub     = "repo:acme/infra:ref:refs/heads/main"
	workflowA     = "acme/infra/.github/workflows/a.yml@refs/heads/main"
	workflowB     = "acme/infra/.github/workflows/b.yml@refs/heads/main"
	workflowC     = "acme/infra/.github/workflows/c.yml@refs/heads/main"
)

var sharedPurpose = fmt.Sprintf(`  - name: %s
    default_ttl: 15m
    max_ttl: 2h
    upstream: {kind: new_central, service_account_id: %q}
    allow:
      rules:
        - name: workflow-a
          expr: 'claims.job_workflow_ref == "%s"'
          max_ttl: 2h
        - name: workflow-b
          expr: 'claims.job_workflow_ref == "%s"'
          max_ttl: 5m
`, purposeShared, emulator.DefaultServiceAccount, workflowA, workflowB)

// githubYAML trusts the fake IdP as the github preset, with the preset's
// owner claims or, when owners is set, those.
func (f *fakeIdP) githubYAML(owners string) string {
	y := fmt.Sprintf(`  oidc:
    audience: %s
    issuers:
      - preset: github
        issuer_url: %q
        ca_file: %q
`, idpAudience, f.srv.URL, f.caFile)
	if owners != "" {
		y += "        owner_claims: " + owners + "\n"
	}
	return y
}

func (f *fakeIdP) workflow(t *testing.T, ref string) string {
	return f.token(t, sharedSub, map[string]any{"job_workflow_ref": ref})
}

// TestSharedSubjectOwnersApart: with the preset's owner claims, workflows
// B and C cannot reach A's lease through its idempotency key, renewal or
// revocation, although their tokens carry A's sub.
func TestSharedSubjectOwnersApart(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	h := setup(t, withYAML("", idp.githubYAML(""), sharedPurpose))
	ctx := testContext(t)
	a, b, c := idp.workflow(t, workflowA), idp.workflow(t, workflowB), idp.workflow(t, workflowC)

	for _, api := range h.apis() {
		t.Run(api.name(), func(t *testing.T) {
			t.Parallel()
			key := "gha-derived-" + api.name()
			resA, err := api.issue(ctx, a, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, Ttl: durationpb.New(90 * time.Minute), IdempotencyKey: key})
			if err != nil {
				t.Fatalf("A issues: %v", err)
			}
			la := resA.GetLease()
			if want := "oidc:github/sub=" + sharedSub + "&job_workflow_ref=" + workflowA; la.GetOwner() != want {
				t.Errorf("A's lease owner = %q, want %q", la.GetOwner(), want)
			}
			if la.GetAdmittedBy() != "workflow-a" || la.GetGrantedMaxTtl().AsDuration() != 2*time.Hour {
				t.Errorf("A's lease records admitted_by %q, granted_max_ttl %v; want workflow-a, 2h", la.GetAdmittedBy(), la.GetGrantedMaxTtl().AsDuration())
			}
			if la.GetOwnerClaims()["job_workflow_ref"] != workflowA {
				t.Errorf("A's lease owner claims = %v", la.GetOwnerClaims())
			}

			// B replays A's key: with A's TTL it is over its own cap; with
			// its own TTL it gets a lease of its own, never A's.
			_, err = api.issue(ctx, b, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, Ttl: durationpb.New(90 * time.Minute), IdempotencyKey: key})
			wantErr(t, err, codes.InvalidArgument, http.StatusBadRequest)
			resB, err := api.issue(ctx, b, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, Ttl: durationpb.New(5 * time.Minute), IdempotencyKey: key})
			if err != nil {
				t.Fatalf("B issues with A's key: %v", err)
			}
			if resB.GetLease().GetId() == la.GetId() || resB.GetToken() == resA.GetToken() || resB.GetReplayed() {
				t.Fatalf("B got A's lease or token through A's idempotency key")
			}

			// B cannot renew A's lease to A's cap; C cannot revoke it.
			_, err = api.renew(ctx, b, &ztbrokerv1.RenewLeaseRequest{Id: la.GetId(), Ttl: durationpb.New(2 * time.Hour)})
			wantErr(t, err, codes.NotFound, http.StatusNotFound)
			_, err = api.revoke(ctx, c, &ztbrokerv1.RevokeLeaseRequest{Id: la.GetId()})
			wantErr(t, err, codes.NotFound, http.StatusNotFound)
			_, err = api.get(ctx, c, la.GetId())
			wantErr(t, err, codes.NotFound, http.StatusNotFound)
			_, err = api.issue(ctx, c, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared})
			wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)

			if st, _, _ := h.dbLease(t, la.GetId()); st != "active" {
				t.Errorf("A's lease is %s after B's and C's attempts", st)
			}
			got, err := api.get(ctx, a, la.GetId())
			if err != nil || !got.GetLease().GetExpireTime().AsTime().Equal(la.GetExpireTime().AsTime()) {
				t.Errorf("A reads its lease: %v, %v; want it unchanged", got, err)
			}
		})
	}
}

// TestSharedOwnerRechecksAdmission configures sub alone as the owner, so
// that A, B and C own leases together, and shows that replay, renewal,
// reads and revocation still hold each caller to what the current policy
// admits it to.
func TestSharedOwnerRechecksAdmission(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	h := setup(t, withYAML("", idp.githubYAML("[sub]"), sharedPurpose))
	ctx := testContext(t)
	a, b, c := idp.workflow(t, workflowA), idp.workflow(t, workflowB), idp.workflow(t, workflowC)

	// Grouped so that the parallel subtests finish before the trail is read.
	t.Run("apis", func(t *testing.T) {
		for _, api := range h.apis() {
			t.Run(api.name(), func(t *testing.T) {
				t.Parallel()
				conflict := func(t *testing.T, err error, field string) {
					t.Helper()
					ae := wantErr(t, err, codes.FailedPrecondition, http.StatusConflict)
					if !containsWord(ae.Msg, field) {
						t.Errorf("refused replay says %q, which does not name %q", ae.Msg, field)
					}
					// The terms differ as a whole: the detail calls them admission.
					if field == "terms" {
						field = "admission"
					}
					wantReused(t, ae, field)
				}
				long, err := api.issue(ctx, a, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, Ttl: durationpb.New(90 * time.Minute), IdempotencyKey: "long-" + api.name()})
				if err != nil {
					t.Fatalf("A issues: %v", err)
				}
				dflt, err := api.issue(ctx, a, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, IdempotencyKey: "default-" + api.name(), Labels: map[string]string{"job": "a"}})
				if err != nil {
					t.Fatalf("A issues with the default TTL: %v", err)
				}

				// B's request differs in TTL: refused, naming the TTL.
				_, err = api.issue(ctx, b, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, Ttl: durationpb.New(5 * time.Minute), IdempotencyKey: "long-" + api.name()})
				conflict(t, err, "ttl")
				// B's request is the same as A's, but B is admitted by another
				// rule with a lower cap: refused all the same.
				_, err = api.issue(ctx, b, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, IdempotencyKey: "default-" + api.name(), Labels: map[string]string{"job": "a"}})
				conflict(t, err, "terms")
				// A's own retry with other labels or another purpose is refused
				// too, never answered with the first lease.
				_, err = api.issue(ctx, a, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, IdempotencyKey: "default-" + api.name(), Labels: map[string]string{"job": "b"}})
				conflict(t, err, "labels")
				// And A's exact retry still replays.
				again, err := api.issue(ctx, a, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, IdempotencyKey: "default-" + api.name(), Labels: map[string]string{"job": "a"}})
				if err != nil || !again.GetReplayed() || again.GetToken() != dflt.GetToken() {
					t.Fatalf("A's exact retry = %v, %v; want the replayed lease", again, err)
				}

				// B renews A's lease no further than B's own cap allows: five
				// minutes from the lease's creation, however long A's rule
				// would let it run.
				short, err := api.issue(ctx, a, &ztbrokerv1.IssueTokenRequest{Purpose: purposeShared, Ttl: durationpb.New(time.Minute)})
				if err != nil {
					t.Fatalf("A issues a short lease: %v", err)
				}
				sid := short.GetLease().GetId()
				_, err = api.renew(ctx, b, &ztbrokerv1.RenewLeaseRequest{Id: sid, Ttl: durationpb.New(2 * time.Hour)})
				wantErr(t, err, codes.InvalidArgument, http.StatusBadRequest)
				renewed, err := api.renew(ctx, b, &ztbrokerv1.RenewLeaseRequest{Id: sid, Ttl: durationpb.New(5 * time.Minute)})
				if err != nil {
					t.Fatalf("B renews within its cap: %v", err)
				}
				if got, limit := renewed.GetLease().GetExpireTime().AsTime(), h.createdAt(t, sid).Add(5*time.Minute); got.After(limit) {
					t.Errorf("B renewed A's lease to %v, past B's cap at %v", got, limit)
				}
				lid := long.GetLease().GetId()

				// C is admitted by no rule: it can neither read, renew nor
				// revoke the leases it shares an owner with.
				_, err = api.get(ctx, c, lid)
				wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
				_, err = api.renew(ctx, c, &ztbrokerv1.RenewLeaseRequest{Id: lid})
				wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
				_, err = api.revoke(ctx, c, &ztbrokerv1.RevokeLeaseRequest{Id: lid})
				wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
				if st, _, _ := h.dbLease(t, lid); st != "active" {
					t.Errorf("A's lease is %s after C's attempts", st)
				}

				// A may still renew up to its rule's two hours.
				if _, err := api.renew(ctx, a, &ztbrokerv1.RenewLeaseRequest{Id: lid, Ttl: durationpb.New(2 * time.Hour)}); err != nil {
					t.Errorf("A renews its lease: %v", err)
				}
			})
		}
	})

	// Every refused read, renewal and revocation by C is in the trail.
	ev, err := grpcAPI{h}.audit(ctx, h.keyRoot, &ztbrokerv1.ListAuditEventsRequest{Action: "deny", PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, e := range ev.GetEvents() {
		ops[e.GetReason()]++
	}
	for _, op := range []string{"read", "renew", "revoke"} {
		if n := ops["no rule admitted the caller to "+op]; n != 2 {
			t.Errorf("%d deny events for %s, want one per transport; all: %v", n, op, ops)
		}
	}
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i == 0 || s[i-1] == ' ') && (i+len(w) == len(s) || s[i+len(w)] == ' ' || s[i+len(w)] == ';') {
			return true
		}
	}
	return false
}

// createdAt reads when a lease was created, which the API does not show.
func (h *harness) createdAt(t *testing.T, id string) time.Time {
	t.Helper()
	var at time.Time
	if err := h.db.QueryRow(t.Context(), `SELECT created_at FROM leases WHERE id = $1`, id).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at
}

// wantReused checks the ErrorInfo a refused replay carries: reason
// IDEMPOTENCY_KEY_REUSED and the differing field in its metadata.
func wantReused(t *testing.T, ae *apiError, field string) {
	t.Helper()
	if ae.Reason != "IDEMPOTENCY_KEY_REUSED" || ae.Metadata["field"] != field {
		t.Errorf("refused replay carries ErrorInfo reason %q metadata %v; want IDEMPOTENCY_KEY_REUSED with field %q", ae.Reason, ae.Metadata, field)
	}
}
