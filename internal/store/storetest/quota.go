package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

func withQuota(q store.Quota) func(*store.CreatePendingParams) {
	return func(p *store.CreatePendingParams) { p.Quota = &q }
}

func create(t *testing.T, s store.Store, mods ...func(*store.CreatePendingParams)) (*store.CreatePendingResult, error) {
	t.Helper()
	p := store.CreatePendingParams{
		ID: newID(), Purpose: purpose, Owner: owner, Upstream: upstream, UpstreamAccount: account,
		Now: t0, ExpireTime: t0.Add(time.Hour), MaxExpireTime: t0.Add(time.Hour),
	}
	for _, m := range mods {
		m(&p)
	}
	return s.CreatePending(ctx(t), p)
}

func wantQuotaError(t *testing.T, err error, want *store.QuotaError) {
	t.Helper()
	var qe *store.QuotaError
	if !errors.As(err, &qe) {
		t.Errorf("error = %v, want a *QuotaError %+v", err, want)
		return
	}
	if d := cmp.Diff(want, qe); d != "" {
		t.Errorf("QuotaError (-want +got):\n%s", d)
	}
	if !errors.Is(err, errs.ResourceExhausted) {
		t.Errorf("quota error %v does not wrap ErrResourceExhausted", err)
	}
}

func testQuotas(t *testing.T, newStore NewStore) {
	t.Run("active per purpose", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		q := withQuota(store.Quota{MaxActivePerPurpose: 2})
		a := active(t, s, q)
		pending(t, s, q, withOwner("user:bob"))
		_, err := create(t, s, q, withOwner("user:carol"))
		wantQuotaError(t, err, &store.QuotaError{Limit: "active_per_purpose", Max: 2, RetryAfter: time.Hour})
		if _, err := create(t, s, q, withPurpose("other")); err != nil {
			t.Errorf("another purpose is not limited: %v", err)
		}
		// A lease being revoked no longer holds a slot.
		if _, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: a.ID, Now: t0, ClaimUntil: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := create(t, s, q); err != nil {
			t.Errorf("CreatePending after a revoke freed a slot: %v", err)
		}
	})
	t.Run("active per owner", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		q := withQuota(store.Quota{MaxActivePerOwner: 1, MaxActivePerPurpose: 10})
		p := pending(t, s, q)
		_, err := create(t, s, q)
		wantQuotaError(t, err, &store.QuotaError{Limit: "active_per_owner", Max: 1, RetryAfter: time.Hour})
		if _, err := create(t, s, q, withOwner("user:bob")); err != nil {
			t.Errorf("another owner is not limited: %v", err)
		}
		if _, err := create(t, s, q, withPurpose("other")); err != nil {
			t.Errorf("the owner's leases of another purpose do not count: %v", err)
		}
		if _, err := s.FailPending(ctx(t), store.FailPendingParams{ID: p.ID, Now: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := create(t, s, q); err != nil {
			t.Errorf("CreatePending after the pending lease failed: %v", err)
		}
	})
	t.Run("active limits say when the first counted lease expires", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		perPurpose := withQuota(store.Quota{MaxActivePerPurpose: 3})
		perOwner := withQuota(store.Quota{MaxActivePerOwner: 2})
		at := withNow(t0.Add(time.Minute))
		active(t, s, withExpire(t0.Add(20*time.Minute)))
		pending(t, s, withExpire(t0.Add(30*time.Minute)))
		// Another owner's lease counts for the purpose, not for the owner.
		active(t, s, withOwner("user:bob"), withExpire(t0.Add(10*time.Minute)))
		// Neither a lease of another purpose nor an ended one counts.
		active(t, s, withPurpose("other"), withExpire(t0.Add(2*time.Minute)))
		gone := active(t, s, withExpire(t0.Add(3*time.Minute)))
		if _, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: gone.ID, Now: t0, ClaimUntil: t0}); err != nil {
			t.Fatal(err)
		}

		_, err := create(t, s, perPurpose, at)
		wantQuotaError(t, err, &store.QuotaError{Limit: "active_per_purpose", Max: 3, RetryAfter: 9 * time.Minute})
		_, err = create(t, s, perOwner, at)
		wantQuotaError(t, err, &store.QuotaError{Limit: "active_per_owner", Max: 2, RetryAfter: 19 * time.Minute})

		// A lease past its expiry holds its slot until it is revoked; the
		// caller is told to come back shortly, never "now".
		_, err = create(t, s, perPurpose, withNow(t0.Add(time.Hour)))
		wantQuotaError(t, err, &store.QuotaError{Limit: "active_per_purpose", Max: 3, RetryAfter: time.Second})
		_, err = create(t, s, perOwner, withNow(t0.Add(20*time.Minute-time.Microsecond)))
		wantQuotaError(t, err, &store.QuotaError{Limit: "active_per_owner", Max: 2, RetryAfter: time.Second})
	})
	// Both stores check in this order; the caller sees only the first
	// limit reached, so the order is part of the contract.
	t.Run("purpose limit first, then owner, then rate", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		pending(t, s)
		all := store.Quota{MaxActivePerPurpose: 1, MaxActivePerOwner: 1, MaxIssuesPerWindow: 1, Window: 30 * time.Minute}
		at := withNow(t0.Add(time.Minute))
		_, err := create(t, s, withQuota(all), at)
		wantQuotaError(t, err, &store.QuotaError{Limit: "active_per_purpose", Max: 1, RetryAfter: 59 * time.Minute})
		all.MaxActivePerPurpose = 0
		_, err = create(t, s, withQuota(all), at)
		wantQuotaError(t, err, &store.QuotaError{Limit: "active_per_owner", Max: 1, RetryAfter: 59 * time.Minute})
		all.MaxActivePerOwner = 0
		_, err = create(t, s, withQuota(all), at)
		wantQuotaError(t, err, &store.QuotaError{Limit: "issue_rate", Max: 1, RetryAfter: 29 * time.Minute})
	})
	t.Run("refused create writes nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		q := withQuota(store.Quota{MaxActivePerPurpose: 1})
		pending(t, s, q)
		audit := func(p *store.CreatePendingParams) { p.Audit = &store.AuditEvent{Action: "issue"} }
		refused, err := create(t, s, q, audit)
		if err == nil {
			t.Fatal("CreatePending over quota succeeded")
		}
		if refused != nil {
			t.Errorf("CreatePending over quota returned %+v beside its error", refused)
		}
		res, err := s.ListLeases(ctx(t), store.ListLeasesParams{PageSize: 10})
		if err != nil || len(res.Leases) != 1 {
			t.Errorf("after a refused create there are %d leases (%v), want 1", len(res.Leases), err)
		}
		ev, err := s.ListAudit(ctx(t), store.ListAuditParams{PageSize: 10})
		if err != nil || len(ev.Events) != 0 {
			t.Errorf("a refused create wrote %d audit events (%v)", len(ev.Events), err)
		}
	})
}

