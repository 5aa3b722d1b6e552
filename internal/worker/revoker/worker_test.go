package revoker_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// bench is one worker on a workertest.Env.
type bench struct {
	*workertest.Env
	w       *revoker.Worker
	reg     *prometheus.Registry
	batches *workertest.Recorder[revoker.BatchResult]
}

func setup(t *testing.T, env *workertest.Env, mods ...func(*revoker.Config)) *bench {
	t.Helper()
	b := &bench{Env: env, reg: prometheus.NewRegistry(), batches: workertest.NewRecorder[revoker.BatchResult]()}
	cfg := revoker.Config{
		Deps: env.Deps(b.reg), OnBatch: b.batches.Record,
		// Only a nudge or the next due time may wake the loop, so a test
		// that passes did not pass by polling.
		MaxIdle: time.Hour,
	}
	for _, m := range mods {
		m(&cfg)
	}
	w, err := revoker.New(cfg)
	if err != nil {
		t.Fatalf("revoker.New: %v", err)
	}
	b.w = w
	return b
}

func (b *bench) start(t *testing.T) {
	t.Helper()
	if err := b.w.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.w.Stop)
}

// advanceTo moves the clock to at and wakes the worker for it.
func (b *bench) advanceTo(at time.Time) {
	b.w.Nudge(b.Clock.Set(at))
}

func revokedN(n int) func(revoker.BatchResult) bool {
	return func(r revoker.BatchResult) bool { return r.Revoked == n }
}

func idle(r revoker.BatchResult) bool { return r.Claimed == 0 && r.Err == nil }

func TestExpiryRevokesUpstream(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{lease.UpstreamNewCentral, lease.UpstreamLegacy} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.NewEnv(t))
			is, _ := b.Registry.Issuer(kind, accountOf(b.Env, kind))
			expire := b.Clock.Now().Add(time.Minute)
			l, secret := b.Active(t, is, "deploy", expire)
			other, otherSecret := b.Active(t, is, "deploy", expire.Add(time.Hour))

			b.start(t)
			b.batches.Wait(t, idle)
			if !b.TokenWorks(t, is, secret) {
				t.Fatal("token rejected before its lease expired")
			}

			b.advanceTo(expire)
			b.batches.Wait(t, revokedN(1))

			if b.TokenWorks(t, is, secret) {
				t.Error("token still accepted after its lease expired and was revoked")
			}
			if !b.TokenWorks(t, is, otherSecret) {
				t.Error("a lease that has not expired lost its token")
			}
			got := b.Lease(t, l.ID)
			if got.State != lease.StateRevoked || got.RevokeReason != lease.ReasonExpired {
				t.Errorf("lease state %q reason %q, want revoked/expired", got.State, got.RevokeReason)
			}
			if s := b.Lease(t, other.ID).State; s != lease.StateActive {
				t.Errorf("unexpired lease state %q, want active", s)
			}
			if diff := cmp.Diff([]string{"expired_without_revoke", "expire_revoke"}, b.Actions(t, l.ID)); diff != "" {
				t.Errorf("audit actions (-want +got):\n%s", diff)
			}
			for name, labels := range map[string]map[string]string{
				"ztbroker_leases_revoked_total":           {"purpose": "deploy", "upstream": is.Upstream(), "reason": "expired", "result": "ok"},
				"ztbroker_leases_expired_unrevoked_total": {"purpose": "deploy"},
				"ztbroker_revocation_lag_seconds":         nil,
			} {
				if v := workertest.Metric(t, b.reg, name, labels); v != 1 {
					t.Errorf("%s%v = %v, want 1", name, labels, v)
				}
			}
		})
	}
}

func TestPassSpan(t *testing.T) {
	t.Parallel()
	tp, spans := workertest.Tracing(t)
	b := setup(t, workertest.NewEnv(t), func(c *revoker.Config) { c.TracerProvider = tp })
	b.start(t)
	b.batches.Wait(t, idle)
	// The loop reports a pass after its span has ended.
	if got := workertest.SpanNames(spans); !slices.Contains(got, "revoker.pass") {
		t.Errorf("spans %q, want a revoker.pass", got)
	}
}

func accountOf(env *workertest.Env, kind string) string {
	if kind == lease.UpstreamLegacy {
		return env.Legacy.Account()
	}
	return env.NewCentral.Account()
}

