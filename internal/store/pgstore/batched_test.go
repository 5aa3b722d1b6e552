package pgstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

var bt0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

func newPending(owner string) store.CreatePendingParams {
	id := uuid.Must(uuid.NewV7()).String()
	return store.CreatePendingParams{
		ID: id, Purpose: "deploy", Owner: owner, Upstream: "prod", UpstreamKind: lease.UpstreamNewCentral,
		UpstreamAccount: "acct", UpstreamName: "ztb-deploy-" + id, Labels: map[string]string{"job": id[:8]},
		OwnerClaims: map[string]string{"sub": owner}, AdmittedBy: "rule-1",
		GrantedMaxTTL: 2 * time.Hour, RequestedTTL: 90 * time.Minute,
		Now: bt0, ExpireTime: bt0.Add(90 * time.Minute), MaxExpireTime: bt0.Add(2 * time.Hour),
		Audit: &store.AuditEvent{Action: "issue", ActorKind: "user", ActorSubject: owner, Result: "ok"},
	}
}

// batchProbe watches a group: when its first statement starts, each
// statement's size, and when a given number of calls wait in its queue.
type batchProbe struct {
	mu      sync.Mutex
	sizes   []int
	started chan struct{}
	full    chan struct{}
	want    int
}

func probe[In, Out any](g *group[In, Out]) *batchProbe {
	p := &batchProbe{started: make(chan struct{}), full: make(chan struct{})}
	g.observe = func(n int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.sizes = append(p.sizes, n)
		if len(p.sizes) == 1 {
			close(p.started)
		}
	}
	g.queued = func(depth int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.want > 0 && depth == p.want {
			close(p.full)
			p.want = 0
		}
	}
	return p
}

func (p *batchProbe) statementSizes() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sizes)
}

type result struct {
	l   *lease.Lease
	err error
}

// inBatch runs first, whose statement a lock of the test holds up, then
// calls, which queue behind it; once they all wait, release lets the
// first statement finish and the calls go out as the second.
func inBatch(t *testing.T, p *batchProbe, release func(), first func() result, calls []func() result) (result, []result) {
	t.Helper()
	var wg sync.WaitGroup
	var head result
	wg.Go(func() { head = first() })
	<-p.started
	p.mu.Lock()
	p.want = len(calls)
	p.mu.Unlock()
	res := make([]result, len(calls))
	for i, c := range calls {
		wg.Go(func() { res[i] = c() })
	}
	<-p.full
	release()
	wg.Wait()
	return head, res
}

func auditFor(t *testing.T, s *Store, id string) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT action || ':' || purpose || ':' || upstream FROM audit_events WHERE lease_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBatchedCreate(t *testing.T) {
	t.Parallel()
	s := New(pgtest.NewPool(t))
	ctx := t.Context()
	held, leader, release := holdKey(t, s)

	plain := []store.CreatePendingParams{newPending("user:a"), newPending("user:b"), newPending("user:c")}
	twinA, twinB := newPending("user:d"), newPending("user:d")
	twinA.IdempotencyKey, twinB.IdempotencyKey = "k-twin", "k-twin"
	bad := newPending("user:e")
	bad.ExpireTime = bad.MaxExpireTime.Add(time.Second) // leases_expire_within_max
	all := append(slices.Clone(plain), twinA, twinB, bad)

	p := probe(s.creates)
	var calls []func() result
	for _, c := range all {
		calls = append(calls, createCall(ctx, s, c))
	}
	head, res := inBatch(t, p, release, createCall(ctx, s, leader), calls)

	// The batch failed on the bad call's constraint, so every call was
	// retried alone: the sizes show the one batch statement.
	if got := p.statementSizes(); !slices.Equal(got, []int{1, len(all)}) {
		t.Errorf("statement sizes = %v, want [1 %d]", got, len(all))
	}
	if !errors.Is(head.err, errExisting) || head.l.ID != held.ID {
		t.Errorf("leader = %+v, want the holder's lease %s", head, held.ID)
	}
	for i, c := range plain {
		if res[i].err != nil {
			t.Fatalf("create %d: %v", i, res[i].err)
		}
		checkPending(t, res[i].l, c)
		if got, want := auditFor(t, s, c.ID), []string{"issue:deploy:prod"}; !slices.Equal(got, want) {
			t.Errorf("audit of %s = %v, want %v", c.ID, got, want)
		}
	}
	checkTwins(t, s, res[len(plain)], res[len(plain)+1], twinA.ID, twinB.ID)
	if last := res[len(res)-1]; !errors.Is(last.err, errs.InvalidArgument) {
		t.Errorf("create breaking a constraint = %v, want InvalidArgument", last.err)
	}
}

