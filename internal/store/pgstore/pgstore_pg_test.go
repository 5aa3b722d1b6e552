package pgstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/migrate"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

func pendingParams() store.CreatePendingParams {
	id := uuid.Must(uuid.NewV7()).String()
	return store.CreatePendingParams{
		ID: id, Purpose: "deploy", Owner: "user:alice", Upstream: lease.UpstreamNewCentral,
		UpstreamAccount: "acct", UpstreamName: "ztb-deploy-" + id,
		Now: t0, ExpireTime: t0.Add(time.Hour), MaxExpireTime: t0.Add(time.Hour),
	}
}

// tracer counts statements sent to the server and can run a hook after
// each one.
type tracer struct {
	queries atomic.Int64
	after   func(sql string)
}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	tr.queries.Add(1)
	return ctx
}

func (tr *tracer) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if tr.after != nil {
		tr.after(d.CommandTag.String())
	}
}

func tracedPool(t *testing.T, dsn string, tr *tracer, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tr
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestHotPathRoundTrips pins the lease cycle's cost: creating,
// activating and (on the explicit revoke's fast path) revoking a lease,
// audit included, is one statement each.
func TestHotPathRoundTrips(t *testing.T) {
	t.Parallel()
	tr := &tracer{}
	s := pgstore.New(tracedPool(t, pgtest.NewDatabase(t), tr, 0))
	ctx := t.Context()
	p := pendingParams()
	p.Audit = &store.AuditEvent{Action: "issue"}

	before := tr.queries.Load()
	if _, err := s.CreatePending(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n := tr.queries.Load() - before; n != 1 {
		t.Errorf("CreatePending took %d statements, want 1", n)
	}
	before = tr.queries.Load()
	if _, err := s.Activate(ctx, store.ActivateParams{
		ID: p.ID, UpstreamTokenID: "k", TokenSHA256: lease.HashToken("s"), Now: t0,
		SealedSecret: []byte("ciphertext"), SealedUntil: t0.Add(time.Minute),
		Audit: &store.AuditEvent{Action: "activate"},
	}); err != nil {
		t.Fatal(err)
	}
	if n := tr.queries.Load() - before; n != 1 {
		t.Errorf("Activate took %d statements, want 1", n)
	}
	before = tr.queries.Load()
	if _, err := s.RevokeActive(ctx, store.RevokeActiveParams{
		ID: p.ID, Now: t0, DoneAt: t0,
		Audit: &store.AuditEvent{Action: "revoke"}, Completion: &store.AuditEvent{Action: "revoke_complete"},
	}); err != nil {
		t.Fatal(err)
	}
	if n := tr.queries.Load() - before; n != 1 {
		t.Errorf("RevokeActive took %d statements, want 1", n)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := pgstore.New(pool)
	ctx := t.Context()
	e := &store.AuditEvent{Time: t0, Action: "issue", Result: "ok"}
	if err := s.AppendAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE audit_events SET result = 'forged'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
	} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s succeeded; the audit trail must be append-only", sql)
		}
	}
	res, err := s.ListAudit(ctx, store.ListAuditParams{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]*store.AuditEvent{e}, res.Events); d != "" {
		t.Errorf("audit trail changed (-want +got):\n%s", d)
	}
}

// TestClaimDueAcrossReplicas runs two stores on separate pools, as two
// replicas would, and checks no lease is claimed twice.
func TestClaimDueAcrossReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	a := pgstore.New(tracedPool(t, dsn, &tracer{}, 2))
	b := pgstore.New(tracedPool(t, dsn, &tracer{}, 2))
	ctx := t.Context()
	var want []string
	for range 60 {
		p := pendingParams()
		p.ExpireTime = t0
		if _, err := a.CreatePending(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Activate(ctx, store.ActivateParams{ID: p.ID, Now: t0}); err != nil {
			t.Fatal(err)
		}
		want = append(want, p.ID)
	}
	slices.Sort(want)

	now := t0.Add(time.Minute)
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, s := range []*pgstore.Store{a, a, b, b} {
		wg.Go(func() {
			<-start
			for {
				claimed, err := s.ClaimDue(ctx, store.ClaimDueParams{Now: now, ClaimUntil: now.Add(time.Hour), Limit: 4})
				if err != nil {
					t.Errorf("ClaimDue: %v", err)
					return
				}
				if len(claimed) == 0 {
					return
				}
				mu.Lock()
				for _, l := range claimed {
					got = append(got, l.ID)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("claimed leases (-want +got); a duplicate is a double claim:\n%s", d)
	}
}

// TestCancelMidTransaction cancels a quota-checked create between its lock
// and its insert: nothing is written and the lock does not outlive the
// request, even on a pool with a single connection.
func TestCancelMidTransaction(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tr := &tracer{}
	s := pgstore.New(tracedPool(t, pgtest.NewDatabase(t), tr, 1))
	var once sync.Once
	tr.after = func(tag string) {
		if tag == "SELECT 1" {
			once.Do(cancel) // after the advisory lock statement
		}
	}
	p := pendingParams()
	p.Quota = &store.Quota{MaxActivePerPurpose: 1}
	if _, err := s.CreatePending(ctx, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreatePending with a cancelled context: %v, want context.Canceled", err)
	}
	tr.after = nil

	fresh, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	if _, err := s.GetLease(fresh, store.GetLeaseParams{ID: p.ID}); !errors.Is(err, errs.NotFound) {
		t.Errorf("GetLease after a cancelled create: %v, want ErrNotFound", err)
	}
	p2 := pendingParams()
	p2.Quota = p.Quota
	if _, err := s.CreatePending(fresh, p2); err != nil {
		t.Errorf("CreatePending after a cancelled one: %v", err)
	}
}

// TestUnavailableWhileServerDown checks that a stopped server surfaces as
// errs.Unavailable, and that the store recovers when it returns.
func TestUnavailableWhileServerDown(t *testing.T) {
	t.Parallel()
	c := pgtest.StartCluster(t)
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	s := pgstore.New(pool)
	p := pendingParams()
	if _, err := s.CreatePending(ctx, p); err != nil {
		t.Fatal(err)
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]func(context.Context) error{
		"Ping": s.Ping,
		"GetLease": func(ctx context.Context) error {
			_, err := s.GetLease(ctx, store.GetLeaseParams{ID: p.ID})
			return err
		},
		"CreatePending": func(ctx context.Context) error {
			_, err := s.CreatePending(ctx, pendingParams())
			return err
		},
	}
	for name, call := range checks {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := call(cctx)
		cancel()
		if !errors.Is(err, errs.Unavailable) {
			t.Errorf("%s with the server down: %v, want ErrUnavailable", name, err)
		}
	}

	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLease(ctx, store.GetLeaseParams{ID: p.ID}); err != nil {
		t.Errorf("GetLease after the server returned: %v", err)
	}
}