func TestFailedDeletesBackOffThenEscalate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		// attempts is how many failures move the lease to revoke_failed.
		attempts  int
		wantError string
	}{
		{"Transient", http.StatusServiceUnavailable, 4, "HTTP 503"},
		{"Permanent", http.StatusUnauthorized, 2, "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, workertest.NewEnv(t), func(c *revoker.Config) {
				c.MaxAttempts, c.PermanentMaxAttempts = 4, 2
				c.BackoffBase, c.BackoffMax = time.Second, 3*time.Second
				c.RevokeFailedRetry = time.Hour
			})
			if err := b.Emu.SetFault(emulator.RouteV2DeleteKey, emulator.Fault{Status: tt.status}); err != nil {
				t.Fatal(err)
			}
			expire := b.Clock.Now().Add(time.Minute)
			l, secret := b.Active(t, b.NewCentral, "deploy", expire)
			b.start(t)
			b.advanceTo(expire)

			for attempt := 1; attempt <= tt.attempts; attempt++ {
				final := attempt == tt.attempts
				b.batches.Wait(t, func(r revoker.BatchResult) bool {
					if final {
						return r.Failed == 1
					}
					return r.Retrying == 1
				})
				got := b.Lease(t, l.ID)
				now := b.Clock.Now()
				wantState, maxDelay := lease.StateRevoking, time.Duration(min(1<<(attempt-1), 3))*time.Second
				if final {
					wantState, maxDelay = lease.StateRevokeFailed, time.Hour
				}
				if got.State != wantState || got.RevokeAttempts != attempt {
					t.Fatalf("after attempt %d: state %q attempts %d, want %q %d",
						attempt, got.State, got.RevokeAttempts, wantState, attempt)
				}
				if d := got.NextAttemptAt.Sub(now); d < 0 || d > maxDelay || (final && d != time.Hour) {
					t.Fatalf("after attempt %d: next attempt in %s, want within [0, %s]", attempt, d, maxDelay)
				}
				if !strings.Contains(got.LastError, tt.wantError) {
					t.Errorf("last_error %q does not mention %q", got.LastError, tt.wantError)
				}
				if !final {
					b.advanceTo(got.NextAttemptAt)
				}
			}
			if n := b.Emu.Count(emulator.RouteV2DeleteKey, tt.status); n != tt.attempts {
				t.Errorf("emulator saw %d failing deletes, want %d", n, tt.attempts)
			}
			if !b.TokenWorks(t, b.NewCentral, secret) {
				t.Fatal("the token died although every delete failed")
			}
			for _, m := range []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"ztbroker_revoke_failures_total", map[string]string{"purpose": "deploy", "upstream": b.NewCentral.Upstream()}, float64(tt.attempts)},
				{"ztbroker_leases_revoked_total", map[string]string{"result": "revoke_failed"}, 1},
				{"ztbroker_leases_revoke_failed", map[string]string{"purpose": "deploy"}, 1},
			} {
				if v := workertest.Metric(t, b.reg, m.name, m.labels); v != m.want {
					t.Errorf("%s%v = %v, want %v", m.name, m.labels, v, m.want)
				}
			}

			// The fault clears; the slow retry finishes the job.
			b.Emu.ClearFault(emulator.RouteV2DeleteKey)
			b.advanceTo(b.Lease(t, l.ID).NextAttemptAt)
			b.batches.Wait(t, revokedN(1))
			if b.TokenWorks(t, b.NewCentral, secret) {
				t.Error("token still accepted after recovery")
			}
			got := b.Lease(t, l.ID)
			if got.State != lease.StateRevoked {
				t.Errorf("state %q after recovery, want revoked", got.State)
			}
			wantActions := []string{"expired_without_revoke", "revoke_failed", "expire_revoke"}
			if diff := cmp.Diff(wantActions, b.Actions(t, l.ID)); diff != "" {
				t.Errorf("audit actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMissingIssuerFailsAtOnce(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	// A registry without the account the lease was minted on, as after a
	// configuration change.
	b := setup(t, env, func(c *revoker.Config) { c.Registry = upstream.NewRegistry(env.Legacy) })
	expire := env.Clock.Now().Add(time.Minute)
	l, _ := env.Active(t, env.NewCentral, "deploy", expire)
	b.start(t)
	b.advanceTo(expire)
	b.batches.Wait(t, func(r revoker.BatchResult) bool { return r.Failed == 1 })
	got := env.Lease(t, l.ID)
	if got.State != lease.StateRevokeFailed || got.RevokeAttempts != 1 {
		t.Errorf("state %q attempts %d, want revoke_failed after 1", got.State, got.RevokeAttempts)
	}
	want := `no issuer configured for the lease's upstream account: upstream new_central account "` + env.NewCentral.Account() + `"`
	if got.LastError != want {
		t.Errorf("last_error = %q, want %q", got.LastError, want)
	}
}

func TestNudgeWakesForSoonerLease(t *testing.T) {
	t.Parallel()
	b := setup(t, workertest.NewEnv(t))
	b.Active(t, b.NewCentral, "deploy", b.Clock.Now().Add(time.Hour))
	b.start(t)
	// The loop now sleeps until the only lease expires, an hour away.
	b.batches.Wait(t, idle)

	soon := b.Clock.Now().Add(5 * time.Second)
	l, secret := b.Active(t, b.NewCentral, "deploy", soon)
	b.Clock.Set(soon)
	b.w.Nudge(soon)
	b.batches.Wait(t, revokedN(1))
	if b.TokenWorks(t, b.NewCentral, secret) {
		t.Error("token of the nudged lease still works")
	}
	if s := b.Lease(t, l.ID).State; s != lease.StateRevoked {
		t.Errorf("nudged lease state %q, want revoked", s)
	}
}

func TestRevokeNow(t *testing.T) {
	t.Parallel()

	// begin does what the RevokeLease RPC does before calling RevokeNow.
	begin := func(t *testing.T, b *bench, l *lease.Lease) *lease.Lease {
		t.Helper()
		now := b.Clock.Now()
		l, _, err := b.Store.BeginRevoke(context.Background(), store.BeginRevokeParams{
			ID: l.ID, Reason: "done", RevokedBy: workertest.Owner, Now: now, ClaimUntil: now.Add(time.Minute),
		})
		if err != nil {
			t.Fatalf("begin revoke: %v", err)
		}
		return l
	}

	t.Run("Succeeds", func(t *testing.T) {
		t.Parallel()
		b := setup(t, workertest.NewEnv(t))
		l, secret := b.Active(t, b.Legacy, "deploy", b.Clock.Now().Add(time.Hour))
		cur, err := b.w.RevokeNow(t.Context(), begin(t, b, l))
		if err != nil {
			t.Fatalf("RevokeNow: %v", err)
		}
		if b.TokenWorks(t, b.Legacy, secret) {
			t.Error("token still works after RevokeNow")
		}
		stored := b.Lease(t, l.ID)
		if stored.State != lease.StateRevoked {
			t.Errorf("state %q, want revoked", stored.State)
		}
		if diff := cmp.Diff(stored, cur); diff != "" {
			t.Errorf("RevokeNow's lease differs from the stored row (-stored +returned):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"revoke_complete"}, b.Actions(t, l.ID)); diff != "" {
			t.Errorf("audit actions (-want +got):\n%s", diff)
		}
		if v := workertest.Metric(t, b.reg, "ztbroker_leases_revoked_total",
			map[string]string{"reason": "requested", "result": "ok"}); v != 1 {
			t.Errorf("requested revocations counted %v, want 1", v)
		}
	})

	t.Run("FailureSchedulesRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, workertest.NewEnv(t))
		now := b.Clock.Now()
		if err := b.Emu.SetFault(emulator.RouteV1DeleteToken, emulator.Fault{Status: http.StatusBadGateway}); err != nil {
			t.Fatal(err)
		}
		l, secret := b.Active(t, b.Legacy, "deploy", now.Add(time.Hour))
		cur, err := b.w.RevokeNow(t.Context(), begin(t, b, l))
		if !errors.Is(err, errs.Unavailable) {
			t.Fatalf("RevokeNow = %v, want an error wrapping errs.Unavailable", err)
		}
		got := b.Lease(t, l.ID)
		if diff := cmp.Diff(got, cur); diff != "" {
			t.Errorf("RevokeNow's lease differs from the stored row (-stored +returned):\n%s", diff)
		}
		if got.State != lease.StateRevoking || got.RevokeAttempts != 1 || got.NextAttemptAt.After(now.Add(time.Second)) {
			t.Fatalf("state %q attempts %d next %s: want revoking, 1, within the first backoff",
				got.State, got.RevokeAttempts, got.NextAttemptAt)
		}

		// The worker's first pass finds the retry due and finishes it.
		b.Emu.ClearFault(emulator.RouteV1DeleteToken)
		b.Clock.Set(got.NextAttemptAt)
		b.start(t)
		b.batches.Wait(t, revokedN(1))
		if b.TokenWorks(t, b.Legacy, secret) {
			t.Error("token still works after the worker's retry")
		}
	})
}
