package revoker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// enteringIssuer reports each Delete as it starts, so a test knows a call
// is in flight without sleeping.
type enteringIssuer struct {
	upstream.Issuer
	entered chan struct{}
}

func (is *enteringIssuer) Delete(ctx context.Context, id string) error {
	select {
	case is.entered <- struct{}{}:
	default:
	}
	return is.Issuer.Delete(ctx, id)
}

func TestHungUpstream(t *testing.T) {
	t.Parallel()

	t.Run("BatchTimeoutCountsAsFailedAttempt", func(t *testing.T) {
		t.Parallel()
		b := setup(t, workertest.NewEnv(t), func(c *revoker.Config) { c.BatchTimeout = 50 * time.Millisecond })
		if err := b.Emu.SetFault(emulator.RouteV2DeleteKey, emulator.Fault{Hang: true}); err != nil {
			t.Fatal(err)
		}
		expire := b.Clock.Now().Add(time.Minute)
		l, secret := b.Active(t, b.NewCentral, "deploy", expire)
		b.start(t)
		b.advanceTo(expire)
		b.batches.Wait(t, func(r revoker.BatchResult) bool { return r.Retrying == 1 })
		got := b.Lease(t, l.ID)
		if got.State != lease.StateRevoking || got.RevokeAttempts != 1 || !strings.Contains(got.LastError, "timed out") {
			t.Errorf("state %q attempts %d last_error %q: want revoking, 1, a timeout", got.State, got.RevokeAttempts, got.LastError)
		}
		if !b.TokenWorks(t, b.NewCentral, secret) {
			t.Error("token gone although the delete hung")
		}
	})

	t.Run("StopLeavesClaimWithoutAttempt", func(t *testing.T) {
		t.Parallel()
		env := workertest.NewEnv(t)
		entering := &enteringIssuer{Issuer: env.NewCentral, entered: make(chan struct{}, 1)}
		b := setup(t, env, func(c *revoker.Config) { c.Registry = upstream.NewRegistry(entering) })
		if err := b.Emu.SetFault(emulator.RouteV2DeleteKey, emulator.Fault{Hang: true}); err != nil {
			t.Fatal(err)
		}
		expire := b.Clock.Now().Add(time.Minute)
		l, _ := b.Active(t, b.NewCentral, "deploy", expire)
		b.start(t)
		b.advanceTo(expire)
		<-entering.entered
		b.w.Stop()

		got := b.Lease(t, l.ID)
		if got.State != lease.StateRevoking || got.RevokeAttempts != 0 || got.LastError != "" {
			t.Errorf("state %q attempts %d last_error %q: want revoking, untouched", got.State, got.RevokeAttempts, got.LastError)
		}
		if want := expire.Add(revoker.DefaultClaimTimeout); !got.NextAttemptAt.Equal(want) {
			t.Errorf("next attempt %s, want the claim's end %s", got.NextAttemptAt, want)
		}
	})
}
