package revoker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

type claimPanics struct {
	store.Store
	workertest.PanicOnce
}

func (s *claimPanics) ClaimDue(ctx context.Context, p store.ClaimDueParams) ([]*lease.Lease, error) {
	s.Trip()
	return s.Store.ClaimDue(ctx, p)
}

type deletePanics struct {
	upstream.Issuer
	workertest.PanicOnce
}

func (is *deletePanics) Delete(ctx context.Context, id string) error {
	is.Trip()
	return is.Issuer.Delete(ctx, id)
}

// TestPassPanic panics once in a pass, on the worker goroutine (the
// claim) and on one of the goroutines a pass fans out to (the delete).
// The pass fails and is counted, the loop goes on, and the lease is
// revoked by a later pass.
func TestPassPanic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*revoker.Config, *workertest.Env)
	}{
		{"InClaim", func(c *revoker.Config, env *workertest.Env) {
			c.Store = &claimPanics{Store: c.Store}
		}},
		{"InDelete", func(c *revoker.Config, env *workertest.Env) {
			c.Registry = upstream.NewRegistry(&deletePanics{Issuer: env.NewCentral}, env.Legacy)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := workertest.NewEnv(t)
			b := setup(t, env, func(c *revoker.Config) {
				c.BackoffBase, c.BackoffMax = time.Millisecond, 50*time.Millisecond
				tt.mod(c, env)
			})
			expire := b.Clock.Now().Add(time.Minute)
			l, secret := b.Active(t, b.NewCentral, "deploy", expire)
			b.Clock.Set(expire)
			b.start(t)

			res := b.batches.Wait(t, func(revoker.BatchResult) bool { return true })
			if !errors.Is(res.Err, panics.ErrPanic) {
				t.Fatalf("first pass: error %v, want a recovered panic", res.Err)
			}
			// A panicking delete leaves its lease claimed; once the claim
			// runs out, the next pass takes it up.
			b.advanceTo(expire.Add(revoker.DefaultClaimTimeout))
			b.batches.Wait(t, revokedN(1))

			if b.TokenWorks(t, b.NewCentral, secret) {
				t.Error("token still works after the worker recovered")
			}
			if s := b.Lease(t, l.ID).State; s != lease.StateRevoked {
				t.Errorf("state %q, want revoked", s)
			}
			if v := workertest.Metric(t, b.reg, "ztbroker_panics_total", map[string]string{"where": "revoker"}); v != 1 {
				t.Errorf("ztbroker_panics_total{where=revoker} = %v, want 1", v)
			}
		})
	}
}
