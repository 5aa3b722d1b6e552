package sweeper_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/sweeper"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

const pendingTimeout = 5 * time.Minute

type bench struct {
	*workertest.Env
	s      *sweeper.Sweeper
	reg    *prometheus.Registry
	passes *workertest.Recorder[sweeper.PassResult]
}

func setup(t *testing.T, env *workertest.Env, mods ...func(*sweeper.Config)) *bench {
	t.Helper()
	b := &bench{Env: env, reg: prometheus.NewRegistry(), passes: workertest.NewRecorder[sweeper.PassResult]()}
	cfg := sweeper.Config{
		Deps: env.Deps(b.reg), PendingTimeout: pendingTimeout, OnPass: b.passes.Record,
	}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := sweeper.New(cfg)
	if err != nil {
		t.Fatalf("sweeper.New: %v", err)
	}
	b.s = s
	return b
}

// ignoreErr compares PassResults by their counts; tests check Err apart.
var ignoreErr = cmpopts.IgnoreFields(sweeper.PassResult{}, "Err")

func TestSweepsInterruptedMints(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{lease.UpstreamNewCentral, lease.UpstreamLegacy} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.NewEnv(t))
			is := b.NewCentral
			if kind == lease.UpstreamLegacy {
				is = b.Legacy
			}
			expire := b.Clock.Now().Add(time.Hour)

			// Crashed after minting, twice (a retried mint): two tokens.
			crashed := b.Pending(t, is, "deploy", expire)
			m1 := b.MintUpstream(t, is, crashed)
			var m2 *upstream.Minted
			if kind == lease.UpstreamNewCentral {
				// Legacy names are unique, so only New Central can hold
				// two tokens with one name.
				m2 = b.MintUpstream(t, is, crashed)
			}
			// Crashed before minting: nothing upstream.
			early := b.Pending(t, is, "deploy", expire)
			// An active lease on the same account is none of the sweeper's
			// business.
			_, activeSecret := b.Active(t, is, "deploy", expire)

			b.Clock.Advance(pendingTimeout + time.Second)
			// A mint in flight right now.
			inFlight := b.Pending(t, is, "deploy", expire)
			mFlight := b.MintUpstream(t, is, inFlight)

			if err := b.s.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.s.Stop)
			res := b.passes.Wait(t, func(sweeper.PassResult) bool { return true })
			wantDeleted := 1
			if m2 != nil {
				wantDeleted = 2
			}
			if diff := cmp.Diff(sweeper.PassResult{Claimed: 2, Swept: 2, TokensDeleted: wantDeleted}, res, ignoreErr); diff != "" {
				t.Errorf("pass (-want +got):\n%s", diff)
			}
			if res.Err != nil {
				t.Errorf("pass error: %v", res.Err)
			}

			for _, m := range []*upstream.Minted{m1, m2} {
				if m != nil && b.TokenWorks(t, is, m.Secret) {
					t.Error("a crashed mint's token still works")
				}
			}
			if !b.TokenWorks(t, is, mFlight.Secret) || !b.TokenWorks(t, is, activeSecret) {
				t.Error("the sweeper deleted a token it had no business with")
			}
			for _, id := range []string{crashed.ID, early.ID} {
				got := b.Lease(t, id)
				if got.State != lease.StateFailed || got.RevokeReason != lease.ReasonCrashed {
					t.Errorf("lease %s: state %q reason %q, want failed/%s", id, got.State, got.RevokeReason, lease.ReasonCrashed)
				}
				if diff := cmp.Diff([]string{"sweep_pending"}, b.Actions(t, id)); diff != "" {
					t.Errorf("audit actions (-want +got):\n%s", diff)
				}
			}
			if s := b.Lease(t, inFlight.ID).State; s != lease.StatePending {
				t.Errorf("in-flight lease state %q, want pending", s)
			}
			if v := workertest.Metric(t, b.reg, "ztbroker_sweeper_leases_swept_total", map[string]string{"purpose": "deploy"}); v != 2 {
				t.Errorf("swept metric = %v, want 2", v)
			}
		})
	}
}

