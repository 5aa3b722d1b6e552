package server_test

import (
	"net/http"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func TestIsolation(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	issue := func(key, purpose string) string {
		r, err := grpcAPI{h}.issue(ctx, key, &ztbrokerv1.IssueTokenRequest{Purpose: purpose})
		if err != nil {
			t.Fatalf("issue: %v", err)
		}
		return r.GetLease().GetId()
	}
	aliceIDs := []string{issue(h.keyA, purposeNC), issue(h.keyA, purposeLegacy)}
	bobIDs := []string{issue(h.keyB, purposeNC), issue(h.keyB, purposeLegacy)}

	listAll := func(t *testing.T, a api, key string) []string {
		var out []string
		req := &ztbrokerv1.ListLeasesRequest{PageSize: 1}
		for range 20 {
			res, err := a.list(ctx, key, req)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			out = append(out, ids(res.GetLeases())...)
			if req.PageToken = res.GetNextPageToken(); req.PageToken == "" {
				break
			}
		}
		slices.Sort(out)
		return out
	}
	for _, a := range h.apis() {
		t.Run(a.name(), func(t *testing.T) {
			if got, want := listAll(t, a, h.keyA), sorted(aliceIDs); !slices.Equal(got, want) {
				t.Errorf("alice lists %v, want %v", got, want)
			}
			if got, want := listAll(t, a, h.keyB), sorted(bobIDs); !slices.Equal(got, want) {
				t.Errorf("bob lists %v, want %v", got, want)
			}
			if got, want := listAll(t, a, h.keyRoot), sorted(append(slices.Clone(aliceIDs), bobIDs...)); !slices.Equal(got, want) {
				t.Errorf("admin lists %v, want %v", got, want)
			}
			for _, id := range bobIDs {
				_, err := a.get(ctx, h.keyA, id)
				wantErr(t, err, codes.NotFound, http.StatusNotFound)
				_, err = a.renew(ctx, h.keyA, &ztbrokerv1.RenewLeaseRequest{Id: id})
				wantErr(t, err, codes.NotFound, http.StatusNotFound)
				_, err = a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: id})
				wantErr(t, err, codes.NotFound, http.StatusNotFound)
				if _, err := a.get(ctx, h.keyRoot, id); err != nil {
					t.Errorf("admin get: %v", err)
				}
			}
		})
	}
	for _, id := range bobIDs {
		if st, _, _ := h.dbLease(t, id); st != "active" {
			t.Errorf("bob's lease %s is %s after alice's attempts", id, st)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
