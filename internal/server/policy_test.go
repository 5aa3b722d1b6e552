package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// TestOIDCPolicy runs the deploy purpose's CEL rule against real tokens:
// it admits main of acme/infra with the rule's lower TTL cap, refuses
// another ref without revealing the rule, and audits both with the
// caller's kept claims.
func TestOIDCPolicy(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	h := setup(t, withYAML("", idp.authYAML(), deployPurpose))

	for _, a := range h.fullAPIs() {
		t.Run(a.name(), func(t *testing.T) {
			t.Parallel()
			// Its own deadline: a parallel subtest may wait a while for a slot.
			ctx := testContext(t)
			sub := "repo:acme/infra:" + a.name()
			owner := "oidc:" + idpName + "/" + sub
			main := idp.token(t, sub, nil)
			feature := idp.token(t, sub, map[string]any{"ref": "refs/heads/feature"})

			res, err := a.issue(ctx, main, issueWith(purposeDeploy, 0, nil))
			if err != nil {
				t.Fatalf("issue from main: %v", err)
			}
			if res.GetToken() == "" || res.GetLease().GetOwner() != owner {
				t.Errorf("issue from main: lease owner %q, token set %t; want %q and a token",
					res.GetLease().GetOwner(), res.GetToken() != "", owner)
			}
			// The purpose allows 1h; the rule that admitted the caller 10m.
			_, err = a.issue(ctx, main, issueWith(purposeDeploy, 20*time.Minute, nil))
			ae := wantErr(t, err, codes.InvalidArgument, http.StatusBadRequest)
			if !strings.Contains(ae.Msg, "10m") {
				t.Errorf("ttl over the rule's cap: message %q does not name 10m", ae.Msg)
			}
			if _, err := a.issue(ctx, main, issueWith(purposeDeploy, 10*time.Minute, nil)); err != nil {
				t.Errorf("issue at the rule's cap: %v", err)
			}

			_, err = a.issue(ctx, feature, issueWith(purposeDeploy, 0, nil))
			ae = wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
			if !strings.Contains(ae.Msg, `"`+purposeDeploy+`"`) || !strings.Contains(ae.Msg, "no rule") {
				t.Errorf("denial %q does not name the purpose and say no rule admitted the caller", ae.Msg)
			}
			if leaked := containsAny(ae.Msg, []string{"refs/heads/main", "claims.", "acme/infra\"", deployRule}); len(leaked) > 0 {
				t.Errorf("denial %q reveals the rule: %q", ae.Msg, leaked)
			}

			ev, err := a.audit(ctx, h.keyRoot, &ztbrokerv1.ListAuditEventsRequest{Purpose: purposeDeploy, Actor: owner, PageSize: 50})
			if err != nil {
				t.Fatalf("list audit as admin: %v", err)
			}
			type row struct {
				Action, Result, Kind, Subject, LeaseID string
				Claims                                 map[string]string
			}
			var got []row
			for _, e := range ev.GetEvents() {
				got = append(got, row{e.GetAction(), e.GetResult(), e.GetActorKind(), e.GetActorSubject(), e.GetLeaseId(), e.GetActorClaims()})
			}
			claims := func(ref string) map[string]string {
				return map[string]string{"iss": idp.srv.URL, "sub": sub, "repository": "acme/infra", "ref": ref}
			}
			// Newest first; the second issue's lease id is not known here.
			want := []row{
				{"deny", "denied", "oidc", idpName + "/" + sub, "", claims("refs/heads/feature")},
				{"issue", "ok", "oidc", idpName + "/" + sub, "?", claims("refs/heads/main")},
				{"issue", "ok", "oidc", idpName + "/" + sub, res.GetLease().GetId(), claims("refs/heads/main")},
			}
			if len(got) == len(want) {
				got[1].LeaseID = "?"
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("audit trail (-want +got):\n%s", d)
			}
		})
	}
}

