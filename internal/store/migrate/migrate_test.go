package migrate_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func emptyPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := emptyPool(t)
	migs, err := migrate.Load()
	if err != nil {
		t.Fatal(err)
	}

	n, err := migrate.Up(ctx, pool)
	if err != nil || n != len(migs) {
		t.Fatalf("first Up = %d, %v; want %d, nil", n, err, len(migs))
	}
	if n, err := migrate.Up(ctx, pool); err != nil || n != 0 {
		t.Fatalf("second Up = %d, %v; want 0, nil", n, err)
	}
	for _, table := range []string{"leases", "lease_secrets", "audit_events"} {
		if !tableExists(t, pool, table) {
			t.Errorf("after Up, table %s missing", table)
		}
	}

	if err := migrate.Down(ctx, pool, 1); err != nil {
		t.Fatalf("Down(1): %v", err)
	}
	if got := appliedCount(t, pool); got != len(migs)-1 {
		t.Errorf("Down(1) left %d migrations applied, want %d", got, len(migs)-1)
	}
	if n, err := migrate.Up(ctx, pool); err != nil || n != 1 {
		t.Fatalf("Up after Down(1) = %d, %v; want 1, nil", n, err)
	}
	if err := migrate.Down(ctx, pool, len(migs)+5); err != nil {
		t.Fatalf("Down(all): %v", err)
	}
	for _, table := range []string{"leases", "lease_secrets", "audit_events"} {
		if tableExists(t, pool, table) {
			t.Errorf("after Down(all), table %s remains", table)
		}
	}

	if n, err := migrate.Up(ctx, pool); err != nil || n != len(migs) {
		t.Fatalf("Up after Down = %d, %v; want %d, nil", n, err, len(migs))
	}
}

func TestConcurrentUpAppliesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := emptyPool(t)
	migs, err := migrate.Load()
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 2)
	var g errgroup.Group
	for i := range counts {
		g.Go(func() error {
			n, err := migrate.Up(ctx, pool)
			counts[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent Up: %v", err)
	}
	if counts[0]+counts[1] != len(migs) {
		t.Errorf("applied %v between the two callers, want %d in total", counts, len(migs))
	}
	var recorded int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != len(migs) {
		t.Errorf("schema_migrations holds %d rows, want %d", recorded, len(migs))
	}
}

func appliedCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