func testQuotaIssueRate(t *testing.T, newStore NewStore) {
	s := newStore(t)
	q := store.Quota{MaxIssuesPerWindow: 3, Window: 10 * time.Minute}
	at := func(d time.Duration) func(*store.CreatePendingParams) { return withNow(t0.Add(d)) }
	for _, d := range []time.Duration{0, time.Minute, 2 * time.Minute} {
		l := active(t, s, withQuota(q), at(d))
		// Ended leases still count against the issue rate.
		if _, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: l.ID, Now: t0, ClaimUntil: t0}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := create(t, s, withQuota(q), at(5*time.Minute))
	wantQuotaError(t, err, &store.QuotaError{Limit: "issue_rate", Max: 3, RetryAfter: 5 * time.Minute})
	if _, err := create(t, s, withQuota(q), at(5*time.Minute), withOwner("user:bob")); err != nil {
		t.Errorf("another owner has their own rate: %v", err)
	}
	if _, err := create(t, s, withQuota(q), at(5*time.Minute), withPurpose("other")); err != nil {
		t.Errorf("another purpose has its own rate: %v", err)
	}
	// The first issue leaves the window at t0+10m.
	_, err = create(t, s, withQuota(q), at(10*time.Minute-time.Microsecond))
	wantQuotaError(t, err, &store.QuotaError{Limit: "issue_rate", Max: 3, RetryAfter: time.Microsecond})
	if _, err := create(t, s, withQuota(q), at(10*time.Minute)); err != nil {
		t.Errorf("CreatePending once the window moved on: %v", err)
	}
}

// testQuotaConcurrent checks each limit is atomic with the insert: of
// many simultaneous creates against a limit of 10, exactly 10 succeed.
// pgstore serialises a purpose limit on a purpose-wide lock and the
// others on an owner lock, so both paths are raced.
func testQuotaConcurrent(t *testing.T, newStore NewStore) {
	const callers, limit = 50, 10
	tests := []struct {
		name       string
		quota      store.Quota
		manyOwners bool
	}{
		{"active per purpose", store.Quota{MaxActivePerPurpose: limit}, true},
		{"active per owner", store.Quota{MaxActivePerOwner: limit}, false},
		{"issue rate", store.Quota{MaxIssuesPerWindow: limit, Window: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var ok, refused int
			start := make(chan struct{})
			for i := range callers {
				who := owner
				if tt.manyOwners {
					who = "user:" + string(rune('a'+i%26))
				}
				wg.Go(func() {
					<-start
					_, err := create(t, s, withQuota(tt.quota), withOwner(who))
					mu.Lock()
					defer mu.Unlock()
					var qe *store.QuotaError
					switch {
					case err == nil:
						ok++
					case errors.As(err, &qe):
						refused++
					default:
						t.Errorf("CreatePending: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			if ok != limit || refused != callers-limit {
				t.Errorf("%d succeeded and %d were refused, want %d and %d", ok, refused, limit, callers-limit)
			}
			counts, err := s.ListLeases(ctx(t), store.ListLeasesParams{PageSize: 100})
			if err != nil || len(counts.Leases) != limit {
				t.Errorf("store holds %d leases (%v), want %d", len(counts.Leases), err, limit)
			}
		})
	}
}