func TestBatchedCreateWithoutErrors(t *testing.T) {
	t.Parallel()
	s := New(pgtest.NewPool(t))
	ctx := t.Context()
	_, leader, release := holdKey(t, s)
	all := []store.CreatePendingParams{newPending("user:a"), newPending("user:b"), newPending("user:c"), newPending("user:a")}
	all[2].Labels, all[2].OwnerClaims = nil, nil
	twinA, twinB := newPending("user:d"), newPending("user:d")
	twinA.IdempotencyKey, twinB.IdempotencyKey = "k-twin", "k-twin"
	var calls []func() result
	for _, c := range append(slices.Clone(all), twinA, twinB) {
		calls = append(calls, createCall(ctx, s, c))
	}
	p := probe(s.creates)
	_, res := inBatch(t, p, release, func() result { _, err := s.CreatePending(ctx, leader); return result{err: err} }, calls)
	if got := p.statementSizes(); !slices.Equal(got, []int{1, len(calls)}) {
		t.Errorf("statement sizes = %v, want [1 %d]", got, len(calls))
	}
	checkTwins(t, s, res[len(all)], res[len(all)+1], twinA.ID, twinB.ID)
	for i, c := range all {
		if res[i].err != nil {
			t.Fatalf("create %d: %v", i, res[i].err)
		}
		checkPending(t, res[i].l, c)
		if got, want := auditFor(t, s, c.ID), []string{"issue:deploy:prod"}; !slices.Equal(got, want) {
			t.Errorf("audit of %s = %v, want %v", c.ID, got, want)
		}
	}
}

var errExisting = errors.New("existing lease")

