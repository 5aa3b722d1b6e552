package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func testRevokeMatching(t *testing.T, newStore NewStore) {
	tests := []struct {
		name   string
		filter store.LeaseFilter
		// want picks, from the fixture leases a..d, those that match.
		want func(a, b, c, d *lease.Lease) []*lease.Lease
	}{
		{"purpose", store.LeaseFilter{Purpose: "backup"},
			func(a, b, c, d *lease.Lease) []*lease.Lease { return []*lease.Lease{c} }},
		{"owner", store.LeaseFilter{Owner: "user:bob"},
			func(a, b, c, d *lease.Lease) []*lease.Lease { return []*lease.Lease{b} }},
		{"label", store.LeaseFilter{LabelKey: "env", LabelVal: "prod"},
			func(a, b, c, d *lease.Lease) []*lease.Lease { return []*lease.Lease{a, c} }},
		{"owner and purpose", store.LeaseFilter{Owner: owner, Purpose: purpose},
			func(a, b, c, d *lease.Lease) []*lease.Lease { return []*lease.Lease{a} }},
		{"all", store.LeaseFilter{All: true},
			func(a, b, c, d *lease.Lease) []*lease.Lease { return []*lease.Lease{a, b, c} }},
	}
	for _, tt := range tests {
		for _, dry := range []bool{false, true} {
			name := tt.name
			if dry {
				name += " dry run"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				a := active(t, s, withLabels("env", "prod"))
				b := active(t, s, withOwner("user:bob"))
				c := active(t, s, withPurpose("backup"), withLabels("env", "prod"))
				d := revoking(t, s, t0.Add(time.Hour), withLabels("env", "prod"))
				p := pending(t, s, withLabels("env", "prod"))
				before := map[string]*lease.Lease{}
				for _, l := range []*lease.Lease{a, b, c, d, p} {
					before[l.ID] = l
				}

				now := t0.Add(time.Minute)
				res, err := s.RevokeMatching(ctx(t), store.RevokeMatchingParams{
					Filter: tt.filter, Reason: "incident", RevokedBy: "admin:ops", Now: now, Limit: 100, DryRun: dry,
				})
				if err != nil {
					t.Fatalf("RevokeMatching: %v", err)
				}
				matched := tt.want(a, b, c, d)
				wantRes := &store.RevokeMatchingResult{Done: len(matched), IDs: sortedIDs(matched...)}
				if d := cmp.Diff(wantRes, res, leaseCmp); d != "" {
					t.Errorf("RevokeMatching result (-want +got):\n%s", d)
				}
				for _, m := range matched {
					if dry {
						continue
					}
					w := *m
					w.State = lease.StateRevoking
					w.RevokeReason = "incident"
					w.RevokedBy = "admin:ops"
					w.RevokeTime = now
					w.NextAttemptAt = now
					w.UpdatedAt = now
					before[m.ID] = &w
				}
				for id, want := range before {
					diffLease(t, "lease after RevokeMatching", get(t, s, id), want)
				}
			})
		}
	}
	t.Run("empty filter", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		l := active(t, s)
		_, err := s.RevokeMatching(ctx(t), store.RevokeMatchingParams{Now: t0, Limit: 10})
		wantErr(t, "RevokeMatching with an empty filter", err, errs.InvalidArgument)
		diffLease(t, "lease after refused RevokeMatching", get(t, s, l.ID), l)
	})
}

func testRevokeMatchingLimits(t *testing.T, newStore NewStore) {
	s := newStore(t)
	var all []*lease.Lease
	for range 5 {
		all = append(all, active(t, s))
	}
	active(t, s, withPurpose("other"))
	f := store.LeaseFilter{Purpose: purpose}

	dry, err := s.RevokeMatching(ctx(t), store.RevokeMatchingParams{Filter: f, Now: t0, Limit: 2, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.RevokeMatching(ctx(t), store.RevokeMatchingParams{Filter: f, Now: t0, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := &store.RevokeMatchingResult{Done: 2, Remaining: 3, IDs: sortedIDs(all[0], all[1])}
	if d := cmp.Diff(want, dry); d != "" {
		t.Errorf("dry run (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, res); d != "" {
		t.Errorf("first batch (-want +got):\n%s", d)
	}
	res, err = s.RevokeMatching(ctx(t), store.RevokeMatchingParams{Filter: f, Now: t0, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want = &store.RevokeMatchingResult{Done: 3, Remaining: 0, IDs: sortedIDs(all[2:]...)}
	if d := cmp.Diff(want, res); d != "" {
		t.Errorf("second batch (-want +got):\n%s", d)
	}
	_, err = s.RevokeMatching(ctx(t), store.RevokeMatchingParams{Filter: f, Now: t0})
	wantErr(t, "RevokeMatching with limit 0", err, errs.InvalidArgument)
}

func testListUpstreamTokens(t *testing.T, newStore NewStore) {
	s := newStore(t)
	onAccount := func(up, acct string) func(*store.CreatePendingParams) {
		return func(p *store.CreatePendingParams) { p.Upstream, p.UpstreamAccount = up, acct }
	}
	p := pending(t, s)
	a := active(t, s)
	r := revoking(t, s, t0)
	rf := revoking(t, s, t0)
	if _, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{ID: rf.ID, NextAttemptAt: t0, MarkFailed: true, Now: t0}); err != nil {
		t.Fatal(err)
	}
	gone := revoking(t, s, t0)
	if _, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: gone.ID, Now: t0}); err != nil {
		t.Fatal(err)
	}
	failed := pending(t, s)
	if _, err := s.FailPending(ctx(t), store.FailPendingParams{ID: failed.ID, Now: t0}); err != nil {
		t.Fatal(err)
	}
	active(t, s, onAccount(upstream, "acct-2"))
	leg := active(t, s, onAccount(lease.UpstreamLegacy, account))

	tests := []struct {
		up, acct string
		want     []string
	}{
		{upstream, account, sortedIDs(p, a, r, rf)},
		{lease.UpstreamLegacy, account, []string{leg.ID}},
		{lease.UpstreamLegacy, "nobody", nil},
	}
	for _, tt := range tests {
		got, err := s.ListUpstreamTokens(ctx(t), store.ListUpstreamTokensParams{Upstream: tt.up, UpstreamAccount: tt.acct})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.want, ids(got), leaseCmp); d != "" {
			t.Errorf("ListUpstreamTokens(%s, %s) (-want +got):\n%s", tt.up, tt.acct, d)
		}
	}
}

func testCountActive(t *testing.T, newStore NewStore) {
	s := newStore(t)
	got, err := s.CountActive(ctx(t))
	if err != nil || len(got) != 0 {
		t.Errorf("CountActive on an empty store = %v, %v", got, err)
	}
	active(t, s)
	active(t, s, withOwner("user:bob"))
	active(t, s, withPurpose("backup"))
	pending(t, s, withPurpose("backup"))
	revoking(t, s, t0, withPurpose("backup"))
	got, err = s.CountActive(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{purpose: 2, "backup": 1}, got); d != "" {
		t.Errorf("CountActive (-want +got):\n%s", d)
	}
}