// TestAdminFromOIDC gives the admin role to an OIDC identity: it sees
// and bulk-revokes everyone's leases; an OIDC caller without the role
// cannot.
func TestAdminFromOIDC(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	const opsSub = "ops"
	h := setup(t, withYAML("", idp.authYAML(), deployPurpose), withAdmins("oidc:"+idpName+"/"+opsSub))
	ctx := testContext(t)
	ops := idp.token(t, opsSub, nil)
	runner := idp.token(t, "runner", nil)

	who, err := grpcAPI{h}.whoami(ctx, ops)
	if err != nil || !who.GetAdmin() {
		t.Fatalf("whoami as ops = %v, %v; want admin", who, err)
	}

	for _, a := range h.fullAPIs() {
		t.Run(a.name(), func(t *testing.T) {
			t.Parallel()
			// Its own deadline: a parallel subtest may wait a while for a slot.
			ctx := testContext(t)
			doomed, spared := "team=red-"+a.name(), "team=blue-"+a.name()
			label := func(kv string) map[string]string {
				k, v, _ := strings.Cut(kv, "=")
				return map[string]string{k: v}
			}
			var red []string
			for _, c := range []struct{ key, label string }{
				{h.keyA, doomed}, {h.keyA, doomed}, {h.keyB, doomed}, {h.keyA, spared},
			} {
				res, err := a.issue(ctx, c.key, issueWith(purposeNC, 0, label(c.label)))
				if err != nil {
					t.Fatalf("issue: %v", err)
				}
				if c.label == doomed {
					red = append(red, res.GetLease().GetId())
				}
			}
			redRes, err := a.issue(ctx, runner, issueWith(purposeDeploy, 0, label(doomed)))
			if err != nil {
				t.Fatalf("issue as runner: %v", err)
			}
			red = append(red, redRes.GetLease().GetId())

			list, err := a.list(ctx, ops, &ztbrokerv1.ListLeasesRequest{Label: doomed, PageSize: 50})
			if err != nil {
				t.Fatalf("list as ops: %v", err)
			}
			if d := cmp.Diff(sorted(red), sorted(ids(list.GetLeases()))); d != "" {
				t.Errorf("ops sees every owner's leases (-want +got):\n%s", d)
			}
			own, err := a.list(ctx, runner, &ztbrokerv1.ListLeasesRequest{Label: doomed, PageSize: 50})
			if err != nil || len(own.GetLeases()) != 1 {
				t.Errorf("runner lists %d leases (%v), want only its own", len(own.GetLeases()), err)
			}

			// A non-admin is refused before anything is looked at.
			_, err = a.revokeLeases(ctx, runner, &ztbrokerv1.RevokeLeasesRequest{Filter: &ztbrokerv1.LeaseFilter{Label: doomed}})
			wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
			_, err = a.audit(ctx, runner, &ztbrokerv1.ListAuditEventsRequest{})
			wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)

			filter := &ztbrokerv1.LeaseFilter{Label: doomed}
			dry, err := a.revokeLeases(ctx, ops, &ztbrokerv1.RevokeLeasesRequest{Filter: filter, DryRun: true, BatchSize: 3})
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if dry.GetDone() != 3 || dry.GetRemaining() != 1 {
				t.Errorf("dry run done=%d remaining=%d, want 3 and 1", dry.GetDone(), dry.GetRemaining())
			}
			for _, id := range red {
				if st, _, _ := h.dbLease(t, id); st != "active" {
					t.Errorf("after the dry run lease %s is %s, want active", id, st)
				}
			}

			var revoked []string
			for i, want := range []struct{ done, remaining int64 }{{3, 1}, {1, 0}} {
				res, err := a.revokeLeases(ctx, ops, &ztbrokerv1.RevokeLeasesRequest{Filter: filter, Reason: "incident", BatchSize: 3})
				if err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				if res.GetDone() != want.done || res.GetRemaining() != want.remaining {
					t.Errorf("batch %d: done=%d remaining=%d, want %d and %d", i, res.GetDone(), res.GetRemaining(), want.done, want.remaining)
				}
				for _, id := range res.GetSampleIds() {
					if st, _, _ := h.dbLease(t, id); st != "revoking" && st != "revoked" {
						t.Errorf("batch %d: lease %s is %s right after, want revoking or revoked", i, id, st)
					}
				}
				revoked = append(revoked, res.GetSampleIds()...)
			}
			if d := cmp.Diff(sorted(red), sorted(revoked)); d != "" {
				t.Errorf("revoked leases (-want +got):\n%s", d)
			}
			for _, id := range red {
				for {
					st, reason, _ := h.dbLease(t, id)
					if st == "revoked" {
						if reason != "incident" {
							t.Errorf("lease %s revoke reason %q, want incident", id, reason)
						}
						break
					}
					if ctx.Err() != nil {
						t.Fatalf("lease %s still %s", id, st)
					}
					waitBriefly(ctx)
				}
			}
			blue, err := a.list(ctx, ops, &ztbrokerv1.ListLeasesRequest{Label: spared, PageSize: 50})
			if err != nil || len(blue.GetLeases()) != 1 || blue.GetLeases()[0].GetState() != ztbrokerv1.Lease_STATE_ACTIVE {
				t.Errorf("spared leases = %v (%v), want one active", blue.GetLeases(), err)
			}
		})
	}
}

// TestActiveQuotaRetryInfo checks a caller refused by the active-lease
// limit is told when the first slot frees up: when the earliest of the
// counted leases expires.
func TestActiveQuotaRetryInfo(t *testing.T) {
	t.Parallel()
	const purpose = "quota-small"
	h := setup(t, withYAML("", "", `  - name: `+purpose+`
    default_ttl: 5m
    upstream: {kind: new_central, service_account_id: "`+emulator.DefaultServiceAccount+`"}
    allow: {api_keys: [alice]}
    quota: {max_active: 2}
`))
	ctx := testContext(t)
	if _, err := h.tb.IssueToken(as(ctx, h.keyA), issueWith(purpose, 3*time.Minute, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.tb.IssueToken(as(ctx, h.keyA), issueWith(purpose, 0, nil)); err != nil {
		t.Fatal(err)
	}
	// The 3m lease is first to expire, in a little under 3m.
	inRange := func(d time.Duration) bool { return d > 2*time.Minute && d <= 3*time.Minute }

	_, err := h.tb.IssueToken(as(ctx, h.keyA), issueWith(purpose, 0, nil))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("grpc: got %v, want RESOURCE_EXHAUSTED", err)
	}
	var info *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			info = ri
		}
	}
	if info == nil || !inRange(info.GetRetryDelay().AsDuration()) {
		t.Errorf("grpc: RetryInfo %v in %v, want a delay in (2m, 3m]", info, st.Details())
	}

	_, err = restAPI{h}.issue(ctx, h.keyA, issueWith(purpose, 0, nil))
	ae := wantErr(t, err, codes.ResourceExhausted, http.StatusTooManyRequests)
	secs, perr := strconv.Atoi(ae.RetryAfter)
	if perr != nil || !inRange(time.Duration(secs)*time.Second) {
		t.Errorf("rest: Retry-After = %q, want seconds in (120, 180]", ae.RetryAfter)
	}
}