func TestUpstreamFailureLeavesLeasePending(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route string
	}{
		{"ListFails", emulator.RouteV2GetServiceAccount},
		{"DeleteFails", emulator.RouteV2DeleteKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.NewEnv(t))
			l := b.Pending(t, b.NewCentral, "deploy", b.Clock.Now().Add(time.Hour))
			m := b.MintUpstream(t, b.NewCentral, l)
			b.Clock.Advance(pendingTimeout + time.Second)
			if err := b.Emu.SetFault(tt.route, emulator.Fault{Status: http.StatusServiceUnavailable}); err != nil {
				t.Fatal(err)
			}

			res, err := b.s.RunOnce(t.Context())
			if err == nil || res.Err == nil {
				t.Fatal("RunOnce reported no error although the upstream failed")
			}
			if diff := cmp.Diff(sweeper.PassResult{Claimed: 1, Deferred: 1}, res, ignoreErr); diff != "" {
				t.Errorf("failing pass (-want +got):\n%s", diff)
			}
			if s := b.Lease(t, l.ID).State; s != lease.StatePending {
				t.Fatalf("state %q after a failed sweep, want pending", s)
			}
			if !b.TokenWorks(t, b.NewCentral, m.Secret) {
				t.Fatal("token gone although the sweep failed")
			}

			// The claim hides the lease until it runs out.
			b.Emu.ClearFault(tt.route)
			if res, _ := b.s.RunOnce(t.Context()); res.Claimed != 0 {
				t.Errorf("a claimed lease was claimed again: %+v", res)
			}
			b.Clock.Advance(sweeper.DefaultClaimTimeout)
			res, err = b.s.RunOnce(t.Context())
			if err != nil {
				t.Fatalf("RunOnce after recovery: %v", err)
			}
			if diff := cmp.Diff(sweeper.PassResult{Claimed: 1, Swept: 1, TokensDeleted: 1}, res, ignoreErr); diff != "" {
				t.Errorf("recovered pass (-want +got):\n%s", diff)
			}
			if b.TokenWorks(t, b.NewCentral, m.Secret) {
				t.Error("token still works after the recovered sweep")
			}
		})
	}
}

// raceStore activates a lease just before the sweeper's FailPending, as a
// mint that finished late would.
type raceStore struct {
	store.Store
	clock   func() time.Time
	tokenID string
}

func (s *raceStore) FailPending(ctx context.Context, p store.FailPendingParams) (*lease.Lease, error) {
	if _, err := s.Store.Activate(ctx, store.ActivateParams{ID: p.ID, UpstreamTokenID: s.tokenID, Now: s.clock()}); err != nil {
		return nil, err
	}
	return s.Store.FailPending(ctx, p)
}

func TestLateActivationIsHandedToRevoker(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	l := env.Pending(t, env.NewCentral, "deploy", env.Clock.Now().Add(time.Hour))
	m := env.MintUpstream(t, env.NewCentral, l)
	env.Clock.Advance(pendingTimeout + time.Second)
	b := setup(t, env, func(c *sweeper.Config) {
		c.Store = &raceStore{Store: env.Store, clock: env.Clock.Now, tokenID: m.ID}
	})

	res, err := b.s.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if diff := cmp.Diff(sweeper.PassResult{Claimed: 1, TokensDeleted: 1, Activated: 1}, res, ignoreErr); diff != "" {
		t.Errorf("pass (-want +got):\n%s", diff)
	}
	got := env.Lease(t, l.ID)
	if got.State != lease.StateRevoking || got.RevokeReason != lease.ReasonCrashed {
		t.Errorf("state %q reason %q, want revoking/%s", got.State, got.RevokeReason, lease.ReasonCrashed)
	}
	if due, ok, err := env.Store.NextDueTime(t.Context()); err != nil || !ok || due.After(env.Clock.Now()) {
		t.Errorf("NextDueTime = %s, %v, %v: want the lease due now for the revoker", due, ok, err)
	}
}

func TestUnconfiguredAccountFailsLease(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	b := setup(t, env, func(c *sweeper.Config) { c.Registry = upstream.NewRegistry(env.Legacy) })
	l := env.Pending(t, env.NewCentral, "deploy", env.Clock.Now().Add(time.Hour))
	env.Clock.Advance(pendingTimeout + time.Second)
	res, err := b.s.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if diff := cmp.Diff(sweeper.PassResult{Claimed: 1, Swept: 1}, res, ignoreErr); diff != "" {
		t.Errorf("pass (-want +got):\n%s", diff)
	}
	if s := env.Lease(t, l.ID).State; s != lease.StateFailed {
		t.Errorf("state %q, want failed", s)
	}
}

func TestPassSpan(t *testing.T) {
	t.Parallel()
	tp, spans := workertest.Tracing(t)
	b := setup(t, workertest.NewEnv(t), func(c *sweeper.Config) { c.TracerProvider = tp })
	if _, err := b.s.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"sweeper.pass"}, workertest.SpanNames(spans)); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}

// TestSweepsInterruptedProxyIssues: an issue of a proxy lease that never
// reached active minted nothing upstream; the sweeper fails it without
// listing or deleting anything.
func TestSweepsInterruptedProxyIssues(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.NewEnv(t))
	stale := b.ActiveProxy(t, b.NewCentral.Kind(), b.NewCentral.Account(), "scoped", b.Clock.Now().Add(time.Hour), false)
	b.Clock.Advance(pendingTimeout + time.Second)
	before := b.Emu.Counters()
	res, err := b.s.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if d := cmp.Diff(sweeper.PassResult{Claimed: 1, Swept: 1}, res, ignoreErr); d != "" {
		t.Errorf("pass (-want +got):\n%s", d)
	}
	if got := b.Lease(t, stale.ID); got.State != lease.StateFailed || got.RevokeReason != lease.ReasonCrashed {
		t.Errorf("stale proxy lease is %s (%q), want failed (%s)", got.State, got.RevokeReason, lease.ReasonCrashed)
	}
	if d := cmp.Diff(before, b.Emu.Counters()); d != "" {
		t.Errorf("sweeping a proxy lease called the upstream (-before +after):\n%s", d)
	}
}
