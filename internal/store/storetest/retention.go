package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func withProxy() func(*store.CreatePendingParams) {
	return func(c *store.CreatePendingParams) { c.Delivery = lease.DeliveryProxy }
}

// revokedAt makes a lease that reached revoked at end.
func revokedAt(t *testing.T, s store.Store, end time.Time, mods ...func(*store.CreatePendingParams)) *lease.Lease {
	t.Helper()
	r := revoking(t, s, t0.Add(time.Minute), mods...)
	l, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: r.ID, Now: end})
	if err != nil {
		t.Fatalf("CompleteRevoke: %v", err)
	}
	return l
}

// failedAt makes a lease whose mint failed at end.
func failedAt(t *testing.T, s store.Store, end time.Time) *lease.Lease {
	t.Helper()
	l, err := s.FailPending(ctx(t), store.FailPendingParams{ID: pending(t, s).ID, Reason: lease.ReasonMintFailed, Now: end})
	if err != nil {
		t.Fatalf("FailPending: %v", err)
	}
	return l
}

// forgottenAt makes a lease whose revocation an operator gave up at end.
func forgottenAt(t *testing.T, s store.Store, end time.Time, mods ...func(*store.CreatePendingParams)) *lease.Lease {
	t.Helper()
	r := revoking(t, s, t0.Add(time.Minute), mods...)
	if _, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{
		ID: r.ID, Err: "gone", NextAttemptAt: end, MarkFailed: true, Now: t0.Add(3 * time.Second),
	}); err != nil {
		t.Fatal(err)
	}
	l, err := s.ForgetLease(ctx(t), store.ForgetLeaseParams{ID: r.ID, Reason: lease.ReasonForgotten, RevokedBy: "admin:ops", Now: end})
	if err != nil {
		t.Fatalf("ForgetLease: %v", err)
	}
	return l
}

// remaining returns the ids of ls that the store still has.
func remaining(t *testing.T, s store.Store, ls ...*lease.Lease) []string {
	t.Helper()
	var out []string
	for _, l := range ls {
		_, err := s.GetLease(ctx(t), store.GetLeaseParams{ID: l.ID})
		switch {
		case err == nil:
			out = append(out, l.ID)
		case !isNotFound(err):
			t.Fatalf("GetLease(%s): %v", l.ID, err)
		}
	}
	slices.Sort(out)
	return out
}

func isNotFound(err error) bool { return errors.Is(err, errs.NotFound) }

func testDeleteEndedLeases(t *testing.T, newStore NewStore) {
	s := newStore(t)
	old, cutoff, recent := t0.Add(time.Hour), t0.Add(10*24*time.Hour), t0.Add(20*24*time.Hour)

	gone := []*lease.Lease{
		revokedAt(t, s, old),
		failedAt(t, s, old),
		revokedAt(t, s, old, withProxy()),
		// A proxy lease never had an upstream token, forgotten or not.
		forgottenAt(t, s, old, withProxy()),
	}
	kept := []*lease.Lease{
		revokedAt(t, s, recent),
		failedAt(t, s, recent),
		// Nothing confirmed this token gone.
		forgottenAt(t, s, old),
		// Live leases, however old: expired long before the cutoff but
		// not yet revoked, still pending, or with a revocation under way.
		active(t, s, withExpire(old)),
		pending(t, s),
		revoking(t, s, old),
	}
	rf := revoking(t, s, old)
	if _, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{
		ID: rf.ID, Err: "x", NextAttemptAt: old, MarkFailed: true, Now: old,
	}); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, rf)

	_, err := s.DeleteEndedLeases(ctx(t), store.DeleteEndedLeasesParams{EndedBefore: cutoff, Limit: 0})
	wantErr(t, "DeleteEndedLeases with limit 0", err, errs.InvalidArgument)
	_, err = s.DeleteEndedLeases(ctx(t), store.DeleteEndedLeasesParams{Limit: 10})
	wantErr(t, "DeleteEndedLeases without a cutoff", err, errs.InvalidArgument)

	var batches []int
	for {
		n, err := s.DeleteEndedLeases(ctx(t), store.DeleteEndedLeasesParams{EndedBefore: cutoff, Limit: 3})
		if err != nil {
			t.Fatalf("DeleteEndedLeases: %v", err)
		}
		if n == 0 {
			break
		}
		batches = append(batches, n)
		if len(batches) > 10 {
			t.Fatalf("DeleteEndedLeases keeps deleting: %v", batches)
		}
	}
	if d := cmp.Diff([]int{3, 1}, batches); d != "" {
		t.Errorf("batch sizes (-want +got):\n%s", d)
	}
	if got := remaining(t, s, gone...); len(got) != 0 {
		t.Errorf("leases past retention still there: %v", got)
	}
	if d := cmp.Diff(sortedIDs(kept...), remaining(t, s, kept...)); d != "" {
		t.Errorf("kept leases (-want +got):\n%s", d)
	}
}

