package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

const purposeGitLab = "gitlab-ci"

var gitlabPurpose = fmt.Sprintf(`  - name: %s
    upstream: {kind: new_central, service_account_id: %q}
    allow:
      rules:
        - name: infra
          expr: 'claims.project_path == "acme/infra"'
`, purposeGitLab, emulator.DefaultServiceAccount)

// gitlabYAML trusts the fake IdP as the gitlab preset, with the preset's
// own owner claims.
func (f *fakeIdP) gitlabYAML() string {
	return fmt.Sprintf(`  oidc:
    audience: %s
    issuers:
      - preset: gitlab
        issuer_url: %q
        ca_file: %q
`, idpAudience, f.srv.URL, f.caFile)
}

// pipeline is a GitLab job token of project acme/infra on main, started
// by source, in pipeline pid.
func (f *fakeIdP) pipeline(t *testing.T, source, pid string) string {
	return f.token(t, "project_path:acme/infra:ref_type:branch:ref:main", map[string]any{
		"project_path": "acme/infra", "ref": "main", "pipeline_source": source,
		"pipeline_id": pid, "job_id": pid + "1",
	})
}

// TestGitLabOwners: the GitLab preset owns leases by project_path, ref
// and pipeline_source, so a scheduled pipeline cannot reach a push
// pipeline's lease through its idempotency key, a read or a revocation,
// while the next push pipeline of the same ref is the same owner.
func TestGitLabOwners(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	h := setup(t, withYAML("", idp.gitlabYAML(), gitlabPurpose))
	ctx := testContext(t)
	push, nextPush, sched := idp.pipeline(t, "push", "100"), idp.pipeline(t, "push", "101"), idp.pipeline(t, "schedule", "102")

	for _, api := range h.apis() {
		t.Run(api.name(), func(t *testing.T) {
			t.Parallel()
			key := "gitlab-derived-" + api.name()
			first, err := api.issue(ctx, push, &ztbrokerv1.IssueTokenRequest{Purpose: purposeGitLab, IdempotencyKey: key})
			if err != nil {
				t.Fatalf("push pipeline issues: %v", err)
			}
			lp := first.GetLease()
			if want := "oidc:gitlab/project_path=acme/infra&ref=main&pipeline_source=push"; lp.GetOwner() != want {
				t.Errorf("owner = %q, want %q", lp.GetOwner(), want)
			}

			other, err := api.issue(ctx, sched, &ztbrokerv1.IssueTokenRequest{Purpose: purposeGitLab, IdempotencyKey: key})
			if err != nil {
				t.Fatalf("scheduled pipeline issues with the push pipeline's key: %v", err)
			}
			if other.GetLease().GetId() == lp.GetId() || other.GetToken() == first.GetToken() || other.GetReplayed() {
				t.Fatal("a scheduled pipeline got the push pipeline's lease through its idempotency key")
			}
			_, err = api.get(ctx, sched, lp.GetId())
			wantErr(t, err, codes.NotFound, http.StatusNotFound)
			_, err = api.revoke(ctx, sched, &ztbrokerv1.RevokeLeaseRequest{Id: lp.GetId()})
			wantErr(t, err, codes.NotFound, http.StatusNotFound)
			if st, _, _ := h.dbLease(t, lp.GetId()); st != "active" {
				t.Errorf("the push pipeline's lease is %s after the scheduled pipeline's attempts", st)
			}

			// Pipeline and job ids change every run and do not split owners.
			again, err := api.issue(ctx, nextPush, &ztbrokerv1.IssueTokenRequest{Purpose: purposeGitLab, IdempotencyKey: key})
			if err != nil || !again.GetReplayed() || again.GetLease().GetId() != lp.GetId() {
				t.Fatalf("the next push pipeline's retry = %v, %v; want the first lease replayed", again, err)
			}
		})
	}
}

// TestReplayWithAnotherPurpose: an idempotency key used again for another
// purpose is refused with 409 and ErrorInfo IDEMPOTENCY_KEY_REUSED naming
// the purpose, over both transports.
func TestReplayWithAnotherPurpose(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	for _, api := range h.apis() {
		t.Run(api.name(), func(t *testing.T) {
			t.Parallel()
			key := "another-purpose-" + api.name()
			first, err := api.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: key})
			if err != nil {
				t.Fatal(err)
			}
			res, err := api.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeLegacy, IdempotencyKey: key})
			if err == nil {
				t.Fatalf("replay with another purpose answered lease %s", res.GetLease().GetId())
			}
			ae := wantErr(t, err, codes.FailedPrecondition, http.StatusConflict)
			if !containsWord(ae.Msg, "purpose;") && !containsWord(ae.Msg, "purpose") {
				t.Errorf("message %q does not name the purpose", ae.Msg)
			}
			wantReused(t, ae, "purpose")
			if ae.Metadata["lease_id"] != first.GetLease().GetId() {
				t.Errorf("metadata lease_id = %q, want %q", ae.Metadata["lease_id"], first.GetLease().GetId())
			}
			if n := h.activeLeases(t, purposeLegacy); n != 0 {
				t.Errorf("%d legacy leases after the refused replay", n)
			}
		})
	}
}
