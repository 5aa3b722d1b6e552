package retention_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/worker/retention"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// The audit tests run on real months: the database refuses to drop
// anything newer than 31 days by its own clock, whatever the caller's.

func newAuditBench(t *testing.T) (*bench, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.NewPool(t)
	return &bench{store: pgstore.New(pool), clock: workertest.NewClock()}, pool
}

func monthsAgo(now time.Time, n int) time.Time {
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -n, 0)
}

func partitionName(m time.Time) string { return "audit_events_" + m.Format("2006_01") }

func appendEvents(t *testing.T, s store.Store, at time.Time, n int) {
	t.Helper()
	for i := range n {
		if err := s.AppendAudit(context.Background(), &store.AuditEvent{
			Time: at.Add(time.Duration(i) * time.Minute), Action: "issue", ActorKind: "api_key", ActorSubject: "ci", Result: "ok",
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func dropEvents(t *testing.T, s store.Store) []string {
	t.Helper()
	res, err := s.ListAudit(context.Background(), store.ListAuditParams{Action: store.ActionAuditPartitionDrop, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range res.Events {
		out = append(out, e.Reason)
	}
	slices.Sort(out)
	return out
}

func dropReason(m time.Time, n int) string {
	return fmt.Sprintf("dropped partition %s holding %d events from [%s, %s)", partitionName(m), n,
		m.Format(time.RFC3339), m.AddDate(0, 1, 0).Format(time.RFC3339))
}

// TestAuditRetention: months past retention are dropped whole and each
// drop is audited; months within it stay; months ahead are made; events
// that arrived without a partition are moved into their month first.
func TestAuditRetention(t *testing.T) {
	t.Parallel()
	b, pool := newAuditBench(t)
	r := b.replica(t, func(c *retention.Config) { c.AuditMonthsAhead = 6 })
	now := b.clock.Now()

	// 17 and 16 months ago are past 400 days whatever today's date; 11
	// months ago is within it. None of them has a partition yet: the
	// migration made only this month and three ahead, so their events
	// sit in the default partition.
	old17, old16, within := monthsAgo(now, 17), monthsAgo(now, 16), monthsAgo(now, 11)
	appendEvents(t, b.store, old17.Add(time.Hour), 3)
	appendEvents(t, b.store, old16.Add(40*time.Hour), 2)
	appendEvents(t, b.store, within.Add(time.Hour), 4)
	appendEvents(t, b.store, now.Add(-time.Minute), 1)

	res, err := r.w.MaintainAudit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 9 {
		t.Errorf("moved %d events out of the default partition, want 9", res.Moved)
	}
	var created []string
	for _, p := range res.Created {
		created = append(created, p.Name)
	}
	slices.Sort(created)
	wantCreated := []string{partitionName(old16), partitionName(old17), partitionName(within)}
	for i := 4; i <= 6; i++ {
		wantCreated = append(wantCreated, partitionName(monthsAgo(now, -i)))
	}
	slices.Sort(wantCreated)
	if d := cmp.Diff(wantCreated, created); d != "" {
		t.Errorf("partitions created (-want +got):\n%s", d)
	}
	var dropped []string
	for _, p := range res.Dropped {
		dropped = append(dropped, fmt.Sprintf("%s %d", p.Name, p.Rows))
	}
	if d := cmp.Diff([]string{partitionName(old17) + " 3", partitionName(old16) + " 2"}, dropped); d != "" {
		t.Errorf("partitions dropped (-want +got):\n%s", d)
	}

	parts := pgtest.AuditPartitions(t, pool)
	for _, gone := range []time.Time{old17, old16} {
		if slices.Contains(parts, partitionName(gone)) {
			t.Errorf("partition %s still attached", partitionName(gone))
		}
		var exists bool
		if err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, partitionName(gone)).Scan(&exists); err != nil || exists {
			t.Errorf("table %s still exists (%v)", partitionName(gone), err)
		}
	}
	for _, kept := range []time.Time{within, monthsAgo(now, 0), monthsAgo(now, -6)} {
		if !slices.Contains(parts, partitionName(kept)) {
			t.Errorf("partition %s missing; have %v", partitionName(kept), parts)
		}
	}
	wantDrops := []string{dropReason(old16, 2), dropReason(old17, 3)}
	slices.Sort(wantDrops)
	if d := cmp.Diff(wantDrops, dropEvents(t, b.store)); d != "" {
		t.Errorf("drop events in the audit trail (-want +got):\n%s", d)
	}
	all, err := b.store.ListAudit(context.Background(), store.ListAuditParams{Action: "issue", PageSize: 100})
	if err != nil || len(all.Events) != 5 {
		t.Errorf("%d events within retention left, %v; want 5", len(all.Events), err)
	}

	for name, want := range map[string]float64{
		"ztbroker_retention_audit_partitions_dropped_total": 2,
		"ztbroker_retention_audit_events_dropped_total":     5,
		"ztbroker_retention_audit_partitions_created_total": 6,
	} {
		if got := r.metric(t, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if d := cmp.Diff([]string{"retention.audit"}, workertest.SpanNames(r.spans)); d != "" {
		t.Errorf("spans (-want +got):\n%s", d)
	}

	// A month later, nothing new is past retention yet the 11-month-old
	// month stays; the next pass changes nothing it already did.
	res, err = r.w.MaintainAudit(t.Context())
	if err != nil || len(res.Dropped)+len(res.Created) != 0 || res.Moved != 0 {
		t.Errorf("second pass = %+v, %v; want nothing done", res, err)
	}
}

// TestAuditReplicasDoNotRace runs the audit pass on two replicas at once,
// several times: each month is dropped, and audited, exactly once.
func TestAuditReplicasDoNotRace(t *testing.T) {
	t.Parallel()
	b, _ := newAuditBench(t)
	now := b.clock.Now()
	var months []time.Time
	for i := 20; i < 26; i++ {
		months = append(months, monthsAgo(now, i))
		appendEvents(t, b.store, monthsAgo(now, i).Add(time.Hour), 2)
	}
	// Give the months their partitions first, keeping everything, so that
	// the race below is over dropping them rather than serialised by the
	// locks of moving rows out of the default partition.
	keeper := b.replica(t, func(c *retention.Config) { c.AuditRetention = 100 * 365 * day })
	if res, err := keeper.w.MaintainAudit(t.Context()); err != nil || len(res.Dropped) != 0 || res.Moved != 12 {
		t.Fatalf("first pass = %+v, %v; want 12 events moved and nothing dropped", res, err)
	}
	replicas := []*replica{b.replica(t, nil), b.replica(t, nil)}
	var (
		mu      sync.Mutex
		dropped []string
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for _, r := range replicas {
		wg.Go(func() {
			<-start
			for range 5 {
				res, err := r.w.MaintainAudit(t.Context())
				if err != nil {
					t.Errorf("MaintainAudit: %v", err)
					return
				}
				mu.Lock()
				for _, p := range res.Dropped {
					dropped = append(dropped, p.Name)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	var want, wantReasons []string
	for _, m := range months {
		want = append(want, partitionName(m))
		wantReasons = append(wantReasons, dropReason(m, 2))
	}
	slices.Sort(want)
	slices.Sort(dropped)
	slices.Sort(wantReasons)
	if d := cmp.Diff(want, dropped); d != "" {
		t.Errorf("partitions dropped across both replicas (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantReasons, dropEvents(t, b.store)); d != "" {
		t.Errorf("drop events (-want +got):\n%s", d)
	}
	var total float64
	for _, r := range replicas {
		total += r.metric(t, "ztbroker_retention_audit_partitions_dropped_total")
	}
	if total != float64(len(months)) {
		t.Errorf("dropped counters add up to %v, want %d", total, len(months))
	}
}

// TestAuditBusyReplicaDoesNotWait: while one replica's pass holds the
// partition lock (here, an open transaction in the middle of one), another
// replica's pass gives up at once with Busy instead of queueing behind
// its locks, and the months are dropped once, by the first.
func TestAuditBusyReplicaDoesNotWait(t *testing.T) {
	t.Parallel()
	b, pool := newAuditBench(t)
	now := b.clock.Now()
	old := monthsAgo(now, 20)
	appendEvents(t, b.store, old.Add(time.Hour), 2)
	r := b.replica(t, func(c *retention.Config) { c.BatchTimeout = time.Minute })

	tx, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // after Commit, a no-op
	rows, err := tx.Query(t.Context(), `SELECT r_action FROM audit_partitions_maintain(now(), 3, now() - interval '400 days')`)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(actions, "dropped") {
		t.Fatalf("the holding pass did %v, want a drop", actions)
	}

	res, err := r.w.MaintainAudit(t.Context())
	if err != nil || !res.Busy {
		t.Fatalf("pass during another's = %+v, %v; want busy", res, err)
	}
	if got := workertest.Metric(t, r.reg, "ztbroker_retention_runs_total", map[string]string{"task": "audit", "result": "busy"}); got != 1 {
		t.Errorf("busy audit runs = %v, want 1", got)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err = r.w.MaintainAudit(t.Context())
	if err != nil || res.Busy || len(res.Dropped) != 0 {
		t.Errorf("pass after the other's = %+v, %v; want nothing left to drop", res, err)
	}
	if d := cmp.Diff([]string{dropReason(old, 2)}, dropEvents(t, b.store)); d != "" {
		t.Errorf("drop events (-want +got):\n%s", d)
	}
}
