package reconcile_test

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

const pendingTimeout = 5 * time.Minute

type bench struct {
	*workertest.Env
	r   *reconcile.Reconciler
	reg *prometheus.Registry
}

func setup(t *testing.T) *bench {
	t.Helper()
	env := workertest.NewEnv(t)
	b := &bench{Env: env, reg: prometheus.NewRegistry()}
	r, err := reconcile.New(reconcile.Config{
		Deps: env.Deps(b.reg), Prefix: workertest.Prefix, PendingTimeout: pendingTimeout,
	})
	if err != nil {
		t.Fatalf("reconcile.New: %v", err)
	}
	b.r = r
	return b
}

// mintRaw creates a token upstream with no lease behind it.
func (b *bench) mintRaw(t *testing.T, is upstream.Issuer, name string) *upstream.Minted {
	t.Helper()
	m, err := is.Mint(context.Background(), name, b.Clock.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatalf("mint %q: %v", name, err)
	}
	return m
}

func token(is upstream.Issuer, m *upstream.Minted, name string) reconcile.Token {
	return reconcile.Token{Upstream: is.Upstream(), Account: is.Account(), ID: m.ID, Name: name}
}

var sortTokens = cmpopts.SortSlices(func(a, b reconcile.Token) bool {
	return cmp.Or(cmp.Compare(a.Upstream, b.Upstream), cmp.Compare(a.ID, b.ID)) < 0
})

func TestRunOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	expire := b.Clock.Now().Add(time.Hour)
	nc, lg := b.NewCentral, b.Legacy
	var wantDeleted []reconcile.Token
	keep := map[string]string{} // secret -> what it is

	for _, is := range []upstream.Issuer{nc, lg} {
		// Orphan: a token named like ours whose lease does not exist.
		name := lease.UpstreamNameFor(workertest.Prefix, "deploy", uuid.Must(uuid.NewV7()).String())
		wantDeleted = append(wantDeleted, token(is, b.mintRaw(t, is, name), name))

		// Orphan: an operator forgot the lease, the token stayed.
		forgotten, _ := b.Active(t, is, "deploy", expire)
		now := b.Clock.Now()
		if _, _, err := b.Store.BeginRevoke(ctx, store.BeginRevokeParams{ID: forgotten.ID, Reason: "r", Now: now, ClaimUntil: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Store.ForgetLease(ctx, store.ForgetLeaseParams{ID: forgotten.ID, Reason: "upstream down", Now: now}); err != nil {
			t.Fatal(err)
		}
		wantDeleted = append(wantDeleted, reconcile.Token{Upstream: is.Upstream(), Account: is.Account(),
			ID: forgotten.UpstreamTokenID, Name: forgotten.UpstreamName})

		// Orphan: a crashed mint, long pending.
		stale := b.Pending(t, is, "deploy", expire)
		wantDeleted = append(wantDeleted, token(is, b.MintUpstream(t, is, stale), stale.UpstreamName))

		// Not ours: no prefix, or a prefix without the dash.
		keep[b.mintRaw(t, is, "someone-elses-token").Secret] = "a token without the prefix"
		keep[b.mintRaw(t, is, workertest.Prefix+"x-deploy-1").Secret] = "a token whose prefix lacks the dash"
		// Not ours either: the prefix, but not a lease's name. An admin key
		// named after the broker is the case that used to be deleted.
		keep[b.mintRaw(t, is, workertest.Prefix+"-prod").Secret] = "an admin key named with the prefix"
		keep[b.mintRaw(t, is, workertest.Prefix+"-x-notauuid").Secret] = "a token whose lease id is not a uuid"
		keep[b.mintRaw(t, is, lease.UpstreamNameFor(workertest.Prefix, "deploy", uuid.NewString())).Secret] =
			"a token whose lease id is a uuid the broker never makes (v4)"

		// Live leases keep their tokens.
		_, s := b.Active(t, is, "deploy", expire)
		keep[s] = "an active lease's token"
		revoking, s := b.Active(t, is, "deploy", expire)
		if _, _, err := b.Store.BeginRevoke(ctx, store.BeginRevokeParams{ID: revoking.ID, Reason: "r", Now: now, ClaimUntil: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		keep[s] = "a revoking lease's token"
	}
	// A lease whose token someone deleted behind the broker's back.
	vanished, _ := b.Active(t, nc, "deploy", expire)
	if err := nc.Delete(ctx, vanished.UpstreamTokenID); err != nil {
		t.Fatal(err)
	}

	b.Clock.Advance(pendingTimeout + time.Second)
	// Mints in flight now: their tokens exist, their leases are pending.
	for _, is := range []upstream.Issuer{nc, lg} {
		fresh := b.Pending(t, is, "deploy", b.Clock.Now().Add(time.Hour))
		keep[b.MintUpstream(t, is, fresh).Secret] = "an in-flight mint's token"
	}
	// Active, but minted so recently that the listing may predate it.
	recent, _ := b.Active(t, nc, "deploy", b.Clock.Now().Add(time.Hour))
	if err := nc.Delete(ctx, recent.UpstreamTokenID); err != nil {
		t.Fatal(err)
	}

	rep, err := b.r.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	want := reconcile.Report{
		Issuers: 2,
		// Per account: 3 orphans, 1 prefixed-but-no-dash is not counted,
		// active, revoking and in-flight; New Central's recent lease has
		// no token left to count.
		Tokens:   2 * 6,
		Deleted:  wantDeleted,
		InFlight: 2,
		Vanished: []string{vanished.ID},
	}
	if diff := gocmp.Diff(want, rep, sortTokens); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	for secret, what := range keep {
		is := nc
		if b.Emu.TryNewCentralToken(ctx, "Bearer", secret) != http.StatusOK {
			is = lg
		}
		if !b.TokenWorks(t, is, secret) {
			t.Errorf("reconciliation deleted %s", what)
		}
	}
	if diff := gocmp.Diff([]string{"upstream_vanished"}, b.Actions(t, vanished.ID)); diff != "" {
		t.Errorf("vanished lease audit (-want +got):\n%s", diff)
	}
	for _, m := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ztbroker_reconcile_orphans_deleted_total", map[string]string{"upstream": lease.UpstreamNewCentral}, 3},
		{"ztbroker_reconcile_orphans_deleted_total", map[string]string{"upstream": lease.UpstreamLegacy}, 3},
		{"ztbroker_reconcile_vanished_total", map[string]string{"upstream": lease.UpstreamNewCentral}, 1},
		{"ztbroker_reconcile_runs_total", map[string]string{"result": "ok"}, 1},
		{"ztbroker_reconcile_last_success_timestamp_seconds", nil, float64(b.Clock.Now().UnixNano()) / 1e9},
	} {
		if v := workertest.Metric(t, b.reg, m.name, m.labels); v != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, v, m.want)
		}
	}

	// A second run has nothing to delete and does not re-flag the lease.
	rep, err = b.r.RunOnce(ctx)
	if err != nil {
		t.Fatalf("second RunOnce: %v", err)
	}
	want = reconcile.Report{Issuers: 2, Tokens: 2 * 3, InFlight: 2, Vanished: []string{vanished.ID}}
	if diff := gocmp.Diff(want, rep); diff != "" {
		t.Errorf("second report (-want +got):\n%s", diff)
	}
	if n := len(b.Actions(t, vanished.ID)); n != 1 {
		t.Errorf("vanished lease audited %d times after two runs, want once", n)
	}
}

func TestOneFailingAccountDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := lease.UpstreamNameFor(workertest.Prefix, "deploy", uuid.Must(uuid.NewV7()).String())
	m := b.mintRaw(t, b.NewCentral, name)
	if err := b.Emu.SetFault(emulator.RouteV1GetUser, emulator.Fault{Status: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	rep, err := b.r.RunOnce(t.Context())
	if err == nil {
		t.Fatal("RunOnce = nil error although the Legacy listing failed")
	}
	want := reconcile.Report{Issuers: 1, Tokens: 1, Deleted: []reconcile.Token{token(b.NewCentral, m, name)}}
	if diff := gocmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if v := workertest.Metric(t, b.reg, "ztbroker_reconcile_runs_total", map[string]string{"result": "error"}); v != 1 {
		t.Errorf("error runs = %v, want 1", v)
	}
}

func TestLoopRunsAtStart(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	name := lease.UpstreamNameFor(workertest.Prefix, "deploy", uuid.Must(uuid.NewV7()).String())
	m, err := env.Legacy.Mint(t.Context(), name, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		rep reconcile.Report
		err error
	}
	runs := workertest.NewRecorder[run]()
	r, err := reconcile.New(reconcile.Config{
		Deps:     env.Deps(nil),
		Prefix:   workertest.Prefix,
		Interval: time.Hour, // only the run at start can be seen
		OnRun:    func(rep reconcile.Report, err error) { runs.Record(run{rep, err}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	got := runs.Wait(t, func(run) bool { return true })
	want := reconcile.Report{Issuers: 2, Tokens: 1, Deleted: []reconcile.Token{token(env.Legacy, m, name)}}
	if got.err != nil {
		t.Errorf("run error: %v", got.err)
	}
	if diff := gocmp.Diff(want, got.rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

// TestLeaseEndingDuringTheRunIsNotAnOrphan: with two replicas, a lease can
// be revoked between the upstream listing and the store read. Its token
// was live when listed and its own revocation deletes it, so the run must
// leave it alone; a token whose lease ended before the listing is a real
// orphan.
func TestLeaseEndingDuringTheRunIsNotAnOrphan(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	expire := b.Clock.Now().Add(time.Hour)
	end := func(l *lease.Lease, at time.Time) {
		t.Helper()
		if _, _, err := b.Store.BeginRevoke(ctx, store.BeginRevokeParams{ID: l.ID, Reason: "r", Now: at, ClaimUntil: at}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Store.CompleteRevoke(ctx, store.CompleteRevokeParams{ID: l.ID, Now: at}); err != nil {
			t.Fatal(err)
		}
	}
	// The store says revoked, the token is still listed: as if the
	// revoker's write landed after the listing but before its delete
	// reached the listing we compare with.
	during, duringSecret := b.Active(t, b.NewCentral, "deploy", expire)
	end(during, b.Clock.Now())
	before, _ := b.Active(t, b.NewCentral, "deploy", expire)
	end(before, b.Clock.Now().Add(-time.Second))

	rep, err := b.r.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	want := []reconcile.Token{{Upstream: b.NewCentral.Kind(), Account: b.NewCentral.Account(),
		ID: before.UpstreamTokenID, Name: before.UpstreamName}}
	if diff := gocmp.Diff(want, rep.Deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if !b.TokenWorks(t, b.NewCentral, duringSecret) {
		t.Error("the token of a lease that ended during the run was deleted by the reconciler")
	}
}

func TestRunSpan(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	tp, spans := workertest.Tracing(t)
	deps := env.Deps(nil)
	deps.TracerProvider = tp
	r, err := reconcile.New(reconcile.Config{Deps: deps, Prefix: workertest.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The upstream calls' spans end first, inside the run's.
	if got := workertest.SpanNames(spans); !slices.Contains(got, "reconcile.run") {
		t.Errorf("spans %q, want a reconcile.run", got)
	}
}
