package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func testClaimDue(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := t0.Add(2 * time.Hour)
	until := now.Add(time.Minute)

	expired := active(t, s, withExpire(t0.Add(time.Hour)))
	expiredNow := active(t, s, withExpire(now))
	notYet := active(t, s, withExpire(now.Add(time.Second)))
	due := revoking(t, s, now.Add(-time.Second))
	claimed := revoking(t, s, now.Add(time.Second))
	failedDue := revoking(t, s, t0)
	failedDue, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{
		ID: failedDue.ID, Err: "x", NextAttemptAt: now, MarkFailed: true, Now: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := revoking(t, s, t0)
	if _, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: done.ID, Now: t0}); err != nil {
		t.Fatal(err)
	}
	stale := pending(t, s, withExpire(t0))

	got, err := s.ClaimDue(ctx(t), store.ClaimDueParams{Now: now, ClaimUntil: until, Limit: 100})
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	var want []*lease.Lease
	for _, l := range []*lease.Lease{expired, expiredNow} {
		w := *l
		w.State = lease.StateRevoking
		w.RevokeReason = lease.ReasonExpired
		w.RevokeTime = now
		w.NextAttemptAt = until
		w.UpdatedAt = now
		want = append(want, &w)
	}
	for _, l := range []*lease.Lease{due, failedDue} {
		w := *l
		w.NextAttemptAt = until
		w.UpdatedAt = now
		want = append(want, &w)
	}
	slices.SortFunc(want, func(a, b *lease.Lease) int { return cmpString(a.ID, b.ID) })
	if d := cmp.Diff(want, got, leaseCmp); d != "" {
		t.Errorf("ClaimDue mismatch (-want +got):\n%s", d)
	}
	for _, l := range []*lease.Lease{notYet, claimed, stale} {
		diffLease(t, "lease ClaimDue must not touch", get(t, s, l.ID), l)
	}

	again, err := s.ClaimDue(ctx(t), store.ClaimDueParams{Now: now, ClaimUntil: until, Limit: 100})
	if err != nil || len(again) != 0 {
		t.Errorf("second ClaimDue before the claim ends = %v, %v; want none", ids(again), err)
	}
	later, err := s.ClaimDue(ctx(t), store.ClaimDueParams{Now: until, ClaimUntil: until.Add(time.Minute), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sortedIDs(expired, expiredNow, notYet, due, claimed, failedDue), ids(later)); d != "" {
		t.Errorf("ClaimDue after the claim ends (-want +got):\n%s", d)
	}

	_, err = s.ClaimDue(ctx(t), store.ClaimDueParams{Now: now, ClaimUntil: until, Limit: 0})
	wantErr(t, "ClaimDue with limit 0", err, errs.InvalidArgument)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testClaimDueLimit(t *testing.T, newStore NewStore) {
	s := newStore(t)
	// Leases fall due in this order; ClaimDue takes the most overdue first.
	var order []*lease.Lease
	for i := range 3 {
		order = append(order, active(t, s, withExpire(t0.Add(time.Duration(3-i)*time.Minute))))
	}
	order[0], order[2] = order[2], order[0]
	now := t0.Add(time.Hour)
	for i, want := range order {
		got, err := s.ClaimDue(ctx(t), store.ClaimDueParams{Now: now, ClaimUntil: now.Add(time.Hour), Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{want.ID}, ids(got)); d != "" {
			t.Errorf("ClaimDue call %d (-want +got):\n%s", i, d)
		}
	}
}

// testClaimDueConcurrent checks that replicas claiming at once never get
// the same lease.
func testClaimDueConcurrent(t *testing.T, newStore NewStore) {
	s := newStore(t)
	const leases, workers = 40, 4
	var all []string
	for range leases {
		all = append(all, active(t, s, withExpire(t0)).ID)
	}
	slices.Sort(all)
	now := t0.Add(time.Hour)
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			for {
				claimed, err := s.ClaimDue(ctx(t), store.ClaimDueParams{Now: now, ClaimUntil: now.Add(time.Hour), Limit: 3})
				if err != nil {
					t.Errorf("ClaimDue: %v", err)
					return
				}
				if len(claimed) == 0 {
					return
				}
				mu.Lock()
				got = append(got, ids(claimed)...)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(got)
	if d := cmp.Diff(all, got); d != "" {
		t.Errorf("leases claimed by concurrent workers (-want +got), duplicates mean a double claim:\n%s", d)
	}
}

func testNextDueTime(t *testing.T, newStore NewStore) {
	s := newStore(t)
	check := func(want time.Time, wantOK bool) {
		t.Helper()
		got, ok, err := s.NextDueTime(ctx(t))
		if err != nil || ok != wantOK || (ok && !got.Equal(want)) {
			t.Errorf("NextDueTime = %v, %v, %v; want %v, %v", got, ok, err, want, wantOK)
		}
	}
	check(time.Time{}, false)
	pending(t, s, withExpire(t0.Add(time.Minute)))
	check(time.Time{}, false)
	active(t, s, withExpire(t0.Add(time.Hour)))
	check(t0.Add(time.Hour), true)
	r := revoking(t, s, t0.Add(30*time.Minute))
	check(t0.Add(30*time.Minute), true)
	if _, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{
		ID: r.ID, NextAttemptAt: t0.Add(10 * time.Minute), MarkFailed: true, Now: t0,
	}); err != nil {
		t.Fatal(err)
	}
	check(t0.Add(10*time.Minute), true)
	if _, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: r.ID, Now: t0}); err != nil {
		t.Fatal(err)
	}
	check(t0.Add(time.Hour), true)
}

func testClaimStalePending(t *testing.T, newStore NewStore) {
	s := newStore(t)
	old1 := pending(t, s, withNow(t0))
	old2 := pending(t, s, withNow(t0.Add(time.Second)))
	fresh := pending(t, s, withNow(t0.Add(time.Hour)))
	act := active(t, s, withNow(t0))

	now := t0.Add(time.Hour)
	claim := func(now time.Time, limit int) []*lease.Lease {
		t.Helper()
		got, err := s.ClaimStalePending(ctx(t), store.ClaimStalePendingParams{
			CreatedBefore: t0.Add(time.Minute), Now: now, ClaimUntil: now.Add(time.Minute), Limit: limit,
		})
		if err != nil {
			t.Fatalf("ClaimStalePending: %v", err)
		}
		return got
	}
	got := claim(now, 1)
	w := *old1
	w.NextAttemptAt = now.Add(time.Minute)
	w.UpdatedAt = now
	if d := cmp.Diff([]*lease.Lease{&w}, got, leaseCmp); d != "" {
		t.Errorf("ClaimStalePending takes the oldest first (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{old2.ID}, ids(claim(now, 10))); d != "" {
		t.Errorf("ClaimStalePending skips claimed leases (-want +got):\n%s", d)
	}
	if got := claim(now, 10); len(got) != 0 {
		t.Errorf("ClaimStalePending while claims hold = %v, want none", ids(got))
	}
	if d := cmp.Diff(sortedIDs(old1, old2), ids(claim(now.Add(time.Minute), 10))); d != "" {
		t.Errorf("ClaimStalePending after claims end (-want +got):\n%s", d)
	}
	for _, l := range []*lease.Lease{fresh, act} {
		diffLease(t, "lease ClaimStalePending must not touch", get(t, s, l.ID), l)
	}
	_, err := s.ClaimStalePending(ctx(t), store.ClaimStalePendingParams{CreatedBefore: now, Now: now, ClaimUntil: now})
	wantErr(t, "ClaimStalePending with limit 0", err, errs.InvalidArgument)
}
