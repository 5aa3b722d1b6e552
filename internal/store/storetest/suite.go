package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// NewStore returns an empty store for one test. It registers its own
// cleanup.
type NewStore func(t *testing.T) store.Store

// Run runs the whole suite against stores made by newStore. Every subtest
// gets a store of its own and runs in parallel.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"CreatePending", testCreatePending},
		{"CreatePendingIdempotency", testIdempotency},
		{"ActivateAndFail", testActivateAndFail},
		{"GetLeaseOwnerIsolation", testOwnerIsolation},
		{"ListLeases", testListLeases},
		{"ListLeasesFilters", testListLeasesFilters},
		{"RenewLease", testRenew},
		{"BeginRevoke", testBeginRevoke},
		{"ClaimDue", testClaimDue},
		{"ClaimDueLimit", testClaimDueLimit},
		{"ClaimDueConcurrent", testClaimDueConcurrent},
		{"CompleteRevoke", testCompleteRevoke},
		{"RevokeActive", testRevokeActive},
		{"RecordRevokeFailure", testRecordRevokeFailure},
		{"NextDueTime", testNextDueTime},
		{"ClaimStalePending", testClaimStalePending},
		{"ForgetLease", testForget},
		{"RevokeMatching", testRevokeMatching},
		{"RevokeMatchingLimits", testRevokeMatchingLimits},
		{"ListUpstreamTokens", testListUpstreamTokens},
		{"ProxyLease", testProxyLease},
		{"CountActive", testCountActive},
		{"Quotas", testQuotas},
		{"QuotaIssueRate", testQuotaIssueRate},
		{"QuotaConcurrent", testQuotaConcurrent},
		{"SealedSecrets", testSealedSecrets},
		{"AuditAppendAndList", testAuditList},
		{"AuditAppendBatch", testAuditBatch},
		{"AuditWithStateChanges", testAuditWithStateChanges},
		{"AuditTakesLeaseFields", testAuditTakesLeaseFields},
		{"DeleteEndedLeases", testDeleteEndedLeases},
		{"DeleteEndedLeasesConcurrent", testDeleteEndedConcurrent},
		{"AuditRetention", testAuditRetention},
		{"Ping", testPing},
		{"RotationLifecycle", testRotationLifecycle},
		{"RotationLock", testRotationLock},
		{"Sightings", testSightings},
		{"LeasesActiveBetween", testLeasesActiveBetween},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore)
		})
	}
}

// t0 is the suite's "now": fixed, in UTC and microsecond-aligned so that
// what goes in must come out unchanged.
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 891234000, time.UTC)

const (
	owner    = "user:alice"
	purpose  = "deploy"
	upstream = lease.UpstreamNewCentral
	account  = "acct-1"
)

// leaseCmp compares leases with nil and empty maps alike.
var leaseCmp = cmpopts.EquateEmpty()

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func ctx(t *testing.T) context.Context { return t.Context() }

// pending creates a pending lease with the suite's defaults, changed by
// mods.
func pending(t *testing.T, s store.Store, mods ...func(*store.CreatePendingParams)) *lease.Lease {
	t.Helper()
	p := store.CreatePendingParams{
		ID:              newID(),
		Purpose:         purpose,
		Owner:           owner,
		Upstream:        upstream,
		UpstreamAccount: account,
		Now:             t0,
		ExpireTime:      t0.Add(time.Hour),
		MaxExpireTime:   t0.Add(4 * time.Hour),
	}
	p.UpstreamName = lease.UpstreamNameFor("ztb", p.Purpose, p.ID)
	for _, m := range mods {
		m(&p)
	}
	res, err := s.CreatePending(ctx(t), p)
	if err != nil {
		t.Fatalf("CreatePending: %v", err)
	}
	if res.Existing {
		t.Fatalf("CreatePending of %s returned existing lease %s", p.ID, res.Lease.ID)
	}
	return res.Lease
}

// active creates and activates a lease.
func active(t *testing.T, s store.Store, mods ...func(*store.CreatePendingParams)) *lease.Lease {
	t.Helper()
	l := pending(t, s, mods...)
	a, err := s.Activate(ctx(t), store.ActivateParams{
		ID:              l.ID,
		UpstreamTokenID: "key-" + l.ID,
		TokenSHA256:     lease.HashToken("secret-" + l.ID),
		Now:             l.CreatedAt.Add(time.Second),
	})
	if err != nil {
		t.Fatalf("Activate: %v", err)
	}
	return a
}

// revoking creates an active lease and begins its revocation, claimed
// until claimUntil.
func revoking(t *testing.T, s store.Store, claimUntil time.Time, mods ...func(*store.CreatePendingParams)) *lease.Lease {
	t.Helper()
	l := active(t, s, mods...)
	r, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{
		ID: l.ID, Reason: "user", RevokedBy: owner, Now: t0.Add(2 * time.Second), ClaimUntil: claimUntil,
	})
	if err != nil {
		t.Fatalf("BeginRevoke: %v", err)
	}
	return r
}

func get(t *testing.T, s store.Store, id string) *lease.Lease {
	t.Helper()
	l, err := s.GetLease(ctx(t), store.GetLeaseParams{ID: id})
	if err != nil {
		t.Fatalf("GetLease(%s): %v", id, err)
	}
	return l
}

func withPurpose(p string) func(*store.CreatePendingParams) {
	return func(c *store.CreatePendingParams) { c.Purpose = p }
}

func withOwner(o string) func(*store.CreatePendingParams) {
	return func(c *store.CreatePendingParams) { c.Owner = o }
}

func withLabels(kv ...string) func(*store.CreatePendingParams) {
	return func(c *store.CreatePendingParams) {
		c.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withExpire(exp time.Time) func(*store.CreatePendingParams) {
	return func(c *store.CreatePendingParams) { c.ExpireTime = exp }
}

func withNow(now time.Time) func(*store.CreatePendingParams) {
	return func(c *store.CreatePendingParams) { c.Now = now }
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want %v", what, err, want)
	}
}

func diffLease(t *testing.T, what string, got, want *lease.Lease) {
	t.Helper()
	if d := cmp.Diff(want, got, leaseCmp); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func ids(ls []*lease.Lease) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

func testPing(t *testing.T, newStore NewStore) {
	if err := newStore(t).Ping(ctx(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
