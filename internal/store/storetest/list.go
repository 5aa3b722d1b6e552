package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func testListLeases(t *testing.T, newStore NewStore) {
	s := newStore(t)
	var want []*lease.Lease
	for range 5 {
		want = append(want, active(t, s))
	}
	slices.Reverse(want) // newest first

	var got []*lease.Lease
	var pages int
	p := store.ListLeasesParams{PageSize: 2}
	for {
		res, err := s.ListLeases(ctx(t), p)
		if err != nil {
			t.Fatalf("ListLeases page %d: %v", pages, err)
		}
		pages++
		if len(res.Leases) > p.PageSize {
			t.Fatalf("page %d has %d leases, page size %d", pages, len(res.Leases), p.PageSize)
		}
		got = append(got, res.Leases...)
		if res.Next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p.After = res.Next
	}
	if pages != 3 {
		t.Errorf("5 leases in pages of 2 took %d pages, want 3", pages)
	}
	if d := cmp.Diff(want, got, leaseCmp); d != "" {
		t.Errorf("paged leases mismatch (-want +got):\n%s", d)
	}

	// An exact fit ends without an empty extra page.
	res, err := s.ListLeases(ctx(t), store.ListLeasesParams{PageSize: 5})
	if err != nil || len(res.Leases) != 5 || res.Next != "" {
		t.Errorf("ListLeases(PageSize 5) = %d leases, next %q, %v; want 5, no next", len(res.Leases), res.Next, err)
	}

	for _, p := range []store.ListLeasesParams{{PageSize: 0}, {PageSize: 2, After: "!!not a cursor!!"}} {
		_, err := s.ListLeases(ctx(t), p)
		wantErr(t, "ListLeases with a bad page size or cursor", err, errs.InvalidArgument)
	}
}

func testListLeasesFilters(t *testing.T, newStore NewStore) {
	s := newStore(t)
	a := active(t, s, withLabels("env", "prod", "team", "net"))
	b := active(t, s, withLabels("env", "dev"), withOwner("user:bob"))
	c := pending(t, s, withPurpose("backup"), withLabels("env", "prod"))
	d := revoking(t, s, t0, withPurpose("backup"))

	tests := []struct {
		name string
		p    store.ListLeasesParams
		want []*lease.Lease
	}{
		{"all", store.ListLeasesParams{}, []*lease.Lease{d, c, b, a}},
		{"owner", store.ListLeasesParams{Owner: "user:bob"}, []*lease.Lease{b}},
		{"purpose", store.ListLeasesParams{Purpose: "backup"}, []*lease.Lease{d, c}},
		{"state active", store.ListLeasesParams{State: lease.StateActive}, []*lease.Lease{b, a}},
		{"state revoking", store.ListLeasesParams{State: lease.StateRevoking}, []*lease.Lease{d}},
		{"label", store.ListLeasesParams{LabelKey: "env", LabelVal: "prod"}, []*lease.Lease{c, a}},
		{"label other value", store.ListLeasesParams{LabelKey: "env", LabelVal: "dev"}, []*lease.Lease{b}},
		{"label and purpose", store.ListLeasesParams{LabelKey: "env", LabelVal: "prod", Purpose: purpose}, []*lease.Lease{a}},
		{"label absent", store.ListLeasesParams{LabelKey: "team", LabelVal: "ops"}, nil},
		{"owner and state", store.ListLeasesParams{Owner: owner, State: lease.StatePending}, []*lease.Lease{c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.PageSize = 10
			res, err := s.ListLeases(ctx(t), tt.p)
			if err != nil {
				t.Fatalf("ListLeases: %v", err)
			}
			if d := cmp.Diff(ids(tt.want), ids(res.Leases)); d != "" {
				t.Errorf("ListLeases(%+v) ids (-want +got):\n%s", tt.p, d)
			}
			if res.Next != "" {
				t.Errorf("ListLeases(%+v) has a next page", tt.p)
			}
		})
	}

	// Filters still apply on later pages.
	first, err := s.ListLeases(ctx(t), store.ListLeasesParams{Owner: owner, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.ListLeases(ctx(t), store.ListLeasesParams{Owner: owner, PageSize: 5, After: first.Next})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{c.ID, a.ID}, ids(second.Leases)); d != "" {
		t.Errorf("second filtered page (-want +got):\n%s", d)
	}
}