// testDeleteEndedConcurrent runs four deleters at once, as four replicas
// would: between them they delete every row once.
func testDeleteEndedConcurrent(t *testing.T, newStore NewStore) {
	s := newStore(t)
	const n = 60
	var all []*lease.Lease
	for range n {
		all = append(all, failedAt(t, s, t0))
	}
	live := active(t, s, withExpire(t0.Add(time.Minute)))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		errsC = make(chan error, 4)
	)
	for range 4 {
		wg.Go(func() {
			for {
				d, err := s.DeleteEndedLeases(ctx(t), store.DeleteEndedLeasesParams{EndedBefore: t0.Add(time.Hour), Limit: 4})
				if err != nil {
					errsC <- err
					return
				}
				if d == 0 {
					return
				}
				mu.Lock()
				total += d
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errsC)
	for err := range errsC {
		t.Errorf("DeleteEndedLeases: %v", err)
	}
	if total != n {
		t.Errorf("deleters reported %d deletions between them, want %d", total, n)
	}
	if got := remaining(t, s, all...); len(got) != 0 {
		t.Errorf("%d leases left", len(got))
	}
	if got := remaining(t, s, live); len(got) != 1 {
		t.Error("the active lease was deleted")
	}
}

// testAuditRetention drops whole months past retention, audits each drop,
// and keeps the rest. Its months are real ones: the store refuses to
// drop history newer than a month before its own clock.
func testAuditRetention(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	month := func(ago int) time.Time {
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -ago, 0)
	}
	appendAt := func(at time.Time, action string) *store.AuditEvent {
		e := &store.AuditEvent{Time: at, Action: action, ActorKind: "api_key", ActorSubject: "a", Result: "ok"}
		if err := s.AppendAudit(ctx(t), e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// Three events in the month 36 months ago, one 20 months ago, and
	// some within retention.
	for i := range 3 {
		appendAt(month(36).Add(time.Duration(i)*time.Hour), "old36")
	}
	appendAt(month(20).Add(24*time.Hour), "old20")
	keep := []*store.AuditEvent{
		appendAt(month(12).Add(24*time.Hour), "within"),
		appendAt(now.Add(-time.Hour), "recent"),
	}

	keepSince := now.Add(-400 * 24 * time.Hour)
	_, err := s.MaintainAuditPartitions(ctx(t), store.MaintainAuditParams{Now: now, Ahead: 2, KeepSince: now.Add(-7 * 24 * time.Hour)})
	wantErr(t, "dropping history newer than a month", err, errs.InvalidArgument)
	_, err = s.MaintainAuditPartitions(ctx(t), store.MaintainAuditParams{Now: now, Ahead: 0})
	wantErr(t, "making no month ahead", err, errs.InvalidArgument)

	res, err := s.MaintainAuditPartitions(ctx(t), store.MaintainAuditParams{Now: now, Ahead: 2, KeepSince: keepSince})
	if err != nil {
		t.Fatalf("MaintainAuditPartitions: %v", err)
	}
	if res.Busy {
		t.Fatal("busy with nobody else around")
	}
	name := func(m time.Time) string { return "audit_events_" + m.Format("2006_01") }
	reason := func(m time.Time, n int) string {
		return fmt.Sprintf("dropped partition %s holding %d events from [%s, %s)", name(m), n,
			m.Format(time.RFC3339), m.AddDate(0, 1, 0).Format(time.RFC3339))
	}
	var gotDropped []string
	for _, d := range res.Dropped {
		if d.Event == nil || d.Event.ID == 0 {
			t.Fatalf("dropped %s without an event", d.Name)
		}
		gotDropped = append(gotDropped, fmt.Sprintf("%s %s %s %d %s", d.Name, d.From.Format(time.RFC3339),
			d.To.Format(time.RFC3339), d.Rows, d.Event.Reason))
	}
	wantDropped := []string{
		fmt.Sprintf("%s %s %s 3 %s", name(month(36)), month(36).Format(time.RFC3339), month(35).Format(time.RFC3339), reason(month(36), 3)),
		fmt.Sprintf("%s %s %s 1 %s", name(month(20)), month(20).Format(time.RFC3339), month(19).Format(time.RFC3339), reason(month(20), 1)),
	}
	if d := cmp.Diff(wantDropped, gotDropped); d != "" {
		t.Errorf("dropped partitions (-want +got):\n%s", d)
	}

	page, err := s.ListAudit(ctx(t), store.ListAuditParams{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Events {
		got = append(got, e.Action+" "+e.Reason)
	}
	want := []string{
		store.ActionAuditPartitionDrop + " " + reason(month(20), 1),
		store.ActionAuditPartitionDrop + " " + reason(month(36), 3),
		keep[1].Action + " ", keep[0].Action + " ",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("audit trail after retention, newest first (-want +got):\n%s", d)
	}
	if e := page.Events[0]; e.ActorKind != store.RetentionActorKind || e.ActorSubject != store.RetentionActorSubject ||
		!e.Time.Equal(now) || e.ID != res.Dropped[1].Event.ID {
		t.Errorf("drop event = %+v, want the retention actor at %s with id %d", e, now, res.Dropped[1].Event.ID)
	}

	// A second pass has nothing left to drop.
	res, err = s.MaintainAuditPartitions(ctx(t), store.MaintainAuditParams{Now: now, Ahead: 2, KeepSince: keepSince})
	if err != nil || len(res.Dropped) != 0 {
		t.Errorf("second pass dropped %+v, %v; want nothing", res, err)
	}
}
