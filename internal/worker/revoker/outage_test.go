package revoker_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store/migrate"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// TestSurvivesDatabaseOutage stops PostgreSQL under a running worker. The
// worker must keep failing passes (not exit, not crash) and finish the
// due revocation once the server is back.
func TestSurvivesDatabaseOutage(t *testing.T) {
	t.Parallel()
	cluster := pgtest.StartCluster(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, cluster.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrate.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	b := setup(t, workertest.NewEnvOn(t, pgstore.New(pool)), func(c *revoker.Config) {
		c.BackoffBase, c.BackoffMax = time.Millisecond, 50*time.Millisecond
	})
	expire := b.Clock.Now().Add(time.Minute)
	l, secret := b.Active(t, b.NewCentral, "deploy", expire)
	b.start(t)
	b.batches.Wait(t, idle)

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	b.advanceTo(expire)
	for range 3 {
		b.batches.Wait(t, func(r revoker.BatchResult) bool { return r.Err != nil })
	}
	if !b.TokenWorks(t, b.NewCentral, secret) {
		t.Fatal("token deleted although its lease could not be claimed")
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	b.batches.Wait(t, revokedN(1))
	if b.TokenWorks(t, b.NewCentral, secret) {
		t.Error("token still works after the database came back")
	}
	if s := b.Lease(t, l.ID).State; s != lease.StateRevoked {
		t.Errorf("state %q, want revoked", s)
	}
}