// holdKey inserts a lease with an idempotency key in a transaction of the
// test's and returns it, a create for the same owner and key, whose
// insert waits on the transaction, and release, which commits it.
func holdKey(t *testing.T, s *Store) (held, leader store.CreatePendingParams, release func()) {
	t.Helper()
	held = newPending("user:holder")
	held.IdempotencyKey = "k-held"
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := insertPending(t.Context(), tx, held); err != nil {
		t.Fatal(err)
	}
	leader = newPending("user:holder")
	leader.IdempotencyKey = "k-held"
	return held, leader, func() {
		if err := tx.Commit(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

// checkTwins checks two creates with one idempotency key, queued in
// either order: one inserted its lease, the other got that lease back,
// and only the inserted one was audited.
func checkTwins(t *testing.T, s *Store, a, b result, idA, idB string) {
	t.Helper()
	if a.err != nil && b.err == nil {
		a, b = b, a
	}
	if a.err != nil || !errors.Is(b.err, errExisting) || b.l.ID != a.l.ID {
		t.Fatalf("same key twice: %+v and %+v; want one lease and the other call getting it back", a, b)
	}
	skipped := idA
	if a.l.ID == idA {
		skipped = idB
	}
	if got := auditFor(t, s, skipped); len(got) != 0 {
		t.Errorf("skipped create audited: %v", got)
	}
}

func checkPending(t *testing.T, l *lease.Lease, p store.CreatePendingParams) {
	t.Helper()
	switch {
	case l.ID != p.ID || l.Owner != p.Owner || l.Purpose != p.Purpose || l.State != lease.StatePending:
		t.Errorf("lease %+v does not match its create %+v", l, p)
	case !mapsEqual(l.Labels, p.Labels) || !mapsEqual(l.OwnerClaims, p.OwnerClaims):
		t.Errorf("lease %s labels %v claims %v, want %v %v", l.ID, l.Labels, l.OwnerClaims, p.Labels, p.OwnerClaims)
	case l.GrantedMaxTTL != p.GrantedMaxTTL || l.RequestedTTL != p.RequestedTTL || l.AdmittedBy != p.AdmittedBy:
		t.Errorf("lease %s admission %v %v %q, want %v %v %q", l.ID, l.GrantedMaxTTL, l.RequestedTTL, l.AdmittedBy, p.GrantedMaxTTL, p.RequestedTTL, p.AdmittedBy)
	case !l.ExpireTime.Equal(p.ExpireTime) || !l.CreatedAt.Equal(p.Now) || l.Upstream != p.Upstream || l.UpstreamKind != p.UpstreamKind || l.UpstreamName != p.UpstreamName:
		t.Errorf("lease %s times or upstream differ: %+v", l.ID, l)
	case l.Delivery != lease.DeliveryToken:
		t.Errorf("lease %s delivery %q", l.ID, l.Delivery)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// created makes n pending leases, one statement each.
func created(t *testing.T, s *Store, n int) []*lease.Lease {
	t.Helper()
	out := make([]*lease.Lease, n)
	for i := range out {
		r, err := s.CreatePending(t.Context(), newPending("user:a"))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r.Lease
	}
	return out
}

func activation(l *lease.Lease) store.ActivateParams {
	return store.ActivateParams{
		ID: l.ID, UpstreamTokenID: "key-" + l.ID, TokenSHA256: "sha-" + l.ID,
		UpstreamExpireTime: bt0.Add(time.Hour), Now: bt0.Add(time.Second),
		Audit: &store.AuditEvent{Action: "activate", ActorKind: "system", ActorSubject: "broker", Result: "ok"},
	}
}

// lockRow holds a lease's row in a transaction until the returned
// release commits it.
func lockRow(t *testing.T, s *Store, id string) func() {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM leases WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

func TestBatchedActivate(t *testing.T) {
	t.Parallel()
	s := New(pgtest.NewPool(t))
	ctx := t.Context()
	ls := created(t, s, 6)
	if _, err := s.Activate(ctx, activation(ls[5])); err != nil {
		t.Fatal(err)
	}
	sealed := activation(ls[1])
	sealed.SealedSecret, sealed.SealedUntil = []byte("ciphertext"), bt0.Add(time.Minute)
	params := []store.ActivateParams{
		activation(ls[1]),     // replaced below by the sealed one
		activation(ls[2]),     //
		activation(ls[3]),     // twice in one statement: one wins
		activation(ls[3]),     //
		activation(ls[5]),     // already active
		{ID: "no-such-lease"}, // unknown
		activation(ls[4]),     //
	}
	params[0] = sealed
	p := probe(s.activates)
	var calls []func() result
	for _, a := range params {
		calls = append(calls, func() result { l, err := s.Activate(ctx, a); return result{l, err} })
	}
	head, res := inBatch(t, p, lockRow(t, s, ls[0].ID),
		func() result { l, err := s.Activate(ctx, activation(ls[0])); return result{l, err} }, calls)
	if got := p.statementSizes(); !slices.Equal(got, []int{1, len(params)}) {
		t.Errorf("statement sizes = %v, want [1 %d]", got, len(params))
	}
	if head.err != nil {
		t.Fatal(head.err)
	}
	for _, i := range []int{0, 1, 6} {
		r, a := res[i], params[i]
		if r.err != nil {
			t.Fatalf("activate %s: %v", a.ID, r.err)
		}
		if r.l.ID != a.ID || r.l.State != lease.StateActive || r.l.UpstreamTokenID != a.UpstreamTokenID || r.l.TokenSHA256 != a.TokenSHA256 || !r.l.IssueTime.Equal(a.Now) {
			t.Errorf("activate %s returned %+v", a.ID, r.l)
		}
		if got, want := auditFor(t, s, a.ID), []string{"issue:deploy:prod", "activate:deploy:prod"}; !slices.Equal(got, want) {
			t.Errorf("audit of %s = %v, want %v", a.ID, got, want)
		}
	}
	if (res[2].err == nil) == (res[3].err == nil) || !errors.Is(errors.Join(res[2].err, res[3].err), errs.Conflict) {
		t.Errorf("one lease activated twice in one statement: %v, %v; want one success and one conflict", res[2].err, res[3].err)
	}
	if got := auditFor(t, s, ls[3].ID); len(got) != 2 {
		t.Errorf("lease activated by one of two calls has audit %v, want issue and one activate", got)
	}
	if !errors.Is(res[4].err, errs.Conflict) {
		t.Errorf("activating an active lease: %v, want Conflict", res[4].err)
	}
	if !errors.Is(res[5].err, errs.NotFound) {
		t.Errorf("activating an unknown lease: %v, want NotFound", res[5].err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM lease_secrets WHERE lease_id = $1 AND sealed = 'ciphertext'`, ls[1].ID).Scan(&n); err != nil || n != 1 {
		t.Errorf("sealed secret rows = %d (%v), want 1", n, err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM lease_secrets`).Scan(&n); err != nil || n != 1 {
		t.Errorf("lease_secrets rows = %d (%v), want only the sealed call's", n, err)
	}
}

func TestBatchedRevokeActive(t *testing.T) {
	t.Parallel()
	s := New(pgtest.NewPool(t))
	ctx := t.Context()
	ls := created(t, s, 5)
	for _, l := range ls[:4] {
		if _, err := s.Activate(ctx, activation(l)); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(l *lease.Lease, owner string) store.RevokeActiveParams {
		return store.RevokeActiveParams{
			ID: l.ID, Owner: owner, Reason: "done " + l.ID[:8], RevokedBy: "user:a",
			Now: bt0.Add(time.Minute), DoneAt: bt0.Add(time.Minute + time.Millisecond),
			Audit:      &store.AuditEvent{Action: "revoke", ActorKind: "user", ActorSubject: "a", Result: "ok"},
			Completion: &store.AuditEvent{Action: "revoke_complete", ActorKind: "system", ActorSubject: "revoker", Result: "ok"},
		}
	}
	params := []store.RevokeActiveParams{
		revoke(ls[1], "user:a"),
		revoke(ls[2], "user:mallory"), // not the owner
		revoke(ls[3], ""),             // an admin's
		revoke(ls[4], "user:a"),       // still pending
	}
	p := probe(s.revokes)
	var calls []func() result
	for _, r := range params {
		calls = append(calls, func() result { l, err := s.RevokeActive(ctx, r); return result{l, err} })
	}
	head, res := inBatch(t, p, lockRow(t, s, ls[0].ID),
		func() result { l, err := s.RevokeActive(ctx, revoke(ls[0], "user:a")); return result{l, err} }, calls)
	if got := p.statementSizes(); !slices.Equal(got, []int{1, len(params)}) {
		t.Errorf("statement sizes = %v, want [1 %d]", got, len(params))
	}
	if head.err != nil {
		t.Fatal(head.err)
	}
	want := []string{"issue:deploy:prod", "activate:deploy:prod", "revoke:deploy:prod", "revoke_complete:deploy:prod"}
	for _, i := range []int{0, 2} {
		r, q := res[i], params[i]
		if r.err != nil {
			t.Fatalf("revoke %s: %v", q.ID, r.err)
		}
		if r.l.ID != q.ID || r.l.State != lease.StateRevoked || r.l.RevokeReason != q.Reason || !r.l.RevokeTime.Equal(q.Now) || !r.l.UpdatedAt.Equal(q.DoneAt) {
			t.Errorf("revoke %s returned %+v", q.ID, r.l)
		}
		if got := auditFor(t, s, q.ID); !slices.Equal(got, want) {
			t.Errorf("audit of %s = %v, want %v", q.ID, got, want)
		}
	}
	if !errors.Is(res[1].err, errs.NotFound) {
		t.Errorf("revoking another owner's lease: %v, want NotFound", res[1].err)
	}
	if !errors.Is(res[3].err, errs.Conflict) {
		t.Errorf("revoking a pending lease: %v, want Conflict", res[3].err)
	}
	if got := auditFor(t, s, ls[2].ID); len(got) != 2 {
		t.Errorf("refused revoke audited: %v", got)
	}
}

// createCall is one CreatePending, its lease handed back with
// errExisting when the idempotency key found an earlier one.
func createCall(ctx context.Context, s *Store, c store.CreatePendingParams) func() result {
	return func() result {
		r, err := s.CreatePending(ctx, c)
		if err != nil {
			return result{err: err}
		}
		if r.Existing {
			return result{l: r.Lease, err: errExisting}
		}
		return result{l: r.Lease}
	}
}
