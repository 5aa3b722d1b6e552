package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func TestLifecycle(t *testing.T) {
	t.Parallel()
	h := setup(t)
	for _, a := range h.apis() {
		for _, purpose := range []string{purposeNC, purposeLegacy} {
			t.Run(a.name()+"/"+purpose, func(t *testing.T) {
				t.Parallel()
				lifecycle(t, h, a, purpose)
			})
		}
	}
}

func lifecycle(t *testing.T, h *harness, a api, purpose string) {
	ctx := testContext(t)
	run := a.name() + "-" + purpose
	labels := map[string]string{"run": run}

	// A second lease of the same caller and purpose, so paging and the
	// filters have something to skip.
	other, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purpose, Labels: map[string]string{"run": run + "-other"}})
	if err != nil {
		t.Fatalf("issue other: %v", err)
	}
	issued, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purpose, Ttl: durationpb.New(time.Minute), Labels: labels})
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	l := issued.GetLease()
	if issued.GetToken() == "" || issued.GetReplayed() || l.GetState() != ztbrokerv1.Lease_STATE_ACTIVE {
		t.Fatalf("issue answered token=%t replayed=%t state=%s", issued.GetToken() != "", issued.GetReplayed(), l.GetState())
	}
	if got, want := l.GetTokenSha256(), hash(issued.GetToken()); got != want {
		t.Errorf("lease token_sha256 = %s, want %s", got, want)
	}
	if code := h.emu.TryToken(ctx, issued.GetAuthScheme(), issued.GetToken()); code != http.StatusOK {
		t.Fatalf("fresh token: emulator answered %d, want 200", code)
	}

	got, err := a.get(ctx, h.keyA, l.GetId())
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(l.GetId(), got.GetLease().GetId()); diff != "" || got.GetLease().GetState() != ztbrokerv1.Lease_STATE_ACTIVE {
		t.Fatalf("get: id diff %s, state %s", diff, got.GetLease().GetState())
	}

	t.Run("list", func(t *testing.T) {
		// Paging one at a time over this caller's leases of the purpose
		// must visit both leases exactly once.
		seen := map[string]int{}
		req := &ztbrokerv1.ListLeasesRequest{PageSize: 1, Purpose: purpose}
		for page := 0; ; page++ {
			if page > 100 {
				t.Fatal("paging did not end")
			}
			res, err := a.list(ctx, h.keyA, req)
			if err != nil {
				t.Fatalf("list page %d: %v", page, err)
			}
			if len(res.GetLeases()) > 1 {
				t.Fatalf("page_size 1 returned %d leases", len(res.GetLeases()))
			}
			for _, x := range res.GetLeases() {
				if x.GetPurpose() != purpose {
					t.Errorf("purpose filter returned a %s lease", x.GetPurpose())
				}
				seen[x.GetId()]++
			}
			if res.GetNextPageToken() == "" {
				break
			}
			req.PageToken = res.GetNextPageToken()
		}
		for _, id := range []string{l.GetId(), other.GetLease().GetId()} {
			if seen[id] != 1 {
				t.Errorf("lease %s seen %d times while paging", id, seen[id])
			}
		}

		res, err := a.list(ctx, h.keyA, &ztbrokerv1.ListLeasesRequest{Label: "run=" + run, State: ztbrokerv1.Lease_STATE_ACTIVE})
		if err != nil {
			t.Fatalf("list by label: %v", err)
		}
		if diff := cmp.Diff([]string{l.GetId()}, ids(res.GetLeases())); diff != "" {
			t.Errorf("label+state filter (-want +got):\n%s", diff)
		}
		res, err = a.list(ctx, h.keyA, &ztbrokerv1.ListLeasesRequest{Label: "run=" + run, State: ztbrokerv1.Lease_STATE_REVOKED})
		if err != nil {
			t.Fatalf("list revoked: %v", err)
		}
		if len(res.GetLeases()) != 0 {
			t.Errorf("state filter revoked returned %v", ids(res.GetLeases()))
		}
	})

	// Renewal moves the expiry forward, then stops at max_expire_time,
	// which New Central's own key expiry lies beyond.
	renewed, err := a.renew(ctx, h.keyA, &ztbrokerv1.RenewLeaseRequest{Id: l.GetId(), Ttl: durationpb.New(2 * time.Minute)})
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if !renewed.GetLease().GetExpireTime().AsTime().After(l.GetExpireTime().AsTime()) {
		t.Errorf("renew did not move expire_time: %v -> %v", l.GetExpireTime().AsTime(), renewed.GetLease().GetExpireTime().AsTime())
	}
	capped, err := a.renew(ctx, h.keyA, &ztbrokerv1.RenewLeaseRequest{Id: l.GetId(), Ttl: durationpb.New(maxTTL)})
	if err != nil {
		t.Fatalf("renew to max: %v", err)
	}
	maxExpire := l.GetMaxExpireTime().AsTime()
	if got := capped.GetLease().GetExpireTime().AsTime(); !got.Equal(maxExpire) {
		t.Errorf("renew by max_ttl: expire_time %v, want capped at max_expire_time %v", got, maxExpire)
	}
	if _, _, upstreamExpire := h.dbLease(t, l.GetId()); upstreamExpire != nil && capped.GetLease().GetExpireTime().AsTime().After(*upstreamExpire) {
		t.Errorf("expire_time %v is past the upstream expiry %v", capped.GetLease().GetExpireTime().AsTime(), *upstreamExpire)
	}

	rv, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: l.GetId(), Reason: "done"})
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if rv.GetAlreadyRevoked() || rv.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKED {
		t.Fatalf("revoke: already=%t state=%s", rv.GetAlreadyRevoked(), rv.GetLease().GetState())
	}
	if code := h.emu.TryToken(ctx, issued.GetAuthScheme(), issued.GetToken()); code != http.StatusUnauthorized {
		t.Errorf("revoked token: emulator answered %d, want 401", code)
	}
	again, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: l.GetId()})
	if err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if !again.GetAlreadyRevoked() {
		t.Error("second revoke: already_revoked = false")
	}
	if _, err := a.renew(ctx, h.keyA, &ztbrokerv1.RenewLeaseRequest{Id: l.GetId()}); err == nil {
		t.Error("renewing a revoked lease succeeded")
	} else {
		wantErr(t, err, codes.FailedPrecondition, http.StatusBadRequest)
	}
	if _, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: other.GetLease().GetId()}); err != nil {
		t.Fatalf("revoke other: %v", err)
	}
}

func ids(ls []*ztbrokerv1.Lease) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.GetId())
	}
	return out
}
