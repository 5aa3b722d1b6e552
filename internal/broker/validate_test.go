package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func manyLabels(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

const keyPattern = `^[a-z0-9]([a-z0-9_.\-/]{0,62})$`

func TestIssueValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		labels map[string]string
		idem   string
		msg    string // empty: accepted
	}{
		{name: "at the label limit", labels: manyLabels(maxLabels)},
		{name: "longest key", labels: map[string]string{"a" + strings.Repeat("b", 62): "v"}},
		{name: "key with every allowed character", labels: map[string]string{"a0_.-/z": "v"}},
		{name: "longest value", labels: map[string]string{"k": strings.Repeat("v", maxLabelValueLen)}},
		{name: "empty value", labels: map[string]string{"k": ""}},
		{name: "longest idempotency key", idem: strings.Repeat("i", maxIdemKeyLen)},
		{
			name: "too many labels", labels: manyLabels(maxLabels + 1),
			msg: "at most 32 labels are allowed, got 33",
		},
		{
			name: "key too long", labels: map[string]string{"a" + strings.Repeat("b", 63): "v"},
			msg: `label key "a` + strings.Repeat("b", 63) + `" must match ` + keyPattern,
		},
		{
			name: "key with capitals", labels: map[string]string{"Team": "v"},
			msg: `label key "Team" must match ` + keyPattern,
		},
		{
			name: "key starting with punctuation", labels: map[string]string{"_team": "v"},
			msg: `label key "_team" must match ` + keyPattern,
		},
		{
			name: "empty key", labels: map[string]string{"": "v"},
			msg: `label key "" must match ` + keyPattern,
		},
		{
			name: "very long bad key is truncated", labels: map[string]string{strings.Repeat("X", 100): "v"},
			msg: `label key "` + strings.Repeat("X", 70) + `…" must match ` + keyPattern,
		},
		{
			name: "value too long", labels: map[string]string{"k": strings.Repeat("v", maxLabelValueLen+1)},
			msg: `label "k": value must be valid UTF-8 of at most 256 bytes`,
		},
		{
			name: "value not UTF-8", labels: map[string]string{"k": "\xff"},
			msg: `label "k": value must be valid UTF-8 of at most 256 bytes`,
		},
		{
			name: "idempotency key too long", idem: strings.Repeat("i", maxIdemKeyLen+1),
			msg: "idempotency_key must be valid UTF-8 of at most 200 bytes",
		},
		{
			name: "idempotency key not UTF-8", idem: "key-\xc3",
			msg: "idempotency_key must be valid UTF-8 of at most 200 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{
				Purpose: purposeNC, Labels: tt.labels, IdempotencyKey: tt.idem,
			})
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("IssueToken: %v", err)
				}
				if diff := cmp.Diff(tt.labels, b.lease(t, resp.GetLease().GetId()).Labels); len(tt.labels) > 0 && diff != "" {
					t.Errorf("stored labels (-want +got):\n%s", diff)
				}
				return
			}
			wantStatus(t, err, codes.InvalidArgument, tt.msg)
			if n := len(b.leases(t)); n != 0 {
				t.Errorf("an invalid request wrote %d leases", n)
			}
			if n := len(b.tokens()); n != 0 {
				t.Errorf("an invalid request minted %d tokens", n)
			}
		})
	}
}

// TestLeaseIDValidation sends malformed ids to every RPC that takes one.
func TestLeaseIDValidation(t *testing.T) {
	t.Parallel()
	rpcs := []struct {
		name string
		call func(b *bench, t *testing.T, id string) error
	}{
		{"GetLease", func(b *bench, t *testing.T, id string) error {
			_, err := b.svc.GetLease(as(t, alice), &ztbrokerv1.GetLeaseRequest{Id: id})
			return err
		}},
		{"RenewLease", func(b *bench, t *testing.T, id string) error {
			_, err := b.svc.RenewLease(as(t, alice), &ztbrokerv1.RenewLeaseRequest{Id: id})
			return err
		}},
		{"RevokeLease", func(b *bench, t *testing.T, id string) error {
			_, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: id})
			return err
		}},
		{"ForgetLease", func(b *bench, t *testing.T, id string) error {
			_, err := b.svc.ForgetLease(as(t, root), &ztbrokerv1.ForgetLeaseRequest{Id: id, Reason: "gone"})
			return err
		}},
	}
	ids := []struct {
		name, id string
		code     codes.Code
		msg      string
	}{
		{"empty", "", codes.InvalidArgument, "id is required"},
		// Too long to be an id: not worth a store lookup, and not echoed.
		{"too long", strings.Repeat("a", 65), codes.NotFound, "lease not found"},
		{"unknown", "0190a000-0000-7000-8000-000000000000", codes.NotFound, `lease "0190a000-0000-7000-8000-000000000000" not found`},
		{"64 bytes, unknown", strings.Repeat("b", 64), codes.NotFound, `lease "` + strings.Repeat("b", 64) + `" not found`},
	}
	for _, rpc := range rpcs {
		for _, id := range ids {
			t.Run(rpc.name+"/"+id.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				wantStatus(t, rpc.call(b, t, id.id), id.code, id.msg)
			})
		}
	}
}

func TestRevokeReasonValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, reason string
		ok           bool
	}{
		{"longest", strings.Repeat("r", maxReasonLen), true},
		{"too long", strings.Repeat("r", maxReasonLen+1), false},
		{"not UTF-8", "bad \xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			if err != nil {
				t.Fatal(err)
			}
			id := resp.GetLease().GetId()
			_, err = b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: tt.reason})
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if got := b.lease(t, id).RevokeReason; got != tt.reason {
					t.Errorf("reason %q, want %q", got, tt.reason)
				}
				return
			}
			wantStatus(t, err, codes.InvalidArgument, "reason must be valid UTF-8 of at most 500 bytes")
			if got := b.lease(t, id).State; got != "active" {
				t.Errorf("an invalid revoke left the lease %s", got)
			}
		})
	}
}

func TestListLeasesValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  *ztbrokerv1.ListLeasesRequest
		code codes.Code
		msg  string
	}{
		{"negative page size", &ztbrokerv1.ListLeasesRequest{PageSize: -1}, codes.InvalidArgument, "page_size must not be negative"},
		{"unknown state", &ztbrokerv1.ListLeasesRequest{State: 99}, codes.InvalidArgument, "unknown state 99"},
		{
			"label filter without =", &ztbrokerv1.ListLeasesRequest{Label: "team"},
			codes.InvalidArgument, `label filter must be key=value with a valid key, got "team"`,
		},
		{
			"label filter with a bad key", &ztbrokerv1.ListLeasesRequest{Label: "Team=x"},
			codes.InvalidArgument, `label filter must be key=value with a valid key, got "Team=x"`,
		},
		{
			"long label filter is truncated", &ztbrokerv1.ListLeasesRequest{Label: strings.Repeat("Z", 80)},
			codes.InvalidArgument, `label filter must be key=value with a valid key, got "` + strings.Repeat("Z", 70) + `…"`,
		},
		{
			"page token too long", &ztbrokerv1.ListLeasesRequest{PageToken: strings.Repeat("t", 513)},
			codes.InvalidArgument, "page_token must be valid UTF-8 of at most 512 bytes",
		},
		// The store's own complaint reaches the caller as the fixed text.
		{"malformed page token", &ztbrokerv1.ListLeasesRequest{PageToken: "!!!"}, codes.InvalidArgument, "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.svc.ListLeases(as(t, alice), tt.req)
			wantStatus(t, err, tt.code, tt.msg)
		})
	}
}

func TestListLeasesFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	issue := func(purpose string, labels map[string]string) string {
		t.Helper()
		resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purpose, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetLease().GetId()
	}
	a := issue(purposeNC, map[string]string{"team": "net"})
	c := issue(purposeNC, map[string]string{"team": "ops", "empty": ""})
	d := issue(purposeLegacy, nil)
	if _, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: d}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		req  *ztbrokerv1.ListLeasesRequest
		want []string
	}{
		{"everything, newest first", &ztbrokerv1.ListLeasesRequest{}, []string{d, c, a}},
		{"by purpose", &ztbrokerv1.ListLeasesRequest{Purpose: purposeNC}, []string{c, a}},
		{"by state", &ztbrokerv1.ListLeasesRequest{State: ztbrokerv1.Lease_STATE_REVOKED}, []string{d}},
		{"by label", &ztbrokerv1.ListLeasesRequest{Label: "team=net"}, []string{a}},
		{"by label with = in the value", &ztbrokerv1.ListLeasesRequest{Label: "team=net=x"}, nil},
		{"by label with an empty value", &ztbrokerv1.ListLeasesRequest{Label: "empty="}, []string{c}},
		{"huge page size is capped, not refused", &ztbrokerv1.ListLeasesRequest{PageSize: 1 << 30}, []string{d, c, a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := b.svc.ListLeases(as(t, alice), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, leaseIDs(resp.GetLeases())); diff != "" {
				t.Errorf("leases (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		var got []string
		token := ""
		for range 4 {
			resp, err := b.svc.ListLeases(as(t, alice), &ztbrokerv1.ListLeasesRequest{PageSize: 2, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, leaseIDs(resp.GetLeases())...)
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		if diff := cmp.Diff([]string{d, c, a}, got); diff != "" {
			t.Errorf("leases over pages (-want +got):\n%s", diff)
		}
	})
}

func TestPageSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int32
		want int
		ok   bool
	}{
		{-1, 0, false},
		{0, defaultPageSize, true},
		{1, 1, true},
		{maxPageSize, maxPageSize, true},
		{maxPageSize + 1, maxPageSize, true},
	}
	for _, tt := range tests {
		got, err := pageSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("pageSize(%d) = %d, %v; want %d, ok=%t", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
